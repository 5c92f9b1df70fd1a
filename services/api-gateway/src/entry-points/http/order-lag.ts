import type { Request, Response } from 'express';
import { rawBodyOf } from '@pay/http';
import type { Logger } from '@pay/logger';
import type { InternalAnswer } from './internal-read';
import type { UpstreamAnswer } from './proxy';

const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The `order_id` of a create-payment body, if it is one a lookup can carry (anything else: the service's answer stands). */
function orderIdOf(body: Buffer | undefined): string | null {
  if (!body) return null;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { order_id?: unknown };
    return typeof parsed.order_id === 'string' && ORDER_ID.test(parsed.order_id) ? parsed.order_id : null;
  } catch {
    return null;
  }
}

function notFound(answer: UpstreamAnswer): boolean {
  if (answer.status !== 404) return false;
  try {
    return (JSON.parse(answer.body.toString('utf8')) as { error?: { code?: string } }).error?.code === 'not_found';
  } catch {
    return false;
  }
}

/**
 * An order that exists is never answered 404 to `POST /payments`. The payment-service knows orders
 * only from `order.created` events, which may still be in the order-service's outbox (a broker
 * restart), in another replica's hands, or queued: its "order not found" then means "not yet". So the
 * gateway asks the order-service, as the caller, before relaying that 404: the order is there (the
 * caller's) → 503 `order_not_yet_known` with Retry-After; not there (or not the caller's) → the 404
 * stands; the order-service cannot tell → 503 as well (a retry is always safe: nothing was created).
 */
export function orderLagGuard(readOrder: (res: Response, path: string) => Promise<InternalAnswer | null>, logger: Logger) {
  return async (req: Request, res: Response, answer: UpstreamAnswer): Promise<UpstreamAnswer> => {
    if (req.method !== 'POST' || req.path.replace(/\/+$/, '') !== '/payments' || !notFound(answer)) return answer;
    const orderId = orderIdOf(rawBodyOf(req));
    if (!orderId) return answer;
    const order = await readOrder(res, `/api/v1/orders/${encodeURIComponent(orderId)}`);
    if (order?.status === 404) return answer;
    if (order && order.status !== 200) return answer;
    logger.warn('payment-service does not know an order yet; answered retryable', { order_id: orderId, order_service: order ? 'found' : 'unreachable' });
    const body = {
      error: {
        code: 'order_not_yet_known',
        message: order ? 'the order exists but the payment service has not caught up with it yet; retry' : 'the order could not be checked; retry',
        request_id: res.locals.requestId as string,
      },
    };
    return { status: 503, headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' }, body: Buffer.from(JSON.stringify(body)) };
  };
}
