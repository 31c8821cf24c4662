/**
 * The baseline of `bench/mixed.ts`: graphql-yoga with a one-field schema on node:http, nothing else
 * (no database, no auth, no plugins). Listens on HOST:PORT; `GET /health` is yoga's own health check.
 */
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';

const yoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { hello: String! }', resolvers: { Query: { hello: () => 'world' } } }),
  graphiql: false,
  landingPage: false,
  logging: 'warn',
});
const server = createServer(yoga);
server.keepAliveTimeout = 5_000;
const host = process.env.HOST ?? '127.0.0.1';
server.listen(Number(process.env.PORT ?? 0), host, () => {
  const { port } = server.address() as { port: number };
  console.log(JSON.stringify({ url: `http://${host}:${port}` }));
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
