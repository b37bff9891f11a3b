export type { MessageSource } from './message-source.js';
export { LocalLogSource } from './local.js';
export {
  NodeDirectory,
  NODES_BUCKET,
  assertNodeId,
  isNodeId,
  type LiveNode,
  type NodeDirectoryOptions,
  type NodeDirectoryStats,
  type NodeInfo,
  type NodeJoined,
  type NodeLost,
  type NodeLostReason,
} from './nodes.js';
export { ClaimRegistry, CLAIMS_BUCKET } from './claims.js';
export { Mesh, MESH_SUBJECT_PREFIX, deliverFrame, type MeshFrame, type MeshFrameHandler, type MeshOptions, type MeshStats, type MeshTarget } from './mesh.js';
export { shareKeyFiles, KEYS_BUCKET, type ShareKeyFilesOptions, type SharedKeyFiles, type SharedKeyFilesStats } from './shared-keys.js';
export { connectCluster, jetStreamReady, type ClusterConnectionOptions, type ClusterLogger } from './nats.js';
export { clusterConfigShape, clusterServers, type ClusterConfig } from './config.js';
export { ClusterChannel, CHANNEL_SUBJECT_PREFIX, type ChannelHandler, type ChannelOptions, type ChannelStats } from './channel.js';
