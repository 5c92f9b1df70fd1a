/**
 * Summarises V8 CPU profiles (`node --cpu-prof`) into where the time went: self time by package
 * (node_modules/<pkg>, our libs/services, node internals, GC/idle) and the top functions.
 *   npx tsx scripts/bench/profile-summary.ts <dir with .cpuprofile files>
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function bucketOf(url: string, functionName: string): string {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(gc)';
  if (functionName === '(program)') return '(program)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const ours = /\/(libs|services)\/([^/]+)\//.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  if (url.startsWith('node:') || url === '') return 'node internals';
  return path.basename(url);
}

export function summarise(file: string, top = 12): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const buckets = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    const bucket = bucketOf(frame.url, frame.functionName);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + us);
    if (!frame.functionName.startsWith('(')) {
      const key = `${frame.functionName || '(anonymous)'} ${bucket}:${frame.lineNumber + 1}`;
      functions.set(key, (functions.get(key) ?? 0) + us);
    }
  }
  const busy = total - (buckets.get('(idle)') ?? 0);
  const pct = (us: number) => `${((us / Math.max(busy, 1)) * 100).toFixed(1)}%`;
  const lines = [`${path.basename(file)}: ${(busy / 1e6).toFixed(1)} s busy of ${(total / 1e6).toFixed(1)} s`];
  lines.push(
    '  by package: ' +
      [...buckets]
        .filter(([name]) => name !== '(idle)')
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([name, us]) => `${name} ${pct(us)}`)
        .join(', '),
  );
  lines.push(
    '  top functions: ' +
      [...functions]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([name, us]) => `${name} ${pct(us)}`)
        .join('; '),
  );
  return lines.join('\n');
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: profile-summary <dir>');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) console.log(summarise(path.join(dir, file)));
}
