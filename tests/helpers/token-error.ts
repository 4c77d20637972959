import { ServiceTitanAuthError } from '../../src';

/** Awaits a promise that must reject with a `ServiceTitanAuthError`, and returns that error. */
export async function tokenError(promise: Promise<unknown>): Promise<ServiceTitanAuthError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceTitanAuthError);
  return error as ServiceTitanAuthError;
}
