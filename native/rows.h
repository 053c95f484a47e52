// The native scan of scattered rows (./rows.cc), registered by the addon (./addon.cc).
#ifndef NITAMONO_NATIVE_ROWS_H
#define NITAMONO_NATIVE_ROWS_H

#include <node_api.h>

// scanTopKRows(memory: Uint8Array, metric, q, base, d, rows, n, k, heapD, heapI, size, labelMap): the heap's new size
napi_value ScanTopKRows(napi_env env, napi_callback_info info);

#endif
