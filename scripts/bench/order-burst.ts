import { signToken } from '@pay/auth';
import { createClient } from '@pay/client';
import type { Stack, generateDevSecrets } from '@pay/harness';

export interface BurstFigures {
  customers: number;
  /** `POST /payments` answered 201 at once. */
  createdFirstTime: number;
  /** Answered 503 with Retry-After (the payment-service's view of orders lagging), then 201 on a retry. */
  createdAfterRetry: number;
  /** Answered 404 for an order that exists: the answer the target forbids. */
  falseNotFound: number;
  /** Anything else, each as `status code` (e.g. a 503 without Retry-After, or still 503 after the retries). */
  other: string[];
}

const MAX_ATTEMPTS = 10;

/**
 * "No false 404": `customers` customers at once each create an order and at once pay it, as a shop's
 * busiest moment looks. The order exists when `POST /payments` is sent, so every answer must be 201, or
 * a 503 with `Retry-After` whose retry (after the time it names) is 201.
 */
export async function orderAndPayBurst(stack: Stack, secrets: ReturnType<typeof generateDevSecrets>, customers: number, label: string): Promise<BurstFigures> {
  const base = `${stack.gatewayUrl}/api/v1`;
  const admin = createClient({ baseUrl: base, token: signToken({ sub: `bench-${label}-admin`, role: 'admin' }, secrets.session.jwtSecret, '2h') });
  const product = await admin.createProduct({ name: 'Burst tea', unit_price: '1.00' });
  const figures: BurstFigures = { customers, createdFirstTime: 0, createdAfterRetry: 0, falseNotFound: 0, other: [] };
  await Promise.all(
    Array.from({ length: customers }, async (_, customer) => {
      const token = signToken({ sub: `bench-${label}-${customer}`, role: 'customer' }, secrets.session.jwtSecret, '2h');
      const order = await createClient({ baseUrl: base, token }).createOrder({ items: [{ product_id: product.id, quantity: 1 }] });
      for (let attempt = 1; ; attempt++) {
        const answer = await fetch(`${base}/payments`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ order_id: order.id, method: 'bank_card' }),
        });
        const body = await answer.text();
        const retryAfter = answer.headers.get('retry-after');
        if (answer.status === 201) {
          if (attempt === 1) figures.createdFirstTime++;
          else figures.createdAfterRetry++;
          return;
        }
        if (answer.status === 404) {
          figures.falseNotFound++;
          return;
        }
        if (answer.status === 503 && retryAfter !== null && attempt < MAX_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, Math.max(1, Number(retryAfter)) * 1000));
          continue;
        }
        figures.other.push(`${answer.status} ${(/"code":"([^"]+)"/.exec(body) ?? [])[1] ?? body.slice(0, 80)}${answer.status === 503 ? ` (attempt ${attempt})` : ''}`);
        return;
      }
    }),
  );
  return figures;
}
