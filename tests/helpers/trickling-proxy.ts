import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a server (here redis-server) whose answers can be slowed
 * without stopping them: what a Redis short of CPU, or one working through a backlog of other
 * commands, looks like from a client. Requests always reach the server at once.
 */
export interface TricklingProxy {
  readonly port: number;
  /** Answers pass at once (the default: connection set-up, ready checks). */
  passThrough(): void;
  /**
   * One line of the server's answers (up to and including its CRLF: a whole reply for a nil, a
   * status, an integer; a RESP bulk string is two lines) per `everyMs` on each connection; the
   * rest waits in order, whatever the server wrote at once. With n one-line answers queued, the
   * last arrives n × `everyMs` late, while an answer arrives every `everyMs`. `connections`
   * picks which, by the order they were accepted in (0 first; default: all); the others pass.
   */
  trickle(everyMs: number, connections?: (index: number) => boolean): void;
  /** No answer passes until the next mode: a Redis that is hung, or a link that is down. */
  silence(): void;
  /** The longest an answer's bytes waited in the proxy so far, ms (reset by {@link passThrough}). */
  readonly longestHoldMs: number;
  close(): Promise<void>;
}

interface Link {
  /** Accepted n-th, from 0. */
  index: number;
  client: net.Socket;
  /** The server's bytes not yet passed on, with when they reached the proxy. */
  queue: { bytes: Buffer; arrivedAt: number }[];
  timer?: NodeJS.Timeout | undefined;
}

type Mode =
  | { kind: 'through' }
  | { kind: 'trickle'; everyMs: number; connections: (index: number) => boolean }
  | { kind: 'silent' };

export async function startTricklingProxy(targetPort: number): Promise<TricklingProxy> {
  const sockets = new Set<net.Socket>();
  const links = new Set<Link>();
  let mode: Mode = { kind: 'through' };
  let longestHoldMs = 0;
  let accepted = 0;

  /** Writes the first `bytes` of the link's queue to its client. */
  const deliver = (link: Link, bytes: number) => {
    let left = bytes;
    while (left > 0) {
      const head = link.queue[0]!;
      longestHoldMs = Math.max(longestHoldMs, performance.now() - head.arrivedAt);
      const part = head.bytes.subarray(0, left);
      link.client.write(part);
      left -= part.length;
      if (part.length === head.bytes.length) link.queue.shift();
      else head.bytes = head.bytes.subarray(part.length);
    }
  };
  const queued = (link: Link) => link.queue.reduce((sum, chunk) => sum + chunk.bytes.length, 0);
  /** The bytes of the queue's first line, CRLF included (all of it if it holds no CRLF yet). */
  const firstLine = (link: Link) => {
    const all = Buffer.concat(link.queue.map((chunk) => chunk.bytes));
    const end = all.indexOf('\r\n');
    return end === -1 ? all.length : end + 2;
  };
  /** Runs the link's queue under the current mode. */
  const pump = (link: Link) => {
    if (link.timer !== undefined || link.queue.length === 0) return;
    if (mode.kind === 'through' || (mode.kind === 'trickle' && !mode.connections(link.index))) {
      deliver(link, queued(link));
    } else if (mode.kind === 'trickle') {
      link.timer = setTimeout(() => {
        link.timer = undefined;
        if (link.queue.length > 0) deliver(link, firstLine(link));
        pump(link);
      }, mode.everyMs);
    }
  };
  const setMode = (next: Mode) => {
    mode = next;
    for (const link of links) {
      clearTimeout(link.timer);
      link.timer = undefined;
      pump(link);
    }
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const link: Link = { index: accepted++, queue: [], client };
    links.add(link);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
        clearTimeout(link.timer);
        links.delete(link);
      });
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      link.queue.push({ bytes: chunk, arrivedAt: performance.now() });
      pump(link);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    passThrough: () => {
      setMode({ kind: 'through' });
      longestHoldMs = 0;
    },
    trickle: (everyMs, connections = () => true) => setMode({ kind: 'trickle', everyMs, connections }),
    silence: () => setMode({ kind: 'silent' }),
    get longestHoldMs() {
      return longestHoldMs;
    },
    async close() {
      for (const link of links) clearTimeout(link.timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
