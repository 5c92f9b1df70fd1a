/**
 * Keeps the deployment files honest without a Docker engine or a cluster: docker-compose.yml, the
 * Dockerfile and the Kubernetes manifests in deploy/k8s are parsed and checked against the services'
 * own zod config schemas (services/<name>/src/config.ts, the source of truth for variables). A renamed,
 * missing or unknown variable, a wrong port, a broken start order or a committed secret fails here.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { DEV_JWT_AUDIENCE, DEV_JWT_ISSUER } from '../../libs/auth/src';
import { internalTokenEnv } from '../../libs/config/src';
import { gatewayConfigSchema } from '../../services/api-gateway/src/config';
import * as auditConfigModule from '../../services/audit-service/src/config';
import { callbackConfigSchema, providerSettings } from '../../services/callback-gateway/src/config';
import { orderConfigSchema } from '../../services/order-service/src/config';
import { paymentConfigSchema } from '../../services/payment-service/src/config';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (...parts: string[]) => readFileSync(path.join(ROOT, ...parts), 'utf8');

// ---------------------------------------------------------------------------------------------------
// The services, as the design and their config schemas define them
// ---------------------------------------------------------------------------------------------------

type Shape = Record<string, z.ZodType>;

/** The variables a schema reads. Refinements keep a ZodObject in zod v4; other wrappers are unwrapped. */
function shapeOf(schema: unknown): Shape {
  let current = schema;
  for (let depth = 0; depth < 5; depth++) {
    if (current instanceof z.ZodObject) return current.shape as Shape;
    const def = (current as { def?: { in?: unknown; schema?: unknown; innerType?: unknown } } | undefined)?.def;
    current = def?.in ?? def?.schema ?? def?.innerType;
  }
  throw new Error('not a zod object schema');
}

/** The exported zod object schema that reads `portVariable` (audit-service: whatever its name is). */
function configSchemaIn(module: Record<string, unknown>, portVariable: string): z.ZodType {
  const found = Object.values(module).find((value) => value instanceof z.ZodType && (() => {
    try {
      return portVariable in shapeOf(value);
    } catch {
      return false;
    }
  })());
  if (!found) throw new Error(`no exported config schema reads ${portVariable}`);
  return found as z.ZodType;
}

interface ServiceSpec {
  name: string;
  portVariable: string;
  /** The design's port (also the schema's default). */
  port: number;
  /** Host port it publishes in compose (the two public gateways only). */
  published?: number;
  schema: z.ZodType;
}

const SERVICES: ServiceSpec[] = [
  { name: 'api-gateway', portVariable: 'GATEWAY_PORT', port: 8080, published: 8080, schema: gatewayConfigSchema },
  { name: 'callback-gateway', portVariable: 'CALLBACK_PORT', port: 8081, published: 8081, schema: callbackConfigSchema },
  { name: 'order-service', portVariable: 'ORDER_PORT', port: 8082, schema: orderConfigSchema },
  { name: 'payment-service', portVariable: 'PAYMENT_PORT', port: 8083, schema: paymentConfigSchema },
  { name: 'audit-service', portVariable: 'AUDIT_PORT', port: 8084, schema: configSchemaIn(auditConfigModule, 'AUDIT_PORT') },
];
const SERVICE_NAMES = SERVICES.map((s) => s.name);

/** The gateway variable naming each upstream service. */
const GATEWAY_UPSTREAMS: Record<string, string> = {
  ORDER_SERVICE_URL: 'order-service',
  PAYMENT_SERVICE_URL: 'payment-service',
  AUDIT_SERVICE_URL: 'audit-service',
};

/** Start order, each level waiting for the previous one to be healthy. */
const START_ORDER = [['mongo', 'rabbitmq'], ['audit-service', 'order-service', 'payment-service'], ['callback-gateway'], ['api-gateway']];

/** Variables whose values are secrets (keys, passwords, tokens): never written as literals. */
const SECRET_NAME = /SECRET|PASSWORD|_PASS$|_KEY$|TOKEN/;

/** Not application configuration: selects the service the one image runs (see the Dockerfile). */
const IMAGE_VARIABLES = new Set(['SERVICE']);

const isRequired = (schema: z.ZodType, key: string) => shapeOf(schema)[key]?.safeParse(undefined).success === false;
const requiredKeys = (schema: z.ZodType) => Object.keys(shapeOf(schema)).filter((key) => isRequired(schema, key));

/**
 * What main.ts tells runService: its own database name (or null), whether it uses the broker, and
 * whether it accepts the API gateway's identity tokens (runService then reads INTERNAL_TOKEN_SECRET too).
 */
function runtimeFacts(name: string): { database: string | null; messaging: boolean; gatewayIdentity: boolean } {
  const text = read('services', name, 'src', 'main.ts');
  const database = /\bdatabase:\s*(?:null|'([^']+)'|"([^"]+)")/.exec(text);
  if (!database) throw new Error(`services/${name}/src/main.ts: no "database:" in its runService spec`);
  return { database: database[1] ?? database[2] ?? null, messaging: !/\bevents:\s*null\b/.test(text), gatewayIdentity: /\bacceptsGatewayIdentity:\s*true\b/.test(text) };
}

/** Variables runService reads for a service besides its config schema's. */
const runtimeShape = (name: string): Shape => (runtimeFacts(name).gatewayIdentity ? internalTokenEnv : {});

/** Every variable a service reads: its config schema's and those runService reads for it. */
const variablesOf = (name: string, schema: z.ZodType): Shape => ({ ...shapeOf(schema), ...runtimeShape(name) });
const requiredOf = (name: string, schema: z.ZodType) => [...requiredKeys(schema), ...requiredKeys(z.object(runtimeShape(name)))];

/** What the service would refuse at start in this environment (its schema, then runService's variables). */
function startIssues(name: string, schema: z.ZodType, env: Record<string, string | undefined>): string[] {
  return [schema.safeParse(env), z.object(runtimeShape(name)).safeParse(env)].flatMap((result) =>
    result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
  );
}

