import { z } from 'zod';
import { ConfigError, loadConfig, optionalVariable } from './index';

/**
 * Test-only crash points at the moments where a crash is most dangerous: between two durable steps, so
 * that a reliability test can prove each moment's recovery leaves exactly one effect. A process started
 * with `FAULT_POINT=<name>` exits with FAULT_EXIT_CODE the moment it reaches that point (the n-th time
 * with `FAULT_POINT_AFTER=n`), like a crash: no shutdown, no flush, in-flight work lost. Unset, every
 * `faultPoint()` call is one comparison against null.
 *
 * Names are `<scope>.<moment>`; the scope is the shared code that has the point (every service using it
 * has it), the service itself is known from the process.
 */
export const FAULT_POINTS = [
  /** libs/outbox: the aggregate's write (state + outbox) is stored; the relay has not published. */
  'outbox.after-commit-before-publish',
  /** libs/outbox: the broker confirmed the events; they are still in the document's outbox. */
  'outbox.after-publish-before-clear',
  /** libs/messaging: the handler's effect is stored; the inbox claim is not completed, the message not acked. */
  'consumer.after-effect-before-ack',
  /** callback-gateway: `callback.verified` is confirmed by the broker; the provider has no answer yet. */
  'callback.after-confirm-before-answer',
] as const;

export type FaultPointName = (typeof FAULT_POINTS)[number];

/** How a process stopped at a fault point exits: apart from a crash (1), bad config (78) and signals. */
export const FAULT_EXIT_CODE = 86;

let armed: { point: FaultPointName; passesLeft: number; service: string } | null = null;

/**
 * Reads FAULT_POINT and FAULT_POINT_AFTER once, at start-up (runService). An unknown point name, a bad
 * count, a count without a point, or a point in a production image (NODE_ENV=production: a crash loop
 * there is an outage) throws a ConfigError naming the variable.
 */
export function armFaultPoint(service: string, env: NodeJS.ProcessEnv = process.env): void {
  // Built here, not at module load: this file and index.ts import each other.
  const schema = z.object({
    FAULT_POINT: optionalVariable(z.enum(FAULT_POINTS)),
    FAULT_POINT_AFTER: optionalVariable(z.coerce.number().int().min(1).max(1_000_000)),
  });
  const { FAULT_POINT, FAULT_POINT_AFTER } = loadConfig(schema, env);
  if (FAULT_POINT_AFTER !== undefined && FAULT_POINT === undefined) {
    throw new ConfigError([{ variable: 'FAULT_POINT_AFTER', problem: 'only means something with FAULT_POINT set' }]);
  }
  if (FAULT_POINT !== undefined && env.NODE_ENV === 'production') {
    throw new ConfigError([{ variable: 'FAULT_POINT', problem: 'a test-only crash hook, refused with NODE_ENV=production' }]);
  }
  armed = FAULT_POINT === undefined ? null : { point: FAULT_POINT, passesLeft: FAULT_POINT_AFTER ?? 1, service };
}

/** The point this process is armed at, if any (its start-up log says so). */
export function armedFaultPoint(): FaultPointName | null {
  return armed?.point ?? null;
}

/** Marks a dangerous moment; exits the process here when it is the armed point's n-th pass. */
export function faultPoint(name: FaultPointName): void {
  if (armed === null || armed.point !== name) return;
  armed.passesLeft -= 1;
  if (armed.passesLeft > 0) return;
  // Written directly (stderr to a pipe or a file is synchronous), not through the logger, whose
  // buffered lines a crash loses: the test that set the point reads why the process stopped.
  process.stderr.write(
    `${JSON.stringify({ level: 'error', service: armed.service, message: `fault point ${name} reached: exiting with code ${FAULT_EXIT_CODE} (FAULT_POINT is set)`, timestamp: new Date().toISOString() })}\n`,
  );
  process.exit(FAULT_EXIT_CODE);
}
