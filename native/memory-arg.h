// The first argument of every kernel the addon exports: the arena's memory, as a Uint8Array over
// the shared WebAssembly memory (pointers are byte offsets into it).
#ifndef NITAMONO_NATIVE_MEMORY_ARG_H
#define NITAMONO_NATIVE_MEMORY_ARG_H

#include <node_api.h>
#include <stdint.h>

/**
 * Reads a kernel's `argc` arguments into argv, the first being the memory, whose bytes go to
 * data and length; returns null, or what is wrong with the arguments.
 */
inline const char* kernelArgs(napi_env env, napi_callback_info info, size_t argc, napi_value* argv, uint8_t** data, size_t* length) {
  size_t got = argc;
  if (napi_get_cb_info(env, info, &got, argv, nullptr, nullptr) != napi_ok || got != argc) return "wrong number of arguments";
  napi_typedarray_type type;
  void* p = nullptr;
  bool isTyped = false;
  napi_is_typedarray(env, argv[0], &isTyped);
  if (!isTyped || napi_get_typedarray_info(env, argv[0], &type, length, &p, nullptr, nullptr) != napi_ok || type != napi_uint8_array || !p)
    return "the memory must be a Uint8Array";
  *data = (uint8_t*)p;
  return nullptr;
}

#endif
