/**
 * The test command's last line: `N passed, N failed, N skipped`, from jest's --json results.
 *
 * Why: CI reads a run's closing lines to tell a run that tested nothing from one that did, and jest's own
 * summary ("Tests: 1508 passed, 1508 total") is not among the forms it reads; this plain form is. It
 * counts jest's tests only: the bench, fuzz and chaos steps before it are checks that fail the command
 * by their exit code. The line is bare, with no label: a leading "tests" can be read as another runner's
 * "tests N" count line, and a run of 1,518 tests was judged to have run none while it carried one.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const JestResults = z.object({
  numPassedTests: z.number().int(),
  numFailedTests: z.number().int(),
  numPendingTests: z.number().int(),
  numTodoTests: z.number().int().default(0),
});

const file = process.argv[2];
if (!file) {
  console.error('usage: tsx scripts/test-summary.ts <jest --json output file>');
  process.exit(2);
}
let results: z.infer<typeof JestResults>;
try {
  results = JestResults.parse(JSON.parse(readFileSync(file, 'utf8')));
} catch (error) {
  // No results (jest crashed before writing them): say so, and fail whatever jest's exit code was.
  console.error(`no jest results in ${file}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
console.log(`${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`);
