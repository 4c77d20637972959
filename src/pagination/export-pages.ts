import type { AxiosInstance } from 'axios';
import { ServiceTitanResponseError, invalidConfig } from '../errors';
import { describe } from '../urls';
import { checkCommon, isRecord, shapeOf, throwIfAborted, urlForMessages } from './checks';

/** Options of {@link exportPages}. */
export interface ExportPagesOptions {
  /**
   * Where to start: a `continueFrom` saved from an earlier batch (to resume), or a date (sent as
   * an ISO 8601 string). @default not sent: the feed starts from the beginning
   */
  from?: string | Date;
  /** Extra query parameters sent with every batch. `from` is set by the iterator. @default {} */
  params?: Record<string, unknown>;
  /** Aborts the request in flight and ends the iteration with axios's `CanceledError`. */
  signal?: AbortSignal;
}

/** One batch of a ServiceTitan export feed, as {@link exportPages} yields it. */
export interface ExportBatch<T> {
  data: T[];
  /** Pass this as `from` to continue after this batch, now or in a later run: checkpoint it. */
  continueFrom: string;
  /** Whether more batches follow right now. */
  hasMore: boolean;
}

/**
 * Iterates over the batches of a ServiceTitan export feed (`/tenant/{t}/export/…`,
 * `{ hasMore, continueFrom, data }`), following `continueFrom` while `hasMore`. Each batch is
 * yielded with its `continueFrom`: save it once the batch is processed, and pass it as `from`
 * in a later run to resume exactly after it (the last batch's `continueFrom` is where the next
 * incremental run starts). Always one request at a time: the cursor lives on the server, so a
 * batch cannot be asked for before the previous one has answered. Throws
 * `ServiceTitanResponseError` on a malformed batch, or when the server says `hasMore` with a
 * `continueFrom` already followed in this iteration (a feed that does not advance, or cycles
 * A → B → A, would otherwise be followed forever).
 *
 * @example
 * for await (const batch of exportPages<Customer>(client, '/crm/v2/tenant/{tenant}/export/customers', { from: saved })) {
 *   await store(batch.data);
 *   await saveCheckpoint(batch.continueFrom);
 * }
 */
export function exportPages<T = unknown>(
  client: AxiosInstance,
  url: string,
  options: ExportPagesOptions = {},
): AsyncIterable<ExportBatch<T>> {
  checkCommon('exportPages', client, url, options);
  const { params = {}, signal } = options;
  const start = fromOption(options.from);
  const where = urlForMessages(url);
  return {
    async *[Symbol.asyncIterator]() {
      let from = start;
      // Every cursor sent so far: one string per batch, as bounded as the feed itself.
      const followed = new Set<string | undefined>([from]);
      for (let index = 1; ; index += 1) {
        throwIfAborted(signal);
        const query = { ...params, ...(from === undefined ? {} : { from }) };
        const response = await client.get<unknown>(url, { params: query, ...(signal === undefined ? {} : { signal }) });
        const position = `batch ${index}${from === undefined ? '' : ' (from a continueFrom or date)'}`;
        const batch = checkExportBatch<T>(response.data, where, position);
        if (batch.hasMore && followed.has(batch.continueFrom)) {
          const how =
            batch.continueFrom === from ? 'did not advance continueFrom' : 'sent a continueFrom already followed';
          throw new ServiceTitanResponseError(
            where,
            `exportPages: GET ${where} ${position} said hasMore: true but ${how}; stopping instead of looping forever`,
          );
        }
        yield batch;
        if (!batch.hasMore) return;
        from = batch.continueFrom;
        followed.add(from);
      }
    },
  };
}

function fromOption(from: unknown): string | undefined {
  if (from === undefined) return undefined;
  if (from instanceof Date) {
    if (Number.isNaN(from.getTime())) throw invalidConfig('exportPages: from is an invalid Date');
    return from.toISOString();
  }
  if (typeof from !== 'string' || from === '') {
    throw invalidConfig(`exportPages: from must be a continueFrom string or a Date, got ${describe(from)}`);
  }
  return from;
}

function checkExportBatch<T>(body: unknown, where: string, position: string): ExportBatch<T> {
  if (
    !isRecord(body) ||
    !Array.isArray(body['data']) ||
    typeof body['hasMore'] !== 'boolean' ||
    typeof body['continueFrom'] !== 'string' ||
    (body['hasMore'] && body['continueFrom'] === '')
  ) {
    throw new ServiceTitanResponseError(
      where,
      `exportPages: GET ${where} ${position} did not answer an export batch ({ data: [...], hasMore: boolean, continueFrom: string }); got ${shapeOf(body)}`,
    );
  }
  return { data: body['data'] as T[], continueFrom: body['continueFrom'], hasMore: body['hasMore'] };
}
