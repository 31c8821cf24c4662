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
  const { url } = await app.start();
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
  if (embedded) {
    app.log.info(
      `Embedded mode. GraphiQL: ${url}/graphql. Get a key: npm run cli -- workspace create --name Acme --owner-email you@example.com`,
    );
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: draining in-flight requests');
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
