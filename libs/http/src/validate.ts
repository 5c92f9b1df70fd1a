import type { z } from 'zod';
import { BadInput } from '@pay/errors';

/** Parses input at the edge; a failure is a 400 listing each problem with its path. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what = 'request'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new BadInput(`invalid ${what}`, {
    issues: result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message, code: issue.code })),
  });
}
