import type { BodySchema } from './body-schema';
import { API_USER_ID, type SandboxAddress, type SandboxCustomer, type SandboxExternalData } from './customers';

/*
 * The request bodies of ServiceTitan's CRM v2 customer writes, as the published crm-v2 spec
 * types them (`Crm.V2.Customers.CreateCustomerRequest`, `UpdateCustomerRequest`), and what the
 * sandbox makes of them.
 */

const CUSTOMER_TYPE: BodySchema = { type: 'string', enum: ['Residential', 'Commercial'] };
const CONTACT_TYPE: BodySchema = { type: 'string', enum: ['Phone', 'Email', 'Fax', 'MobilePhone'] };
const INT64_LIST: BodySchema = { type: 'array', items: { type: 'integer' } };

const ADDRESS: BodySchema = {
  type: 'object',
  required: ['street', 'city', 'state', 'zip', 'country'],
  properties: {
    street: { type: 'string' },
    unit: { type: 'string', nullable: true },
    city: { type: 'string' },
    state: { type: 'string' },
    zip: { type: 'string' },
    country: { type: 'string' },
    latitude: { type: 'number', nullable: true },
    longitude: { type: 'number', nullable: true },
  },
};

/** `UpdateCustomerAddress`: the whole address, nothing nullable. */
const UPDATE_ADDRESS: BodySchema = {
  type: 'object',
  required: ['street', 'unit', 'city', 'state', 'zip', 'country', 'latitude', 'longitude'],
  properties: {
    street: { type: 'string' },
    unit: { type: 'string' },
    city: { type: 'string' },
    state: { type: 'string' },
    zip: { type: 'string' },
    country: { type: 'string' },
    latitude: { type: 'number' },
    longitude: { type: 'number' },
  },
};

const NEW_CONTACT: BodySchema = {
  type: 'object',
  required: ['type', 'value'],
  properties: { type: CONTACT_TYPE, value: { type: 'string' }, memo: { type: 'string', nullable: true } },
};

const CUSTOM_FIELD_UPDATE: BodySchema = {
  type: 'object',
  required: ['typeId', 'value'],
  properties: { typeId: { type: 'integer' }, value: { type: 'string' } },
};

const EXTERNAL_DATA_ITEM: BodySchema = {
  type: 'object',
  required: ['key', 'value'],
  properties: { key: { type: 'string' }, value: { type: 'string' } },
};

const EXTERNAL_DATA_CREATE: BodySchema = {
  type: 'object',
  required: ['applicationGuid', 'externalData'],
  properties: {
    applicationGuid: { type: 'string', format: 'guid' },
    externalData: { type: 'array', items: EXTERNAL_DATA_ITEM },
  },
  nullable: true,
};

const NEW_LOCATION: BodySchema = {
  type: 'object',
  required: ['name', 'address'],
  properties: {
    name: { type: 'string' },
    address: ADDRESS,
    contacts: { type: 'array', items: NEW_CONTACT, nullable: true },
    customFields: { type: 'array', items: CUSTOM_FIELD_UPDATE, nullable: true },
    tagTypeIds: { ...INT64_LIST, nullable: true },
    externalData: EXTERNAL_DATA_CREATE,
    coordinatesSource: { type: 'string', enum: ['None', 'System', 'User', 'Imported'], nullable: true },
    coordinatesVerificationStatus: {
      type: 'string',
      enum: ['Unverified', 'InProgress', 'Failed', 'Verified'],
      nullable: true,
    },
  },
};

export const CREATE_CUSTOMER: BodySchema = {
  type: 'object',
  required: ['name', 'locations', 'address'],
  properties: {
    name: { type: 'string' },
    type: { ...CUSTOMER_TYPE, nullable: true },
    doNotMail: { type: 'boolean', nullable: true },
    doNotService: { type: 'boolean', nullable: true },
    nationalAccount: { type: 'boolean', nullable: true },
    locations: { type: 'array', items: NEW_LOCATION },
    address: ADDRESS,
    contacts: { type: 'array', items: NEW_CONTACT, nullable: true },
    customFields: { type: 'array', items: CUSTOM_FIELD_UPDATE, nullable: true },
    tagTypeIds: { ...INT64_LIST, nullable: true },
    externalData: EXTERNAL_DATA_CREATE,
    taxExempt: { type: 'boolean', nullable: true },
    paymentTermId: { type: 'integer', nullable: true },
    creditLimit: { type: 'number', nullable: true },
    creditLimitBalance: { type: 'number', nullable: true },
  },
};

