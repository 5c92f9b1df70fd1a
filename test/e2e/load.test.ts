import { ApiError, type ApiClient } from '@pay/client';
import type { OrderView, PaymentView } from '@pay/contracts';
import { SERVICE_NAMES } from '@pay/harness';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * 100 requests at once through the whole stack, four times over (creates, reads, conditional writes), with
 * the services' default mongoose pools (MONGO_MAX_POOL_SIZE 5 each, 4 × 5 well under FerretDB's
 * PostgreSQL pool of 50). FerretDB/PostgreSQL wedges for good when more clients write at once than its
 * pool holds; this proves the pools keep it from happening: every request is answered, none with a 5xx,
 * and every service is still ready (its database answers) afterwards. No timing assertions.
 */
const CUSTOMERS = 20;
const ORDERS_EACH = 5;
const BURST = CUSTOMERS * ORDERS_EACH; // 100

describe('100 concurrent requests through the stack', () => {
  let system: TestStack;
  let customers: ApiClient[];

  beforeAll(async () => {
    // All simulated customers share 127.0.0.1: lift the per-IP limit; pools stay at their defaults.
    system = await startTestStack('load', { RATE_LIMIT_PER_IP: '10000' });
    customers = Array.from({ length: CUSTOMERS }, (_, n) => system.client(`load-customer-${n}`));
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  /** Deliveries of `type` a service has handled, over all its replicas, from their Prometheus metrics. */
  async function handledEvents(service: 'payment-service', type: string): Promise<number> {
    let handled = 0;
    for (const replica of system.stack.replicas[service]) {
      const text = await (await fetch(`${replica.metricsUrl}/metrics`)).text();
      handled += text
        .split('\n')
        .filter((line) => line.startsWith('events_consumed_total{') && line.includes(`type="${type}"`) && line.includes('outcome="handled"'))
        .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    }
    return handled;
  }

  /** Runs one burst of concurrent calls; returns the answers and a tally of statuses. */
  async function burst(what: string, calls: (() => Promise<unknown>)[]) {
    const started = Date.now();
    const outcomes = await Promise.allSettled(calls.map((call) => call()));
    const statuses: Record<string, number> = {};
    for (const outcome of outcomes) {
      const status = outcome.status === 'fulfilled' ? 'ok' : outcome.reason instanceof ApiError ? String(outcome.reason.status) : `thrown: ${(outcome.reason as Error).message}`;
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
    console.log(`[load] ${what}: ${calls.length} concurrent in ${Date.now() - started} ms → ${JSON.stringify(statuses)}`);
    return { values: outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : undefined)), statuses };
  }

  it('answers every request of four 100-request bursts without a 5xx and leaves every service ready', async () => {
    // 1. 100 orders at once (20 customers × 5).
    //    Their products first, outside the burst: an order's amount is its product's catalog price.
    const priceOf = (n: number, k: number) => `${n + 1}.${String(k).padStart(2, '0')}`;
    const productIds = await Promise.all(customers.flatMap((_, n) => Array.from({ length: ORDERS_EACH }, (_, k) => system.productAt(priceOf(n, k)))));
    const orderCalls = customers.flatMap((customer, n) =>
      Array.from({ length: ORDERS_EACH }, (_, k) => () => customer.createOrder({ items: [{ product_id: productIds[n * ORDERS_EACH + k]!, quantity: 1 }] })),
    );
    const placed = await burst('create orders', orderCalls);
    expect(placed.statuses).toEqual({ ok: BURST });
    const orders = placed.values as OrderView[];
    const ownerOf = (index: number) => customers[Math.floor(index / ORDERS_EACH)]!;

    // 2. A payment for each of them at once, once the payment service has heard of all 100 orders. (How fast
    //    order.created propagates under such a burst is the order service's outbox relay's pace, ~30/s
    //    here and slower with other tests running; a create that outwaits ORDER_WAIT_MS gets a 404.
    //    That latency is not what this test is about.)
    await eventually('payment service knows every order', async () => (await handledEvents('payment-service', 'order.created')) >= BURST, 45_000);
    const paid = await burst('create payments', orders.map((order, i) => () => ownerOf(i).createPayment({ order_id: order.id, amount: order.total_amount })));
    expect(paid.statuses).toEqual({ ok: BURST });
    const payments = paid.values as PaymentView[];

    // 3. 100 mixed reads at once.
    const reads = await burst(
      'mixed reads',
      orders.map((order, i) => {
        const customer = ownerOf(i);
        switch (i % 4) {
          case 0: return () => customer.getOrder(order.id);
          case 1: return () => customer.getPaymentDetail(payments[i]!.id);
          case 2: return () => customer.getPayments({ order_id: order.id });
          default: return () => customer.getOrders({ page_size: 10 });
        }
      }),
    );
    expect(reads.statuses).toEqual({ ok: BURST });

    // 4. 100 conditional writes at once: half the payments start, the other half's orders are cancelled
    //    (each cancellation then cancels its payment through order.cancelled: more writes behind the scenes).
    const writes = await burst(
      'mixed writes',
      orders.map((order, i) => (i % 2 === 0 ? () => ownerOf(i).startPayment(payments[i]!.id) : () => ownerOf(i).cancelOrder(order.id))),
    );
    expect(writes.statuses).toEqual({ ok: BURST });

    await eventually(
      'payments of cancelled orders cancelled',
      async () => {
        const statuses = await Promise.all(customers.map((customer) => customer.getPayments({ page_size: ORDERS_EACH })));
        const all = statuses.flatMap((page) => page.results);
        return all.length === BURST && all.every((payment) => payment.status === (orders.findIndex((o) => o.id === payment.order_id) % 2 === 0 ? 'processing' : 'cancelled'));
      },
      45_000,
    );

    for (const name of SERVICE_NAMES) {
      for (const replica of system.stack.replicas[name]) {
        const ready = await fetch(`${replica.url}/readyz`);
        expect({ name, replica: replica.url, status: ready.status }).toEqual({ name, replica: replica.url, status: 200 });
      }
    }
  }, 120_000);
});
