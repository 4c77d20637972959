import net from 'node:net';

/** A TCP proxy on 127.0.0.1 that holds every new connection `delayMs` before piping it through. */
export interface SlowConnectProxy {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Stands for a slow connection set-up (TLS, a distant data centre, a busy machine): every new
 * connection to `port` reaches `targetPort` only after `delayMs`; bytes sent meanwhile wait.
 * Established connections are as fast as a direct one.
 */
export async function startSlowConnectProxy(targetPort: number, delayMs: number): Promise<SlowConnectProxy> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.pause();
    client.on('error', () => undefined);
    client.on('close', () => sockets.delete(client));
    const timer = setTimeout(() => {
      timers.delete(timer);
      const upstream = net.connect(targetPort, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
