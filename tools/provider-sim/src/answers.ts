import type { Response } from 'express';
import type { ProviderName } from '@pay/providers';
import type { Faults, Operation } from './faults';

/**
 * An answer on its way out: run with whatever fault is pending for the call, then written in the
 * provider's format and signed, byte for byte the text that was signed.
 */

/** An answer before it is written in a provider's format; body undefined = empty (204). */
export interface Answer {
  status: number;
  body?: Record<string, unknown>;
}

export interface AnswerWriter {
  send(res: Response, answer: Answer, options: { corruptSignature: boolean }): void;
  systemError(res: Response, fault: 'http_500' | 'system_error'): void;
}

/** Runs one provider operation with whatever fault is pending for it. */
export function answerWithFaults(
  context: { faults: Faults; hold(res: Response): void },
  res: Response,
  call: { provider: ProviderName; operation: Operation },
  writer: AnswerWriter,
  perform: (options: { wrongAmount: boolean }) => Answer,
): void {
  const fault = context.faults.take(call.provider, call.operation);
  if (fault === 'http_500' || fault === 'system_error') {
    writer.systemError(res, fault);
    return;
  }
  const answer = perform({ wrongAmount: fault === 'wrong_amount' });
  if (fault === 'timeout') {
    context.hold(res);
    return;
  }
  writer.send(res, answer, { corruptSignature: fault === 'bad_signature' });
}

/** A base64 signature with its first byte changed: still well-formed, no longer valid. */
export function corruptBase64Signature(signature: string): string {
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.length === 0) return 'AAAA';
  bytes[0] = (bytes[0] ?? 0) ^ 0xff;
  return bytes.toString('base64');
}

/** Writes exactly the signed text (nothing for an empty one) and logs the call. */
export function sendAnswerText(res: Response, answer: Answer, text: string, log: (line: string) => void, provider: ProviderName): void {
  const code = answer.status >= 400 ? ` ${String(answer.body?.code)}` : '';
  log(`${provider} ${res.req.method} ${res.req.originalUrl} → ${answer.status}${code}`);
  if (text === '') res.end();
  else res.type('application/json').send(Buffer.from(text, 'utf8'));
}
