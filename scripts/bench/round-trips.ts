import type { Stack } from '@pay/harness';

/** Commands each service has sent to its database so far: service → "command collection" → count. */
export type CommandCounts = Map<string, Map<string, number>>;

const SAMPLE = /^db_commands_total\{([^}]*)\} (\S+)$/;
const label = (labels: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1] ?? '';

/** Reads `db_commands_total` from every replica's /metrics (added up per service). */
export async function countCommands(stack: Stack): Promise<CommandCounts> {
  const counts: CommandCounts = new Map();
  for (const replicas of Object.values(stack.replicas)) {
    for (const replica of replicas) {
      const text = await (await fetch(`${replica.metricsUrl}/metrics`)).text();
      for (const line of text.split('\n')) {
        const sample = SAMPLE.exec(line);
        if (!sample) continue;
        const service = counts.get(replica.name) ?? new Map<string, number>();
        const key = `${label(sample[1]!, 'command')} ${label(sample[1]!, 'collection')}`.trim();
        service.set(key, (service.get(key) ?? 0) + Number(sample[2]));
        counts.set(replica.name, service);
      }
    }
  }
  return counts;
}

/**
 * Round trips per flow between two counts: per service, the total and its commands (largest first,
 * those under 0.05 a flow left out), e.g. `payment-service 9.1 (find payments 3.0, update payments 2.0, …)`.
 */
export function roundTripsPerFlow(before: CommandCounts, after: CommandCounts, flows: number): { total: number; perService: string[] } {
  let total = 0;
  const perService: string[] = [];
  for (const [service, commands] of after) {
    const deltas = [...commands].map(([key, count]) => [key, (count - (before.get(service)?.get(key) ?? 0)) / flows] as const).filter(([, perFlow]) => perFlow >= 0.05);
    const sum = deltas.reduce((a, [, perFlow]) => a + perFlow, 0);
    total += sum;
    const parts = deltas.sort((a, b) => b[1] - a[1]).map(([key, perFlow]) => `${key} ${perFlow.toFixed(1)}`);
    perService.push(`${service} ${sum.toFixed(1)} (${parts.join(', ')})`);
  }
  return { total, perService };
}
