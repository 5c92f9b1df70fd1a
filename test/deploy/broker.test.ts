/**
 * One broker user per service, checked offline (design, "Trust inside"): the definitions the generator
 * builds (users, rights, topology) and how docker-compose.yml and deploy/k8s wire each service to its
 * own user. What RabbitMQ does with them is proven against a real broker in
 * libs/messaging/test/broker-rights.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { EVENT_PRODUCERS, EVENT_TYPES } from '../../libs/contracts/src';
import { ALL_SERVICE_EVENTS } from '../../libs/harness/src/topology';
import { brokerPasswordVariable, exchangeName, queueNames, type BrokerDefinitions } from '../../libs/messaging/src';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (...parts: string[]) => readFileSync(path.join(ROOT, ...parts), 'utf8');
const SERVICES = ALL_SERVICE_EVENTS.map((events) => events.service);
type Yaml = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** TEST FIXTURE passwords, not secrets: the generator needs some to hash. */
function generate(extraEnv: Record<string, string> = {}): BrokerDefinitions {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BROKER_PREFIX: 'payments', ...extraEnv };
  for (const service of SERVICES) env[brokerPasswordVariable(service)] = `fixture-${service}-0123456789`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/broker-definitions.ts'], { cwd: ROOT, env, encoding: 'utf8' });
  return JSON.parse(out) as BrokerDefinitions;
}

describe('broker definitions (npm run broker-definitions)', () => {
  const definitions = generate({ BROKER_PASSWORD_OPERATOR: 'fixture-operator-0123456789' });

  it('has one user per service with the broker, plus the optional operator, and no guest', () => {
    expect(definitions.users.map((user) => user.name).sort()).toEqual([...SERVICES, 'operator'].sort());
    expect(definitions.users.every((user) => user.hashing_algorithm === 'rabbit_password_hashing_sha256' && !('password' in user))).toBe(true);
    expect(definitions.users.filter((user) => user.tags.length > 0).map((user) => user.name)).toEqual(['operator']);
    expect(generate().users.map((user) => user.name).sort()).toEqual([...SERVICES].sort());
  });

  it("gives each service's user a topic permission on the events exchange for exactly its own event types", () => {
    for (const service of SERVICES) {
      const topic = definitions.topic_permissions.filter((permission) => permission.user === service);
      expect(topic.map((permission) => permission.exchange)).toEqual([exchangeName('payments')]);
      const allowed = EVENT_TYPES.filter((type) => new RegExp(topic[0]!.write).test(type));
      expect({ service, allowed }).toEqual({ service, allowed: EVENT_TYPES.filter((type) => EVENT_PRODUCERS[type] === service) });
    }
  });

  it("lets each service's user read and configure only its own queues, and write no other service's queue nor the default exchange", () => {
    for (const service of SERVICES) {
      const [permission] = definitions.permissions.filter((entry) => entry.user === service);
      for (const other of SERVICES) {
        const names = queueNames('payments', other);
        for (const queue of [names.main, ...names.retries, names.dead, names.moves]) {
          const own = other === service;
          expect({ service, queue, read: new RegExp(permission!.read).test(queue), configure: new RegExp(permission!.configure).test(queue) }).toEqual({ service, queue, read: own, configure: own });
          expect({ service, queue, write: new RegExp(permission!.write).test(queue) }).toEqual({ service, queue, write: own });
        }
      }
      expect(new RegExp(permission!.write).test(exchangeName('payments'))).toBe(true);
      expect(['amq.default', exchangeName('payments')].some((name) => new RegExp(permission!.read).test(name) || new RegExp(permission!.configure).test(name))).toBe(false);
      expect(new RegExp(permission!.write).test('amq.default')).toBe(false);
    }
  });

  it("declares every consuming service's queues and binds its main queue to exactly the types it consumes", () => {
    for (const events of ALL_SERVICE_EVENTS.filter((declaration) => declaration.consumes.length > 0)) {
      const names = queueNames('payments', events.service);
      expect(definitions.queues.map((queue) => queue.name)).toEqual(expect.arrayContaining([names.main, ...names.retries, names.dead]));
      const bound = definitions.bindings.filter((binding) => binding.source === exchangeName('payments') && binding.destination === names.main).map((binding) => binding.routing_key);
      expect(bound.sort()).toEqual([...events.consumes].sort());
    }
  });
});

