/**
 * Keeps the deployment files honest without a Docker engine or a cluster: docker-compose.yml, the
 * Dockerfile and the Kubernetes manifests in deploy/k8s are parsed and checked against the services'
 * own zod config schemas (services/<name>/src/config.ts, the source of truth for variables). A renamed,
 * missing or unknown variable, a wrong port, a broken start order or a committed secret fails here.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
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

/**
 * Each service's internal listener (METRICS_PORT, also its schema's default): /metrics and /readyz with
 * each dependency's state. Never published by compose, never behind a k8s Service; Prometheus scrapes
 * the pods' container port named `metrics`.
 */
const METRICS_PORTS: Record<string, number> = {
  'api-gateway': 9080,
  'callback-gateway': 9081,
  'order-service': 9082,
  'payment-service': 9083,
  'audit-service': 9084,
};

/** The gateway variable naming each upstream service. */
const GATEWAY_UPSTREAMS: Record<string, string> = {
  ORDER_SERVICE_URL: 'order-service',
  PAYMENT_SERVICE_URL: 'payment-service',
  AUDIT_SERVICE_URL: 'audit-service',
};

/** Start order, each level waiting for the previous one to be healthy. */
const START_ORDER = [['mongo', 'rabbitmq'], ['audit-service', 'order-service', 'payment-service'], ['callback-gateway'], ['api-gateway']];
/** Run-once containers outside the start order: the broker definitions generator, which rabbitmq waits for (test/deploy/broker.test.ts). */
const ONE_SHOTS = ['broker-definitions'];