export const UPDATE_CUSTOMER: BodySchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    type: CUSTOMER_TYPE,
    address: UPDATE_ADDRESS,
    customFields: { type: 'array', items: CUSTOM_FIELD_UPDATE },
    externalData: {
      type: 'object',
      required: ['applicationGuid', 'externalData'],
      properties: {
        patchMode: { type: 'string', enum: ['Replace', 'Merge'], nullable: true },
        applicationGuid: { type: 'string', format: 'guid' },
        externalData: {
          type: 'array',
          items: {
            type: 'object',
            required: ['key'],
            properties: { key: { type: 'string' }, value: { type: 'string', nullable: true } },
          },
        },
      },
    },
    doNotMail: { type: 'boolean' },
    doNotService: { type: 'boolean' },
    nationalAccount: { type: 'boolean' },
    active: { type: 'boolean' },
    tagTypeIds: INT64_LIST,
    taxExempt: { type: 'boolean' },
    paymentTermId: { type: 'integer' },
    creditLimit: { type: 'number' },
    creditLimitBalance: { type: 'number' },
  },
};

interface AddressInput {
  street: string;
  unit?: string | null;
  city: string;
  state: string;
  zip: string;
  country: string;
  latitude?: number | null;
  longitude?: number | null;
}
interface ContactInput {
  type: string;
  value: string;
  memo?: string | null;
}
interface CustomFieldInput {
  typeId: number;
  value: string;
}
interface ExternalDataInput {
  applicationGuid: string;
  externalData: SandboxExternalData[];
}
interface LocationInput {
  name: string;
  address: AddressInput;
  contacts?: ContactInput[] | null;
  customFields?: CustomFieldInput[] | null;
  tagTypeIds?: number[] | null;
  externalData?: ExternalDataInput | null;
}

/** A `CreateCustomerRequest` that passed {@link CREATE_CUSTOMER}. */
export interface CreateCustomerInput {
  name: string;
  type?: SandboxCustomer['type'] | null;
  doNotMail?: boolean | null;
  doNotService?: boolean | null;
  nationalAccount?: boolean | null;
  locations: LocationInput[];
  address: AddressInput;
  contacts?: ContactInput[] | null;
  customFields?: CustomFieldInput[] | null;
  tagTypeIds?: number[] | null;
  externalData?: ExternalDataInput | null;
  taxExempt?: boolean | null;
  paymentTermId?: number | null;
  creditLimit?: number | null;
  creditLimitBalance?: number | null;
}

/** An `UpdateCustomerRequest` that passed {@link UPDATE_CUSTOMER}. */
export interface UpdateCustomerInput {
  name?: string;
  type?: SandboxCustomer['type'];
  address?: SandboxAddress;
  customFields?: CustomFieldInput[];
  externalData?: {
    patchMode?: 'Replace' | 'Merge' | null;
    applicationGuid: string;
    externalData: { key: string; value?: string | null }[];
  };
  doNotMail?: boolean;
  doNotService?: boolean;
  nationalAccount?: boolean;
  active?: boolean;
  tagTypeIds?: number[];
  taxExempt?: boolean;
  paymentTermId?: number;
  creditLimit?: number;
  creditLimitBalance?: number;
}

function address(input: AddressInput): SandboxAddress {
  return {
    street: input.street,
    unit: input.unit ?? null,
    city: input.city,
    state: input.state,
    zip: input.zip,
    country: input.country,
    latitude: input.latitude ?? null,
    longitude: input.longitude ?? null,
  };
}

