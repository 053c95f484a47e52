/** Cluster mode: writing a collection through the queue, sharded search (partitions, shard servers, the coordinator, the shared quantizer) and settings. */
export {
  type ClusterHit,
  type ClusterQuery,
  type ClusterQueryOptions,
  ClusterSearch,
  type ClusterSearchMode,
  type ClusterSearchOpenOptions,
  type ClusterSearchResponse,
  REGISTERED_MS,
} from './client.js';
export { ClusterCollection, type ClusterCollectionOptions, type ClusterIndexOptions, type ClusterIndexReport, clusterQueueName } from './collection.js';
export {
  type ClusterSearchOptions,
  type ClusterSearchResult,
  Coordinator,
  type CoordinatorOptions,
  DEFAULT_DEADLINE_MS,
  DEFAULT_STALE_MS,
  mergeTopK,
  registryDirectory,
  type ShardDirectory,
  type ShardEndpoint,
  type ShardReport,
  staticDirectory,
} from './coordinator.js';
export { checkPartition, fmix32, formatPartition, inPartition, MAX_SHARDS, type Partition, parseShardSpec, selectPartition, shardOf } from './partition.js';
export { PartitionIndex, type PartitionIndexOptions, type PartitionSearchOptions, type PartitionSearchResult } from './partition-index.js';
export { loadSharedQuantizer, SHARED_CENTROIDS, type SharedQuantizer, type TrainSharedOptions, trainSharedQuantizer } from './quantizer.js';
export {
  type ClusterSettings,
  type ClusterSettingsInput,
  clusterSpace,
  ensureClusterSettings,
  parseClusterSettings,
  readClusterSettings,
  requireClusterSettings,
} from './settings.js';
export { DEFAULT_HEARTBEAT_MS, DEFAULT_POLL_MS, MAX_SHARD_BATCH, ShardServer, type ShardServerOptions } from './shard.js';
export {
  type ClusterQuantizerInfo,
  type ClusterQueueStats,
  type ClusterShardInfo,
  type ClusterSpaceStats,
  type ClusterStats,
  type ClusterStatsOptions,
  clusterStats,
  queueStats,
} from './stats.js';
export { base64ToF32, base64ToI32, f32ToBase64, i32ToBase64, type ShardHealth, type ShardSearchReply, type ShardSearchRequest } from './wire.js';