// ---------------------------------------------------------------------------------------------------
// Small parsing helpers
// ---------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function asObj(value: unknown, what: string): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what}: expected a mapping`);
  return value as Obj;
}
function asList(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list`);
  return value;
}
const dummySecret = (name: string) => `dummy-${name.toLowerCase()}-`.padEnd(48, 'x');

/** Compose variable substitution: `${VAR:?msg}` (required), `${VAR:-default}`, `${VAR}`. */
const SUBSTITUTION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

/** The value compose would pass when every required (`:?`) variable is set, here to a dummy value. */
function interpolate(value: string): string {
  return value.replace(SUBSTITUTION, (_match, name: string, operator: string | undefined, argument: string | undefined) => {
    if (operator === ':-' || operator === '-') return argument ?? '';
    if (operator === ':?' || operator === '?') return dummySecret(name);
    return ''; // bare ${VAR}: empty string when unset
  });
}

// ---------------------------------------------------------------------------------------------------
// docker-compose.yml
// ---------------------------------------------------------------------------------------------------

const compose = asObj(YAML.parse(read('docker-compose.yml')), 'docker-compose.yml');
const composeServices = asObj(compose.services, 'services');
const composeService = (name: string) => asObj(composeServices[name], `services.${name}`);

/**
 * A service's compose environment. `null`: a variable named without a value (`KEY:` or `- KEY`), which
 * compose passes through from the shell or .env, and leaves out of the container when it is unset there.
 */
function composeEnv(name: string): Record<string, string | null> {
  const environment = composeService(name).environment;
  if (environment === undefined) return {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const text = String(entry);
        const at = text.indexOf('=');
        return at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(asObj(environment, `${name}.environment`)).map(([key, value]) => [key, value === null ? null : String(value)]));
}

/** The environment a container gets with the required secrets set and `shell` exported (nothing else). */
function composeContainerEnv(name: string, shell: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(composeEnv(name))) {
    if (value !== null) env[key] = interpolate(value);
    else if (key in shell) env[key] = shell[key] ?? '';
  }
  return env;
}

function composePorts(name: string): { host: number; container: number }[] {
  const ports = composeService(name).ports;
  if (ports === undefined) return [];
  return asList(ports, `${name}.ports`).map((entry) => {
    if (typeof entry === 'string' || typeof entry === 'number') {
      const parts = (String(entry).split('/')[0] ?? '').split(':');
      return { host: Number(parts.length >= 2 ? parts[parts.length - 2] : NaN), container: Number(parts[parts.length - 1]) };
    }
    const long = asObj(entry, `${name}.ports[]`);
    return { host: Number(long.published), container: Number(long.target) };
  });
}

function composeDependsOn(name: string): Record<string, string> {
  const dependsOn = composeService(name).depends_on;
  if (dependsOn === undefined) return {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((dep) => [String(dep), 'service_started']));
  return Object.fromEntries(
    Object.entries(asObj(dependsOn, `${name}.depends_on`)).map(([dep, spec]) => [dep, String(asObj(spec ?? {}, `${name}.depends_on.${dep}`).condition ?? 'service_started')]),
  );
}

function healthcheckCommand(name: string): string[] {
  const healthcheck = composeService(name).healthcheck;
  if (healthcheck === undefined) return [];
  const test = asObj(healthcheck, `${name}.healthcheck`).test;
  return Array.isArray(test) ? test.map(String) : ['CMD-SHELL', String(test)];
}

describe('docker-compose.yml', () => {
  it('runs mongo, rabbitmq and the five services, each built from the one Dockerfile for its own entry point', () => {
    expect(Object.keys(composeServices).sort()).toEqual(['mongo', 'rabbitmq', ...SERVICE_NAMES].sort());
    expect(composeService('mongo').image).toMatch(/^mongo:7\b/);
    expect(composeService('rabbitmq').image).toMatch(/^rabbitmq:3\.13-management\b/);
    for (const { name } of SERVICES) {
      const build = asObj(composeService(name).build, `${name}.build`);
      expect({ service: name, context: build.context, dockerfile: build.dockerfile ?? 'Dockerfile' }).toEqual({ service: name, context: '.', dockerfile: 'Dockerfile' });
      expect({ service: name, SERVICE: asObj(build.args, `${name}.build.args`).SERVICE }).toEqual({ service: name, SERVICE: name });
      expect(existsSync(path.join(ROOT, 'services', name, 'src', 'main.ts'))).toBe(true);
      // The image's CMD (compiled JavaScript, see the Dockerfile) runs the service: no override here.
      expect({ service: name, command: composeService(name).command, entrypoint: composeService(name).entrypoint }).toEqual({
        service: name,
        command: undefined,
        entrypoint: undefined,
      });
    }
  });

  it("every compose variable is one the service's config schema knows", () => {
    for (const { name, schema } of SERVICES) {
      const known = new Set(Object.keys(variablesOf(name, schema)));
      const unknown = Object.keys(composeEnv(name)).filter((key) => !known.has(key));
      expect({ service: name, unknown }).toEqual({ service: name, unknown: [] });
    }
  });

  it('every variable a service requires (no default, not optional) is set in its compose environment', () => {
    for (const { name, schema } of SERVICES) {
      const env = composeEnv(name);
      const missing = requiredOf(name, schema).filter((key) => typeof env[key] !== 'string');
      expect({ service: name, missing }).toEqual({ service: name, missing: [] });
    }
    // Sanity: the check sees the variables the design makes mandatory.
    expect(requiredKeys(gatewayConfigSchema)).toContain('INTERNAL_TOKEN_SECRET');
    for (const { name, schema } of SERVICES.filter((service) => service.name.endsWith('-service'))) expect(requiredOf(name, schema)).toContain('INTERNAL_TOKEN_SECRET');
  });

  it("each service's compose environment passes its whole config schema once the secrets are set", () => {
    for (const { name, schema } of SERVICES) {
      const issues = startIssues(name, schema, composeContainerEnv(name));
      expect({ service: name, issues }).toEqual({ service: name, issues: [] });
    }
  });

  it('each service listens on its design port and only the two gateways publish theirs (8080, 8081)', () => {
    for (const { name, schema, portVariable, port, published } of SERVICES) {
      expect({ service: name, schemaDefault: shapeOf(schema)[portVariable]?.parse(undefined) }).toEqual({ service: name, schemaDefault: port });
      expect({ service: name, [portVariable]: composeEnv(name)[portVariable] }).toEqual({ service: name, [portVariable]: String(port) });
      const expected = published === undefined ? [] : [{ host: published, container: port }];
      expect({ service: name, ports: composePorts(name) }).toEqual({ service: name, ports: expected });
    }
    expect(composePorts('api-gateway')).toEqual([{ host: 8080, container: 8080 }]);
    expect(composePorts('callback-gateway')).toEqual([{ host: 8081, container: 8081 }]);
    expect(composePorts('mongo')).toEqual([]);
    expect(composePorts('rabbitmq').map((p) => p.container).sort()).toEqual([15672, 5672]);
  });

  it("the api-gateway's service URLs point at compose services on their ports", () => {
    const env = composeEnv('api-gateway');
    // Every upstream URL the gateway reads must be set: the schema defaults point at 127.0.0.1.
    const upstreamKeys = Object.keys(shapeOf(gatewayConfigSchema)).filter((key) => key.endsWith('_SERVICE_URL'));
    expect(upstreamKeys.sort()).toEqual(Object.keys(GATEWAY_UPSTREAMS).sort());
    for (const [variable, target] of Object.entries(GATEWAY_UPSTREAMS)) {
      const url = new URL(env[variable] ?? 'http://unset');
      const spec = SERVICES.find((s) => s.name === target);
      expect({ variable, protocol: url.protocol, host: url.hostname, port: Number(url.port) }).toEqual({ variable, protocol: 'http:', host: target, port: spec?.port });
      expect(Object.keys(composeServices)).toContain(url.hostname);
    }
  });

  it('services with a database or the broker are pointed at the compose mongo and rabbitmq, all on one broker prefix', () => {
    const prefixes = new Set<string>();
    for (const { name } of SERVICES) {
      const env = composeEnv(name);
      const { database, messaging } = runtimeFacts(name);
      if (database) {
        const mongo = new URL(env.MONGO_URL ?? 'mongodb://unset');
        expect({ service: name, host: mongo.hostname, port: mongo.port || '27017' }).toEqual({ service: name, host: 'mongo', port: '27017' });
      }
      if (messaging) {
        const amqp = new URL(env.AMQP_URL ?? 'amqp://unset');
        expect({ service: name, host: amqp.hostname, port: amqp.port || '5672' }).toEqual({ service: name, host: 'rabbitmq', port: '5672' });
        prefixes.add(env.BROKER_PREFIX ?? '(default)');
      }
      expect({ service: name, needsMongo: Boolean(database), dependsOnMongo: 'mongo' in composeDependsOn(name) }).toEqual({
        service: name,
        needsMongo: Boolean(database),
        dependsOnMongo: Boolean(database),
      });
    }
    expect(prefixes.size).toBe(1);
  });

  it('each service with a database gets its own one on the shared server', () => {
    const databases = SERVICES.map(({ name }) => runtimeFacts(name).database).filter((db): db is string => db !== null);
    expect(databases.sort()).toEqual(['audit', 'callbacks', 'orders', 'payments']);
    const urls = new Set<string>();
    const dbPrefixes = new Set<string>();
    for (const { name } of SERVICES.filter((s) => runtimeFacts(s.name).database)) {
      const env = composeEnv(name);
      const url = new URL(env.MONGO_URL ?? 'mongodb://unset');
      // The service picks its database (`orders`, ...); a database in the URL would only confuse.
      expect({ service: name, path: url.pathname.replace(/^\/$/, '') }).toEqual({ service: name, path: '' });
      urls.add(url.host);
      dbPrefixes.add(env.DB_PREFIX ?? '');
    }
    expect(urls.size).toBe(1);
    expect(dbPrefixes.size).toBe(1);
  });

  it("the services' mongo pools together stay under a FerretDB PostgreSQL pool (50), in case MONGO_URL points at one", () => {
    const defaultPool = Number(shapeOf(orderConfigSchema).MONGO_MAX_POOL_SIZE?.parse(undefined));
    const total = SERVICES.filter(({ name }) => runtimeFacts(name).database).reduce((sum, { name }) => sum + Number(composeEnv(name).MONGO_MAX_POOL_SIZE ?? defaultPool), 0);
    expect(total).toBeLessThan(50);
  });

  it('every service has a healthcheck on its own /readyz port, mongo and rabbitmq their own pings', () => {
    for (const { name, port } of SERVICES) {
      const command = healthcheckCommand(name);
      expect({ service: name, runner: command.slice(0, 2) }).toEqual({ service: name, runner: ['CMD', 'node'] });
      expect({ service: name, checks: command.join(' ').includes(`http://127.0.0.1:${port}/readyz`) }).toEqual({ service: name, checks: true });
      expect(command.join(' ')).toMatch(/process\.exit\(r\.ok\?0:1\)/);
    }
    expect(healthcheckCommand('mongo').join(' ')).toContain(`mongosh --quiet --eval db.adminCommand('ping')`);
    expect(healthcheckCommand('rabbitmq').join(' ')).toContain('rabbitmq-diagnostics -q ping');
  });

  it('services start in order mongo+rabbitmq -> audit, order, payment -> callback-gateway -> api-gateway, each waiting for healthy', () => {
    const level = (name: string) => START_ORDER.findIndex((names) => names.includes(name));
    for (const name of Object.keys(composeServices)) {
      const dependsOn = composeDependsOn(name);
      const mine = level(name);
      expect({ service: name, level: mine >= 0 }).toEqual({ service: name, level: true });
      // Waits for everything one level up, and only for earlier levels, always until healthy.
      const previous = START_ORDER[mine - 1] ?? [];
      expect({ service: name, missing: previous.filter((dep) => !(dep in dependsOn)) }).toEqual({ service: name, missing: [] });
      for (const [dep, condition] of Object.entries(dependsOn)) {
        expect({ service: name, dep, earlier: level(dep) >= 0 && level(dep) < mine, condition }).toEqual({ service: name, dep, earlier: true, condition: 'service_healthy' });
        expect({ dep, hasHealthcheck: healthcheckCommand(dep).length > 0 }).toEqual({ dep, hasHealthcheck: true });
      }
    }
  });

  it('no secret value is written in the file: secrets use required ${VAR:?} substitution', () => {
    for (const { name } of SERVICES) {
      for (const [key, value] of Object.entries(composeEnv(name))) {
        // A passed-through variable (no value) writes nothing here: it is optional by design.
        if (!SECRET_NAME.test(key) || value === null) continue;
        expect({ service: name, key, value: new RegExp(`^\\$\\{${key}:\\?[^}]+\\}$`).test(value) }).toEqual({ service: name, key, value: true });
      }
      // URLs carry no credentials but RabbitMQ's well-known local guest/guest.
      for (const key of ['MONGO_URL', 'AMQP_URL']) {
        const value = composeEnv(name)[key];
        if (value === undefined || value === null) continue;
        const url = new URL(value);
        expect({ service: name, key, credentials: url.username ? `${url.username}:${url.password}` : '' }).toEqual({
          service: name,
          key,
          credentials: key === 'AMQP_URL' && url.username ? 'guest:guest' : '',
        });
      }
    }
    expect(composeEnv('api-gateway').JWT_SECRET).toBe('${JWT_SECRET:?set JWT_SECRET}');
  });

  it('no variable is passed through as a possibly empty string, unless its schema takes an empty value as unset', () => {
    for (const { name, schema } of SERVICES) {
      for (const [key, value] of Object.entries(composeEnv(name))) {
        if (value === null) {
          // Without a value: left out of the container when unset in the shell, '' when exported empty.
          const variable = variablesOf(name, schema)[key];
          const emptyIsUnset = variable?.safeParse('').success === true && variable.parse('') === undefined && variable.safeParse(undefined).success;
          expect({ service: name, key, emptyIsUnset }).toEqual({ service: name, key, emptyIsUnset: true });
          continue;
        }
        expect({ service: name, key, empty: interpolate(value) === '' || /\$\{[A-Za-z0-9_]+:?-\}/.test(value) }).toEqual({ service: name, key, empty: false });
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Dockerfile and .dockerignore
// ---------------------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}

function dockerInstructions(text: string): Instruction[] {
  return text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^(\S+)\s*(.*)$/.exec(line);
      return { op: (match?.[1] ?? '').toUpperCase(), args: (match?.[2] ?? '').replace(/\s+/g, ' ') };
    });
}

interface Stage {
  image: string;
  name: string;
  instructions: Instruction[];
}

function dockerStages(instructions: Instruction[]): Stage[] {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.op === 'FROM') {
      const match = /^(?:--\S+ )*(\S+)(?: AS (\S+))?$/i.exec(instruction.args);
      const image = (match?.[1] ?? '').replace(/\$\{?(\w+)\}?/g, (_m, name: string) => globalArgs[name] ?? '');
      stages.push({ image, name: match?.[2] ?? '', instructions: [] });
    } else if (stages.length === 0) {
      const arg = /^ARG (\w+)=(\S+)$/.exec(`${instruction.op} ${instruction.args}`);
      if (arg?.[1] && arg[2] !== undefined) globalArgs[arg[1]] = arg[2];
    } else {
      stages[stages.length - 1]?.instructions.push(instruction);
    }
  }
  return stages;
}