function customFields(input: CustomFieldInput[] | null | undefined): SandboxCustomer['customFields'] {
  return (input ?? []).map((f) => ({ typeId: f.typeId, name: null, value: f.value }));
}

function contacts(input: ContactInput[] | null | undefined, nextId: () => number) {
  return (input ?? []).map((c) => ({ id: nextId(), type: c.type, value: c.value, memo: c.memo ?? null }));
}

/** The customer a create request makes. */
export function customerFromCreate(input: CreateCustomerInput, id: number, now: string): SandboxCustomer {
  return {
    id,
    active: true,
    name: input.name,
    type: input.type ?? 'Residential',
    address: address(input.address),
    customFields: customFields(input.customFields),
    balance: 0,
    taxExempt: input.taxExempt ?? false,
    tagTypeIds: input.tagTypeIds ?? [],
    doNotMail: input.doNotMail ?? false,
    doNotService: input.doNotService ?? false,
    nationalAccount: input.nationalAccount ?? false,
    createdOn: now,
    createdById: API_USER_ID,
    modifiedOn: now,
    mergedToId: null,
    paymentTermId: input.paymentTermId ?? null,
    creditLimit: input.creditLimit ?? null,
    creditLimitBalance: input.creditLimitBalance ?? null,
    externalData: input.externalData?.externalData.map((e) => ({ key: e.key, value: e.value })) ?? [],
  };
}

/**
 * `Crm.V2.Customers.CreatedCustomerResponse`: the customer, with the locations and contacts the
 * request created (ids from `nextId`; the sandbox serves no location or contact routes, so
 * they are not kept).
 */
export function createdCustomerResponse(
  customer: SandboxCustomer,
  input: CreateCustomerInput,
  nextId: () => number,
): Record<string, unknown> {
  const locations = input.locations.map((location) => ({
    taxZoneId: null,
    id: nextId(),
    customerId: customer.id,
    active: true,
    name: location.name,
    address: address(location.address),
    customFields: customFields(location.customFields),
    createdOn: customer.createdOn,
    createdById: customer.createdById,
    modifiedOn: customer.modifiedOn,
    mergedToId: null,
    zoneId: null,
    taxExempt: customer.taxExempt,
    tagTypeIds: location.tagTypeIds ?? [],
    externalData: location.externalData?.externalData.map((e) => ({ key: e.key, value: e.value })) ?? [],
    contacts: contacts(location.contacts, nextId),
  }));
  return { ...customer, locations, contacts: contacts(input.contacts, nextId) };
}

function patchedExternalData(
  current: SandboxExternalData[],
  patch: NonNullable<UpdateCustomerInput['externalData']>,
): SandboxExternalData[] {
  // Merge unless told to replace; in a merge, a null value removes the key.
  const merged = new Map(patch.patchMode === 'Replace' ? [] : current.map((e) => [e.key, e.value]));
  for (const { key, value } of patch.externalData) {
    if (value === null || value === undefined) merged.delete(key);
    else merged.set(key, value);
  }
  return [...merged].map(([key, value]) => ({ key, value }));
}

function patchedCustomFields(current: SandboxCustomer['customFields'], patch: CustomFieldInput[]) {
  const fields = current.map((f) => ({ ...f }));
  for (const { typeId, value } of patch) {
    const field = fields.find((f) => f.typeId === typeId);
    if (field) field.value = value;
    else fields.push({ typeId, name: null, value });
  }
  return fields;
}

/** The customer after an update request: the given fields replaced, `modifiedOn` now. */
export function customerAfterUpdate(
  customer: SandboxCustomer,
  input: UpdateCustomerInput,
  now: string,
): SandboxCustomer {
  const { address: newAddress, customFields: fields, externalData, ...scalars } = input;
  return {
    ...structuredClone(customer),
    ...scalars,
    ...(newAddress ? { address: { ...newAddress } } : {}),
    ...(fields ? { customFields: patchedCustomFields(customer.customFields, fields) } : {}),
    ...(externalData ? { externalData: patchedExternalData(customer.externalData, externalData) } : {}),
    modifiedOn: now,
  };
}
