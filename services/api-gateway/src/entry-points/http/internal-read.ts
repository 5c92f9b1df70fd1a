import type { Response } from 'express';
import { identityOf, signInternalIdentity, type InternalAudience } from '@pay/auth';
import { INTERNAL_IDENTITY_HEADER, REQUEST_ID_HEADER } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import { UpstreamPool } from './proxy';

export interface InternalReadOptions {
  /** The service's replicas (base URLs). */
  targets: readonly string[];
  service: InternalAudience;
  internalSecret: string;
  timeoutMs: number;
  logger: Logger;
}

export interface InternalAnswer {
  status: number;
  body: unknown;
}

/**
 * A GET the gateway makes to a service on behalf of the caller of the request in hand (an identity token
 * for that service bound to this GET), for a route that needs another service's view before it answers.
 * A GET changes nothing, so every replica may be tried in turn; null when none answered in time.
 */
export function internalReader({ targets, service, internalSecret, timeoutMs, logger }: InternalReadOptions): (res: Response, path: string) => Promise<InternalAnswer | null> {
  const pool = new UpstreamPool(targets);
  return async (res, path) => {
    const identity = identityOf(res);
    const signal = AbortSignal.timeout(timeoutMs);
    for (const origin of pool.attemptOrder()) {
      const url = new URL(origin);
      const target = `${url.pathname.replace(/\/+$/, '')}${path}`;
      try {
        const answer = await fetch(`${url.origin}${target}`, {
          headers: {
            accept: 'application/json',
            [REQUEST_ID_HEADER]: res.locals.requestId as string,
            [INTERNAL_IDENTITY_HEADER]: signInternalIdentity(identity, internalSecret, { audience: service, method: 'GET', path: target }),
          },
          signal,
        });
        if (answer.status >= 500) throw new Error(`status ${answer.status}`);
        const text = await answer.text();
        return { status: answer.status, body: text ? (JSON.parse(text) as unknown) : null };
      } catch (error) {
        logger.warn('internal read failed at a replica', { service, target: origin, error: (error as Error).message });
        if (signal.aborted) break;
      }
    }
    return null;
  };
}
