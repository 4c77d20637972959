import dns from 'node:dns';
import http from 'node:http';
import type { LookupFunction } from 'node:net';
import axios from 'axios';

/** Traffic of the same process that is not the client's, running until stopped. */
export interface OtherTraffic {
  /** Stops it; resolves with how many requests it sent. */
  stop(): Promise<number>;
}

const ipv4Lookup: LookupFunction = (host, options, callback) => dns.lookup(host, { ...options, family: 4 }, callback);

/**
 * Another axios instance (4 loops) and plain `http.get` (4 loops) sending GETs to `baseUrl` +
 * `path` without a token, one after another on warm keep-alive connections, until stopped: the
 * traffic that DESIGN guarantee 17 says never changes a client's rate-limit count. Give it the
 * client's own host name (e.g. `localhost:<port>`): same method and Host as the client's
 * requests is what fooled a limiter that matched requests by them.
 */
export function startOtherTraffic(baseUrl: string, path: string): OtherTraffic {
  const agent = new http.Agent({ keepAlive: true, lookup: ipv4Lookup });
  const other = axios.create({ baseURL: baseUrl, httpAgent: agent, validateStatus: () => true });
  const plainGet = () =>
    new Promise<void>((resolve) => {
      http
        .get(`${baseUrl}${path}`, { agent }, (response) => {
          response.resume();
          response.on('end', resolve);
        })
        .on('error', () => resolve());
    });
  let running = true;
  let sent = 0;
  const loop = async (send: () => Promise<unknown>) => {
    while (running) {
      await send().catch(() => undefined);
      sent += 1;
    }
  };
  const loops = [
    ...Array.from({ length: 4 }, () => loop(() => other.get(path))),
    ...Array.from({ length: 4 }, () => loop(plainGet)),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return sent;
    },
  };
}
