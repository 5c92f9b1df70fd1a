import { randomBytes } from 'node:crypto';
import { deterministicEventId, type EventEnvelope, type PaymentMethod } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import {
  createMockProvider,
  createWechatpayProvider,
  generateWechatpayDevKeys,
  signMockCallback,
  signWechatpayRefundCallback,
  type CallbackRequest,
  type NormalizedNotification,
  type ProviderAnswer,
  type ProviderName,
  type WechatpayRefundCallbackInput,
} from '@pay/providers';
import { waitForPayment, type KnownPayment, type KnownPayments } from '../src/domain/known-payments';
import { matchPayment } from '../src/domain/match-payment';
import { notificationKey, type NotificationLog, type SeenNotification } from '../src/domain/notification-log';
import { receiveCallback, type CallbackDependencies, type CallbackOutcome } from '../src/domain/receive-callback';

/**
 * The gateway's decisions with a real (mock-protocol) signature and in-memory ports: the repositories
 * are exercised against the real database in known-payments.integration.test.ts.
 */
const secret = randomBytes(24).toString('hex');
const provider = createMockProvider({ secret });
const logger = createLogger('callback-test', 'error');
logger.silent = true;

class MemoryPayments implements KnownPayments {
  readonly payments = new Map<string, KnownPayment>();
  reads = 0;
  async get(paymentId: string) {
    this.reads += 1;
    return this.payments.get(paymentId) ?? null;
  }
  async recordCreated(payment: KnownPayment) {
    if (!this.payments.has(payment.id)) this.payments.set(payment.id, payment);
  }
}

class MemoryLog implements NotificationLog {
  readonly seen = new Map<string, SeenNotification>();
  async find(key: string) {
    const existing = this.seen.get(key);
    return existing ? { ...existing } : null;
  }
  async recordHandedOff(notification: NormalizedNotification, eventId: string) {
    const key = notificationKey(notification);
    const existing = this.seen.get(key);
    if (existing) existing.handedOff = true;
    else this.seen.set(key, { key, eventId, handedOff: true });
  }
}

function setup(options: { paymentWaitMs?: number; brokerDown?: boolean } = {}) {
  const published: EventEnvelope[] = [];
  const outcomes: CallbackOutcome[] = [];
  const payments = new MemoryPayments();
  const log = new MemoryLog();
  const state = { brokerDown: options.brokerDown ?? false };
  const deps: CallbackDependencies = {
    log,
    payments,
    paymentWaitMs: options.paymentWaitMs ?? 0,
    publish: async (event) => {
      if (state.brokerDown) throw new Error('broker not connected');
      published.push(event);
    },
    logger,
    observe: (_provider, outcome) => outcomes.push(outcome),
  };
  return { deps, published, outcomes, payments, log, state };
}

/**
 * A verified notification refused for what it says (422 with the mismatch): reported once as
 * callback.rejected with its ids, never handed on, never recorded as seen.
 */
function expectRefusedAsMismatch(
  answer: ProviderAnswer,
  { published, outcomes, log }: ReturnType<typeof setup>,
  kind: 'amount_mismatch' | 'provider_mismatch',
  notification: { provider: ProviderName; notificationId: string },
): void {
  expect(answer.status).toBe(422);
  expect(JSON.parse(answer.body)).toEqual({ code: 'FAIL', message: kind });
  expect(published.map((event) => event.type)).toEqual(['callback.rejected']);
  expect(published[0]!.data).toMatchObject({ ...notification, paymentId: 'pay-1', reason: expect.stringMatching(new RegExp(`^${kind}: `)) });
  expect(log.seen.size).toBe(0);
  expect(outcomes).toEqual(['rejected']);
}