const dockerfile = dockerInstructions(read('Dockerfile'));
const stages = dockerStages(dockerfile);
const stage = (name: string) => {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`Dockerfile: no stage "${name}"`);
  return found;
};
const envPairs = (args: string) => Object.fromEntries([...args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1], (m[2] ?? '').replace(/^"|"$/g, '')]));

/** Every npm workspace (libs/*, services/*) holding a package.json. */
const workspaces = ['libs', 'services'].flatMap((dir) =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(ROOT, dir, entry.name, 'package.json')))
    .map((entry) => `${dir}/${entry.name}`),
);

describe('Dockerfile', () => {
  it('has deps, build and prod-deps stages and a runtime stage on node:20-bookworm-slim', () => {
    expect(stages.map((s) => [s.name, s.image])).toEqual([
      ['deps', 'node:20-bookworm-slim'],
      ['build', 'deps'],
      ['prod-deps', 'deps'],
      ['runtime', 'node:20-bookworm-slim'],
    ]);
  });

  it('installs dependencies with npm ci from the lock file, every workspace package.json copied first', () => {
    const deps = stage('deps').instructions;
    const install = deps.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(install).toBeGreaterThan(0);
    expect(dockerfile.filter((i) => i.op === 'RUN' && /\bnpm (install|i)\b/.test(i.args))).toEqual([]);
    const copiedBefore = deps
      .slice(0, install)
      .filter((i) => i.op === 'COPY')
      .flatMap((i) => i.args.split(' ').filter((word) => !word.startsWith('--')).slice(0, -1));
    expect(copiedBefore).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
    expect(workspaces.length).toBeGreaterThanOrEqual(SERVICES.length);
    const missing = workspaces.map((ws) => `${ws}/package.json`).filter((file) => !copiedBefore.includes(file));
    expect(missing).toEqual([]);
    // Nothing but manifests before the install: a source edit must not invalidate the npm ci layer.
    expect(copiedBefore.filter((file) => !file.endsWith('package.json') && file !== 'package-lock.json')).toEqual([]);
  });

  it('runs as a non-root user in production mode, the SERVICE variable choosing the entry point', () => {
    const runtime = stage('runtime').instructions;
    const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args.split(':')[0]);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0']).not.toContain(users[users.length - 1]);
    const cmdAt = runtime.findIndex((i) => i.op === 'CMD');
    expect(runtime.findIndex((i) => i.op === 'USER')).toBeLessThan(cmdAt);
    const env = Object.assign({}, ...runtime.filter((i) => i.op === 'ENV').map((i) => envPairs(i.args))) as Record<string, string>;
    expect(env).toMatchObject({ NODE_ENV: 'production', SERVICE: '${SERVICE}' });
    expect(runtime.some((i) => i.op === 'ARG' && /^SERVICE\b/.test(i.args))).toBe(true);
    // Compiled JavaScript, not tsx: `npm run build`'s bundle, with source maps for .ts stack traces.
    expect(JSON.parse(runtime[cmdAt]?.args ?? 'null')).toEqual(['sh', '-c', 'exec node --enable-source-maps dist/services/$SERVICE/main.js']);
    expect(runtime.some((i) => /\btsx\b/.test(i.args))).toBe(false);
  });

  it('the build stage bundles the services with npm run build from the sources and build script it copies', () => {
    const build = stage('build').instructions;
    const runBuild = build.findIndex((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args));
    expect(runBuild).toBeGreaterThan(0);
    const copied = build
      .slice(0, runBuild)
      .filter((i) => i.op === 'COPY')
      .flatMap((i) => i.args.split(' ').filter((w) => !w.startsWith('--')).slice(0, -1));
    expect(copied).toEqual(expect.arrayContaining(['libs', 'services', 'tsconfig.json', 'scripts/build.ts']));
    const manifest = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(manifest.scripts.build).toMatch(/\bscripts\/build\.ts\b/);
  });

  it('the runtime stage gets production node_modules and the bundles only: no TypeScript sources, no tsx', () => {
    expect(stage('prod-deps').instructions.some((i) => i.op === 'RUN' && /\bnpm prune\b.*--omit=dev\b/.test(i.args))).toBe(true);
    const copies = stage('runtime').instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies.some((args) => /^--from=prod-deps \/app\/node_modules\b/.test(args))).toBe(true);
    expect(copies.some((args) => /^--from=build \/app\/dist\b/.test(args))).toBe(true);
    const sources = copies.filter((args) => !args.startsWith('--from')).flatMap((args) => args.split(' ').filter((w) => !w.startsWith('--')).slice(0, -1));
    expect(sources).toEqual(['package.json']);
    // What the bundles leave external is loaded from production node_modules; the build tools are dev-only.
    const manifest = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const tool of ['tsx', 'esbuild', 'typescript']) {
      expect({ tool, production: tool in manifest.dependencies, dev: tool in manifest.devDependencies }).toEqual({ tool, production: false, dev: true });
    }
    const installed = JSON.parse(read('node_modules', 'esbuild', 'package.json')) as { version: string };
    expect(manifest.devDependencies.esbuild).toBe(installed.version);
  });

  it('.dockerignore keeps node_modules, caches and git out, but nothing the image copies', () => {
    const ignored = read('.dockerignore')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.cache', '.git', 'coverage', 'dist']));
    for (const needed of ['*', 'libs', 'services', 'package.json', 'package-lock.json', 'tsconfig.json', 'libs/*', 'services/*', 'scripts/build.ts']) {
      expect(ignored).not.toContain(needed);
    }
    // The build stage runs scripts/build.ts: with scripts/ ignored, it must be let back in.
    if (ignored.includes('scripts')) expect(ignored.indexOf('!scripts/build.ts')).toBeGreaterThan(ignored.indexOf('scripts'));
  });
});

