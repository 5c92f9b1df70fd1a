import type { Page } from '@pay/contracts';

/** Builds `{count, next, previous, results}` with links that keep the other query parameters. */
export function pageOf<T>(results: T[], count: number, page: number, pageSize: number, basePath: string, query: Record<string, unknown>): Page<T> {
  const link = (target: number) => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined && key !== 'page') params.set(key, String(value));
    params.set('page', String(target));
    return `${basePath}?${params.toString()}`;
  };
  return {
    count,
    next: page * pageSize < count ? link(page + 1) : null,
    previous: page > 1 ? link(Math.min(page - 1, Math.max(1, Math.ceil(count / pageSize)))) : null,
    results,
  };
}