describe('compose and Kubernetes wire each service to its own broker user', () => {
  const compose = YAML.parse(read('docker-compose.yml')) as Yaml;
  const k8s = (file: string) => YAML.parseAllDocuments(read('deploy', 'k8s', file)).map((doc) => doc.toJSON() as Yaml);
  const DEPLOYMENTS: Record<string, string> = {
    'audit-service': '20-audit-service.yaml',
    'order-service': '21-order-service.yaml',
    'payment-service': '22-payment-service.yaml',
    'callback-gateway': '23-callback-gateway.yaml',
  };

  it('compose: each service logs in as itself (password from the shell), and only checks the topology the definitions declared', () => {
    for (const service of SERVICES) {
      const env = compose.services[service].environment as Record<string, string>;
      const variable = brokerPasswordVariable(service);
      expect({ service, url: env.AMQP_URL, declare: env.BROKER_DECLARE_TOPOLOGY }).toEqual({
        service,
        url: `amqp://${service}:\${${variable}:?set ${variable}}@rabbitmq:5672`,
        declare: 'false',
      });
      expect(compose.services['broker-definitions'].environment[variable]).toBe(`\${${variable}:?set ${variable}}`);
    }
  });

  it('compose: RabbitMQ boots from the generated definitions (after the one-shot), with no guest user, its ports on 127.0.0.1 only', () => {
    const rabbitmq = compose.services.rabbitmq as Yaml;
    expect(rabbitmq.depends_on).toEqual({ 'broker-definitions': { condition: 'service_completed_successfully' } });
    expect(rabbitmq.environment?.RABBITMQ_DEFAULT_USER).toBeUndefined();
    expect(rabbitmq.ports.every((port: string) => port.startsWith('127.0.0.1:'))).toBe(true);
    const conf = read('deploy', 'compose', 'rabbitmq-definitions.conf');
    const loaded = /^load_definitions = (\S+)$/m.exec(conf)?.[1];
    expect(rabbitmq.volumes).toContain(`rabbitmq-definitions:${path.posix.dirname(loaded!)}:ro`);
    expect(rabbitmq.volumes).toContain('./deploy/compose/rabbitmq-definitions.conf:/etc/rabbitmq/conf.d/20-definitions.conf:ro');
    const oneShot = compose.services['broker-definitions'] as Yaml;
    expect(oneShot.volumes).toContain('rabbitmq-definitions:/definitions');
    expect(oneShot.command.join(' ')).toContain(`scripts/broker-definitions.ts --out /definitions/${path.posix.basename(loaded!)}`);
    expect(oneShot.build.target).toBe('build');
    expect(read('Dockerfile')).toMatch(/^COPY scripts\/broker-definitions\.ts \.\/scripts\/$/m);
  });

  it("k8s: each Deployment's AMQP_URL is its own Secret key naming its own user; RabbitMQ mounts the definitions Secret it loads", () => {
    const secret = k8s('secret.template.yaml')[0]!.stringData as Record<string, string>;
    for (const [service, file] of Object.entries(DEPLOYMENTS)) {
      const deployment = k8s(file).find((doc) => doc.kind === 'Deployment')!;
      const env = deployment.spec.template.spec.containers[0].env as Yaml[];
      const key = env.find((entry) => entry.name === 'AMQP_URL')?.valueFrom?.secretKeyRef?.key;
      expect({ service, key }).toEqual({ service, key: `${service.toUpperCase().replace(/-/g, '_')}_AMQP_URL` });
      expect(new URL(secret[key]!).username).toBe(service);
      expect(env.find((entry) => entry.name === 'BROKER_DECLARE_TOPOLOGY')?.value).toBe('false');
    }
    expect(Object.keys(secret).filter((key) => key === 'AMQP_URL' || key.startsWith('RABBITMQ_'))).toEqual([]);
    const docs = k8s('11-rabbitmq.yaml');
    const conf = docs.find((doc) => doc.kind === 'ConfigMap')!.data['20-definitions.conf'] as string;
    const loaded = /^load_definitions = (\S+)$/m.exec(conf)?.[1];
    const pod = docs.find((doc) => doc.kind === 'StatefulSet')!.spec.template.spec;
    const container = pod.containers[0];
    expect(container.env ?? []).toEqual([]);
    const definitionsVolume = pod.volumes.find((volume: Yaml) => volume.secret?.secretName === 'payments-broker-definitions');
    expect(container.volumeMounts.find((mount: Yaml) => mount.name === definitionsVolume.name)?.mountPath).toBe(path.posix.dirname(loaded!));
    expect(path.posix.basename(loaded!)).toBe('definitions.json');
    expect(read('deploy', 'README.md')).toContain('npm run --silent broker-definitions | \\\n  kubectl -n payments create secret generic payments-broker-definitions --from-file=definitions.json=/dev/stdin');
  });
});
