import http from 'node:http';
import net from 'node:net';
import { createProxy } from 'proxy';

/**
 * An HTTP proxy (TooTallNate's `proxy`, as a corporate proxy would behave: CONNECT tunnels and
 * plain forwarding) behind a TCP recorder that keeps every byte a client sends it, so a test can
 * say what the proxy could read.
 */
export interface RecordingProxy {
  /** For `HTTPS_PROXY`. */
  url: string;
  /** Targets of the CONNECT requests it received (`host:port`). */
  readonly connects: string[];
  /** Request lines of the plain (non-CONNECT) requests it received: cleartext it could read. */
  readonly plainRequests: string[];
  /** Every byte clients sent to the proxy, tunnelled TLS included: one buffer per connection. */
  received(): Buffer[];
  close(): Promise<void>;
}

export async function startRecordingProxy(): Promise<RecordingProxy> {
  const connects: string[] = [];
  const plainRequests: string[] = [];
  const connections: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  const proxy = createProxy(http.createServer());
  proxy.on('connect', (req: http.IncomingMessage) => connects.push(req.url ?? ''));
  proxy.on('request', (req: http.IncomingMessage) => plainRequests.push(`${req.method} ${req.url}`));
  proxy.on('connection', track);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyPort = (proxy.address() as net.AddressInfo).port;

  // The http server reads its sockets natively ('data' events are not emitted), so the bytes
  // are recorded by a TCP relay in front of it.
  const recorder = net.createServer((client) => {
    const upstream = net.connect(proxyPort, '127.0.0.1');
    track(client);
    track(upstream);
    const chunks: Buffer[] = [];
    connections.push(chunks);
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${(recorder.address() as net.AddressInfo).port}`,
    connects,
    plainRequests,
    received: () => connections.map((chunks) => Buffer.concat(chunks)),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        [recorder, proxy].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
}
