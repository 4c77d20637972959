import type { QuerySpec, QueryValue } from './query';

/** What the list filters read of a record. */
export interface FilterableRecord {
  id: number;
  active: boolean;
  createdOn: string;
  modifiedOn: string;
}

/** The filters the customers and calls lists share, typed as their specs type them. */
export const LIST_FILTERS: QuerySpec = {
  ids: 'string',
  active: 'active',
  createdBefore: 'date-time',
  createdOnOrAfter: 'date-time',
  modifiedBefore: 'date-time',
  modifiedOnOrAfter: 'date-time',
  sort: 'string',
};

const SORT_FIELDS = { id: 'id', modifiedon: 'modifiedOn', createdon: 'createdOn' } as const;

/**
 * The order `sort` asks for (`+Field` or `Field` ascending, `-Field` descending; the specs list
 * `Id`, `ModifiedOn`, `CreatedOn`), by id when absent; an Error for another field.
 */
export function sortOrder(sort: QueryValue): ((a: FilterableRecord, b: FilterableRecord) => number) | Error {
  const match = /^([+-]?)(\w+)$/.exec(typeof sort === 'string' ? sort.trim() : '+Id');
  const field = match?.[2] ? SORT_FIELDS[match[2].toLowerCase() as keyof typeof SORT_FIELDS] : undefined;
  if (!match || !field)
    return new Error(`The sort field must be one of Id, ModifiedOn, CreatedOn, got '${String(sort)}'.`);
  const direction = match[1] === '-' ? -1 : 1;
  const key = (r: FilterableRecord): number => (field === 'id' ? r.id : Date.parse(r[field]));
  return (a, b) => direction * (key(a) - key(b) || a.id - b.id);
}

/**
 * Applies `ids` (comma-separated), `active` (`True` by default, as the specs say: "only active
 * items will be returned by default"; `Any`, `False`) and the created / modified date ranges.
 */
export function filterList<T>(
  items: readonly T[],
  values: Record<string, QueryValue>,
  fields: (item: T) => FilterableRecord,
): T[] {
  const ids =
    typeof values['ids'] === 'string' ? new Set(values['ids'].split(',').map((id) => Number(id.trim()))) : undefined;
  const active = values['active'] ?? 'True';
  const at = (name: string): number | undefined =>
    typeof values[name] === 'string' ? Date.parse(values[name]) : undefined;
  const createdBefore = at('createdBefore');
  const createdOnOrAfter = at('createdOnOrAfter');
  const modifiedBefore = at('modifiedBefore');
  const modifiedOnOrAfter = at('modifiedOnOrAfter');
  return items.filter((item) => {
    const record = fields(item);
    const created = Date.parse(record.createdOn);
    const modified = Date.parse(record.modifiedOn);
    return (
      (ids === undefined || ids.has(record.id)) &&
      (active === 'Any' || record.active === (active === 'True')) &&
      (createdBefore === undefined || created < createdBefore) &&
      (createdOnOrAfter === undefined || created >= createdOnOrAfter) &&
      (modifiedBefore === undefined || modified < modifiedBefore) &&
      (modifiedOnOrAfter === undefined || modified >= modifiedOnOrAfter)
    );
  });
}
