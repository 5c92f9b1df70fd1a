/** Both providers read order deadlines as China Standard Time (UTC+8, no daylight saving). */

const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

function chinaParts(at: Date): { date: string; time: string } {
  if (Number.isNaN(at.getTime())) throw new RangeError('not a valid date');
  const iso = new Date(at.getTime() + CHINA_OFFSET_MS).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 19) };
}

/** WeChat Pay `time_expire`: "2025-01-15T16:00:00+08:00". */
export function formatChinaRfc3339(at: Date): string {
  const { date, time } = chinaParts(at);
  return `${date}T${time}+08:00`;
}

/** Alipay `time_expire`: "2025-01-15 16:00:00". */
export function formatChinaDateTime(at: Date): string {
  const { date, time } = chinaParts(at);
  return `${date} ${time}`;
}
