/**
 * Drives one planned payment through the public API and the provider simulator while processes, the
 * broker and the database are killed under it. Every call is retried until it gets a definite answer
 * (a dead process answers nothing, a restarting backend 502/503, a contended write a retryable 409),
 * and every retried write carries what makes a retry safe: an Idempotency-Key, or a read that finds
 * what the lost answer had created.
 */
import { ApiError, type ApiClient } from '@pay/client';
import { sendProviderCallback, type SigningMaterial } from '@pay/harness';
import type { PaymentView } from '@pay/contracts';
import { providerForMethod } from '@pay/contracts';
import { formatMinorAmount } from '@pay/money';
import type { PlannedPayment } from './plan';

export interface ChaosActors {
  customer: (index: number) => ApiClient;
  admin: ApiClient;
  /** The simulator's control API (`/sim/...`): status and JSON body. */
  sim(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  callbackUrl: () => string;
  session: SigningMaterial;
  runId: string;
  /** A product priced `priceMinor` (created once per price). */
  productFor(priceMinor: number): Promise<string>;
}

export interface DrivenPayment {
  plan: PlannedPayment;
  orderId: string | null;
  paymentId: string | null;
  /** The step the driver could not get past (its deadline ran out); null when every step was done. */
  stuckAt: string | null;
}

const STEP_DEADLINE_MS = 120_000;

/** How the simulator notifies each plain "paid" story (scripts/chaos/plan.ts). */
const PAY_NOTIFY = { paid: 'normal', paid_silent: 'never', paid_replay: 'duplicate' } as const;

/** What a retry may fix: nothing answered, the gateway could not reach a backend, a retryable refusal. */
function retryable(error: unknown): boolean {
  if (error instanceof ApiError) return error.status >= 500 || error.status === 429 || (error.status === 409 && error.code === 'concurrent_change');
  // fetch failed (connection refused or reset while a process was killed)
  return error instanceof TypeError || (error instanceof Error && /ECONNREFUSED|ECONNRESET|socket hang up|fetch failed|other side closed/i.test(error.message));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A step that kept failing until its deadline. */
class Stuck extends Error {}
/** A step refused for good (4xx other than a retryable one): the system broke a promise, or the driver is wrong. */
class Refused extends Error {}

export class PaymentDriver {
  retries = 0;

  constructor(private readonly actors: ChaosActors) {}

  /** Runs `call` until it answers; `recover` turns a definite refusal into an answer (or rethrows). */
  private async untilAnswered<T>(step: string, call: () => Promise<T>, recover?: (error: unknown) => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + STEP_DEADLINE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        let failure = error;
        if (recover && !retryable(error)) {
          try {
            const recovered = await recover(error);
            if (recovered !== undefined) return recovered;
          } catch (inner) {
            // The recovery's own read failed: retried like the call when that is transient.
            failure = inner;
          }
        }
        if (!retryable(failure)) throw new Refused(`${step}: ${(failure as Error).message}`);
        if (Date.now() > deadline) throw new Stuck(`${step}: still failing after ${STEP_DEADLINE_MS} ms: ${(failure as Error).message}`);
        this.retries += 1;
        await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  /** Polls the payment (as admin) until `done` holds. */
  private async untilPayment(step: string, paymentId: string, done: (payment: PaymentView) => boolean): Promise<PaymentView> {
    const deadline = Date.now() + STEP_DEADLINE_MS;
    for (;;) {
      const payment = await this.untilAnswered(step, () => this.actors.admin.getPaymentDetail(paymentId));
      if (done(payment)) return payment;
      if (Date.now() > deadline) throw new Stuck(`${step}: payment ${paymentId} is ${payment.status}`);
      await sleep(300);
    }
  }

  private async simulator(step: string, path: string, body?: unknown): Promise<unknown> {
    return this.untilAnswered(step, async () => {
      const answer = await this.actors.sim('POST', path, body);
      if (answer.status >= 500) throw new ApiError(answer.status, JSON.stringify(answer.body));
      if (answer.status >= 400) throw new Error(`${step}: simulator answered ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body;
    });
  }

  async drive(plan: PlannedPayment): Promise<DrivenPayment> {
    const result: DrivenPayment = { plan, orderId: null, paymentId: null, stuckAt: null };
    const customer = this.actors.customer(plan.index);
    const key = `chaos-${this.actors.runId}-${plan.index}`;
    try {
      const productId = await this.actors.productFor(plan.priceMinor);
      const order = await this.untilAnswered('create order', () => customer.createOrder({ items: [{ product_id: productId, quantity: 1 }] }, key));
      result.orderId = order.id;
      const payment = await this.untilAnswered(
        'create payment',
        () => customer.createPayment({ order_id: order.id, method: plan.method }),
        // An answer lost in a crash: the payment exists, a second create is refused as a second live one.
        async (error) => {
          if (!(error instanceof ApiError && error.status === 409)) throw error;
          const live = (await customer.getPayments({ order_id: order.id })).results.find((p) => ['init', 'processing', 'succeeded'].includes(p.status));
          if (!live) throw error;
          return live;
        },
      );
      result.paymentId = payment.id;
      await this.untilAnswered('start payment', () => customer.startPayment(payment.id));
      await this.tell(plan, payment.id, key);
    } catch (error) {
      if (!(error instanceof Stuck) && !(error instanceof Refused)) throw error;
      result.stuckAt = error.message;
    }
    return result;
  }

  private async tell(plan: PlannedPayment, paymentId: string, key: string): Promise<void> {
    const customer = this.actors.customer(plan.index);
    switch (plan.story) {
      case 'paid':
      case 'paid_silent':
      case 'paid_replay':
        await this.simulator(`pay (notify ${PAY_NOTIFY[plan.story]})`, `/sim/orders/${paymentId}/pay`, { notify: PAY_NOTIFY[plan.story] });
        return;
      case 'failed':
        await this.simulator('fail', `/sim/orders/${paymentId}/fail`, { notify: 'normal' });
        return;
      case 'cancelled':
        await this.untilAnswered('cancel', () => customer.cancelPayment(paymentId, 'changed my mind'), async (error) => {
          // A retried cancel after a lost answer finds the payment cancelled already.
          const payment = await this.actors.admin.getPaymentDetail(paymentId);
          if (payment.status === 'cancelled') return payment;
          throw error;
        });
        return;
      case 'refunded': {
        await this.simulator('pay', `/sim/orders/${paymentId}/pay`, { notify: 'normal' });
        await this.untilPayment('paid before refund', paymentId, (p) => p.status === 'succeeded');
        const half = Math.max(1, Math.floor(plan.priceMinor / 2));
        await this.untilAnswered('partial refund', () => this.actors.admin.createRefund(paymentId, { amount: formatMinorAmount(half), reason: 'chaos: part' }, `${key}-r1`));
        await this.untilAnswered('refund of the rest', () => this.actors.admin.createRefund(paymentId, { reason: 'chaos: rest' }, `${key}-r2`));
        return;
      }
      case 'duplicate': {
        await this.simulator('pay', `/sim/orders/${paymentId}/pay`, { notify: 'normal' });
        await this.untilPayment('paid before the second charge', paymentId, (p) => p.status === 'succeeded');
        const provider = providerForMethod(plan.method);
        await this.untilAnswered('second charge notified', async () => {
          const answer = await sendProviderCallback(
            this.actors.callbackUrl(),
            { provider, paymentId, amountMinor: plan.priceMinor, status: 'SUCCESS', transactionId: `dup${key.replace(/[^a-z0-9]/gi, '')}`, notificationId: `${key}-dup` },
            this.actors.session,
          );
          if (answer.status >= 500) throw new ApiError(answer.status, answer.body);
          if (answer.status >= 300) throw new Error(`second charge refused: ${answer.status} ${answer.body}`);
          return answer;
        });
        await this.untilPayment('duplicate flagged', paymentId, (p) => p.duplicate_transactions.length > 0);
        await this.untilAnswered('duplicate refunded', () =>
          this.actors.admin.createRefund(paymentId, { amount: formatMinorAmount(plan.priceMinor), reason: 'chaos: charged twice' }, `${key}-dup`),
        );
        return;
      }
    }
  }
}
