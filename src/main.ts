import { createWorkspaceCurl, localUrl } from './app/first-key.ts';
import { ConfigError, loadConfig } from './config.ts';
import { buildApp } from './server.ts';

/** `npm start`: validate config, build, migrate, listen; drain on SIGTERM/SIGINT. */
async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const app = await buildApp(config);
  const { url, port } = await app.start();
  const local = localUrl(config.HOST, port);
  const embedded = !config.DATABASE_URL;
  app.log.info(
    {
      url,
      graphql: `${url}/graphql`,
      database: embedded ? `embedded PGlite in ${config.DATA_DIR}/pglite` : 'postgresql',
      pubsub: app.pubsub.kind,
    },
    `Agentwork listening on ${url}/graphql`,
  );
  // The CLI cannot open the embedded database while this process holds it (one process per PGlite
  // directory), so the hint goes through the running server, which works in every mode.
  app.log.info(
    { graphiql: `${url}/graphql` },
    config.ALLOW_SIGNUP
      ? `Get a first key (create a workspace): ${createWorkspaceCurl(local)}`
      : `Signup is closed (ALLOW_SIGNUP=false). Get a first key with the platform admin key: ${createWorkspaceCurl(local, undefined, { allowSignup: false })}`,
  );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: draining in-flight requests');
    // Draining HTTP is bounded by SHUTDOWN_TIMEOUT_MS; a worker or connection that still hangs after
    // that (and a grace period) must not keep an orchestrator waiting on a process that never exits.
    const graceMs = config.SHUTDOWN_TIMEOUT_MS + 10_000;
    setTimeout(() => {
      app.log.error({ signal, graceMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, graceMs).unref();
    try {
      await app.stop();
      app.log.info('stopped');
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  console.error(`Agentwork failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