function signed(body: { notification_id?: string; payment_id?: string; status?: 'SUCCESS' | 'FAILED'; amount?: string } = {}): CallbackRequest {
  const request = signMockCallback(
    {
      notification_id: body.notification_id ?? 'ntf-1',
      payment_id: body.payment_id ?? 'pay-1',
      transaction_id: 'txn-1',
      status: body.status ?? 'SUCCESS',
      amount: body.amount ?? '99.00',
    },
    secret,
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  return { headers, rawBody: Buffer.from(request.rawBody) };
}

/** A bank_card payment: paid at the mock provider, whose notifications these tests sign. */
const payment = (amountMinor = 9900, currency = 'CNY', id = 'pay-1', method: PaymentMethod = 'bank_card'): KnownPayment => ({ id, amountMinor, currency, method });
/** A payment recorded by a gateway that did not store methods yet. */
const legacyPayment = (): KnownPayment => ({ id: 'pay-1', amountMinor: 9900, currency: 'CNY' });
const fromMock = (amountMinor: number) => ({ provider: 'mock' as const, amountMinor });

describe('matching a verified notification with our payment', () => {
  it('matches the exact amount of a CNY payment', () => {
    expect(matchPayment(fromMock(9900), payment())).toEqual({ kind: 'matches', payment: payment(), providerChecked: true });
  });

  it('calls a payment it has not heard of unknown', () => {
    expect(matchPayment(fromMock(9900), null)).toEqual({ kind: 'unknown_payment' });
  });

  it('refuses an amount one fen off, either way', () => {
    expect(matchPayment(fromMock(9899), payment())).toMatchObject({ kind: 'amount_mismatch', detail: expect.stringContaining('9899') });
    expect(matchPayment(fromMock(9901), payment())).toMatchObject({ kind: 'amount_mismatch' });
  });

  it('refuses a payment in another currency, since providers report CNY fen', () => {
    expect(matchPayment(fromMock(9900), payment(9900, 'USD'))).toMatchObject({ kind: 'amount_mismatch', detail: expect.stringContaining('USD') });
  });

  // Every cell of method × notifying provider: only the provider of the payment's method may notify.
  const cells: [PaymentMethod, ProviderName, 'matches' | 'provider_mismatch'][] = [
    ['wechat', 'wechatpay', 'matches'],
    ['wechat', 'alipay', 'provider_mismatch'],
    ['wechat', 'mock', 'provider_mismatch'],
    ['alipay', 'wechatpay', 'provider_mismatch'],
    ['alipay', 'alipay', 'matches'],
    ['alipay', 'mock', 'provider_mismatch'],
    ['bank_card', 'wechatpay', 'provider_mismatch'],
    ['bank_card', 'alipay', 'provider_mismatch'],
    ['bank_card', 'mock', 'matches'],
  ];
  it.each(cells)('a %s payment notified by %s: %s', (method, provider, kind) => {
    const known = payment(9900, 'CNY', 'pay-1', method);
    const match = matchPayment({ provider, amountMinor: 9900 }, known);
    expect(match.kind).toBe(kind);
    if (kind === 'matches') expect(match).toEqual({ kind, payment: known, providerChecked: true });
    else expect(match).toEqual({ kind, detail: `${provider} notified about a ${method} payment, which is paid at ${{ wechat: 'wechatpay', alipay: 'alipay', bank_card: 'mock' }[method]}` });
  });

  it('refuses the wrong provider before looking at the amount', () => {
    expect(matchPayment({ provider: 'mock', amountMinor: 1 }, payment(9900, 'CNY', 'pay-1', 'wechat'))).toMatchObject({ kind: 'provider_mismatch' });
  });

  it.each(['wechatpay', 'alipay', 'mock'] as const)(
    'accepts %s for a payment recorded without its method (by an older gateway), saying the provider was not checked',
    (provider) => {
      const legacy = legacyPayment();
      expect(matchPayment({ provider, amountMinor: 9900 }, legacy)).toEqual({ kind: 'matches', payment: legacy, providerChecked: false });
      expect(matchPayment({ provider, amountMinor: 9899 }, legacy)).toMatchObject({ kind: 'amount_mismatch' });
    },
  );
});

describe('waiting for a payment.created still on its way', () => {
  it('finds a payment recorded while it waits', async () => {
    const payments = new MemoryPayments();
    setTimeout(() => void payments.recordCreated(payment()), 30);
    await expect(waitForPayment(payments, 'pay-1', 5_000, 10)).resolves.toEqual(payment());
  });

  it('gives up after the wait with null, and does not wait at all when told 0', async () => {
    const payments = new MemoryPayments();
    await expect(waitForPayment(payments, 'pay-1', 50, 10)).resolves.toBeNull();
    payments.reads = 0;
    await expect(waitForPayment(payments, 'pay-1', 0)).resolves.toBeNull();
    expect(payments.reads).toBe(1);
  });
});

describe('receiving a provider callback', () => {
  it('hands a matching notification on as callback.verified with a deterministic id and answers success', async () => {
    const { deps, published, outcomes, payments } = setup();
    await payments.recordCreated(payment());
    const answer = await receiveCallback(provider, signed(), deps, 'req-1');
    expect(answer).toEqual({ status: 200, contentType: expect.any(String), body: '{"code":"SUCCESS"}' });
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      type: 'callback.verified',
      id: deterministicEventId('mock:ntf-1'),
      data: { paymentId: 'pay-1', amountMinor: 9900, outcome: 'success', notificationId: 'ntf-1' },
    });
    expect(outcomes).toEqual(['accepted']);
  });

  it('refuses a verified notification whose amount differs (422), reports amount_mismatch and hands nothing on', async () => {
    const gateway = setup();
    await gateway.payments.recordCreated(payment());
    const answer = await receiveCallback(provider, signed({ amount: '98.99' }), gateway.deps, 'req-1');
    expectRefusedAsMismatch(answer, gateway, 'amount_mismatch', { provider: 'mock', notificationId: 'ntf-1' });
  });

  it('reports a retried amount mismatch under the same event id, so it is audited once', async () => {
    const { deps, published, payments } = setup();
    await payments.recordCreated(payment());
    await receiveCallback(provider, signed({ amount: '1.00' }), deps, 'req-1');
    await receiveCallback(provider, signed({ amount: '1.00' }), deps, 'req-2');
    expect(published).toHaveLength(2);
    expect(published[0]!.id).toBe(published[1]!.id);
  });

  it('refuses a signed mock notification for a wechat payment (422), reports provider_mismatch and hands nothing on', async () => {
    const gateway = setup();
    await gateway.payments.recordCreated(payment(9900, 'CNY', 'pay-1', 'wechat'));
    const answer = await receiveCallback(provider, signed(), gateway.deps, 'req-1');
    expectRefusedAsMismatch(answer, gateway, 'provider_mismatch', { provider: 'mock', notificationId: 'ntf-1' });
    expect(gateway.published[0]).toMatchObject({
      id: deterministicEventId('mock:ntf-1:rejected:provider_mismatch'),
      data: { reason: 'provider_mismatch: mock notified about a wechat payment, which is paid at wechatpay' },
    });
  });

  it('accepts a notification for a payment recorded without its method (by an older gateway), with a warning', async () => {
    const { deps, published, outcomes, payments } = setup();
    await payments.recordCreated(legacyPayment());
    const warn = jest.spyOn(logger, 'warn');
    try {
      const answer = await receiveCallback(provider, signed(), deps, 'req-1');
      expect(answer.status).toBe(200);
      expect(published.map((event) => event.type)).toEqual(['callback.verified']);
      expect(outcomes).toEqual(['accepted']);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('without its method'), expect.objectContaining({ provider: 'mock', payment_id: 'pay-1' }));
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses a failure notification with the wrong amount too', async () => {
    const { deps, published, payments } = setup();
    await payments.recordCreated(payment());
    const answer = await receiveCallback(provider, signed({ status: 'FAILED', amount: '10.00' }), deps, 'req-1');
    expect(answer.status).toBe(422);
    expect(published.map((event) => event.type)).toEqual(['callback.rejected']);
  });

  it('asks the provider to retry (503) a notification for a payment it has not heard of, and reports nothing', async () => {
    const { deps, published, outcomes, log } = setup();
    const answer = await receiveCallback(provider, signed({ payment_id: 'pay-unknown' }), deps, 'req-1');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'FAIL' });
    expect(published).toEqual([]);
    expect(log.seen.size).toBe(0);
    expect(outcomes).toEqual(['payment_unknown']);
  });

  it('accepts a notification whose payment.created arrives while it waits', async () => {
    const { deps, published, payments } = setup({ paymentWaitMs: 3_000 });
    setTimeout(() => void payments.recordCreated(payment()), 50);
    const answer = await receiveCallback(provider, signed(), deps, 'req-1');
    expect(answer.status).toBe(200);
    expect(published.map((event) => event.type)).toEqual(['callback.verified']);
  });

  it('asks the provider to retry (503) when the projection cannot be read', async () => {
    const { deps, published } = setup();
    deps.payments = { get: async () => Promise.reject(new Error('db down')), recordCreated: async () => undefined };
    const answer = await receiveCallback(provider, signed(), deps, 'req-1');
    expect(answer.status).toBe(503);
    expect(published).toEqual([]);
  });

  it('refuses a tampered notification (401) before looking at the payment, and reports it without ids', async () => {
    const { deps, published, payments } = setup();
    const request = signed();
    request.rawBody = Buffer.from(request.rawBody.toString('utf8').replace('99.00', '98.00'));
    const answer = await receiveCallback(provider, request, deps, 'req-1');
    expect(answer.status).toBe(401);
    expect(payments.reads).toBe(0);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ type: 'callback.rejected', data: { reason: expect.stringMatching(/^bad_signature/), paymentId: null, notificationId: null } });
  });

  it('answers 503 while the broker is down and success on the retry once it is back, with the same event id', async () => {
    const { deps, published, outcomes, payments, state, log } = setup({ brokerDown: true });
    await payments.recordCreated(payment());
    expect((await receiveCallback(provider, signed(), deps, 'req-1')).status).toBe(503);
    // Not handed on, so not recorded: nothing stands between the provider's retry and the hand-off.
    expect(log.seen.has('mock:ntf-1')).toBe(false);
    state.brokerDown = false;
    expect((await receiveCallback(provider, signed(), deps, 'req-2')).status).toBe(200);
    expect(published.map((event) => event.id)).toEqual([deterministicEventId('mock:ntf-1')]);
    expect(log.seen.get('mock:ntf-1')?.handedOff).toBe(true);
    expect(outcomes).toEqual(['retry_later', 'accepted']);
  });

  it('answers a replay of a handed-on notification with success and no second event', async () => {
    const { deps, published, outcomes, payments } = setup();
    await payments.recordCreated(payment());
    await receiveCallback(provider, signed(), deps, 'req-1');
    const again = await receiveCallback(provider, signed(), deps, 'req-2');
    expect(again.status).toBe(200);
    expect(published).toHaveLength(1);
    expect(outcomes).toEqual(['accepted', 'replayed']);
  });

  it('hands on a notification an older gateway recorded but never marked handed on, then marks it', async () => {
    const { deps, published, outcomes, payments, log } = setup();
    await payments.recordCreated(payment());
    log.seen.set('mock:ntf-1', { key: 'mock:ntf-1', eventId: deterministicEventId('mock:ntf-1'), handedOff: false });
    expect((await receiveCallback(provider, signed(), deps, 'req-1')).status).toBe(200);
    expect(published.map((event) => event.id)).toEqual([deterministicEventId('mock:ntf-1')]);
    expect(log.seen.get('mock:ntf-1')?.handedOff).toBe(true);
    expect(outcomes).toEqual(['accepted']);
  });
});

