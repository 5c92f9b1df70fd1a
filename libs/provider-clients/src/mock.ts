import { formatMinorAmount } from '@pay/money';
import { mapStatusWord, optionalText, parseJsonObject, requiredBody, readDecimalAmount, requiredText } from './answers';
import { MOCK_SIGNATURE_HEADER, signMockRequest, verifyMockAnswer } from '@pay/providers';
import { badSignatureError, classifyMockError, malformedAnswerError, safeCode, transportError } from './errors';
import { checkOpenRequest, checkRefundRequest } from './request-checks';
import {
  type OpenRequest,
  type OpenedOrder,
  type PayChannel,
  type ProviderClient,
  ProviderError,
  type RefundRequest,
  type RefundStatus,
  type TradeStatus,
} from './types';

/**
 * The development "mock" provider served by the simulator at `/mock/v1/...`. Requests and answers are
 * HMAC-signed (x-mock-signature, libs/providers/src/mock.ts); an answer that does not verify is never
 * acted on, except a 5xx, which only ever means "retry".
 */

export interface MockClientConfig {
  secret: string;
  /** Where the simulator listens, e.g. http://127.0.0.1:8090 */
  baseUrl: string;
  notifyUrl?: string;
  /** Default 10000 */
  timeoutMs?: number;
}

const CHANNELS = ['mock'] as const satisfies readonly PayChannel[];

const TRADE_STATES: Record<string, TradeStatus['state']> = {
  NOTPAY: 'pending',
  SUCCESS: 'paid',
  FAILED: 'failed',
  CLOSED: 'closed',
};

const REFUND_STATES: Record<string, RefundStatus['state']> = {
  PROCESSING: 'pending',
  SUCCESS: 'succeeded',
  FAILED: 'failed',
  CLOSED: 'failed',
  ABNORMAL: 'needs_attention',
};

type Answer = { status: number; body: Record<string, unknown> | null };

export function createMockClient(config: MockClientConfig): ProviderClient {
  if (typeof config.secret !== 'string' || config.secret === '') {
    throw new ProviderError('mock', 'misconfigured', 'invalid_config', 'secret is required');
  }
  let base: URL;
  try {
    base = new URL(config.baseUrl.replace(/\/*$/, '/'));
  } catch {
    throw new ProviderError('mock', 'misconfigured', 'invalid_config', 'baseUrl is not a URL');
  }
  const timeoutMs = config.timeoutMs ?? 10_000;

  /** One signed call; resolves with a verified answer (any status), or a 5xx; throws otherwise. */
  async function send(operation: string, method: 'GET' | 'POST', path: string, body?: object): Promise<Answer> {
    const url = new URL(path.replace(/^\//, ''), base);
    const rawBody = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {
      [MOCK_SIGNATURE_HEADER]: signMockRequest(config.secret, method, `${url.pathname}${url.search}`, rawBody),
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    let signature: string | null;
    try {
      // One signal for the whole exchange: a body that stalls times out like a silent server.
      const response = await fetch(url, { method, headers, body: body === undefined ? undefined : rawBody, signal: AbortSignal.timeout(timeoutMs) });
      status = response.status;
      signature = response.headers.get(MOCK_SIGNATURE_HEADER);
      text = await response.text();
    } catch (error) {
      throw transportError('mock', operation, error);
    }
    if (status >= 500) return { status, body: parseJsonObject(text) ?? null };
    if (!verifyMockAnswer(config.secret, signature ?? undefined, text).ok) throw badSignatureError('mock', operation);
    const parsed = parseJsonObject(text);
    if (parsed === undefined) throw malformedAnswerError('mock', operation, 'not a JSON object');
    return { status, body: parsed };
  }

  function expectOk(operation: string, answer: Answer): Record<string, unknown> | null {
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    const code = safeCode(answer.body?.code);
    const shown = code ?? `http_${answer.status}`;
    throw new ProviderError('mock', classifyMockError(answer.status), shown, `${operation}: HTTP ${answer.status} ${shown}`);
  }

  function readRefund(operation: string, body: Record<string, unknown>): RefundStatus {
    const { state, word } = mapStatusWord('mock', operation, REFUND_STATES, body.status, 'refund status');
    return { state, providerRefundId: optionalText(body.refund_id), amountMinor: readDecimalAmount('mock', operation, body.amount), providerState: word };
  }

  const isNotFound = (answer: Answer): boolean => answer.status === 404;
  const orderPath = (paymentId: string): string => `mock/v1/orders/${encodeURIComponent(paymentId)}`;

  return {
    provider: 'mock',
    channels: CHANNELS,

    async open(request: OpenRequest): Promise<OpenedOrder> {
      checkOpenRequest('mock', CHANNELS, request);
      const body = {
        out_trade_no: request.paymentId,
        amount: formatMinorAmount(request.amountMinor),
        description: request.description,
        ...(config.notifyUrl ? { notify_url: config.notifyUrl } : {}),
        time_expire: request.expiresAt.toISOString(),
      };
      const answer = requiredBody('mock', 'open', expectOk('open', await send('open', 'POST', 'mock/v1/orders', body)));
      return { channel: 'mock', payParams: { cashier_url: requiredText('mock', 'open', answer.cashier_url, 'cashier_url') }, providerOrderId: null };
    },

    async query(paymentId: string): Promise<TradeStatus> {
      const answer = await send('query', 'GET', orderPath(paymentId));
      if (isNotFound(answer)) return { state: 'not_found', transactionId: null, amountMinor: null, providerState: 'ORDER_NOT_EXIST' };
      const body = requiredBody('mock', 'query', expectOk('query', answer));
      const { state, word } = mapStatusWord('mock', 'query', TRADE_STATES, body.status, 'status');
      return { state, transactionId: optionalText(body.transaction_id), amountMinor: readDecimalAmount('mock', 'query', body.amount), providerState: word };
    },

    async close(paymentId: string): Promise<void> {
      const answer = await send('close', 'POST', `${orderPath(paymentId)}/close`);
      // Nothing to close; like WeChat, the caller queries next.
      if (isNotFound(answer)) return;
      expectOk('close', answer);
    },

    async refund(request: RefundRequest): Promise<RefundStatus> {
      checkRefundRequest('mock', request);
      const body = {
        out_trade_no: request.paymentId,
        out_refund_no: request.refundId,
        amount: formatMinorAmount(request.amountMinor),
        reason: request.reason,
      };
      return readRefund('refund', requiredBody('mock', 'refund', expectOk('refund', await send('refund', 'POST', 'mock/v1/refunds', body))));
    },

    async queryRefund(_paymentId: string, refundId: string): Promise<RefundStatus> {
      const answer = await send('refund_query', 'GET', `mock/v1/refunds/${encodeURIComponent(refundId)}`);
      if (isNotFound(answer)) return { state: 'not_found', providerRefundId: null, amountMinor: null, providerState: 'NOT_FOUND' };
      return readRefund('refund_query', requiredBody('mock', 'refund_query', expectOk('refund_query', answer)));
    },
  };
}
