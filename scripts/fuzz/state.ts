import { randomUUID } from 'node:crypto';
import type { OpenApiDocument } from './operations';
import type { OwnedObject } from './generate';

/** A call to the public API as a client makes it (fetch: the seeding and snapshots are ordinary calls). */
export async function callApi(apiUrl: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text && response.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text };
}

async function expectOk<T>(what: string, call: Promise<{ status: number; body: unknown }>): Promise<T> {
  const answer = await call;
  if (answer.status >= 300) throw new Error(`seeding: ${what} answered ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as T;
}

export interface SeedTokens {
  customers: Record<string, string>;
  admin: string;
}

export interface SeededState {
  orders: OwnedObject[];
  payments: (OwnedObject & { amountMinor: number })[];
  refunds: OwnedObject[];
  products: OwnedObject[];
}

const hasRoute = (document: OpenApiDocument, method: string, path: string) => Boolean(document.paths[path]?.[method]);

/**
 * A little valid state through the API, for every customer: products (when the catalog exists), an order
 * with a payment in init, an order paid (admin succeed) and partly refunded, an order cancelled.
 */
export async function seedState(apiUrl: string, document: OpenApiDocument, tokens: SeedTokens): Promise<SeededState> {
  const state: SeededState = { orders: [], payments: [], refunds: [], products: [] };
  let item: Record<string, unknown> = { product_id: 'fz-tea', name: 'Tea', unit_price: '12.50', quantity: 1 };
  if (hasRoute(document, 'post', '/products')) {
    for (const [id, name, price] of [['fz-tea', 'Tea', '12.50'], ['fz-cake', 'Cake', '30.00']] as const) {
      await expectOk('POST /products', callApi(apiUrl, tokens.admin, 'POST', '/products', { id, name, unit_price: price, currency: 'CNY' }));
      state.products.push({ id });
    }
    item = { product_id: 'fz-tea', quantity: 1 };
  }
  for (const [owner, token] of Object.entries(tokens.customers)) {
    const order = async () => {
      const created = await expectOk<{ id: string; total_amount: string }>('POST /orders', callApi(apiUrl, token, 'POST', '/orders', { items: [item] }));
      state.orders.push({ id: created.id, owner });
      return created;
    };
    const payFor = async (orderId: string, method: string) => {
      // The payment-service learns of the order through order.created: a moment after the order exists.
      for (let attempt = 0; ; attempt++) {
        const answer = await callApi(apiUrl, token, 'POST', '/payments', { order_id: orderId, method });
        if (answer.status === 201) {
          const payment = answer.body as { id: string; amount: string };
          state.payments.push({ id: payment.id, owner, amountMinor: Math.round(Number(payment.amount) * 100) });
          return payment;
        }
        if (attempt >= 40) throw new Error(`seeding: POST /payments answered ${answer.status} ${JSON.stringify(answer.body)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const open = await order();
    await payFor(open.id, 'wechat');
    const paid = await order();
    const payment = await payFor(paid.id, 'alipay');
    await expectOk('POST /payments/:id/succeed', callApi(apiUrl, tokens.admin, 'POST', `/payments/${payment.id}/succeed`, {}));
    const refund = await expectOk<{ id: string }>(
      'POST /payments/:id/refunds',
      callApi(apiUrl, tokens.admin, 'POST', `/payments/${payment.id}/refunds`, { amount: '1.00', reason: 'fuzz seed' }, { 'idempotency-key': `fuzz-seed-${randomUUID()}` }),
    );
    state.refunds.push({ id: refund.id, owner });
    const cancelled = await order();
    await expectOk('POST /orders/:id/cancel', callApi(apiUrl, token, 'POST', `/orders/${cancelled.id}/cancel`, { reason: 'fuzz seed' }));
  }
  return state;
}

async function allPages(apiUrl: string, token: string, path: string): Promise<{ id: string }[]> {
  const results: { id: string }[] = [];
  for (let page = 1; ; page++) {
    const answer = await expectOk<{ results: { id: string }[]; next: string | null }>(`GET ${path}`, callApi(apiUrl, token, 'GET', `${path}${path.includes('?') ? '&' : '?'}page=${page}&page_size=100`));
    results.push(...answer.results);
    if (!answer.next) return results;
  }
}

export interface Snapshot {
  /** Orders, payments, refunds and products as the API shows them, sorted by id. */
  business: string;
  /** Audit records per action. */
  auditActions: Record<string, number>;
  refundsPending: boolean;
}

/** The business state through the API (admin), and the audit log's records per action (auditor). */
export async function snapshot(apiUrl: string, document: OpenApiDocument, adminToken: string, auditorToken: string): Promise<Snapshot> {
  const byId = (rows: { id: string }[]) => [...rows].sort((a, b) => a.id.localeCompare(b.id));
  const orders = byId(await allPages(apiUrl, adminToken, '/orders'));
  const payments = byId(await allPages(apiUrl, adminToken, '/payments'));
  const refunds: { id: string; status?: string }[] = [];
  for (const payment of payments) refunds.push(...(await allPages(apiUrl, adminToken, `/payments/${payment.id}/refunds`)));
  const products = hasRoute(document, 'get', '/products') ? byId(await allPages(apiUrl, adminToken, '/products?include_inactive=true')) : [];
  const auditActions: Record<string, number> = {};
  for (const record of (await allPages(apiUrl, auditorToken, '/audit/events')) as { id: string; action?: string }[]) {
    const action = record.action ?? '(none)';
    auditActions[action] = (auditActions[action] ?? 0) + 1;
  }
  return {
    business: JSON.stringify({ orders, payments, refunds: byId(refunds), products }),
    auditActions,
    refundsPending: refunds.some((refund) => refund.status === 'pending'),
  };
}

/** Waits until two snapshots a second apart agree and no refund is pending (the seeded flows have settled). */
export async function settledSnapshot(take: () => Promise<Snapshot>, timeoutMs = 60_000): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  let previous = await take();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const current = await take();
    if (!current.refundsPending && current.business === previous.business && JSON.stringify(current.auditActions) === JSON.stringify(previous.auditActions)) return current;
    if (Date.now() > deadline) throw new Error(`the state did not settle within ${Math.round(timeoutMs / 1000)} s`);
    previous = current;
  }
}
