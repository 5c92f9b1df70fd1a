import { z } from 'zod';

/** Thrown at start-up when the environment is wrong; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; problem: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.problem}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses `env` with a zod object whose keys are the environment variable names.
 * Unknown variables are ignored (the process environment has many); every known one is validated.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    variable: String(issue.path[0] ?? '(environment)'),
    problem: issue.message,
  }));
  throw new ConfigError(issues);
}

/** Reusable variable shapes, so every service parses ports, URLs and flags the same way. */
export const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

/**
 * The internal listener of `/metrics` and the detailed `/readyz` (METRICS_PORT). `0` lets the OS pick a
 * free port: the test harness starts every process so and learns the bound port from the process itself.
 */
export const metricsPort = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

export const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol.replace(/:$/, ''));
    } catch {
      return false;
    }
  }, `must be a URL with protocol ${protocols.join(' or ')}`);

export const secret = (minLength = 16) => z.string().min(minLength, `must be at least ${minLength} characters`);

/** Variables every service shares: where the broker and the database are, and how events are named. */
export const commonEnv = {
  AMQP_URL: url(['amqp', 'amqps']).default('amqp://guest:guest@127.0.0.1:5672'),
  MONGO_URL: url(['mongodb', 'mongodb+srv']).default('mongodb://127.0.0.1:27017'),
  /** Prefix for exchange and queue names: isolates parallel runs and environments on one broker. */
  BROKER_PREFIX: z.string().regex(/^[a-z0-9_.-]{1,40}$/i, 'letters, digits, . _ - (max 40)').default('payments'),
  /**
   * Declare the broker topology at start (development, tests). Deployments set "false": their broker
   * definitions declare everything and each service's own user has no right to configure it.
   */
  BROKER_DECLARE_TOPOLOGY: booleanFlag(true),
  /** Prefix for database names (e.g. a test run's id). */
  DB_PREFIX: z.string().regex(/^[a-z0-9_]{0,30}$/i, 'letters, digits, _ (max 30)').default(''),
  /** Cap on the mongoose pool: FerretDB/PostgreSQL wedges when writers exceed its own pool. */
  MONGO_MAX_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(5),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug']).default('info'),
};

/**
 * The key of the gateway's internal identity tokens: read only by the API gateway (signs) and the services
 * behind it (verify; runService adds it for a spec with `acceptsGatewayIdentity`). The callback gateway
 * and anything else do not read it, so their deployments do not hold it.
 */
export const internalTokenEnv = {
  INTERNAL_TOKEN_SECRET: secret(32),
};

/**
 * A variable that may be left out. An empty value counts as unset: compose passes a variable exported
 * empty in the shell through as '', and so does Kubernetes for an empty key of a Secret.
 */
export const optionalVariable = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

/** A PEM key; one-line env files may carry it with literal "\n", which is normalised. */
export const pemKey = (kind: 'public' | 'private') =>
  z
    .string()
    .transform((value) => value.replace(/\\n/g, '\n'))
    .refine((value) => new RegExp(`-----BEGIN [A-Z ]*${kind === 'public' ? '(PUBLIC KEY|CERTIFICATE)' : 'PRIVATE KEY'}-----`).test(value), `must be a PEM ${kind} key`);

/**
 * Variables that only make sense together (a provider's credentials): all set or none. Use in a
 * schema's superRefine; every missing one of a half-set group is named.
 */
export function requireWholeGroups<T extends Record<string, unknown>>(config: T, ctx: z.RefinementCtx, groups: Record<string, readonly (keyof T & string)[]>): void {
  for (const [group, names] of Object.entries(groups)) {
    const present = names.filter((name) => config[name] !== undefined && config[name] !== '');
    if (present.length === 0 || present.length === names.length) continue;
    for (const name of names.filter((n) => !present.includes(n))) {
      ctx.addIssue({ code: 'custom', path: [name], message: `required when ${present.join(', ')} is set (${group} is all or nothing)` });
    }
  }
}

// Last: fault-points.ts uses this file's exports (it imports them back, at call time only).
export * from './fault-points';
