import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { ApiClient } from '@pay/client';
import { createEvent, type OrderView } from '@pay/contracts';
import { brokerUser, queueNames } from '@pay/messaging';
import { testAmqpUrl } from '../support/isolation';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * Issue "Fast": payment-service's view of orders (`known_orders`, fed by order.created) lagged past
 * ORDER_WAIT_MS under a burst and `POST /payments` answered 404 for orders that existed. An order that
 * exists is never answered 404: while the view lags the answer is 503 `order_not_yet_known` with
 * Retry-After, and the retry succeeds. Here the view lags for real: 2,000 order.created of other orders
 * are put on payment-service's queue ahead of ours, and ORDER_WAIT_MS is short (200 ms) so a create
 * gives up waiting long before they are processed.
 */
const BACKLOG = 2000;
const CUSTOMERS = 100;
const ORDER_WAIT_MS = 200;

interface PayAnswer {
  status: number;
  retryAfter: string | null;
  code?: string;
}

describe('payment-service view of orders lagging behind a burst', () => {
  let system: TestStack;
  let amqpConnection: ChannelModel;
  let channel: ConfirmChannel;
  let mainQueue: string;

  beforeAll(async () => {
    // All simulated customers share 127.0.0.1 and retry: lift the per-IP limit.
    system = await startTestStack('viewlag', { ORDER_WAIT_MS: String(ORDER_WAIT_MS), RATE_LIMIT_PER_IP: '100000' });
    mainQueue = queueNames(system.prefix, 'payment-service').main;
    amqpConnection = await amqp.connect(testAmqpUrl());
    channel = await amqpConnection.createConfirmChannel();
  }, 120_000);

  afterAll(async () => {
    await amqpConnection?.close().catch(() => undefined);
    await system?.stop();
  });

  /** Messages ready in payment-service's main queue (its consumer lag). */
  const ready = async () => (await channel.checkQueue(mainQueue)).messageCount;

  /**
   * `count` order.created of other orders straight onto payment-service's queue, as the order service's
   * relay would deliver them (same properties), confirmed. Onto its queue rather than the exchange so
   * that only the payment service, the one under test, gets the extra work (not the audit service).
   */
  async function backlogOfOrderEvents(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const event = createEvent(
        'order.created',
        { orderId: randomUUID(), orderNumber: `BACKLOG-${i}`, userId: `backlog-user-${i % 50}`, amountMinor: 100 + i, currency: 'CNY' },
        { producer: 'order-service' },
      );
      channel.sendToQueue(mainQueue, Buffer.from(JSON.stringify(event)), {
        persistent: true,
        contentType: 'application/json',
        messageId: event.id,
        // The relay's publisher names its broker user (consumers refuse an event no user_id vouches for).
        userId: brokerUser(testAmqpUrl()),
        type: event.type,
        correlationId: event.correlation_id,
        headers: { 'x-attempt': 0 },
      });
    }
    await channel.waitForConfirms();
  }

  /** POST /payments through the gateway, raw, to see the status and the Retry-After header. */
  async function pay(sub: string, order: OrderView): Promise<PayAnswer> {
    const response = await fetch(`${system.stack.gatewayUrl}/api/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.token(sub)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ order_id: order.id, amount: order.total_amount }),
    });
    const body = (await response.json().catch(() => null)) as { error?: { code?: string } } | null;
    return { status: response.status, retryAfter: response.headers.get('retry-after'), code: body?.error?.code };
  }

  /** Pays like a client that honours Retry-After: every answer 201 or a retryable 503, until 201. */
  async function payUntilCreated(sub: string, order: OrderView, timeoutMs = 90_000): Promise<PayAnswer[]> {
    const answers: PayAnswer[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await pay(sub, order);
      answers.push(answer);
      if (answer.status !== 503 || Date.now() > deadline) return answers;
      await new Promise((resolve) => setTimeout(resolve, Number(answer.retryAfter ?? 1) * 1000));
    }
  }

  /** Every 503 a retryable "not known yet" with a Retry-After in seconds, and the last answer a 201. */
  function expectRetryableUntilCreated(answers: PayAnswer[]): void {
    for (const answer of answers.slice(0, -1)) {
      expect(answer).toEqual({ status: 503, retryAfter: expect.stringMatching(/^[1-9][0-9]*$/), code: 'order_not_yet_known' });
    }
    expect(answers.at(-1)).toMatchObject({ status: 201 });
  }

  const orderOf = async (customer: ApiClient, cents: number) =>
    customer.createOrder({ items: [{ product_id: await system.productAt(`${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`), quantity: 1 }] });

  it('answers 503 with Retry-After (never 404) while its queue holds 2,000 unprocessed order events, and 201 on a retry once caught up', async () => {
    await backlogOfOrderEvents(BACKLOG);
    const drainStarted = Date.now();
    const alice = system.client('lag-alice');
    const order = await orderOf(alice, 4200);
    const depthBefore = await ready();

    const first = await pay('lag-alice', order);
    console.log(`[view-lag] ${depthBefore} order events ready ahead of the order; first POST /payments → ${first.status} (Retry-After: ${first.retryAfter})`);
    expect([201, 503]).toContain(first.status);
    // Hundreds still queued ahead of its order.created: no consumer gets through them within ORDER_WAIT_MS.
    if (depthBefore >= 500) expect(first.status).toBe(503);

    const answers = first.status === 201 ? [first] : [first, ...(await payUntilCreated('lag-alice', order))];
    expectRetryableUntilCreated(answers);
    console.log(`[view-lag] paid after ${answers.length} attempts, ${Date.now() - drainStarted} ms after the backlog was queued`);

    // Once the view has caught up, an order that does not exist is "not found" again.
    await eventually('payment-service queue drained', async () => (await ready()) === 0, 120_000);
    const drained = Date.now() - drainStarted;
    console.log(`[view-lag] ${BACKLOG} order events processed in about ${drained} ms (~${Math.round((BACKLOG * 1000) / drained)}/s)`);
    const noSuchOrder = { ...order, id: randomUUID() };
    const missing = await eventually('a wrong order id answered 404 once caught up', async () => {
      const answer = await pay('lag-alice', noSuchOrder);
      expect([404, 503]).toContain(answer.status);
      return answer.status === 404 ? answer : undefined;
    });
    expect(missing).toMatchObject({ status: 404, retryAfter: null, code: 'not_found' });
  }, 240_000);

  /** 100 customers at once, each creating an order and paying it at once (retrying a 503 as told). */
  async function burstOfCustomers(label: string): Promise<PayAnswer[][]> {
    const customers = Array.from({ length: CUSTOMERS }, (_, n) => ({ sub: `${label}-customer-${n}`, client: system.client(`${label}-customer-${n}`) }));
    const started = Date.now();
    const results = await Promise.all(
      customers.map(async ({ sub, client }, n) => {
        const order = await orderOf(client, 1000 + n);
        return payUntilCreated(sub, order);
      }),
    );
    const firstStatuses: Record<string, number> = {};
    for (const answers of results) firstStatuses[answers[0]!.status] = (firstStatuses[answers[0]!.status] ?? 0) + 1;
    const retryable = results.reduce((sum, answers) => sum + answers.filter((answer) => answer.status === 503).length, 0);
    const retried = results.filter((answers) => answers.length > 1).length;
    console.log(
      `[view-lag] ${label}: ${CUSTOMERS} customers in ${Date.now() - started} ms: first answers ${JSON.stringify(firstStatuses)}; ` +
        `${retryable} retryable 503s over ${retried} customers, max ${Math.max(...results.map((answers) => answers.length))} attempts`,
    );
    return results;
  }

  it('100 customers creating an order and paying it at once: every POST /payments is 201, or a retryable 503 that succeeds on retry', async () => {
    // The view already holds the 2,000 orders of the backlog above (the "~1k orders stored").
    const results = await burstOfCustomers('burst');
    for (const answers of results) expectRetryableUntilCreated(answers);
  }, 240_000);

  it('the same burst behind 1,000 queued order events: the creates that outwait ORDER_WAIT_MS get 503s, and every one succeeds on retry', async () => {
    await backlogOfOrderEvents(BACKLOG / 2);
    const results = await burstOfCustomers('behind-backlog');
    for (const answers of results) expectRetryableUntilCreated(answers);
    expect(results.filter((answers) => answers[0]!.status === 503).length).toBeGreaterThan(0);
  }, 240_000);
});
