/**
 * `npm run build`: bundles the five services into dist/services/<name>/main.js (esbuild; see
 * libs/harness/src/build.ts), which production (the Dockerfile), compose, Kubernetes, `npm start` and the
 * end-to-end tests run with `node --enable-source-maps`. Exits non-zero, printing esbuild's errors, if
 * any service fails to build.
 */
import path from 'node:path';
import { buildServices, REPO_ROOT, SERVICE_NAMES } from '@pay/harness';

async function main(): Promise<void> {
  const started = Date.now();
  const built = await buildServices(SERVICE_NAMES);
  for (const service of built) {
    console.log(`[build] ${path.relative(REPO_ROOT, service.entry)}  ${(service.bytes / 1024).toFixed(0)} kB from ${service.inputs.length} sources`);
  }
  console.log(`[build] ${built.length} services in ${Date.now() - started} ms`);
}

main().catch((error: unknown) => {
  console.error(`[build] FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
