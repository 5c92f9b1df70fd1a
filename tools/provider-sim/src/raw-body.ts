import express, { type Request } from 'express';
import type { z } from 'zod';

/**
 * Provider endpoints read the exact bytes: the signature covers them, so they are verified before any
 * parsing (a parser would normalise what was signed).
 */
export const readRawBody = express.raw({ type: () => true, limit: '64kb' });

export function rawBodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** Fatal on invalid UTF-8: a lenient decoder would change what was signed. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as UTF-8 JSON checked by `schema`, or what is wrong with it. */
export function parseBodyWith<T>(raw: Buffer, schema: z.ZodType<T>): { ok: true; data: T } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(strictUtf8.decode(raw));
  } catch {
    return { ok: false, problem: 'the body is not UTF-8 JSON' };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { ok: true, data: parsed.data } : { ok: false, problem: describeIssues(parsed.error) };
}

/** "field: problem; field: problem" for an error message (never echoes the input). */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');
}
