import type { Logger } from '@pay/logger';

/** Runs `pass` every `intervalMs`, never two at once; stop() waits for the pass in progress. */
export function startSweeper(name: string, pass: () => Promise<unknown>, intervalMs: number, logger: Logger) {
  let running: Promise<unknown> | null = null;
  let stopped = false;
  const tick = () => {
    if (stopped || running) return;
    running = pass()
      .catch((error: Error) => logger.warn(`${name} pass failed; will retry`, { error: error.message }))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalMs);
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
