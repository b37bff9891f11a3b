import { z } from 'zod';
import { configInt as int, configList as list } from '../core/index.js';

/**
 * A NATS server's client URL: `nats://host:port` (or `tls://`), optionally with the cluster
 * credentials as `user:password@`, which are taken out of the URL (see `clusterServers`).
 */
const NATS_URL = /^(nats|tls):\/\/(?:[^\s/@:]+(?::[^\s/@]*)?@)?(?:\[[0-9a-f:.]+\]|[^\s/?#@:[\]]+)(?::\d{1,5})?\/?$/i;
const natsUrl = z.string().refine((value) => NATS_URL.test(value), {
  error: (issue) => `${JSON.stringify(issue.input)} is not a NATS server URL: use nats://host:port (credentials as nats://user:password@host:port or clusterUser/clusterPassword)`,
});

/**
 * Configuration keys of the cluster (PROTOCOL.md section 12), spread into the one config
 * schema (src/app/config.ts); each is also `SWITCHYARD_<KEY>`, and `cluster` is the
 * `--cluster` flag of `switchyard start`.
 */
export const clusterConfigShape = {
  /**
   * NATS servers of the cluster, comma-separated (`nats://a:4222,nats://b:4222`). Empty (the
   * default): one node on its embedded SQLite log, as without a cluster.
   */
  cluster: list.pipe(z.array(natsUrl)).default([]),
  /** The cluster credentials (NATS auth must be required on the servers); or in the URLs. */
  clusterUser: z.string().min(1).optional(),
  clusterPassword: z.string().min(1).optional(),
  /** A NATS auth token instead of user and password. */
  clusterToken: z.string().min(1).optional(),
  /** Copies JetStream keeps of the log and the cluster's buckets: 3 in a three-server NATS cluster, 1 on one server. */
  clusterReplicas: int(1, 5).default(3),
  /** An append whose JetStream ack has not come by then fails with UNAVAILABLE. */
  clusterPublishTimeoutMs: int(100, 120_000).default(5000),
  /** How often a node renews its entry in the node directory. */
  clusterHeartbeatMs: int(100, 60_000).default(1000),
  /** A node whose entry was not renewed for this long is lost: its connections are closed and its peers leave their rooms. */
  clusterNodeLostAfterMs: int(500, 600_000).default(5000),
  /** Bytes of cross-node frames allowed to wait in the NATS client; past it, relays to other nodes are dropped (and counted). */
  clusterMaxPendingBytes: int(64 * 1024, 1024 * 1024 * 1024).default(32 * 1024 * 1024),
};

/** The slice of the gateway's config the cluster reads. */
export interface ClusterConfig {
  readonly cluster: readonly string[];
  readonly clusterUser?: string | undefined;
  readonly clusterPassword?: string | undefined;
  readonly clusterToken?: string | undefined;
  readonly clusterReplicas: number;
  readonly clusterPublishTimeoutMs: number;
  readonly clusterHeartbeatMs: number;
  readonly clusterNodeLostAfterMs: number;
  readonly clusterMaxPendingBytes: number;
}

/**
 * The servers without credentials, and the credentials: from the keys, else from the first
 * URL that carries them (so the password is never logged as part of a server URL).
 */
export function clusterServers(config: ClusterConfig): { servers: string[]; user?: string; password?: string; token?: string } {
  let user = config.clusterUser;
  let password = config.clusterPassword;
  const servers = config.cluster.map((value) => {
    const url = new URL(value);
    if (url.username && user === undefined) {
      user = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    }
    return `${url.protocol}//${url.host}`;
  });
  return {
    servers,
    ...(user !== undefined ? { user, password: password ?? '' } : {}),
    ...(config.clusterToken !== undefined ? { token: config.clusterToken } : {}),
  };
}
