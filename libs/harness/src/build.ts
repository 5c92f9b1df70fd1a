/**
 * The services' compiled form: each service's entry bundled by esbuild into dist/services/<name>/main.js
 * (CommonJS for Node 20, with a source map), our own @pay/* workspaces bundled in, every other package
 * left external and loaded from node_modules at run time. `npm run build` (scripts/build.ts), the
 * Dockerfile, `npm start` and the tests all build through here; startService runs the output.
 *
 * Why esbuild and not `tsc`: the workspaces' package.json `main` points at their .ts sources, so a tsc
 * emit of a service would still `require('@pay/http')` -> libs/http/src/index.ts, which plain Node cannot
 * load. Bundling resolves the workspaces at build time instead, and leaves type checking to
 * `tsc --noEmit` as before (esbuild only strips types, as tsx does).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { REPO_ROOT } from './ferretdb';

export const DIST_SERVICES_DIR = path.join(REPO_ROOT, 'dist', 'services');

/** The bundle a service runs from: dist/services/<name>/main.js. */
export function builtServiceEntry(name: string): string {
  return path.join(DIST_SERVICES_DIR, name, 'main.js');
}

/** Next to the bundle: the source files it was built from (repository-relative), for the freshness check. */
function inputsFile(name: string): string {
  return path.join(DIST_SERVICES_DIR, name, 'inputs.json');
}

/** Besides its own inputs, a bundle is stale when the build settings change: this file and tsconfig.json. */
const BUILD_SETTINGS = [__filename, path.join(REPO_ROOT, 'tsconfig.json')];

/**
 * `packages: 'external'` keeps every bare import out of the bundle; this plugin runs first and takes our
 * own workspaces (@pay/*, node_modules symlinks to libs/*) back in, resolved to their real .ts sources.
 */
const bundleWorkspaces: Plugin = {
  name: 'bundle-pay-workspaces',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^@pay\// }, (args) => {
      const match = /^@pay\/([^/]+)(\/.*)?$/.exec(args.path);
      const root = path.join(REPO_ROOT, 'libs', match?.[1] ?? '');
      const subpath = match?.[2];
      if (subpath) return { path: path.join(root, subpath) };
      const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { main?: string };
      return { path: path.join(root, manifest.main ?? 'src/index.ts') };
    });
  },
};

export interface BuiltService {
  name: string;
  entry: string;
  /** Repository-relative source files bundled in. */
  inputs: string[];
  bytes: number;
}

/** Writes next to the target, then renames: a process starting the service never sees half a file. */
function writeAtomically(file: string, contents: Uint8Array | string): void {
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, file);
}

/**
 * Bundles the named services (one esbuild run for all). Throws with esbuild's messages on any error;
 * nothing is written unless every service built.
 */
export async function buildServices(names: readonly string[]): Promise<BuiltService[]> {
  if (names.length === 0) return [];
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: Object.fromEntries(names.map((name) => [`${name}/main`, path.join(REPO_ROOT, 'services', name, 'src', 'main.ts')])),
    outdir: DIST_SERVICES_DIR,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    plugins: [bundleWorkspaces],
    tsconfig: path.join(REPO_ROOT, 'tsconfig.json'),
    sourcemap: true,
    // Stack traces only need the mappings (the .ts files are named by path); smaller maps load faster.
    sourcesContent: false,
    // Bundling renames clashing top-level names (Foo -> Foo2); errors use new.target.name, logs class names.
    keepNames: true,
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const byName = new Map(names.map((name) => [path.join(DIST_SERVICES_DIR, name, 'main.js'), name]));
  const built: BuiltService[] = [];
  for (const name of names) mkdirSync(path.join(DIST_SERVICES_DIR, name), { recursive: true });
  // Source maps and input lists first, each bundle last: a bundle never appears before its map.
  for (const file of result.outputFiles.filter((f) => f.path.endsWith('.map'))) writeAtomically(file.path, file.contents);
  for (const file of result.outputFiles.filter((f) => !f.path.endsWith('.map'))) {
    const name = byName.get(file.path);
    if (!name) throw new Error(`esbuild wrote an unexpected file: ${file.path}`);
    const output = result.metafile.outputs[path.relative(REPO_ROOT, file.path).split(path.sep).join('/')];
    if (!output) throw new Error(`esbuild metafile has no entry for ${file.path}`);
    const inputs = Object.keys(output.inputs).sort();
    writeAtomically(inputsFile(name), `${JSON.stringify({ inputs }, null, 2)}\n`);
    writeAtomically(file.path, file.contents);
    built.push({ name, entry: file.path, inputs, bytes: file.contents.byteLength });
  }
  return built;
}

const mtimeOf = (file: string): number | null => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
};

/**
 * Why the service's bundle cannot be run as it is (missing, or older than a source it was built from or
 * than the build settings), or null when it is up to date.
 */
export function staleReason(name: string): string | null {
  const built = mtimeOf(builtServiceEntry(name));
  if (built === null) return `${path.relative(REPO_ROOT, builtServiceEntry(name))} does not exist`;
  let inputs: string[];
  try {
    inputs = (JSON.parse(readFileSync(inputsFile(name), 'utf8')) as { inputs: string[] }).inputs.map((input) => path.join(REPO_ROOT, input));
  } catch {
    return `${path.relative(REPO_ROOT, inputsFile(name))} is missing or unreadable`;
  }
  for (const file of [...BUILD_SETTINGS, ...inputs]) {
    const changed = mtimeOf(file);
    if (changed === null) return `${path.relative(REPO_ROOT, file)} is gone`;
    if (changed > built) return `${path.relative(REPO_ROOT, file)} changed after the build`;
  }
  return null;
}

/** One build at a time per service in this process (its replicas start at once). */
const inFlight = new Map<string, Promise<unknown>>();

/** Builds the service first unless its bundle is up to date; resolves to the bundle's path. */
export async function ensureServiceBuilt(name: string): Promise<string> {
  if (staleReason(name) === null) return builtServiceEntry(name);
  let pending = inFlight.get(name);
  if (!pending) {
    pending = buildServices([name]).finally(() => inFlight.delete(name));
    inFlight.set(name, pending);
  }
  try {
    await pending;
  } catch (error) {
    throw new Error(`building ${name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return builtServiceEntry(name);
}
