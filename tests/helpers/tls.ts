import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

/** A throw-away self-signed certificate for `localhost` / 127.0.0.1, made with the machine's openssl. */
export interface TestCertificate {
  key: Buffer;
  cert: Buffer;
  /** The certificate as a PEM file, for `NODE_EXTRA_CA_CERTS` in a child process. */
  certPath: string;
  /** Deletes the files. */
  remove(): void;
}

export function createTestCertificate(): TestCertificate {
  const dir = mkdtempSync(path.join(tmpdir(), 'st-tls-'));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return {
    key: readFileSync(keyPath),
    cert: readFileSync(certPath),
    certPath,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A TLS server on 127.0.0.1 that decrypts and forwards every connection to a plain local port. */
export interface TlsTerminator {
  port: number;
  close(): Promise<void>;
}

/**
 * Puts `https:` in front of a plain-HTTP server (the sandbox speaks http only). With
 * `handshakeDelayMs`, each handshake of a client that names the server (SNI: a host name, not an
 * IP) waits that long before the server answers, as a distant server's round trips would.
 */
export async function startTlsTerminator(
  targetPort: number,
  certificate: Pick<TestCertificate, 'key' | 'cert'>,
  options: { handshakeDelayMs?: number } = {},
): Promise<TlsTerminator> {
  const sockets = new Set<net.Socket>();
  const context = tls.createSecureContext({ key: certificate.key, cert: certificate.cert });
  const delayed =
    options.handshakeDelayMs === undefined
      ? {}
      : {
          SNICallback: (_name: string, answer: (error: Error | null, context: tls.SecureContext) => void) =>
            setTimeout(() => answer(null, context), options.handshakeDelayMs),
        };
  // The upstream connection opens when the client connects, before the handshake, so a request
  // reaches the target as soon as it is decrypted (a TLS edge keeps its upstream connections warm).
  const upstreams = new Map<string, net.Socket>();
  const peer = (socket: net.Socket) => `${socket.remoteAddress}:${socket.remotePort}`;
  const server = tls.createServer({ key: certificate.key, cert: certificate.cert, ...delayed }, (clear) => {
    const upstream = upstreams.get(peer(clear)) ?? net.connect(targetPort, '127.0.0.1');
    upstreams.delete(peer(clear));
    for (const socket of [clear, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    clear.pipe(upstream).pipe(clear);
    clear.on('close', () => upstream.destroy());
    upstream.on('close', () => clear.destroy());
  });
  server.on('connection', (raw: net.Socket) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.on('error', () => upstream.destroy());
    upstreams.set(peer(raw), upstream);
    raw.on('close', () => {
      if (upstreams.get(peer(raw)) === upstream) {
        upstreams.delete(peer(raw));
        upstream.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
