import { BadInput } from '@pay/errors';

/**
 * PostgreSQL, under FerretDB, cannot store U+0000 in a document: a NUL inside any text the client sends
 * would fail the write and come back as a 500. Refused at the edge as bad input instead, on an already
 * validated (so bounded) body. It belongs with the text fields in @pay/contracts; remove this once there.
 */
export function assertStorableText<T>(value: T, what = 'body'): T {
  const path = nulAt(value, []);
  if (path !== null) throw new BadInput(`invalid ${what}`, { issues: [{ path, message: 'must not contain NUL (U+0000) characters', code: 'invalid_string' }] });
  return value;
}

function nulAt(value: unknown, path: (string | number)[]): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path.join('.') : null;
  if (Array.isArray(value)) return firstOf(value.map((entry, index) => [index, entry] as const), path);
  if (value && typeof value === 'object') return firstOf(Object.entries(value), path);
  return null;
}

function firstOf(entries: readonly (readonly [string | number, unknown])[], path: (string | number)[]): string | null {
  for (const [key, entry] of entries) {
    const found = nulAt(entry, [...path, key]);
    if (found !== null) return found;
  }
  return null;
}
