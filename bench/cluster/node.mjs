// One gateway node of bench/cluster/cluster.mjs, run as its own (pinned) child process:
//
//   node bench/cluster/node.mjs '<json: {dataDir, natsUrls, user, password, replicas, appPassword, env?}>'
//
// The real gateway from dist/ in cluster mode (SWITCHYARD_CLUSTER and its credentials), data
// in `dataDir` (fresh; the caller removes it, also after killing this process), listening on
// 127.0.0.1 port 0. Prints one JSON line {"port", "pid", "node"} on stdout once it accepts
// connections; exits on SIGTERM after a graceful stop (so the node leaves the node directory
// instead of being declared lost).

const options = JSON.parse(process.argv[2]);
const { loadConfig } = await import('../../dist/app/config.js');
const { Gateway } = await import('../../dist/app/gateway.js');
const { createLogger } = await import('../../dist/edge/logger.js');

const { dataDir } = options;
// As bench/ws/relay-servers.mjs: the per-connection relay budgets protect a deployment from
// a flooding peer; the bench measures the relay itself, so they are raised out of the way.
const config = loadConfig({
  flags: { port: '0', host: '127.0.0.1', data: dataDir, 'log-level': 'silent' },
  env: {
    SWITCHYARD_APP_PASSWORD: options.appPassword,
    SWITCHYARD_CLUSTER: options.natsUrls.join(','),
    SWITCHYARD_CLUSTER_USER: options.user,
    SWITCHYARD_CLUSTER_PASSWORD: options.password,
    SWITCHYARD_CLUSTER_REPLICAS: String(options.replicas),
    SWITCHYARD_RELAY_SDP_PER_SECOND: '1000000',
    SWITCHYARD_RELAY_ICE_PER_SECOND: '1000000',
    SWITCHYARD_RATE_LIMIT_STRIKES: '100000',
    // A bench's own limits (bench/cluster/failover.mjs raises the per-address ones).
    ...options.env,
  },
});
let gateway;
try {
  gateway = await Gateway.start({ config, logger: createLogger(config.logLevel) });
} catch (error) {
  console.error(`gateway node did not start: ${error?.stack ?? error}`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ port: gateway.port, pid: process.pid, node: gateway.cluster?.node ?? null })}\n`);
process.once('SIGTERM', () => {
  gateway.stop().finally(() => process.exit(0));
});
