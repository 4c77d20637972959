import {
  CREATE_CUSTOMER,
  createdCustomerResponse,
  customerAfterUpdate,
  customerFromCreate,
  UPDATE_CUSTOMER,
  type CreateCustomerInput,
  type UpdateCustomerInput,
} from './customer-requests';
import { CustomerStore, type SandboxCustomer } from './customers';
import { decodeFrom } from './data';
import { sendJson, type RequestContext } from './http';
import { problem } from './problem';
import { parseQuery, type QuerySpec } from './query';
import { byMethod, listOf, validationProblem, validBody, type Route, type RouteContext } from './routing';

/** CRM v2 customers: the list, writes, one by id, the export feed. */

function customersOf({ settings, state, claims }: RouteContext): CustomerStore {
  let store = state.customers.get(claims.tenant);
  if (!store) {
    store = new CustomerStore(settings.customers);
    state.customers.set(claims.tenant, store);
  }
  return store;
}

const customerList: Route = listOf(
  (route) => customersOf(route).list(),
  (c: SandboxCustomer) => c,
);

const createCustomer: Route = (ctx, route) => {
  const input = validBody<CreateCustomerInput>(ctx, CREATE_CUSTOMER);
  if (input === undefined) return;
  // Date.now(), as the report limit reads it: a test that fakes Date gets its times.
  const now = new Date(Date.now()).toISOString();
  const customer = customersOf(route).create((id) => customerFromCreate(input, id, now));
  const nextId = (): number => (route.state.nextSubId += 1);
  sendJson(ctx, 200, createdCustomerResponse(customer, input, nextId));
};

function customerById(ctx: RequestContext, route: RouteContext): SandboxCustomer | undefined {
  const id = route.path.rest.slice('customers/'.length);
  const found = /^\d+$/.test(id) ? customersOf(route).get(Number(id)) : undefined;
  if (!found) sendJson(ctx, 404, problem(404, `Customer with ID ${id} was not found.`));
  return found;
}

const getCustomer: Route = (ctx, route) => {
  const found = customerById(ctx, route);
  if (found) sendJson(ctx, 200, found);
};

const updateCustomer: Route = (ctx, route) => {
  const found = customerById(ctx, route);
  if (!found) return;
  const input = validBody<UpdateCustomerInput>(ctx, UPDATE_CUSTOMER);
  if (input === undefined) return;
  const updated = customersOf(route).update(customerAfterUpdate(found, input, new Date(Date.now()).toISOString()));
  sendJson(ctx, 200, updated);
};

const EXPORT_PARAMETERS: QuerySpec = { from: 'string', includeRecentChanges: 'boolean' };

const customerExport: Route = (ctx, route) => {
  const query = parseQuery(ctx.url.searchParams, EXPORT_PARAMETERS);
  if (!query.ok) {
    validationProblem(ctx, query.errors);
    return;
  }
  const offset = decodeFrom(ctx.url.searchParams.get('from'));
  if (offset === undefined) {
    validationProblem(ctx, { from: ['The value must be a previous continueFrom token or a date.'] });
    return;
  }
  sendJson(ctx, 200, customersOf(route).exportFrom(offset, route.settings.exportBatchSize));
};

/** `/crm/v2/tenant/{t}/customers`. */
export const customersRoute = byMethod({ GET: customerList, POST: createCustomer });
/** `/crm/v2/tenant/{t}/customers/{id}`. */
export const customerRoute = byMethod({ GET: getCustomer, PATCH: updateCustomer });
/** `/crm/v2/tenant/{t}/export/customers`. */
export const customerExportRoute = byMethod({ GET: customerExport });