// ---------------------------------------------------------------------------------------------------
// Kubernetes manifests (deploy/k8s)
// ---------------------------------------------------------------------------------------------------

const K8S = path.join('deploy', 'k8s');
const k8sFiles = readdirSync(path.join(ROOT, K8S)).filter((file) => /\.ya?ml$/.test(file));
const kustomization = asObj(YAML.parse(read(K8S, 'kustomization.yaml')), 'kustomization.yaml');

interface K8sObject {
  file: string;
  kind: string;
  name: string;
  namespace: string | undefined;
  body: Obj;
}

const k8sObjects: K8sObject[] = k8sFiles
  .filter((file) => file !== 'kustomization.yaml')
  .flatMap((file) =>
    YAML.parseAllDocuments(read(K8S, file)).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const body = asObj(doc.toJS(), file);
      const metadata = asObj(body.metadata, `${file} metadata`);
      return { file, kind: String(body.kind), name: String(metadata.name), namespace: metadata.namespace as string | undefined, body };
    }),
  );

function k8sObject(kind: string, name: string): K8sObject {
  const found = k8sObjects.find((o) => o.kind === kind && o.name === name);
  if (!found) throw new Error(`deploy/k8s: no ${kind} ${name}`);
  return found;
}

const configMap = k8sObjects.filter((o) => o.kind === 'ConfigMap');
const secretTemplate = k8sObjects.filter((o) => o.kind === 'Secret');
const configMapData = (name: string) => asObj(k8sObject('ConfigMap', name).body.data ?? {}, `ConfigMap ${name}`) as Record<string, string>;
const secretData = (name: string) => {
  const body = k8sObject('Secret', name).body;
  const encoded = Object.entries(asObj(body.data ?? {}, `Secret ${name}`)).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')]);
  return { ...Object.fromEntries(encoded), ...(asObj(body.stringData ?? {}, `Secret ${name}`) as Record<string, string>) } as Record<string, string>;
};