describe('receiving a WeChat Pay refund result', () => {
  const wechatKeys = generateWechatpayDevKeys();
  const mchid = '1900000109';
  const wechatpay = createWechatpayProvider({ mchid, appid: 'wxd678efh567hg6787', apiV3Key: wechatKeys.apiV3Key, platformPublicKeys: { [wechatKeys.serial]: wechatKeys.platformPublicKey } });

  /** REFUND.<status> as WeChat Pay sends it to the refund's notify_url: 10.00 refunded of the 99.00 paid. */
  function refundResult(overrides: Partial<WechatpayRefundCallbackInput> = {}): CallbackRequest {
    const request = signWechatpayRefundCallback(
      {
        notificationId: 'EV-R-1',
        mchid,
        paymentId: 'pay-1',
        transactionId: '4200000000000000000000000001',
        refundId: 'refund-1',
        providerRefundId: '50300000000000000000000000001',
        refundStatus: 'SUCCESS',
        totalMinor: 9900,
        refundMinor: 1000,
        ...overrides,
      },
      { apiV3Key: wechatKeys.apiV3Key, platformPrivateKey: wechatKeys.platformPrivateKey, serial: wechatKeys.serial },
    );
    return { headers: request.headers, rawBody: Buffer.from(request.rawBody) };
  }

  const wechatPayment = () => payment(9900, 'CNY', 'pay-1', 'wechat');

  it('hands a signed REFUND.SUCCESS on as callback.verified with the refund, and answers WeChat success', async () => {
    const { deps, published, outcomes, payments } = setup();
    await payments.recordCreated(wechatPayment());
    const info = jest.spyOn(logger, 'info');
    try {
      const answer = await receiveCallback(wechatpay, refundResult(), deps, 'req-1');
      expect(answer).toEqual(wechatpay.acknowledge());
      expect(answer.status).toBe(200);
      expect(published).toHaveLength(1);
      expect(published[0]).toMatchObject({
        type: 'callback.verified',
        id: deterministicEventId('wechatpay:EV-R-1'),
        data: {
          provider: 'wechatpay',
          notificationId: 'EV-R-1',
          paymentId: 'pay-1',
          transactionId: '4200000000000000000000000001',
          outcome: 'success',
          amountMinor: 9900,
          refund: { refundId: 'refund-1', providerRefundId: '50300000000000000000000000001', status: 'succeeded', refundMinor: 1000 },
        },
      });
      expect(outcomes).toEqual(['accepted']);
      expect(info).toHaveBeenCalledWith('notification verified and handed on', expect.objectContaining({ payment_id: 'pay-1', refund_id: 'refund-1', refund_status: 'succeeded' }));
    } finally {
      info.mockRestore();
    }
  });

  it('hands a duplicate refund result on once and answers both with success', async () => {
    const { deps, published, outcomes, payments } = setup();
    await payments.recordCreated(wechatPayment());
    expect((await receiveCallback(wechatpay, refundResult(), deps, 'req-1')).status).toBe(200);
    expect((await receiveCallback(wechatpay, refundResult(), deps, 'req-2')).status).toBe(200);
    expect(published.map((event) => event.id)).toEqual([deterministicEventId('wechatpay:EV-R-1')]);
    expect(outcomes).toEqual(['accepted', 'replayed']);
  });

  it.each([
    ['ABNORMAL', 'needs_attention'],
    ['CLOSED', 'failed'],
  ] as const)('hands REFUND.%s on as a failure outcome with refund status %s', async (refundStatus, status) => {
    const { deps, published, payments } = setup();
    await payments.recordCreated(wechatPayment());
    expect((await receiveCallback(wechatpay, refundResult({ refundStatus }), deps, 'req-1')).status).toBe(200);
    expect(published).toHaveLength(1);
    expect(published[0]!.data).toMatchObject({ outcome: 'failure', amountMinor: 9900, refund: { refundId: 'refund-1', status, refundMinor: 1000 } });
  });

  it('refuses (422) a refund result whose paid total differs from the payment, reports amount_mismatch and hands nothing on', async () => {
    const gateway = setup();
    await gateway.payments.recordCreated(wechatPayment());
    const answer = await receiveCallback(wechatpay, refundResult({ totalMinor: 9800 }), gateway.deps, 'req-1');
    expectRefusedAsMismatch(answer, gateway, 'amount_mismatch', { provider: 'wechatpay', notificationId: 'EV-R-1' });
  });

  it('refuses (422) a refund result for a payment not paid at WeChat Pay, reporting provider_mismatch', async () => {
    const gateway = setup();
    await gateway.payments.recordCreated(payment(9900, 'CNY', 'pay-1', 'alipay'));
    const answer = await receiveCallback(wechatpay, refundResult(), gateway.deps, 'req-1');
    expectRefusedAsMismatch(answer, gateway, 'provider_mismatch', { provider: 'wechatpay', notificationId: 'EV-R-1' });
  });
});
