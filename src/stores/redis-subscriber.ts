import type { Cluster, Redis } from 'ioredis';
import { withCommandTimeout } from './command-timeout';

/** What the Redis stores accept: a single server or Sentinel (`Redis`), or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

type Listener = (message: string) => void;

interface Channel {
  listeners: Set<Listener>;
  /** Settles when Redis acknowledged the SUBSCRIBE. */
  subscribed: Promise<void>;
}

/**
 * One pub/sub connection (a `duplicate()` of the user's client: a `Redis`, Sentinel included, or
 * a `Cluster`), shared by every wait of a store: a channel is subscribed while at least one
 * listener needs it. ioredis re-subscribes by itself after a reconnection (and, on a Cluster,
 * on another node when its subscriber node goes away). When the user's client ends (quit, or
 * gave up reconnecting) the connection is dropped too, so it never outlives the client; a later
 * wait opens a new one.
 *
 * The connection is opened by {@link RedisSubscriber.open}, which the store calls when it is
 * created: setting it up (a Cluster discovers its slots and nodes, Sentinel asks for the master)
 * took longer than a SUBSCRIBE's budget, so a first wait opened lazily timed out and its process
 * fetched a token of its own (issue 18: 1-4 extra token requests per 20 tenants).
 */
export class RedisSubscriber {
  readonly #source: RedisConnection;
  readonly #commandTimeoutMs: number;
  readonly #channels = new Map<string, Channel>();
  #connection: RedisConnection | undefined;
  #closed = false;
  readonly #onSourceEnd = () => this.#drop();

  readonly #endMessage: string;

  /** `endMessage`: what listeners hear when the user's client ends. */
  constructor(source: RedisConnection, commandTimeoutMs: number, endMessage: string) {
    this.#source = source;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.#endMessage = endMessage;
  }

  /**
   * Starts connecting now, ahead of the first wait. Not when the user's client has already
   * ended: nothing would end ours then.
   */
  open(): void {
    if (this.#closed || this.#source.status === 'end') return;
    this.#connect();
  }

  /**
   * Calls `listener` with every message on `channel` until the returned function is called.
   * Resolves once the subscription is in place, so a message published afterwards is not missed.
   *
   * While the user's client is connected (Redis answers: a slow set-up, not an outage), the
   * first SUBSCRIBE, which waits for the pub/sub connection, is bounded by `connectWithinMs` (the
   * caller's own wait, at least the command timeout). While the user's client is not connected
   * either, Redis is probably down: it fails within the command timeout, like every command.
   */
  async listen(channel: string, listener: Listener, connectWithinMs: number): Promise<() => void> {
    if (this.#closed) throw new Error('RedisTokenStore: the store is closed');
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      const connection = this.#connect();
      const created: Channel = {
        listeners: new Set(),
        subscribed: this.#subscribe(connection, channel, connectWithinMs),
      };
      // A failed SUBSCRIBE is forgotten, so the next wait tries again.
      created.subscribed.catch(() => {
        if (this.#channels.get(channel) === created) this.#channels.delete(channel);
      });
      this.#channels.set(channel, created);
      entry = created;
    }
    entry.listeners.add(listener);
    const stop = () => this.#stop(channel, entry, listener);
    try {
      await entry.subscribed;
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  /**
   * Closes the pub/sub connection for good; later `listen` calls reject.
   *
   * `disconnect()`, not `quit()`: a subscriber has no reply worth waiting for, and with Sentinel
   * and `failoverDetector: true` (which the duplicate inherits) ioredis before 6.1.0 closes the
   * detector's connections to the sentinels only on `disconnect()`. After `quit()` they stayed
   * open, then reconnected every 60 s once the sentinels went away: the process never exited
   * (ioredis issue #1362, fixed in 6.1.0).
   */
  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#detach();
    connection?.disconnect();
  }

  async #subscribe(connection: RedisConnection, channel: string, connectWithinMs: number): Promise<void> {
    // While the user's client is connected, Redis answers: what can make a first SUBSCRIBE slow
    // is setting up ours (and, on a Cluster, its subscriber node's connection, which ioredis
    // opens on the first SUBSCRIBE only), so it may take as long as the caller's wait.
    const budgetMs =
      this.#source.status === 'ready' ? Math.max(connectWithinMs, this.#commandTimeoutMs) : this.#commandTimeoutMs;
    await withCommandTimeout('SUBSCRIBE', budgetMs, async () => {
      await connection.subscribe(channel);
    });
  }

  /**
   * The user's client ended: end ours at once and stay reusable. Listeners hear `endMessage`
   * (their next read of the store fails fast instead of waiting for nothing).
   */
  #drop(): void {
    const listeners = [...this.#channels.values()].flatMap((channel) => [...channel.listeners]);
    this.#detach()?.disconnect();
    for (const listener of listeners) listener(this.#endMessage);
  }

  #detach(): RedisConnection | undefined {
    this.#channels.clear();
    this.#source.off('end', this.#onSourceEnd);
    const connection = this.#connection;
    this.#connection = undefined;
    return connection;
  }

  #stop(channel: string, entry: Channel, listener: Listener): void {
    entry.listeners.delete(listener);
    if (entry.listeners.size > 0 || this.#channels.get(channel) !== entry) return;
    this.#channels.delete(channel);
    const connection = this.#connection;
    // Best effort: a channel left subscribed only costs its (ignored) messages.
    if (connection !== undefined) connection.unsubscribe(channel).catch(() => undefined);
  }

  #connect(): RedisConnection {
    if (this.#connection !== undefined) return this.#connection;
    const connection = duplicateForPubSub(this.#source);
    // Connection errors surface as failed or timed-out commands; without a listener ioredis
    // would print them to the console.
    connection.on('error', () => undefined);
    connection.on('message', (channel: string, message: string) => {
      for (const listener of this.#channels.get(channel)?.listeners ?? []) listener(message);
    });
    this.#source.once('end', this.#onSourceEnd);
    this.#connection = connection;
    return connection;
  }
}

/**
 * A connection like `source` (same nodes, Sentinel settings, credentials, TLS), connecting now
 * even if the user's client is lazy. The offline queue lets a SUBSCRIBE wait for it (bounded).
 */
function duplicateForPubSub(source: RedisConnection): RedisConnection {
  if (source.isCluster)
    return (source as Cluster).duplicate(undefined, { enableOfflineQueue: true, lazyConnect: false });
  return (source as Redis).duplicate({ enableOfflineQueue: true, lazyConnect: false });
}
