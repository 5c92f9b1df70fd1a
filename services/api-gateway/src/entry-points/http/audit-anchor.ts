import type { OutgoingHttpHeaders } from 'node:http';
import type { Response } from 'express';
import { AUDIT_ANCHOR_HEADER, AUDIT_SKIPPED_ANCHORS_HEADER, latestAuditAnchorAnswer } from '@pay/contracts';
import { Unavailable } from '@pay/errors';
import type { Logger } from '@pay/logger';
import { internalReader } from './internal-read';

/** Where the order-service serves the latest audit anchor it keeps (internal: never a public route). */
export const LATEST_ANCHOR_PATH = '/api/v1/audit/anchors/latest';

export interface AnchorSourceOptions {
  /** The order-service's replicas (base URLs). */
  targets: readonly string[];
  internalSecret: string;
  timeoutMs: number;
  logger: Logger;
}

/**
 * The headers the audit-service's verify (and report rebuild) compares the chain against: the latest
 * anchor kept by the order-service, outside the audit database, and any anchors another one skipped,
 * read on behalf of the auditor or admin asking (an identity token for the order-service bound to this
 * GET). No anchor yet: no header. The
 * order-service unreachable: 503, rather than a verify that silently skips the anchor and passes a chain
 * cut below it. A GET reads nothing twice that matters, so every replica may be tried in turn.
 */
export function latestAnchorHeader(options: AnchorSourceOptions): (res: Response) => Promise<OutgoingHttpHeaders> {
  const read = internalReader({ ...options, service: 'order-service' });
  return async (res) => {
    const answer = await read(res, LATEST_ANCHOR_PATH);
    if (!answer || answer.status !== 200) {
      options.logger.warn('could not read the latest audit anchor', { status: answer?.status ?? null });
      throw new Unavailable('the audit anchors are unavailable; retry later');
    }
    const parsed = latestAuditAnchorAnswer.safeParse(answer.body);
    if (!parsed.success) {
      options.logger.warn('the order-service answered an audit anchor that is not one', { issues: parsed.error.issues.length });
      throw new Unavailable('the audit anchors are unavailable; retry later');
    }
    const { anchor, skipped } = parsed.data;
    return {
      ...(anchor ? { [AUDIT_ANCHOR_HEADER]: JSON.stringify(anchor) } : {}),
      ...(skipped.length > 0 ? { [AUDIT_SKIPPED_ANCHORS_HEADER]: JSON.stringify(skipped) } : {}),
    };
  };
}
