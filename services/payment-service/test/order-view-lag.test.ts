import { randomUUID } from 'node:crypto';
import type { ClaimOutcome, Inbox } from '@pay/messaging';
import { NotFound, Unavailable } from '@pay/errors';
import type { Identity } from '@pay/contracts';
import { createPaymentForOrder, ORDER_NOT_YET_KNOWN_RETRY_AFTER_S } from '../src/domain/create-payment';
import type { OrderViewLag } from '../src/domain/order-view-lag';
import { InHandDeliveries } from '../src/entry-points/messaging/in-hand-deliveries';
import { ConsumerLag, type WaitingMessages } from '../src/entry-points/messaging/order-view-lag';
import { InMemoryKnownOrders, InMemoryPaymentStore } from './support/in-memory-payment-store';

const alice: Identity = { sub: 'alice', role: 'customer' };
const origin = { producer: 'test' };
const settings = { ttlMinutes: 30, orderWaitMs: 20 };

/** A lag port that answers what it is told and counts the questions. */
function fakeLag(answer: () => Promise<boolean>): OrderViewLag & { asked: number } {
  const lag = {
    asked: 0,
    isBehind: () => {
      lag.asked += 1;
      return answer();
    },
  };
  return lag;
}

describe('createPaymentForOrder: an order the view does not know (yet)', () => {
  let store: InMemoryPaymentStore;
  let orders: InMemoryKnownOrders;

  beforeEach(() => {
    store = new InMemoryPaymentStore();
    orders = new InMemoryKnownOrders();
  });

  const create = (orderId: string, lag: OrderViewLag, identity = alice) =>
    createPaymentForOrder(store, orders, { identity, orderId, method: 'wechat' }, settings, origin, lag);

  const record = (id: string, userId = 'alice') => orders.recordCreated({ id, orderNumber: `ORD-${id.slice(0, 6)}`, userId, amountMinor: 9900, currency: 'CNY' });

  it('answers "not known yet" (Unavailable, retry after a delay), not "not found", while the view is behind', async () => {
    const lag = fakeLag(async () => true);
    const orderId = randomUUID();
    const failure = await create(orderId, lag).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Unavailable);
    expect(failure).not.toBeInstanceOf(NotFound);
    expect(failure).toMatchObject({ code: 'order_not_yet_known', retryAfterSeconds: ORDER_NOT_YET_KNOWN_RETRY_AFTER_S, details: { order_id: orderId } });
    expect((failure as Error).message).toMatch(/retry/);
    expect(lag.asked).toBe(1);
  });

  it('answers "not found" once the view has caught up', async () => {
    const lag = fakeLag(async () => false);
    await expect(create(randomUUID(), lag)).rejects.toBeInstanceOf(NotFound);
    expect(lag.asked).toBe(1);
  });

  it('counts a lag question that fails as "behind": never a false 404', async () => {
    const lag = fakeLag(async () => Promise.reject(new Error('broker not connected')));
    await expect(create(randomUUID(), lag)).rejects.toMatchObject({ code: 'order_not_yet_known' });
  });

  it('pays an order recorded while the lag question was asked (asked first, read after)', async () => {
    const orderId = randomUUID();
    // The consumer records the order just as the question is answered: the read after it finds it.
    const lag = fakeLag(async () => {
      await record(orderId);
      return false;
    });
    await expect(create(orderId, lag)).resolves.toMatchObject({ orderId, status: 'init', amountMinor: 9900 });
  });

  it('pays an order that arrives after the view was found behind, once asked again', async () => {
    const orderId = randomUUID();
    const lag = fakeLag(async () => true);
    await expect(create(orderId, lag)).rejects.toBeInstanceOf(Unavailable);
    await record(orderId);
    await expect(create(orderId, lag)).resolves.toMatchObject({ orderId, status: 'init' });
    expect(lag.asked).toBe(1); // a known order needs no question
  });

  it('pays an order recorded while the create waits, without asking about lag', async () => {
    const orderId = randomUUID();
    const lag = fakeLag(async () => true);
    const created = createPaymentForOrder(store, orders, { identity: alice, orderId, method: 'wechat' }, { ttlMinutes: 30, orderWaitMs: 5000 }, origin, lag);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await record(orderId);
    await expect(created).resolves.toMatchObject({ orderId });
    expect(lag.asked).toBe(0);
  });

  it('answers another customer’s order "not found" even while the view is behind', async () => {
    const orderId = randomUUID();
    await record(orderId, 'bob');
    const lag = fakeLag(async () => true);
    await expect(create(orderId, lag)).rejects.toBeInstanceOf(NotFound);
    expect(lag.asked).toBe(0);
  });
});

