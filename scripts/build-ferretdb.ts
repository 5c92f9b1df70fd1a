/**
 * `npm run build:ferretdb`: builds the embedded FerretDB (libs/harness/ferretdb) into .cache/ferretdb
 * ahead of time, e.g. on a CI image. The test harness and `npm start` build it on first use anyway.
 */
import { ensureFerretDbBinary } from '@pay/harness';

ensureFerretDbBinary((line) => console.log(line))
  .then((binary) => console.log(`FerretDB ready: ${binary}`))
  .catch((error: unknown) => {
    console.error(`[build:ferretdb] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
