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

/** A slow tunnel set-up (a distant or busy proxy) for the first `connects` CONNECT requests. */
export interface ConnectDelay {
  /** How long each of them is held before the proxy reads it. */
  delayMs: number;
  /** How many CONNECTs are held, from the first; later ones go through at once. */
  connects: number;
}

/**
 * With `connectDelay`, a connection that opens with a CONNECT (one of the first `connects`) is
 * held `delayMs` before the proxy sees it: the tunnel, and so the request inside it, are set up
 * that much later, while later tunnels are set up at once. Plain requests are never held.
 */
export async function startRecordingProxy(connectDelay?: ConnectDelay): Promise<RecordingProxy> {
  const connects: string[] = [];
  const plainRequests: string[] = [];
  const connections: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let heldConnects = 0;
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
    track(client);
    const chunks: Buffer[] = [];
    connections.push(chunks);
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Relayed once the first bytes say whether this connection is a tunnel to hold.
    client.once('data', (first: Buffer) => {
      client.pause();
      const held =
        connectDelay !== undefined &&
        first.subarray(0, 8).toString('latin1') === 'CONNECT ' &&
        heldConnects++ < connectDelay.connects;
      const relay = () => {
        timers.delete(timer);
        if (client.destroyed) return;
        const upstream = net.connect(proxyPort, '127.0.0.1');
        track(upstream);
        upstream.write(first);
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.resume();
      };
      const timer = setTimeout(relay, held ? connectDelay.delayMs : 0);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${(recorder.address() as net.AddressInfo).port}`,
    connects,
    plainRequests,
    received: () => connections.map((chunks) => Buffer.concat(chunks)),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        [recorder, proxy].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
}