const podSpec = (name: string) => asObj(asObj(asObj(k8sObject('Deployment', name).body.spec, 'spec').template, 'template').spec, 'pod spec');
const container = (name: string) => {
  const containers = asList(podSpec(name).containers, `${name} containers`);
  expect(containers).toHaveLength(1);
  return asObj(containers[0], `${name} container`);
};

interface EnvSource {
  name: string;
  value?: string;
  configMap?: { name: string; key: string };
  /** optional: `optional: true`, the variable is left out when the Secret has no such key. */
  secret?: { name: string; key: string; optional?: boolean };
}

/** An optional Secret reference whose key the template does not hold: the pod gets no such variable. */
const absentOptional = (source: EnvSource) => Boolean(source.secret?.optional) && !(String(source.secret?.key) in secretData(String(source.secret?.name)));

/** A container's environment, envFrom included, with where each value comes from. */
function deploymentEnv(name: string): EnvSource[] {
  const c = container(name);
  const fromLists = asList(c.envFrom ?? [], `${name} envFrom`).flatMap((entry): EnvSource[] => {
    const from = asObj(entry, 'envFrom[]');
    if (from.configMapRef) {
      const ref = String(asObj(from.configMapRef, 'configMapRef').name);
      return Object.keys(configMapData(ref)).map((key) => ({ name: key, configMap: { name: ref, key } }));
    }
    const ref = String(asObj(from.secretRef, 'secretRef').name);
    return Object.keys(secretData(ref)).map((key) => ({ name: key, secret: { name: ref, key } }));
  });
  const explicit = asList(c.env ?? [], `${name} env`).map((entry): EnvSource => {
    const env = asObj(entry, 'env[]');
    const valueFrom = env.valueFrom === undefined ? undefined : asObj(env.valueFrom, 'valueFrom');
    if (valueFrom?.configMapKeyRef) {
      const ref = asObj(valueFrom.configMapKeyRef, 'configMapKeyRef');
      return { name: String(env.name), configMap: { name: String(ref.name), key: String(ref.key) } };
    }
    if (valueFrom?.secretKeyRef) {
      const ref = asObj(valueFrom.secretKeyRef, 'secretKeyRef');
      return { name: String(env.name), secret: { name: String(ref.name), key: String(ref.key), ...(ref.optional === true ? { optional: true } : {}) } };
    }
    return { name: String(env.name), value: env.value === undefined ? undefined : String(env.value) };
  });
  return [...fromLists, ...explicit];
}

