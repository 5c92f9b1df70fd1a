import type { AnyEvent } from '@pay/contracts';
import { buildAuditEntry } from './audit-record';
import type { AppendOutcome, AuditStore } from './audit-store';

/**
 * Audits one event: build the record → append it to the chain (once per event id) → fold it into the
 * day's figures. The fold also runs after a duplicate: a crash after the append may have left the
 * record unfolded, and the redelivery is what repairs that.
 */
export async function recordAuditEvent(store: AuditStore, event: AnyEvent, now: Date = new Date()): Promise<AppendOutcome> {
  const outcome = await store.append(buildAuditEntry(event, now));
  await store.foldPending(outcome.status === 'appended' ? outcome.record.seq : undefined);
  return outcome;
}
