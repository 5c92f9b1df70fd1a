import { ProviderError } from '../../src';

/** The ProviderError a call fails with (the test fails if it resolves or fails otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}
