import type { Redis } from 'ioredis';
import { withCommandTimeout } from './command-timeout';

type Listener = (message: string) => void;

interface Channel {
  listeners: Set<Listener>;
  /** Settles when Redis acknowledged the SUBSCRIBE. */
  subscribed: Promise<void>;
}

/**
 * One pub/sub connection (a `duplicate()` of the user's client), opened on first use and shared
 * by every wait of a store: a channel is subscribed while at least one listener needs it.
 * ioredis re-subscribes by itself after a reconnection. When the user's client ends (quit, or
 * gave up reconnecting) the connection is dropped too, so it never outlives the client; a later
 * wait opens a new one.
 */
export class RedisSubscriber {
  readonly #source: Redis;
  readonly #commandTimeoutMs: number;
  readonly #channels = new Map<string, Channel>();
  #connection: Redis | undefined;
  #closed = false;
  readonly #onSourceEnd = () => this.#drop();

  readonly #endMessage: string;

  /** `endMessage`: what listeners hear when the user's client ends. */
  constructor(source: Redis, commandTimeoutMs: number, endMessage: string) {
    this.#source = source;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.#endMessage = endMessage;
  }

  /**
   * Calls `listener` with every message on `channel` until the returned function is called.
   * Resolves once the subscription is in place, so a message published afterwards is not missed.
   */
  async listen(channel: string, listener: Listener): Promise<() => void> {
    if (this.#closed) throw new Error('RedisTokenStore: the store is closed');
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      const connection = this.#connect();
      const created: Channel = {
        listeners: new Set(),
        subscribed: withCommandTimeout('SUBSCRIBE', this.#commandTimeoutMs, async () => {
          await connection.subscribe(channel);
        }),
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

  /** Closes the pub/sub connection for good; later `listen` calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#detach();
    if (connection === undefined) return;
    try {
      await withCommandTimeout('QUIT', this.#commandTimeoutMs, () => connection.quit());
    } catch {
      connection.disconnect();
    }
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

  #detach(): Redis | undefined {
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

  #connect(): Redis {
    if (this.#connection !== undefined) return this.#connection;
    // The offline queue lets the first SUBSCRIBE wait for the connection (bounded by the timeout).
    const connection = this.#source.duplicate({ enableOfflineQueue: true });
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
