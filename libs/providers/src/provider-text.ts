import { randomInt } from 'node:crypto';

/**
 * Text in the providers' own formats, shared by the callback verifiers, the outbound clients and the
 * simulator: both providers write times in China Standard Time (UTC+8, no daylight saving).
 */
const CHINA_OFFSET_MS = 8 * 3600 * 1000;

/** "2025-01-15 16:00:00": Alipay's times (notify_time, time_expire, timestamp). */
export function chinaDateTime(at: Date): string {
  return new Date(Math.floor(at.getTime() / 1000) * 1000 + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** "2025-01-15T16:00:00+08:00": WeChat Pay's RFC 3339 times (time_expire, create_time, success_time). */
export function chinaRfc3339(at: Date): string {
  return `${chinaDateTime(at).replace(' ', 'T')}+08:00`;
}

/** Alipay "yyyy-MM-dd HH:mm[:ss]" in China time → Date; null when malformed or out of range. */
export function parseChinaDateTime(text: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const at = new Date(Date.UTC(year, month - 1, day, hour, minute, second) - CHINA_OFFSET_MS);
  // Date.UTC rolls 13th months and 25 o'clocks over: a round trip catches them.
  return chinaDateTime(at).slice(0, text.length) === text ? at : null;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random letters and digits (nonces, keys, ids) from the crypto generator. */
export function randomText(length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) text += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return text;
}
