import { AsyncLocalStorage } from 'node:async_hooks';
import winston from 'winston';

export type Logger = winston.Logger;

/** Ids that tie a log line to a request and to the chain of events it caused. */
export interface LogContext {
  request_id?: string;
  correlation_id?: string;
  causation_id?: string;
}

const context = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with ids that every log line written inside it (even across awaits) carries. */
export function withLogContext<T>(ids: LogContext, fn: () => T): T {
  return context.run({ ...context.getStore(), ...ids }, fn);
}


/** Keys whose values never reach a log: secrets, credentials, signatures, card data. */
const SECRET_KEY = /(secret|password|passwd|token|authorization|signature|api[_-]?key|private[_-]?key|apiv3|cookie|card|cvv|sign$)/i;
const MAX_DEPTH = 6;

export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[depth]';
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(inner, depth + 1);
  }
  return out;
}

/** Also scrubs credentials embedded in URLs (amqp://user:pass@host). */
function redactUrls(text: string): string {
  return text.replace(/([a-z+]+:\/\/)([^:@/\s]+):([^@/\s]+)@/gi, '$1$2:[redacted]@');
}

const redactFormat = winston.format((info) => {
  const ids = context.getStore();
  if (ids) for (const [key, value] of Object.entries(ids)) if (value && info[key] === undefined) info[key] = value;
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(info[key]);
  }
  if (typeof info.message === 'string') info.message = redactUrls(info.message);
  return info;
});

export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), redactFormat(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
  });
}