describe('ConsumerLag (the broker-backed lag port)', () => {
  function lagWith(waiting: () => Promise<WaitingMessages>, inHand = () => 0, timeoutMs = 200) {
    return new ConsumerLag({ waiting, inHand, timeoutMs });
  }
  const empty = async (): Promise<WaitingMessages> => ({ main: 0, retry: 0 });

  it('is behind while the main queue or a retry queue holds messages, caught up when both are empty', async () => {
    await expect(lagWith(async () => ({ main: 3, retry: 0 })).isBehind()).resolves.toBe(true);
    await expect(lagWith(async () => ({ main: 0, retry: 1 })).isBehind()).resolves.toBe(true);
    await expect(lagWith(empty).isBehind()).resolves.toBe(false);
  });

  it('is behind while order events are in hand, which the queue depth does not count', async () => {
    let inHand = 1;
    const lag = lagWith(empty, () => inHand);
    await expect(lag.isBehind()).resolves.toBe(true);
    inHand = 0;
    await expect(lag.isBehind()).resolves.toBe(false);
  });

  it('reads the in-hand count after the queue: a delivery taken while the queue was read is seen', async () => {
    let inHand = 0;
    const lag = lagWith(async () => {
      inHand = 1; // the consumer took the last ready message while the broker answered "0 ready"
      return { main: 0, retry: 0 };
    }, () => inHand);
    await expect(lag.isBehind()).resolves.toBe(true);
  });

  it('is behind when the broker cannot be asked, or does not answer in time', async () => {
    await expect(lagWith(async () => Promise.reject(new Error('broker not connected'))).isBehind()).resolves.toBe(true);
    await expect(
      lagWith(() => {
        throw new Error('no connection');
      }).isBehind(),
    ).resolves.toBe(true);
    const started = Date.now();
    await expect(lagWith(() => new Promise<WaitingMessages>(() => undefined), () => 0, 50).isBehind()).resolves.toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('shares broker checks among concurrent callers, each answered by a check that started after its call', async () => {
    const answers: ((depths: WaitingMessages) => void)[] = [];
    const lag = lagWith(() => new Promise<WaitingMessages>((resolve) => answers.push(resolve)));
    const first = lag.isBehind();
    // These come while the first check runs: its answer may predate what they waited for, so they get the next one.
    const later = Array.from({ length: 50 }, () => lag.isBehind());
    expect(answers).toHaveLength(1);
    answers[0]!({ main: 5, retry: 0 });
    await expect(first).resolves.toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(answers).toHaveLength(2);
    answers[1]!({ main: 0, retry: 0 });
    await expect(Promise.all(later)).resolves.toEqual(Array.from({ length: 50 }, () => false));
    expect(answers).toHaveLength(2);
  });
});

describe('InHandDeliveries (order events delivered, not yet recorded)', () => {
  /** An inbox whose claims answer what the test says. */
  function scriptedInbox(outcome: ClaimOutcome | Error): Inbox & { completed: string[] } {
    const completed: string[] = [];
    return {
      completed,
      claim: async () => {
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
      complete: async (eventId) => void completed.push(eventId),
      release: async () => undefined,
    };
  }

  it('counts an order.created from its claim until its claim is completed', async () => {
    const deliveries = new InHandDeliveries(['order.created'], 30);
    const inbox = deliveries.track(scriptedInbox('claimed'));
    const claiming = inbox.claim('e1', 'order.created');
    expect(deliveries.count).toBe(1); // in the same tick as the delivery, before the claim's write returns
    await expect(claiming).resolves.toBe('claimed');
    expect(deliveries.count).toBe(1); // the handler runs now
    await inbox.complete('e1');
    expect(deliveries.count).toBe(0);
  });

  it('ignores other event types', async () => {
    const deliveries = new InHandDeliveries(['order.created'], 30);
    const inbox = deliveries.track(scriptedInbox('claimed'));
    await inbox.claim('e2', 'callback.verified');
    expect(deliveries.count).toBe(0);
    await inbox.complete('e2');
    expect(deliveries.count).toBe(0);
  });

  it('stops counting a duplicate at once', async () => {
    const deliveries = new InHandDeliveries(['order.created'], 30);
    await deliveries.track(scriptedInbox('done')).claim('e3', 'order.created');
    expect(deliveries.count).toBe(0);
  });

  it('keeps counting a copy on its way to a delay queue (busy, failed claim, failed handler) for the grace period', async () => {
    const deliveries = new InHandDeliveries(['order.created'], 30);
    await deliveries.track(scriptedInbox('busy')).claim('e4', 'order.created');
    await expect(deliveries.track(scriptedInbox(new Error('db down'))).claim('e5', 'order.created')).rejects.toThrow('db down');
    const failing = deliveries.track(scriptedInbox('claimed'));
    await failing.claim('e6', 'order.created');
    await failing.release('e6');
    expect(deliveries.count).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(deliveries.count).toBe(0);
  });

  it('stops counting once the effect is stored even when completing the claim fails', async () => {
    const deliveries = new InHandDeliveries(['order.created'], 30);
    const inbox = deliveries.track({ ...scriptedInbox('claimed'), complete: async () => Promise.reject(new Error('db down')) });
    await inbox.claim('e7', 'order.created');
    await expect(inbox.complete('e7')).rejects.toThrow('db down');
    await inbox.release('e7'); // what the consumer does next: no double count
    expect(deliveries.count).toBe(0);
  });
});
