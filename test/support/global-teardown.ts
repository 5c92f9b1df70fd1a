import type { Infrastructure } from '@pay/harness';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __infrastructure?: Infrastructure }).__infrastructure?.stop();
}
