import { providerForMethod } from '@pay/contracts';
import { BusinessRuleViolation, Unavailable, type AppError } from '@pay/errors';
import type { ProviderClient, ProviderError, ProviderName } from '@pay/provider-clients';
import type { PaymentMethod } from './payment';

/** The providers this process may call, by name; an unconfigured provider is absent. */
export type ProviderDirectory = Partial<Record<ProviderName, ProviderClient>>;

/** How long a caller should wait before retrying after a provider did not answer usefully. */
export const PROVIDER_RETRY_AFTER_SECONDS = 5;

/** The payment's method decides its provider (wechat → wechatpay, alipay → alipay, bank_card → mock). */
export function clientFor(providers: ProviderDirectory, method: PaymentMethod): ProviderClient {
  const provider = providerForMethod(method);
  const client = providers[provider];
  if (!client) {
    throw new BusinessRuleViolation(`payment method ${method} is not available: its provider (${provider}) is not configured`, { method, provider }, 'provider_not_configured');
  }
  return client;
}

export function isProviderError(error: unknown): error is ProviderError {
  return error instanceof Error && error.name === 'ProviderError' && 'kind' in error;
}

/**
 * A provider failure as the API answers it. Nothing changed on our side in any of these cases: a
 * provider that did not answer (retryable, unknown) is retried by the client; a business refusal is
 * final for this request; our own misconfiguration is a 503 too (the operator must act; the log says so).
 */
export function providerFailure(error: ProviderError): AppError {
  const details = { provider: error.provider, provider_code: error.code };
  switch (error.kind) {
    case 'rejected':
      return new BusinessRuleViolation(`the provider refused: ${error.message}`, details, 'provider_rejected');
    case 'misconfigured':
      return new Unavailable('the payment provider refused our credentials; the operator has been alerted', details, { code: 'provider_misconfigured' });
    default:
      return new Unavailable(`the payment provider did not answer usefully (${error.code}); retry`, details, {
        code: 'provider_unavailable',
        retryAfterSeconds: PROVIDER_RETRY_AFTER_SECONDS,
      });
  }
}
