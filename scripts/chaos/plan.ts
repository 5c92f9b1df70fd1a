/**
 * What a chaos run does, decided up front from one seed so a failing run can be repeated exactly: the
 * payments to drive (each with a story) and the faults to inject. Pure: no I/O here.
 */
import type { PaymentMethod } from '@pay/contracts';
import type { Random } from '../support/random';

/**
 * The stories a payment can tell, and what must be true of it at the end:
 * - paid:        the customer pays at the provider, notified normally → succeeded
 * - paid_silent: paid, the provider never notifies → succeeded through our query at the provider
 * - paid_replay: paid, the notification is delivered twice → succeeded once
 * - failed:      the payment fails at the provider (WeChat / mock: Alipay keeps a failed trade waiting) → failed
 * - cancelled:   the customer cancels before paying → cancelled, the provider order closed
 * - refunded:    paid, then an admin refunds part, then the rest → succeeded, refunded in full, order refunded
 * - duplicate:   paid, then the provider reports a second charge under another transaction id → the
 *                duplicate is refunded, the order stays paid
 */
export const STORIES = ['paid', 'paid_silent', 'paid_replay', 'failed', 'cancelled', 'refunded', 'duplicate'] as const;
export type Story = (typeof STORIES)[number];

const STORY_WEIGHTS: Record<Story, number> = { paid: 30, paid_silent: 15, paid_replay: 10, failed: 10, cancelled: 10, refunded: 15, duplicate: 10 };

export interface PlannedPayment {
  index: number;
  story: Story;
  method: PaymentMethod;
  /** Price of the one item ordered, in minor units (1.00 .. 99.99). */
  priceMinor: number;
}

function weighted(random: Random): Story {
  const total = STORIES.reduce((sum, story) => sum + STORY_WEIGHTS[story], 0);
  let roll = random.next() * total;
  for (const story of STORIES) {
    roll -= STORY_WEIGHTS[story];
    if (roll < 0) return story;
  }
  return 'paid';
}

export function planPayments(count: number, random: Random): PlannedPayment[] {
  return Array.from({ length: count }, (_, index) => {
    const story = weighted(random);
    // Alipay leaves a failed payment waiting for the buyer (never a final failure): failures at WeChat or mock.
    const methods: PaymentMethod[] = story === 'failed' ? ['wechat', 'bank_card'] : ['wechat', 'alipay', 'bank_card'];
    return { index, story, method: random.pick(methods), priceMinor: random.int(100, 9_999) };
  });
}

export type Fault =
  | { kind: 'kill'; service: string; replica: number; downMs: number }
  | { kind: 'broker'; downMs: number }
  | { kind: 'database'; downMs: number };

/**
 * The faults, one at a time, `gapMs` apart: mostly a SIGKILLed process (any service, any replica), now
 * and then the broker (stop_app / start_app) or the database restarted under everyone.
 */
export function planFaults(count: number, services: readonly string[], replicasOf: (service: string) => number, random: Random): Fault[] {
  return Array.from({ length: count }, (_, i): Fault => {
    const roll = random.next();
    // The first two faults after the kills start are the broker and the database, so even a short run has both.
    if (i === 1 || (i > 2 && roll < 0.08)) return { kind: 'broker', downMs: random.int(1_000, 4_000) };
    if (i === 3 || (i > 3 && roll < 0.14)) return { kind: 'database', downMs: random.int(500, 2_500) };
    const service = random.pick(services);
    return { kind: 'kill', service, replica: random.int(0, replicasOf(service) - 1), downMs: random.int(300, 2_800) };
  });
}
