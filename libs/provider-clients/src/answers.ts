import { parseDecimalAmount } from '@pay/money';
import { malformedAnswerError } from './errors';
import type { ProviderName } from './types';

/** Reading provider answers: anything not as documented becomes `unknown` (malformed_answer), never a guess. */

/** A JSON object, null for an empty body, undefined for anything else. */
export function parseJsonObject(text: unknown): Record<string, unknown> | null | undefined {
  if (typeof text !== 'string') return undefined;
  if (text.trim() === '') return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The provider's status word mapped by its table; an unlisted word (or "constructor"...) is refused. */
export function mapStatusWord<S>(provider: ProviderName, operation: string, table: Record<string, S>, word: unknown, field: string): { state: S; word: string } {
  if (typeof word !== 'string' || !Object.hasOwn(table, word)) throw malformedAnswerError(provider, operation, field);
  return { state: table[word] as S, word };
}

/** A yuan string ("12.34") as exact fen; absent → null. */
export function readDecimalAmount(provider: ProviderName, operation: string, value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  const minor = typeof value === 'string' ? parseDecimalAmount(value) : null;
  if (minor === null) throw malformedAnswerError(provider, operation, 'amount');
  return minor;
}

/** A non-empty string, else null. */
export function optionalText(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** A non-empty string the answer must carry. */
export function requiredText(provider: ProviderName, operation: string, value: unknown, field: string): string {
  const text = optionalText(value);
  if (text === null) throw malformedAnswerError(provider, operation, field);
  return text;
}

/** The answer's body, which this operation needs. */
export function requiredBody(provider: ProviderName, operation: string, body: Record<string, unknown> | null): Record<string, unknown> {
  if (body === null) throw malformedAnswerError(provider, operation, 'empty body');
  return body;
}