/** The variable holding a service's own MongoDB password (compose, the Secret, mongo-init-users.js). */
const mongoPasswordVariable = (name: string) => `${name.toUpperCase().replace(/-/g, '_')}_MONGO_PASSWORD`;

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
    expect(Object.keys(composeServices).sort()).toEqual(['mongo', 'rabbitmq', ...ONE_SHOTS, ...SERVICE_NAMES].sort());
    expect(composeService('mongo').image).toMatch(/^mongo:7\.0\.\d+$/);
    expect(composeService('rabbitmq').image).toMatch(/^rabbitmq:3\.13\.\d+-management$/);
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
    // The broker is for this machine's tools only: published on the loopback address, never on all interfaces.
    expect(asList(composeService('rabbitmq').ports, 'rabbitmq.ports').map((entry) => String(entry).split(':')[0])).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('each service serves /metrics on its METRICS_PORT, which compose publishes for none', () => {
    for (const { name, schema } of SERVICES) {
      const metricsPort = METRICS_PORTS[name];
      expect({ service: name, schemaDefault: shapeOf(schema).METRICS_PORT?.parse(undefined) }).toEqual({ service: name, schemaDefault: metricsPort });
      expect({ service: name, METRICS_PORT: composeEnv(name).METRICS_PORT }).toEqual({ service: name, METRICS_PORT: String(metricsPort) });
    }
    const published = Object.keys(composeServices).flatMap((name) => composePorts(name).map((port) => ({ service: name, ...port })));
    const metricsPorts = Object.values(METRICS_PORTS);
    expect(published.filter((port) => metricsPorts.includes(port.container) || metricsPorts.includes(port.host))).toEqual([]);
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
      const env = composeContainerEnv(name);
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
      const env = composeContainerEnv(name);
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
    for (const name of Object.keys(composeServices).filter((service) => !ONE_SHOTS.includes(service))) {
      const dependsOn = Object.fromEntries(Object.entries(composeDependsOn(name)).filter(([dep]) => !ONE_SHOTS.includes(dep)));
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
    for (const name of Object.keys(composeServices)) {
      for (const [key, value] of Object.entries(composeEnv(name))) {
        // A passed-through variable (no value) writes nothing here: it is optional by design.
        if (!SECRET_NAME.test(key) || value === null) continue;
        expect({ service: name, key, value: new RegExp(`^\\$\\{${key}:\\?[^}]+\\}$`).test(value) }).toEqual({ service: name, key, value: true });
      }
    }
    for (const { name } of SERVICES) {
      // MONGO_URL: the service's own user, its password a required substitution (never a literal).
      const mongoUrl = composeEnv(name).MONGO_URL;
      if (mongoUrl !== undefined && mongoUrl !== null) {
        // Read as text: the substitution's `?` is no valid URL user-info.
        const credentials = /^mongodb:\/\/([^:@/]+):(\$\{[^}]+\})@/.exec(mongoUrl);
        const variable = mongoPasswordVariable(name);
        expect({ service: name, user: credentials?.[1], password: credentials?.[2] }).toEqual({ service: name, user: name, password: `\${${variable}:?set ${variable}}` });
      }
      // AMQP_URL: no password written here either (a required substitution; RabbitMQ's well-known
      // local guest/guest aside). Read as text: a substitution is no valid URL user-info.
      const amqpUrl = composeEnv(name).AMQP_URL;
      if (amqpUrl !== undefined && amqpUrl !== null) {
        const password = /^amqps?:\/\/[^:@/]+:([^@]*)@/.exec(amqpUrl)?.[1];
        const literal = password !== undefined && password !== 'guest' && !/^\$\{[A-Z0-9_]+:\?[^}]+\}$/.test(password);
        expect({ service: name, literalPassword: literal }).toEqual({ service: name, literalPassword: false });
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
  it('has deps, build and prod-deps stages and a runtime stage on one exact node:20 bookworm-slim release', () => {
    const node = stages[0]?.image ?? '';
    expect(node).toMatch(/^node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    expect(stages.map((s) => [s.name, s.image])).toEqual([
      ['deps', node],
      ['build', 'deps'],
      ['prod-deps', 'deps'],
      ['runtime', node],
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

// rabbitmq-config is RabbitMQ's own configuration file (mounted into the broker), not service variables.
const configMap = k8sObjects.filter((o) => o.kind === 'ConfigMap' && o.name !== 'rabbitmq-config');
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
      expect({ service: name, ports }).toEqual({ service: name, ports: [port, METRICS_PORTS[name]] });
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

  it('each Deployment serves /metrics on its METRICS_PORT as the container port named metrics, annotated for Prometheus, behind no Service', () => {
    for (const { name } of SERVICES) {
      const metricsPort = METRICS_PORTS[name]!;
      expect({ service: name, METRICS_PORT: deploymentEnv(name).find((s) => s.name === 'METRICS_PORT')?.value }).toEqual({ service: name, METRICS_PORT: String(metricsPort) });
      expect({ service: name, named: containerPort(name, 'metrics') }).toEqual({ service: name, named: metricsPort });
      const template = asObj(asObj(k8sObject('Deployment', name).body.spec, 'spec').template, 'template');
      expect({ service: name, annotations: asObj(template.metadata, 'metadata').annotations }).toEqual({
        service: name,
        annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(metricsPort), 'prometheus.io/path': '/metrics' },
      });
      const servicePorts = asList(asObj(k8sObject('Service', name).body.spec, `Service ${name}`).ports, 'ports').map((p) => asObj(p, 'port'));
      expect({ service: name, exposed: servicePorts.filter((p) => p.targetPort === 'metrics' || Number(p.targetPort ?? p.port) === metricsPort) }).toEqual({ service: name, exposed: [] });
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
    // A row's first cell may name several keys: `A`, `B`.
    const inTable = new Set([...readme.matchAll(/^\| ((?:`[A-Z0-9_]+`(?:, )?)+) \|/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((k) => k[1])));
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

// ---------------------------------------------------------------------------------------------------
// Hardening (issue 13): pinned images, non-root pods, one database user per service, NetworkPolicies,
// compose limits and log rotation, and the README's secrets
// ---------------------------------------------------------------------------------------------------

/** Every Deployment and StatefulSet in the manifests. */
const workloads = k8sObjects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const workload = (name: string) => {
  const found = workloads.find((o) => o.name === name);
  if (!found) throw new Error(`deploy/k8s: no workload ${name}`);
  return found;
};
const podTemplate = (object: K8sObject) => asObj(asObj(object.body.spec, `${object.name} spec`).template, `${object.name} template`);
const workloadPod = (object: K8sObject) => asObj(podTemplate(object).spec, `${object.name} pod spec`);
const workloadLabels = (object: K8sObject) => asObj(asObj(podTemplate(object).metadata, `${object.name} pod metadata`).labels, `${object.name} pod labels`) as Record<string, string>;
const workloadContainers = (object: K8sObject) =>
  [...asList(workloadPod(object).initContainers ?? [], 'initContainers'), ...asList(workloadPod(object).containers, 'containers')].map((c) => asObj(c, `${object.name} container`));

/** The Secret keys a container's env reads: `{variable, key, optional}`. */
function containerSecretRefs(c: Obj): { variable: string; key: string; optional: boolean }[] {
  if (asList(c.envFrom ?? [], 'envFrom').some((from) => asObj(from, 'envFrom[]').secretRef)) throw new Error('envFrom secretRef: list the keys one by one');
  return asList(c.env ?? [], 'env').flatMap((entry) => {
    const env = asObj(entry, 'env[]');
    const ref = env.valueFrom === undefined ? undefined : asObj(env.valueFrom, 'valueFrom').secretKeyRef;
    if (ref === undefined) return [];
    const secret = asObj(ref, 'secretKeyRef');
    return [{ variable: String(env.name), key: String(secret.key), optional: secret.optional === true }];
  });
}

/** An image tag names one release (x.y.z, a variant suffix allowed) or the reference carries a digest. */
function isPinned(image: string): boolean {
  const [reference, digest] = image.split('@');
  if (digest !== undefined) return /^sha256:[0-9a-f]{64}$/.test(digest);
  const tag = /:([^:/]+)$/.exec(reference ?? '')?.[1];
  return tag !== undefined && /^v?\d+\.\d+\.\d+(-[A-Za-z0-9.]+)*$/.test(tag);
}

/** The image a container runs once kustomization.yaml's `images:` rewrites are applied. */
function deployedImage(image: string): string {
  const at = image.lastIndexOf(':');
  const name = at > image.lastIndexOf('/') ? image.slice(0, at) : image;
  const tag = at > image.lastIndexOf('/') ? image.slice(at + 1) : undefined;
  const rewrite = asList(kustomization.images ?? [], 'kustomization images')
    .map((entry) => asObj(entry, 'images[]'))
    .find((entry) => entry.name === name);
  if (!rewrite) return image;
  const newName = String(rewrite.newName ?? name);
  if (rewrite.digest !== undefined) return `${newName}@${String(rewrite.digest)}`;
  const newTag = rewrite.newTag ?? tag;
  return newTag === undefined ? newName : `${newName}:${String(newTag)}`;
}

describe('hardening: pinned images', () => {
  it('the pin check refuses moving tags and takes exact releases and digests', () => {
    for (const moving of ['mongo', 'mongo:7', 'mongo:latest', 'rabbitmq:3.13-management', 'node:20-bookworm-slim', 'registry.example.com:5000/pay']) expect({ moving, pinned: isPinned(moving) }).toEqual({ moving, pinned: false });
    for (const pinned of ['mongo:7.0.14', 'rabbitmq:3.13.7-management', 'node:20.19.5-bookworm-slim', `registry.example.com:5000/pay@sha256:${'a'.repeat(64)}`]) expect({ pinned, ok: isPinned(pinned) }).toEqual({ pinned, ok: true });
  });

  it('every image compose, the k8s manifests (after kustomize) and the Dockerfile use is one exact release', () => {
    for (const name of Object.keys(composeServices)) {
      const image = composeService(name).image;
      if (image !== undefined) expect({ service: name, image, pinned: isPinned(String(image)) }).toEqual({ service: name, image, pinned: true });
    }
    for (const object of workloads) {
      for (const c of workloadContainers(object)) {
        const image = deployedImage(String(c.image));
        expect({ workload: object.name, image, pinned: isPinned(image) }).toEqual({ workload: object.name, image, pinned: true });
      }
    }
    for (const base of new Set(stages.map((s) => s.image).filter((image) => !stages.some((s) => s.name === image)))) {
      expect({ base, pinned: isPinned(base) }).toEqual({ base, pinned: true });
    }
  });

  it("the services' image is pulled from a named registry: kustomize rewrites the manifests' name to one, and the README says to set it", () => {
    for (const { name } of SERVICES) {
      const image = deployedImage(String(container(name).image));
      const registry = image.split('/')[0] ?? '';
      expect({ service: name, image, registry: image.includes('/') && (/[.:]/.test(registry) || registry === 'localhost') }).toEqual({ service: name, image, registry: true });
    }
    const readme = read('deploy', 'README.md');
    const placeholder = String(asObj(asList(kustomization.images, 'images')[0], 'images[0]').newName).split('/')[0] ?? '';
    expect(readme).toContain(placeholder);
    expect(readme).toMatch(/digest/i);
  });
});

describe('hardening: pods run as non-root without privileges', () => {
  it('every container: runAsNonRoot, a non-zero user, no privilege escalation, no capabilities, the RuntimeDefault seccomp profile, no service-account token', () => {
    expect(workloads.map((o) => o.name).sort()).toEqual(['mongo', 'rabbitmq', ...SERVICE_NAMES].sort());
    for (const object of workloads) {
      const pod = workloadPod(object);
      const podContext = asObj(pod.securityContext ?? {}, `${object.name} pod securityContext`);
      expect({ workload: object.name, automountServiceAccountToken: pod.automountServiceAccountToken }).toEqual({ workload: object.name, automountServiceAccountToken: false });
      for (const c of workloadContainers(object)) {
        const context = asObj(c.securityContext ?? {}, `${object.name} securityContext`);
        const effective = (key: string) => context[key] ?? podContext[key];
        const capabilities = asObj(context.capabilities ?? {}, 'capabilities');
        expect({
          workload: object.name,
          container: c.name,
          runAsNonRoot: effective('runAsNonRoot'),
          runAsUser: typeof effective('runAsUser') === 'number' && Number(effective('runAsUser')) > 0,
          seccomp: asObj(effective('seccompProfile') ?? {}, 'seccompProfile').type,
          allowPrivilegeEscalation: context.allowPrivilegeEscalation,
          privileged: context.privileged ?? false,
          drop: capabilities.drop,
          add: capabilities.add ?? [],
        }).toEqual({ workload: object.name, container: c.name, runAsNonRoot: true, runAsUser: true, seccomp: 'RuntimeDefault', allowPrivilegeEscalation: false, privileged: false, drop: ['ALL'], add: [] });
      }
      // A volume the process must write to is given to its group.
      const claims = asList(asObj(object.body.spec, 'spec').volumeClaimTemplates ?? [], 'volumeClaimTemplates').length + asList(pod.volumes ?? [], 'volumes').filter((v) => asObj(v, 'volume').persistentVolumeClaim).length;
      if (claims > 0) expect({ workload: object.name, fsGroup: typeof podContext.fsGroup === 'number' && podContext.fsGroup > 0 }).toEqual({ workload: object.name, fsGroup: true });
    }
  });

  it("the services' root filesystem is read-only (only /tmp is writable); MongoDB and RabbitMQ run as their images' own user 999", () => {
    for (const { name } of SERVICES) {
      const c = container(name);
      expect({ service: name, readOnlyRootFilesystem: asObj(c.securityContext ?? {}, 'securityContext').readOnlyRootFilesystem }).toEqual({ service: name, readOnlyRootFilesystem: true });
      const tmp = asList(c.volumeMounts ?? [], 'volumeMounts').map((m) => asObj(m, 'volumeMount')).find((m) => m.mountPath === '/tmp');
      const volume = asList(podSpec(name).volumes ?? [], 'volumes').map((v) => asObj(v, 'volume')).find((v) => v.name === tmp?.name);
      expect({ service: name, tmp: Boolean(volume?.emptyDir) }).toEqual({ service: name, tmp: true });
    }
    for (const name of ['mongo', 'rabbitmq']) {
      const context = asObj(workloadPod(workload(name)).securityContext ?? {}, 'securityContext');
      expect({ workload: name, runAsUser: context.runAsUser, runAsGroup: context.runAsGroup, fsGroup: context.fsGroup }).toEqual({ workload: name, runAsUser: 999, runAsGroup: 999, fsGroup: 999 });
    }
  });

  it('the namespace enforces the restricted Pod Security Standard, so a pod that is not is refused', () => {
    const labels = asObj(asObj(k8sObject('Namespace', 'payments').body.metadata, 'metadata').labels, 'labels');
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });
});

// A NetworkPolicy evaluator (ingress, label selectors, named and numbered ports): what the policies in
// deploy/k8s let through, to compare with what the design allows.
type Labels = Record<string, string>;

function selects(selector: unknown, labels: Labels): boolean {
  const spec = asObj(selector ?? {}, 'selector');
  const matchLabels = Object.entries(asObj(spec.matchLabels ?? {}, 'matchLabels'));
  if (!matchLabels.every(([key, value]) => labels[key] === String(value))) return false;
  return asList(spec.matchExpressions ?? [], 'matchExpressions').every((entry) => {
    const expression = asObj(entry, 'matchExpression');
    const key = String(expression.key);
    const values = asList(expression.values ?? [], 'values').map(String);
    const value = labels[key];
    switch (expression.operator) {
      case 'In':
        return value !== undefined && values.includes(value);
      case 'NotIn':
        return value === undefined || !values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`unknown selector operator ${String(expression.operator)}`);
    }
  });
}

interface Peer {
  name: string;
  labels: Labels;
  namespace: string;
  namespaceLabels: Labels;
}

const networkPolicies = k8sObjects.filter((o) => o.kind === 'NetworkPolicy').map((o) => asObj(o.body.spec, `NetworkPolicy ${o.name}`));

/** Whether a connection from `source` to `target`'s container port (name and number) is let in. */
function admits(target: Labels, port: { name: string; number: number }, source: Peer): boolean {
  const selecting = networkPolicies.filter((spec) => {
    const types = spec.policyTypes === undefined ? ['Ingress'] : asList(spec.policyTypes, 'policyTypes').map(String);
    return types.includes('Ingress') && selects(spec.podSelector, target);
  });
  if (selecting.length === 0) return true; // not isolated
  return selecting.some((spec) =>
    asList(spec.ingress ?? [], 'ingress').some((entry) => {
      const rule = asObj(entry, 'ingress rule');
      const ports = asList(rule.ports ?? [], 'ports').map((p) => asObj(p, 'port'));
      const portAllowed = ports.length === 0 || ports.some((p) => (p.protocol ?? 'TCP') === 'TCP' && (p.port === undefined || p.port === port.name || p.port === port.number));
      const from = asList(rule.from ?? [], 'from').map((p) => asObj(p, 'peer'));
      const sourceAllowed =
        from.length === 0 ||
        from.some((peer) => {
          if (peer.ipBlock !== undefined) throw new Error('ipBlock peers are not evaluated here');
          const namespaceAllowed = peer.namespaceSelector === undefined ? source.namespace === 'payments' : selects(peer.namespaceSelector, source.namespaceLabels);
          return namespaceAllowed && (peer.podSelector === undefined || selects(peer.podSelector, source.labels));
        });
      return portAllowed && sourceAllowed;
    }),
  );
}

describe('hardening: NetworkPolicies', () => {
  const namespaceLabels = { ...(asObj(asObj(k8sObject('Namespace', 'payments').body.metadata, 'metadata').labels, 'labels') as Labels), 'kubernetes.io/metadata.name': 'payments' };
  const monitoring = { 'kubernetes.io/metadata.name': 'monitoring', 'payments/monitoring': 'true' };
  const elsewhere = { 'kubernetes.io/metadata.name': 'shop' };
  const sources: Peer[] = [
    ...workloads.map((o) => ({ name: o.name, labels: workloadLabels(o), namespace: 'payments', namespaceLabels })),
    { name: 'unlabelled pod in payments', labels: {}, namespace: 'payments', namespaceLabels },
    { name: 'pod in another namespace', labels: { 'app.kubernetes.io/name': 'shop' }, namespace: 'shop', namespaceLabels: elsewhere },
    { name: 'prometheus in the monitoring namespace', labels: { 'app.kubernetes.io/name': 'prometheus' }, namespace: 'monitoring', namespaceLabels: monitoring },
    { name: 'other pod in the monitoring namespace', labels: { 'app.kubernetes.io/name': 'grafana' }, namespace: 'monitoring', namespaceLabels: monitoring },
    { name: 'prometheus in another namespace', labels: { 'app.kubernetes.io/name': 'prometheus' }, namespace: 'shop', namespaceLabels: elsewhere },
  ];
  const databaseUsers = SERVICE_NAMES.filter((name) => runtimeFacts(name).database);
  const brokerUsers = SERVICE_NAMES.filter((name) => runtimeFacts(name).messaging);

  /** What the design allows. */
  function allowed(target: string, port: string, source: Peer): boolean {
    if (port === 'metrics') return SERVICE_NAMES.includes(target) && source.name === 'prometheus in the monitoring namespace';
    if (target === 'api-gateway' || target === 'callback-gateway') return port === 'http';
    if (SERVICE_NAMES.includes(target)) return port === 'http' && source.name === 'api-gateway';
    if (target === 'mongo') return port === 'mongo' && databaseUsers.includes(source.name);
    if (target === 'rabbitmq') return port === 'amqp' && brokerUsers.includes(source.name);
    return false;
  }

  it('exactly these connections are let in: the gateways from anywhere, the internal services from the api-gateway, MongoDB and RabbitMQ from their users, metrics from Prometheus', () => {
    expect(databaseUsers.sort()).toEqual(['audit-service', 'callback-gateway', 'order-service', 'payment-service']);
    expect(brokerUsers.sort()).toEqual(['audit-service', 'callback-gateway', 'order-service', 'payment-service']);
    const actual: string[] = [];
    const expected: string[] = [];
    for (const object of workloads) {
      const ports = workloadContainers(object).flatMap((c) => asList(c.ports ?? [], 'ports').map((p) => asObj(p, 'port'))).map((p) => ({ name: String(p.name), number: Number(p.containerPort) }));
      // The services' metrics port (named `metrics`), as if declared where it is not yet.
      if (SERVICE_NAMES.includes(object.name) && !ports.some((p) => p.name === 'metrics')) ports.push({ name: 'metrics', number: 9464 });
      for (const port of ports) {
        for (const source of sources) {
          const line = `${source.name} -> ${object.name}:${port.name}`;
          if (admits(workloadLabels(object), port, source)) actual.push(line);
          if (allowed(object.name, port.name, source)) expected.push(line);
        }
      }
    }
    expect(actual.sort()).toEqual(expected.sort());
  });

  it('without the policies everything would be let in: the default-deny policy isolates every pod in the namespace', () => {
    const defaultDeny = networkPolicies.filter((spec) => Object.keys(asObj(spec.podSelector, 'podSelector')).length === 0 && asList(spec.ingress ?? [], 'ingress').length === 0);
    expect(defaultDeny).toHaveLength(1);
    expect(asList(defaultDeny[0]?.policyTypes, 'policyTypes')).toContain('Ingress');
  });
});

interface UserChange {
  op: string;
  user: string;
  pwd: string;
  roles: unknown;
}

/** Runs mongo-init-users.js as mongosh would, against a recording admin database: what it changed, and its error. */
function runInitUsers(env: Record<string, string>, existingUsers: string[] = []): { calls: UserChange[]; error?: string } {
  const users = new Set(existingUsers);
  const calls: UserChange[] = [];
  const admin = {
    getUser: (user: string) => (users.has(user) ? { user } : null),
    createUser: (spec: { user: string; pwd: string; roles: unknown }) => {
      users.add(spec.user);
      calls.push({ op: 'create', ...spec });
    },
    updateUser: (user: string, spec: { pwd: string; roles: unknown }) => calls.push({ op: 'update', user, ...spec }),
  };
  const db = {
    getSiblingDB: (name: string) => {
      if (name !== 'admin') throw new Error(`users belong in admin, not ${name}`);
      return admin;
    },
  };
  let error: string | undefined;
  try {
    runInNewContext(read(K8S, 'mongo-init-users.js'), { db, print: () => undefined, process: { env } }, { filename: 'mongo-init-users.js' });
  } catch (thrown) {
    error = String((thrown as { message?: unknown }).message ?? thrown);
  }
  // Out of the script's realm, so toEqual compares plain values.
  return { calls: JSON.parse(JSON.stringify(calls)) as UserChange[], ...(error === undefined ? {} : { error }) };
}

/** The users the script creates with this environment (it must not fail). */
function initUsersCreated(env: Record<string, string>): string[] {
  const { calls, error } = runInitUsers(env);
  expect(error).toBeUndefined();
  return calls.map((call) => call.user).sort();
}

describe('hardening: one MongoDB user per service', () => {
  const databaseServices = SERVICES.filter(({ name }) => runtimeFacts(name).database !== null).map(({ name }) => name);
  const passwords = Object.fromEntries(databaseServices.map((name, index) => [mongoPasswordVariable(name), `${index}`.repeat(24)]));

  it('mongo-init-users.js creates each service with a database its own user, readWrite on that database only', () => {
    const { calls, error } = runInitUsers(passwords);
    expect(error).toBeUndefined();
    const expected = databaseServices.map((name) => ({ op: 'create', user: name, pwd: passwords[mongoPasswordVariable(name)], roles: [{ role: 'readWrite', db: runtimeFacts(name).database }] }));
    expect(calls.sort((a, b) => a.user.localeCompare(b.user))).toEqual(expected.sort((a, b) => a.user.localeCompare(b.user)));
  });

  it('run again by hand it resets the existing users (password and role) instead of failing', () => {
    const { calls, error } = runInitUsers(passwords, databaseServices);
    expect(error).toBeUndefined();
    expect(calls.map((call) => [call.op, call.user]).sort()).toEqual(databaseServices.map((name) => ['update', name]).sort());
  });

  it('refuses, creating nobody and naming the variable, a password that is missing, short, not URL-safe or the template placeholder', () => {
    const variable = mongoPasswordVariable('payment-service');
    for (const bad of [undefined, 'short', 'has spaces in it, 24 chars', 'p@ss:word/with?reserved#chars', 'REPLACE_ME_PASSWORD']) {
      const env: Record<string, string> = { ...passwords };
      if (bad === undefined) delete env[variable];
      else env[variable] = bad;
      const { calls, error } = runInitUsers(env);
      expect({ bad, calls, namesVariable: error?.includes(variable) }).toEqual({ bad, calls: [], namesVariable: true });
    }
  });

  it('compose: MongoDB runs with a root user and the init script; each service connects as its own user, none as root', () => {
    const mongo = composeService('mongo');
    expect(asList(mongo.volumes, 'mongo volumes').map(String)).toContain('./deploy/k8s/mongo-init-users.js:/docker-entrypoint-initdb.d/init-users.js:ro');
    const mongoEnv = composeEnv('mongo');
    expect(mongoEnv.MONGO_INITDB_ROOT_PASSWORD).toBe('${MONGO_INITDB_ROOT_PASSWORD:?set MONGO_INITDB_ROOT_PASSWORD}');
    const root = mongoEnv.MONGO_INITDB_ROOT_USERNAME;
    // What compose gives the mongo container is all the script needs.
    expect(initUsersCreated(composeContainerEnv('mongo'))).toEqual([...databaseServices].sort());
    for (const name of databaseServices) {
      const env = composeContainerEnv(name);
      const url = new URL(env.MONGO_URL ?? 'mongodb://unset');
      expect({ service: name, user: url.username, authSource: url.searchParams.get('authSource'), password: url.password === composeContainerEnv('mongo')[mongoPasswordVariable(name)] }).toEqual({ service: name, user: name, authSource: 'admin', password: true });
      expect({ service: name, root: url.username === root }).toEqual({ service: name, root: false });
      expect({ service: name, rootVariables: Object.keys(composeEnv(name)).filter((key) => key.startsWith('MONGO_INITDB_')) }).toEqual({ service: name, rootVariables: [] });
    }
  });

  it("k8s: the mongo StatefulSet gets the root user and every service's password and mounts the script; each Deployment reads its own URL, with its own user", () => {
    const mongo = workloadContainers(workload('mongo'))[0] ?? {};
    const mongoRefs = containerSecretRefs(mongo);
    const mongoEnv = Object.fromEntries(mongoRefs.map((ref) => [ref.variable, dummySecret(ref.key)]));
    expect(Object.keys(mongoEnv)).toEqual(expect.arrayContaining(['MONGO_INITDB_ROOT_USERNAME', 'MONGO_INITDB_ROOT_PASSWORD']));
    expect(initUsersCreated(mongoEnv)).toEqual([...databaseServices].sort());
    // The script, from the ConfigMap kustomize generates from it.
    const mount = asList(mongo.volumeMounts, 'mongo volumeMounts').map((m) => asObj(m, 'volumeMount')).find((m) => m.mountPath === '/docker-entrypoint-initdb.d');
    const volume = asList(workloadPod(workload('mongo')).volumes, 'mongo volumes').map((v) => asObj(v, 'volume')).find((v) => v.name === mount?.name);
    const configMapName = asObj(volume?.configMap ?? {}, 'configMap').name;
    const generator = asList(kustomization.configMapGenerator ?? [], 'configMapGenerator').map((g) => asObj(g, 'generator')).find((g) => g.name === configMapName);
    expect(asList(generator?.files ?? [], 'files')).toContain('init-users.js=mongo-init-users.js');
    expect(generator?.namespace).toBe('payments');

    const secretTemplateData = secretData('payments-secrets');
    const keys = new Set<string>();
    for (const name of databaseServices) {
      const source = deploymentEnv(name).find((env) => env.name === 'MONGO_URL');
      expect({ service: name, fromSecret: source?.secret?.name, optional: source?.secret?.optional }).toEqual({ service: name, fromSecret: 'payments-secrets', optional: undefined });
      keys.add(String(source?.secret?.key));
      const url = new URL(secretTemplateData[String(source?.secret?.key)] ?? 'mongodb://unset');
      expect({ service: name, user: url.username, authSource: url.searchParams.get('authSource') }).toEqual({ service: name, user: name, authSource: 'admin' });
      expect({ service: name, root: url.username === secretTemplateData.MONGO_INITDB_ROOT_USERNAME }).toEqual({ service: name, root: false });
      expect({ service: name, rootKeys: containerSecretRefs(container(name)).filter((ref) => ref.key.startsWith('MONGO_INITDB_')) }).toEqual({ service: name, rootKeys: [] });
    }
    // One URL per service: no two share a key, so none shares a user.
    expect(keys.size).toBe(databaseServices.length);
  });
});

describe('hardening: compose limits and log rotation', () => {
  it('every compose service has CPU and memory limits and rotated json-file logs', () => {
    for (const name of Object.keys(composeServices)) {
      const limits = asObj(asObj(asObj(composeService(name).deploy ?? {}, `${name}.deploy`).resources ?? {}, `${name}.deploy.resources`).limits ?? {}, `${name} limits`);
      expect({ service: name, cpus: Number(limits.cpus) > 0, memory: /^\d+(\.\d+)?[kmg]b?$/i.test(String(limits.memory)) }).toEqual({ service: name, cpus: true, memory: true });
      const logging = asObj(composeService(name).logging ?? {}, `${name}.logging`);
      const options = asObj(logging.options ?? {}, `${name}.logging.options`);
      expect({ service: name, driver: logging.driver, maxSize: /^\d+[kmg]$/.test(String(options['max-size'])), maxFile: Number(options['max-file']) > 0 }).toEqual({ service: name, driver: 'json-file', maxSize: true, maxFile: true });
    }
  });
});

describe('hardening: the Secret, as the README and the template describe it', () => {
  /** Every key a workload (services, MongoDB, RabbitMQ) requires from the Secret. */
  const required = () => new Set(workloads.flatMap((o) => workloadContainers(o).flatMap((c) => containerSecretRefs(c).filter((ref) => !ref.optional).map((ref) => ref.key))));

  it("the README's table, its `kubectl create secret` command and the template name exactly the keys the manifests require", () => {
    const readme = read('deploy', 'README.md');
    const start = readme.indexOf('kubectl -n payments create secret');
    expect(start).toBeGreaterThan(0);
    const command = readme.slice(start, readme.indexOf('```', start));
    const inCommand = [...command.matchAll(/--from-literal=([A-Z0-9_]+)=/g)].map((m) => m[1] ?? '');
    const inTable = [...readme.matchAll(/^\| ((?:`[A-Z0-9_]+`(?:, )?)+) \|/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((k) => k[1] ?? ''));
    const keys = [...required()].sort();
    expect(keys.length).toBeGreaterThan(10);
    expect([...new Set(inCommand)].sort()).toEqual(keys);
    expect([...new Set(inTable)].sort()).toEqual(keys);
    expect(Object.keys(secretData('payments-secrets')).sort()).toEqual(keys);
  });

  it('no workload writes a secret as a literal: every secret-named variable and every URL with credentials comes from the Secret', () => {
    for (const object of workloads) {
      for (const c of workloadContainers(object)) {
        for (const entry of asList(c.env ?? [], 'env').map((e) => asObj(e, 'env[]'))) {
          const name = String(entry.name);
          const literal = entry.value !== undefined;
          const credentialsInUrl = literal && /^[a-z+]+:\/\/[^/@]+@/.test(String(entry.value));
          expect({ workload: object.name, name, literalSecret: literal && (SECRET_NAME.test(name) || credentialsInUrl) }).toEqual({ workload: object.name, name, literalSecret: false });
        }
      }
    }
  });
});
