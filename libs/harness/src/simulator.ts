import { randomUUID } from 'node:crypto';
import { formatMinorAmount } from '@pay/money';
import { signAlipayCallback, signMockCallback, signWechatpayCallback, type ProviderName } from '@pay/providers';
import type { DevSession } from './dev-env';

export interface SimulatedCallback {
  provider: ProviderName;
  paymentId: string;
  amountMinor: number;
  status: 'SUCCESS' | 'FAILED';
  transactionId?: string;
  notificationId?: string;
  /** Flip one byte of the body after signing (a forged/tampered notification). */
  tamper?: boolean;
  now?: Date;
}

export type SigningMaterial = Pick<DevSession, 'mockProviderSecret' | 'wechatpay' | 'alipay'>;

/** Builds the exact request a provider would send for a payment (signed with the dev keys). */
export function buildProviderCallback(input: SimulatedCallback, keys: SigningMaterial): { headers: Record<string, string>; body: string } {
  const notificationId = input.notificationId ?? `ntf-${randomUUID()}`;
  const transactionId = input.transactionId ?? `txn-${randomUUID().slice(0, 18)}`;
  const now = input.now ?? new Date();
  let signed: { headers: Record<string, string>; rawBody: string };
  switch (input.provider) {
    case 'mock':
      signed = signMockCallback(
        { notification_id: notificationId, payment_id: input.paymentId, transaction_id: transactionId, status: input.status, amount: formatMinorAmount(input.amountMinor) },
        keys.mockProviderSecret,
        now,
      );
      break;
    case 'wechatpay':
      signed = signWechatpayCallback(
        {
          notificationId,
          paymentId: input.paymentId,
          transactionId,
          tradeState: input.status === 'SUCCESS' ? 'SUCCESS' : 'PAYERROR',
          amountMinor: input.amountMinor,
          mchid: keys.wechatpay.mchid,
          appid: keys.wechatpay.appid,
        },
        { apiV3Key: keys.wechatpay.apiV3Key, platformPrivateKey: keys.wechatpay.platformPrivateKey, serial: keys.wechatpay.serial },
        now,
      );
      break;
    case 'alipay':
      signed = signAlipayCallback(
        {
          notifyId: notificationId,
          paymentId: input.paymentId,
          tradeNo: transactionId,
          tradeStatus: input.status === 'SUCCESS' ? 'TRADE_SUCCESS' : 'TRADE_CLOSED',
          totalAmount: formatMinorAmount(input.amountMinor),
          appId: keys.alipay.appId,
        },
        keys.alipay.privateKey,
        now,
      );
      break;
  }
  return { headers: signed.headers, body: input.tamper ? tamperWith(signed.rawBody) : signed.rawBody };
}

/** Changes one character of the body in a way that keeps it well-formed (a digit of the amount or id). */
function tamperWith(body: string): string {
  const index = body.search(/[0-9]/);
  if (index < 0) return `${body} `;
  const digit = body[index] === '9' ? '8' : String(Number(body[index]) + 1);
  return body.slice(0, index) + digit + body.slice(index + 1);
}

export async function sendProviderCallback(callbackUrl: string, input: SimulatedCallback, keys: SigningMaterial) {
  const request = buildProviderCallback(input, keys);
  const response = await fetch(`${callbackUrl}/callbacks/${input.provider}`, { method: 'POST', headers: request.headers, body: request.body });
  return { status: response.status, body: await response.text() };
}