/** The value a pod would see; Secret placeholders become dummy secrets (URL placeholders stay: valid URLs). */
function resolveK8sValue(source: EnvSource): string | undefined {
  if (source.configMap) return configMapData(source.configMap.name)[source.configMap.key];
  if (absentOptional(source)) return undefined;
  if (source.secret) {
    const placeholder = secretData(source.secret.name)[source.secret.key];
    return placeholder !== undefined && /^[a-z+]+:\/\//.test(placeholder) ? placeholder : dummySecret(source.name);
  }
  return source.value;
}

/** A container port by number or name. */
function containerPort(name: string, port: unknown): number {
  if (typeof port === 'number') return port;
  const named = asList(container(name).ports ?? [], `${name} ports`)
    .map((p) => asObj(p, 'port'))
    .find((p) => p.name === port);
  return Number(named?.containerPort);
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('kustomization applies every manifest but the Secret template, everything in the payments namespace', () => {
    const resources = asList(kustomization.resources, 'kustomization resources').map(String);
    const expected = k8sFiles.filter((file) => file !== 'kustomization.yaml' && !file.includes('template'));
    expect([...resources].sort()).toEqual(expected.sort());
    expect(resources).not.toContain('secret.template.yaml');
    k8sObject('Namespace', 'payments');
    for (const object of k8sObjects.filter((o) => o.kind !== 'Namespace')) {
      expect({ object: `${object.kind}/${object.name}`, namespace: object.namespace }).toEqual({ object: `${object.kind}/${object.name}`, namespace: 'payments' });
    }
    for (const { name } of SERVICES) {
      k8sObject('Deployment', name);
      k8sObject('Service', name);
    }
  });

  it('the Secret is a template of placeholders, which a service refuses to start with', () => {
    expect(secretTemplate).toHaveLength(1);
    expect(secretTemplate[0]?.file).toMatch(/template/);
    const data = secretData(secretTemplate[0]?.name ?? '');
    for (const [key, value] of Object.entries(data)) expect({ key, placeholder: value.includes('REPLACE_ME') }).toEqual({ key, placeholder: true });
    for (const { name, schema } of SERVICES) {
      for (const source of deploymentEnv(name).filter((s) => s.secret && SECRET_NAME.test(s.name) && !absentOptional(s))) {
        const placeholder = data[source.secret?.key ?? ''];
        expect({ service: name, key: source.name, accepted: variablesOf(name, schema)[source.name]?.safeParse(placeholder).success }).toEqual({
          service: name,
          key: source.name,
          accepted: false,
        });
      }
    }
  });

  it("every Deployment variable is one its service's config schema knows, and every required one is set", () => {
    for (const { name, schema } of SERVICES) {
      const known = new Set(Object.keys(variablesOf(name, schema)));
      const names = deploymentEnv(name).map((s) => s.name);
      expect({ service: name, unknown: names.filter((key) => !known.has(key) && !IMAGE_VARIABLES.has(key)) }).toEqual({ service: name, unknown: [] });
      expect({ service: name, missing: requiredOf(name, schema).filter((key) => !names.includes(key)) }).toEqual({ service: name, missing: [] });
      expect(deploymentEnv(name).find((s) => s.name === 'SERVICE')?.value).toBe(name);
    }
  });

  it('every ConfigMap key is a non-secret variable some service reads; secrets come only from the Secret', () => {
    const allKnown = new Set(SERVICES.flatMap(({ name, schema }) => Object.keys(variablesOf(name, schema))));
    expect(configMap).toHaveLength(1);
    for (const key of Object.keys(configMapData(configMap[0]?.name ?? ''))) {
      expect({ key, known: allKnown.has(key), secret: SECRET_NAME.test(key) }).toEqual({ key, known: true, secret: false });
    }
    for (const { name } of SERVICES) {
      for (const source of deploymentEnv(name)) {
        if (source.configMap) expect({ service: name, key: source.name, exists: source.configMap.key in configMapData(source.configMap.name) }).toEqual({ service: name, key: source.name, exists: true });
        if (source.secret && !source.secret.optional) expect({ service: name, key: source.name, exists: source.secret.key in secretData(source.secret.name) }).toEqual({ service: name, key: source.name, exists: true });
        if (SECRET_NAME.test(source.name) || source.name === 'MONGO_URL' || source.name === 'AMQP_URL') {
          expect({ service: name, key: source.name, fromSecret: Boolean(source.secret) }).toEqual({ service: name, key: source.name, fromSecret: true });
        }
      }
    }
  });

  it("each Deployment's environment passes its whole config schema once the Secret is filled", () => {
    for (const { name, schema } of SERVICES) {
      const env = Object.fromEntries(deploymentEnv(name).map((source) => [source.name, resolveK8sValue(source)]));
      const issues = startIssues(name, schema, env);
      expect({ service: name, issues }).toEqual({ service: name, issues: [] });
    }
  });

  it('each Deployment listens on its design port behind a matching Service, readiness on /readyz and liveness on /healthz', () => {
    for (const { name, portVariable, port } of SERVICES) {
      const c = container(name);
      expect({ service: name, [portVariable]: deploymentEnv(name).find((s) => s.name === portVariable)?.value }).toEqual({ service: name, [portVariable]: String(port) });
      const ports = asList(c.ports, `${name} ports`).map((p) => Number(asObj(p, 'port').containerPort));
      expect({ service: name, ports }).toEqual({ service: name, ports: [port] });
      const probe = (kind: string) => asObj(asObj(c[kind], `${name} ${kind}`).httpGet, `${name} ${kind}.httpGet`);
      expect({ service: name, path: probe('readinessProbe').path, port: containerPort(name, probe('readinessProbe').port) }).toEqual({ service: name, path: '/readyz', port });
      expect({ service: name, path: probe('livenessProbe').path, port: containerPort(name, probe('livenessProbe').port) }).toEqual({ service: name, path: '/healthz', port });

      const service = asObj(k8sObject('Service', name).body.spec, `Service ${name}`);
      const servicePorts = asList(service.ports, `Service ${name} ports`).map((p) => asObj(p, 'port'));
      expect({ service: name, ports: servicePorts.map((p) => [Number(p.port), containerPort(name, p.targetPort ?? p.port)]) }).toEqual({ service: name, ports: [[port, port]] });
      const podLabels = asObj(asObj(asObj(k8sObject('Deployment', name).body.spec, 'spec').template, 'template').metadata, 'metadata').labels;
      expect(podLabels).toMatchObject(asObj(service.selector, `Service ${name} selector`));
    }
  });

  it('runs two replicas per service with surge-first rollouts (the reason written down), 30 s grace, resource requests and limits, non-root, one image run by its own command', () => {
    const images = new Set<string>();
    for (const { name } of SERVICES) {
      const deployment = k8sObject('Deployment', name);
      const spec = asObj(deployment.body.spec, 'spec');
      expect({ service: name, replicas: spec.replicas }).toEqual({ service: name, replicas: 2 });
      expect({ service: name, rollout: asObj(asObj(spec.strategy, 'strategy').rollingUpdate, 'rollingUpdate') }).toEqual({
        service: name,
        rollout: { maxSurge: 1, maxUnavailable: 0 },
      });
      expect(read(K8S, deployment.file)).toMatch(/replica/i);
      const pod = podSpec(name);
      expect({ service: name, grace: pod.terminationGracePeriodSeconds }).toEqual({ service: name, grace: 30 });
      const c = container(name);
      const resources = asObj(c.resources, `${name} resources`);
      for (const bound of ['requests', 'limits']) {
        expect({ service: name, bound, set: Object.keys(asObj(resources[bound], `${name} ${bound}`)).sort() }).toEqual({ service: name, bound, set: ['cpu', 'memory'] });
      }
      // The image's CMD (compiled JavaScript, see the Dockerfile) runs the service: no override here.
      expect({ service: name, command: c.command, args: c.args }).toEqual({ service: name, command: undefined, args: undefined });
      const nonRoot = asObj(pod.securityContext ?? {}, 'pod securityContext').runAsNonRoot ?? asObj(c.securityContext ?? {}, 'securityContext').runAsNonRoot;
      expect({ service: name, nonRoot }).toEqual({ service: name, nonRoot: true });
      images.add(String(c.image));
    }
    expect(images.size).toBe(1);
  });

  it("the api-gateway's service URLs and the database and broker URLs point at Services in the manifests, on their ports", () => {
    const servicePorts = (name: string) =>
      asList(asObj(k8sObject('Service', name).body.spec, `Service ${name}`).ports, 'ports').map((p) => Number(asObj(p, 'port').port));
    const gatewayEnv = Object.fromEntries(deploymentEnv('api-gateway').map((source) => [source.name, resolveK8sValue(source)]));
    for (const [variable, target] of Object.entries(GATEWAY_UPSTREAMS)) {
      const url = new URL(gatewayEnv[variable] ?? 'http://unset');
      expect({ variable, host: url.hostname, port: Number(url.port) }).toEqual({ variable, host: target, port: SERVICES.find((s) => s.name === target)?.port });
      expect(servicePorts(target)).toContain(Number(url.port));
    }
    for (const { name } of SERVICES.filter((s) => runtimeFacts(s.name).database)) {
      const env = Object.fromEntries(deploymentEnv(name).map((source) => [source.name, resolveK8sValue(source)]));
      for (const [key, defaultPort] of [['MONGO_URL', 27017], ['AMQP_URL', 5672]] as const) {
        const url = new URL(env[key] ?? 'unset://unset');
        expect(servicePorts(url.hostname)).toContain(Number(url.port || defaultPort));
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Identity: who holds the internal token key, what the gateway checks in client tokens
// ---------------------------------------------------------------------------------------------------

describe('identity keys and client-token checks in compose and the k8s manifests', () => {
  const INTERNAL = 'INTERNAL_TOKEN_SECRET';
  const holders = ['api-gateway', 'audit-service', 'order-service', 'payment-service'];
  const k8sEnv = (name: string) => Object.fromEntries(deploymentEnv(name).map((source) => [source.name, resolveK8sValue(source)]));

  it('INTERNAL_TOKEN_SECRET is read and set only for the api-gateway and the services behind it: never for the callback-gateway', () => {
    const readers = SERVICES.filter(({ name, schema }) => INTERNAL in variablesOf(name, schema)).map(({ name }) => name);
    expect(readers.sort()).toEqual(holders);
    expect(Object.keys(shapeOf(callbackConfigSchema))).not.toContain(INTERNAL);
    expect(runtimeFacts('callback-gateway').gatewayIdentity).toBe(false);
    for (const name of ['audit-service', 'order-service', 'payment-service']) expect({ name, ...runtimeFacts(name) }).toMatchObject({ name, gatewayIdentity: true });
    for (const { name } of SERVICES) {
      const expected = holders.includes(name);
      expect({ service: name, compose: INTERNAL in composeEnv(name) }).toEqual({ service: name, compose: expected });
      expect({ service: name, k8s: deploymentEnv(name).some((source) => source.name === INTERNAL || source.secret?.key === INTERNAL) }).toEqual({ service: name, k8s: expected });
    }
  });

  it('the api-gateway checks aud and iss: JWT_AUDIENCE and JWT_ISSUER are set (the dev tools sign the same defaults), JWT_MAX_TTL_S 86400', () => {
    for (const [where, env] of [['compose', composeContainerEnv('api-gateway')], ['k8s', k8sEnv('api-gateway')]] as const) {
      const config = gatewayConfigSchema.parse(env);
      expect({ where, aud: config.JWT_AUDIENCE, iss: config.JWT_ISSUER, ttl: config.JWT_MAX_TTL_S }).toEqual({ where, aud: DEV_JWT_AUDIENCE, iss: DEV_JWT_ISSUER, ttl: 86_400 });
    }
    // Defaults only: an operator's own values (shell or .env) win in compose.
    const env = composeEnv('api-gateway');
    expect(env.JWT_AUDIENCE).toMatch(/^\$\{JWT_AUDIENCE:-[^}]+\}$/);
    expect(env.JWT_ISSUER).toMatch(/^\$\{JWT_ISSUER:-[^}]+\}$/);
  });
});

// ---------------------------------------------------------------------------------------------------
// Payment providers of the callback-gateway
// ---------------------------------------------------------------------------------------------------

/** The WeChat Pay and Alipay variables the callback-gateway reads. */
const PROVIDER_KEYS = Object.keys(shapeOf(callbackConfigSchema)).filter((key) => /^(WECHATPAY|ALIPAY)_/.test(key));

/** A complete WeChat Pay group, as an operator would give it. */
const wechatpayGroup = (): Record<string, string> => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return {
    WECHATPAY_MCHID: '1900000109',
    WECHATPAY_APPID: 'wxdevappid0000001',
    WECHATPAY_APIV3_KEY: 'a'.repeat(32),
    WECHATPAY_PLATFORM_SERIAL: 'PUB_KEY_ID_0000000001',
    WECHATPAY_PLATFORM_PUBLIC_KEY: publicKey,
  };
};

/** The providers the callback-gateway enables with this environment. */
const enabledProviders = (env: Record<string, string | undefined>) =>
  Object.entries(providerSettings(callbackConfigSchema.parse(env)))
    .filter(([, settings]) => settings !== undefined)
    .map(([provider]) => provider)
    .sort();

describe('payment providers in compose and the k8s manifests', () => {
  it("the deploy README's secret table and `kubectl create secret` command name every key a Deployment needs from the Secret", () => {
    const readme = read('deploy', 'README.md');
    const command = readme.slice(readme.indexOf('kubectl -n payments create secret'), readme.indexOf('```', readme.indexOf('kubectl -n payments create secret')));
    const inCommand = new Set([...command.matchAll(/--from-literal=([A-Z0-9_]+)=/g)].map((m) => m[1]));
    const inTable = new Set([...readme.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]));
    const needed = new Set(SERVICE_NAMES.flatMap((name) => deploymentEnv(name).filter((source) => source.secret && !source.secret.optional).map((source) => source.secret!.key)));
    expect(needed.size).toBeGreaterThan(3);
    for (const key of needed) {
      expect({ key, inCommand: inCommand.has(key) }).toEqual({ key, inCommand: true });
      expect({ key, inTable: inTable.has(key) }).toEqual({ key, inTable: true });
    }
  });

  it('both public gateways trust exactly the ingress hop (TRUST_PROXY_HOPS from the ConfigMap): the refusal limiter counts the caller, not the ingress', () => {
    for (const name of ['api-gateway', 'callback-gateway']) {
      const source = deploymentEnv(name).find((env) => env.name === 'TRUST_PROXY_HOPS');
      expect({ name, value: source && resolveK8sValue(source) }).toEqual({ name, value: '1' });
    }
  });

  it('the mock provider is set nowhere in compose or the k8s manifests, and the schema does not require it', () => {
    const MOCK = 'MOCK_PROVIDER_SECRET';
    expect(Object.keys(shapeOf(callbackConfigSchema))).toContain(MOCK);
    expect(requiredKeys(callbackConfigSchema)).not.toContain(MOCK);
    for (const name of Object.keys(composeServices)) expect({ service: name, mock: MOCK in composeEnv(name) }).toEqual({ service: name, mock: false });
    for (const { name } of SERVICES) {
      expect({ deployment: name, mock: deploymentEnv(name).some((source) => source.name === MOCK || source.secret?.key === MOCK) }).toEqual({ deployment: name, mock: false });
    }
    for (const object of [...configMap, ...secretTemplate]) {
      const keys = Object.keys(object.kind === 'Secret' ? secretData(object.name) : configMapData(object.name));
      expect({ object: `${object.kind}/${object.name}`, mock: keys.includes(MOCK) }).toEqual({ object: `${object.kind}/${object.name}`, mock: false });
    }
    // So neither configuration enables it.
    expect(enabledProviders(composeContainerEnv('callback-gateway', wechatpayGroup()))).toEqual(['wechatpay']);
    expect(enabledProviders(Object.fromEntries(deploymentEnv('callback-gateway').map((source) => [source.name, resolveK8sValue(source)])))).not.toContain('mock');
  });

  it('compose passes every WeChat Pay and Alipay variable through from the shell: a provider is on only when all of its are given', () => {
    expect(PROVIDER_KEYS.length).toBe(7);
    const env = composeEnv('callback-gateway');
    for (const key of PROVIDER_KEYS) expect({ key, passedThrough: env[key] === null }).toEqual({ key, passedThrough: true });
    expect(enabledProviders(composeContainerEnv('callback-gateway'))).toEqual([]);
    // Exported empty counts as unset; exported in full enables the provider.
    expect(enabledProviders(composeContainerEnv('callback-gateway', Object.fromEntries(PROVIDER_KEYS.map((key) => [key, '']))))).toEqual([]);
    expect(enabledProviders(composeContainerEnv('callback-gateway', wechatpayGroup()))).toEqual(['wechatpay']);
  });

  it('the callback-gateway Deployment reads every WeChat Pay and Alipay variable from the Secret as an optional reference', () => {
    const sources = deploymentEnv('callback-gateway');
    for (const key of PROVIDER_KEYS) {
      expect({ key, source: sources.find((source) => source.name === key)?.secret }).toEqual({ key, source: { name: 'payments-secrets', key, optional: true } });
    }
    // The template holds none of them: a Secret made from it enables no provider, and the gateway still starts.
    const env = Object.fromEntries(sources.map((source) => [source.name, resolveK8sValue(source)]));
    expect(PROVIDER_KEYS.filter((key) => env[key] !== undefined)).toEqual([]);
    expect(enabledProviders(env)).toEqual([]);
  });
});
