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
};

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
