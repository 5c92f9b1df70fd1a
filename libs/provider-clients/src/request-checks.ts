import { isMinorAmount } from '@pay/money';
import { invalidRequestError } from './errors';
import type { OpenRequest, PayChannel, ProviderName, RefundRequest } from './types';

/** Checks made before any call, so a request the provider must refuse is never sent. */

export function checkOpenRequest(provider: ProviderName, channels: readonly PayChannel[], request: OpenRequest): void {
  if (!channels.includes(request.channel)) {
    throw invalidRequestError(provider, 'unsupported_channel', `channel ${JSON.stringify(request.channel)} is not served (${channels.join(', ')})`);
  }
  checkPositiveAmount(provider, request.amountMinor, 'amountMinor');
  // Both real providers settle domestic orders in CNY only.
  if (request.currency !== 'CNY') throw invalidRequestError(provider, 'unsupported_currency', 'only CNY is accepted');
  if (Number.isNaN(request.expiresAt.getTime())) throw invalidRequestError(provider, 'invalid_expiry', 'expiresAt is not a valid date');
  const payerField = PAYER_FIELDS[request.channel];
  if (payerField !== undefined && !request.payer?.[payerField]) {
    throw invalidRequestError(provider, 'payer_required', `${request.channel} needs payer.${payerField}`);
  }
}

/** Mini-program channels pay as a known buyer. */
const PAYER_FIELDS: Partial<Record<PayChannel, 'openid' | 'buyer_open_id'>> = { jsapi: 'openid', alipay_jsapi: 'buyer_open_id' };

export function checkRefundRequest(provider: ProviderName, request: RefundRequest): void {
  checkPositiveAmount(provider, request.amountMinor, 'amountMinor');
  checkPositiveAmount(provider, request.totalMinor, 'totalMinor');
  if (request.amountMinor > request.totalMinor) {
    throw invalidRequestError(provider, 'invalid_amount', 'the refund exceeds the paid amount');
  }
}

function checkPositiveAmount(provider: ProviderName, value: number, field: string): void {
  if (!isMinorAmount(value) || value <= 0) throw invalidRequestError(provider, 'invalid_amount', `${field} must be a positive whole number of fen`);
}

/** A provider-facing text cut to its limit by code points, so no character is split in half. */
export function cutText(text: string, maxChars: number): string {
  const chars = Array.from(text);
  return chars.length <= maxChars ? text : chars.slice(0, maxChars).join('');
}
