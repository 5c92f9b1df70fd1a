import { z } from 'zod';
import type { ProviderName } from '@pay/providers';

/**
 * Misbehaviour on request, for tests of the adapters' error paths: the next `count` matching calls
 * time out, fail with the provider's system error, carry a broken signature or report a wrong amount.
 * A system error happens before the operation (nothing changed at the provider, as the providers
 * promise); a timeout, a bad signature and a wrong amount after it (it may well have happened: the
 * caller must query before deciding).
 */

export const PROVIDERS = ['wechatpay', 'alipay', 'mock'] as const;
export const OPERATIONS = ['open', 'query', 'close', 'refund', 'refund_query'] as const;
export const FAULT_KINDS = ['timeout', 'http_500', 'system_error', 'bad_signature', 'wrong_amount'] as const;

export type Operation = (typeof OPERATIONS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Answers that carry an amount: the only ones a wrong_amount fault can change. */
const AMOUNT_OPERATIONS: readonly Operation[] = ['query', 'refund', 'refund_query'];

export const faultRequestSchema = z
  .strictObject({
    provider: z.enum(PROVIDERS),
    operation: z.enum(OPERATIONS).optional(),
    fault: z.enum(FAULT_KINDS),
    count: z.number().int().min(1).max(1000).default(1),
  })
  .refine((fault) => fault.fault !== 'wrong_amount' || fault.operation === undefined || AMOUNT_OPERATIONS.includes(fault.operation), {
    message: 'wrong_amount applies to query, refund or refund_query answers only',
    path: ['operation'],
  });

export type FaultRequest = z.infer<typeof faultRequestSchema>;

export class Faults {
  private faults: FaultRequest[] = [];

  add(fault: FaultRequest): void {
    this.faults.push({ ...fault });
  }

  clear(): void {
    this.faults = [];
  }

  list(): FaultRequest[] {
    return this.faults.map((fault) => ({ ...fault }));
  }

  /** The first pending fault for this call, counted down; a wrong_amount without operation means query. */
  take(provider: ProviderName, operation: Operation): FaultKind | null {
    const index = this.faults.findIndex(
      (fault) =>
        fault.provider === provider &&
        (fault.operation === undefined ? fault.fault !== 'wrong_amount' || operation === 'query' : fault.operation === operation),
    );
    const fault = this.faults[index];
    if (fault === undefined) return null;
    fault.count -= 1;
    if (fault.count <= 0) this.faults.splice(index, 1);
    return fault.fault;
  }
}
