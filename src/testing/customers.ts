import { encodeCursor, EPOCH, HOUR, type ExportBatch } from './data';

/** `Crm.V2.Customers.CustomerAddress`. */
export interface SandboxAddress {
  street: string;
  unit: string | null;
  city: string;
  state: string;
  zip: string;
  country: string;
  latitude: number | null;
  longitude: number | null;
}

/** `Crm.V2.Customers.CustomFieldModel`. */
export interface SandboxCustomField {
  typeId: number;
  name: string | null;
  value: string | null;
}

/** `Crm.V2.ExternalDataModel`. */
export interface SandboxExternalData {
  key: string;
  value: string;
}

/**
 * A customer in the shape of ServiceTitan's `Crm.V2.Customers.CustomerResponse` (every property
 * the published schema has, and no other): what the list, the export feed and the by-id route
 * answer.
 */
export interface SandboxCustomer {
  id: number;
  active: boolean;
  name: string;
  type: 'Residential' | 'Commercial';
  address: SandboxAddress;
  customFields: SandboxCustomField[];
  balance: number;
  taxExempt: boolean;
  tagTypeIds: number[];
  doNotMail: boolean;
  doNotService: boolean;
  nationalAccount: boolean;
  createdOn: string;
  createdById: number;
  modifiedOn: string;
  mergedToId: number | null;
  paymentTermId: number | null;
  creditLimit: number | null;
  creditLimitBalance: number | null;
  externalData: SandboxExternalData[];
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson'];
const STREETS = ['Main St', 'Oak Ave', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Pine Rd'];
const CITIES = [
  { city: 'Glendale', state: 'CA', zip: '91203', latitude: 34.1425, longitude: -118.2551 },
  { city: 'Phoenix', state: 'AZ', zip: '85004', latitude: 33.4484, longitude: -112.074 },
  { city: 'Austin', state: 'TX', zip: '78701', latitude: 30.2672, longitude: -97.7431 },
  { city: 'Denver', state: 'CO', zip: '80202', latitude: 39.7392, longitude: -104.9903 },
];
/** The employee the generated records say created them. */
const OFFICE_USER_ID = 1001;
/** The user ServiceTitan records as the creator of what an application writes through the API. */
export const API_USER_ID = 5001;

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length] as T;
}

/** `count` customers with ids 1..count; the same count always gives the same records. */
export function generateCustomers(count: number): SandboxCustomer[] {
  return Array.from({ length: count }, (_, index) => {
    const id = index + 1;
    const created = EPOCH + id * 24 * HOUR;
    const place = pick(CITIES, id);
    const commercial = id % 5 === 0;
    return {
      id,
      active: true,
      name: commercial ? `${pick(LAST, id)} Holdings #${id}` : `${pick(FIRST, id)} ${pick(LAST, id)} #${id}`,
      type: commercial ? 'Commercial' : 'Residential',
      address: {
        street: `${100 + id} ${pick(STREETS, id)}`,
        unit: id % 4 === 0 ? `Apt ${id % 30}` : null,
        city: place.city,
        state: place.state,
        zip: place.zip,
        country: 'USA',
        latitude: place.latitude,
        longitude: place.longitude,
      },
      customFields: id % 3 === 0 ? [{ typeId: 7, name: 'Referral source', value: 'Yard sign' }] : [],
      balance: id % 6 === 0 ? Math.round(((id * 1237) % 50_000) + 100) / 100 : 0,
      taxExempt: commercial && id % 2 === 0,
      tagTypeIds: id % 4 === 0 ? [11] : [],
      doNotMail: id % 11 === 0,
      doNotService: false,
      nationalAccount: commercial && id % 3 === 0,
      createdOn: new Date(created).toISOString(),
      createdById: OFFICE_USER_ID,
      modifiedOn: new Date(created + (id % 48) * HOUR).toISOString(),
      mergedToId: null,
      paymentTermId: commercial ? 1 : null,
      creditLimit: null,
      creditLimitBalance: null,
      externalData: [],
    };
  });
}

/**
 * One tenant's customers: ordered by id for the list, and in order of change for the export
 * feed. Every create and update appends the customer to the change log, so an export resumed
 * from an earlier `continueFrom` sees exactly what changed since (each customer once, as it is
 * now), as ServiceTitan's export feeds do.
 */
export class CustomerStore {
  readonly #byId = new Map<number, SandboxCustomer>();
  readonly #changes: number[] = [];
  readonly #lastChange = new Map<number, number>();
  #nextId: number;

  constructor(seed: readonly SandboxCustomer[]) {
    for (const customer of seed) this.#record(structuredClone(customer));
    this.#nextId = Math.max(0, ...seed.map((c) => c.id)) + 1;
  }

  #record(customer: SandboxCustomer): void {
    this.#byId.set(customer.id, customer);
    this.#lastChange.set(customer.id, this.#changes.length);
    this.#changes.push(customer.id);
  }

  /** Every customer, by id. */
  list(): SandboxCustomer[] {
    return [...this.#byId.values()].sort((a, b) => a.id - b.id);
  }

  get(id: number): SandboxCustomer | undefined {
    return this.#byId.get(id);
  }

  /** Stores a new customer built from its id; returns it. */
  create(build: (id: number) => SandboxCustomer): SandboxCustomer {
    const customer = build(this.#nextId);
    this.#nextId += 1;
    this.#record(customer);
    return customer;
  }

  /** Replaces a customer with its updated version (same id); returns it. */
  update(customer: SandboxCustomer): SandboxCustomer {
    this.#record(customer);
    return customer;
  }

  /** The export batch from change `offset`: each customer at its latest change only. */
  exportFrom(offset: number, batchSize: number): ExportBatch<SandboxCustomer> {
    const end = Math.min(offset + batchSize, this.#changes.length);
    const data: SandboxCustomer[] = [];
    for (let index = offset; index < end; index += 1) {
      const id = this.#changes[index] as number;
      if (this.#lastChange.get(id) === index) data.push(this.#byId.get(id) as SandboxCustomer);
    }
    const next = Math.max(offset, end);
    return { hasMore: next < this.#changes.length, continueFrom: encodeCursor(next), data };
  }
}
