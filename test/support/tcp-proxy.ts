import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server (PostgreSQL, Redis) that a test can cut: `cut()` drops
 * every open connection and refuses new ones until `restore()`. Lets a test stage an outage of a
 * shared server without touching it.
 */
export interface TcpProxy {
  port: number;
  /** Connections accepted and forwarded so far. */
  accepted: number;
  cut(): void;
  /** Accept again; the first `failFirst` new connections are still dropped at once. */
  restore(failFirst?: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  let toFail = 0;
  const server: Server = createServer((client) => {
    if (refusing || toFail > 0) {
      if (!refusing) toFail--;
      client.destroy();
      return;
    }
    proxy.accepted++;
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: TcpProxy = {
    port: (server.address() as { port: number }).port,
    accepted: 0,
    cut() {
      refusing = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    restore(failFirst = 0) {
      toFail = failFirst;
      refusing = false;
    },
    close() {
      proxy.cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
