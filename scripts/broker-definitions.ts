/**
 * `npm run broker-definitions [-- --out FILE]`: the RabbitMQ definitions of an environment (one broker
 * user per service with its permissions and topic permissions, the events exchange, every service's
 * queues and bindings; libs/messaging/src/definitions.ts), as JSON on stdout or into FILE (mode 0600:
 * it holds password hashes). Built from the services' src/events.ts, so it never drifts from the code.
 *
 * Environment (never written to the repository):
 *   BROKER_PASSWORD_AUDIT_SERVICE, BROKER_PASSWORD_ORDER_SERVICE, BROKER_PASSWORD_PAYMENT_SERVICE,
 *   BROKER_PASSWORD_CALLBACK_GATEWAY   each service's password (>= 16 chars; its AMQP_URL carries the same)
 *   BROKER_PASSWORD_OPERATOR           optional: user `operator`, every right (management UI, `npm run dlq`)
 *   BROKER_PREFIX                      default `payments`, as the services
 * Used by docker-compose.yml (the broker-definitions one-shot) and deploy/README.md (the k8s Secret).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, commonEnv, loadConfig, optionalVariable, secret } from '@pay/config';
import { brokerPasswordVariable, buildBrokerDefinitions, OPERATOR_USER } from '@pay/messaging';
import { ALL_SERVICE_EVENTS } from '../libs/harness/src/topology';

/** It goes into the service's AMQP_URL as it is, so only characters a URL carries unescaped. */
const password = secret(16).regex(/^[A-Za-z0-9._~-]+$/, 'letters, digits and . _ ~ - only (it is written into AMQP_URL)');

const envSchema = z.object({
  BROKER_PREFIX: commonEnv.BROKER_PREFIX,
  BROKER_PASSWORD_OPERATOR: optionalVariable(password),
  ...Object.fromEntries(ALL_SERVICE_EVENTS.map((events) => [brokerPasswordVariable(events.service), password])),
});

function main(): void {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  let env: Record<string, string | undefined>;
  try {
    env = loadConfig(envSchema, process.env) as Record<string, string | undefined>;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`[broker-definitions] ${error.message}`);
      process.exit(78);
    }
    throw error;
  }
  const passwords: Record<string, string> = Object.fromEntries(ALL_SERVICE_EVENTS.map((events) => [events.service, env[brokerPasswordVariable(events.service)]!]));
  if (env.BROKER_PASSWORD_OPERATOR) passwords[OPERATOR_USER] = env.BROKER_PASSWORD_OPERATOR;
  const definitions = buildBrokerDefinitions({
    prefix: env.BROKER_PREFIX!,
    services: ALL_SERVICE_EVENTS,
    passwords,
    operator: env.BROKER_PASSWORD_OPERATOR ? { name: OPERATOR_USER } : null,
  });
  const json = `${JSON.stringify(definitions, null, 2)}\n`;
  if (values.out) {
    writeFileSync(values.out, json, { mode: 0o600 });
    console.error(`[broker-definitions] ${definitions.users.length} users, ${definitions.queues.length} queues -> ${values.out}`);
  } else {
    process.stdout.write(json);
  }
}

main();
