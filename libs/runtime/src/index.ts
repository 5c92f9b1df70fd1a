import type { Express, RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { isInternalAudience, requireInternalIdentity } from '@pay/auth';
import { ConfigError, armFaultPoint, armedFaultPoint, internalTokenEnv, loadConfig, type commonEnv } from '@pay/config';
import { createInternalApp, finishApp, listen, onShutdown, type RunningServer } from '@pay/http';
import type { ServiceListeningMessage } from '@pay/contracts';
import { createLogger, type Logger } from '@pay/logger';
import { createMetrics, type ServiceMetrics } from '@pay/metrics';
import { Broker, type ServiceEvents } from '@pay/messaging';
import { Gauge } from '@pay/metrics';

type CommonConfig = { [K in keyof typeof commonEnv]: z.infer<(typeof commonEnv)[K]> };

export interface ServiceContext<C> {
  config: C;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Null for services that neither publish nor consume (the API gateway). */
  broker: Broker | null;
  /** The service's own database (absent for services that own none, like the API gateway). */
  db: Connection | null;
  readiness: Record<string, () => Promise<boolean> | boolean>;
  /**
   * Middleware admitting only requests that carry the API gateway's identity token for this service
   * (audience = the service's name), signed for the request's method and path. Only for a spec with
   * `acceptsGatewayIdentity` (it throws otherwise, failing the start).
   */
  gatewayIdentity(): RequestHandler;
}

/** What a service hands back: its HTTP app and the things to stop, in order, at shutdown. */
export interface ServiceParts {
  app: Express;
  /** Begins consuming and background loops; runs after the database indexes exist. */
  start?: () => Promise<void>;
  /** Background work (relays, sweepers, consumers' helpers): stopped after HTTP, before connections. */
  background?: { stop(): Promise<void> }[];
}

export interface ServiceSpec<S extends z.ZodObject> {
  name: string;
  configSchema: S;
  port: (config: z.infer<S>) => number;
  /** The internal listener of /metrics and the detailed /readyz (its METRICS_PORT; 0: the OS picks one). */
  metricsPort: (config: z.infer<S>) => number;
  /** Name of the service's own database (`orders`, `payments`, ...), or null. */
  database: string | null;
  /**
   * What the service publishes and consumes (its src/events.ts); null for a service without a broker.
   * Given to the broker before anything runs, so the outbox relay can publish from the first moment.
   */
  events: ServiceEvents | null;
  /**
   * A service behind the API gateway: INTERNAL_TOKEN_SECRET is read (required) and `gatewayIdentity()`
   * verifies the gateway's tokens for this service. Others (the callback gateway) never see that key.
   */
  acceptsGatewayIdentity?: boolean;
  build(context: ServiceContext<z.infer<S>>): Promise<ServiceParts>;
}

/** How long a service waits at start-up for an unreachable broker, in ms (0: one attempt). */
const brokerStartEnv = z.object({ BROKER_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000) });

/**
 * The composition every service shares: parse config (fail fast naming the variable), connect the
 * database (capped pool) and the broker, build the app, listen, and on SIGTERM stop taking work,
 * finish in-flight work, then close connections.
 */
export async function runService<S extends z.ZodObject>(spec: ServiceSpec<S>): Promise<void> {
  const logger = createLogger(spec.name, process.env.LOG_LEVEL);
  let config: z.infer<S> & CommonConfig;
  let gatewayIdentity: ServiceContext<unknown>['gatewayIdentity'];
  try {
    ({ config, gatewayIdentity } = loadServiceConfig(spec, process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error(error.message, { issues: error.issues });
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  logger.level = config.LOG_LEVEL;
  const faultPoint = armedFaultPoint();
  if (faultPoint) logger.warn('test-only fault point armed: this process exits when it reaches it', { fault_point: faultPoint });
  const metrics = createMetrics(spec.name);

  try {
    // Loaded only by services that own a database: mongoose alone costs ~30 MB of memory the API gateway does not need.
    const database = spec.database ? await import('@pay/db') : null;
    const db = spec.database && database
      ? await database.connectMongo({
          url: config.MONGO_URL,
          dbName: database.databaseName(config.DB_PREFIX, spec.database),
          maxPoolSize: config.MONGO_MAX_POOL_SIZE,
          logger,
          onCommand: (command, collection) => metrics.dbCommands.inc({ command, collection }),
        })
      : null;
    // A broker down for a moment at start-up is waited for (back-off, each failed attempt logged once), not
    // fatal; the service listens, and so reports ready, only once connected.
    const connectTimeoutMs = spec.events ? loadConfig(brokerStartEnv, process.env).BROKER_CONNECT_TIMEOUT_MS : 0;
    const broker = spec.events
      ? new Broker({ url: config.AMQP_URL, prefix: config.BROKER_PREFIX, service: spec.name, logger, events: spec.events, connectTimeoutMs, declareTopology: config.BROKER_DECLARE_TOPOLOGY })
      : null;
    const readiness: ServiceContext<unknown>['readiness'] = {};
    if (broker) {
      broker.observer = metrics.brokerObserver;
      await broker.start();
      readiness.broker = () => broker.isConnected();
    }
    if (db && database) readiness.database = () => database.pingMongo(db);
    const parts = await spec.build({ config, logger, metrics, broker, db, readiness, gatewayIdentity });
    if (db && database) await database.ensureIndexes(db);
    await parts.start?.();
    if (broker && spec.events && spec.events.consumes.length > 0) observeQueueDepths(metrics, broker, spec.events);
    finishApp(parts.app, logger);
    // The internal listener first: once the public port answers ready, the metrics port is bound too.
    const internal: RunningServer = await listen(createInternalApp({ service: spec.name, logger, metrics, readiness }), spec.metricsPort(config), '0.0.0.0', logger, 'metrics');
    const server: RunningServer = await listen(parts.app, spec.port(config), '0.0.0.0', logger);
    reportListening({ type: 'service.listening', service: spec.name, port: server.port, metrics_port: internal.port });

    onShutdown(logger, [
      () => server.close(),
      ...(parts.background ?? []).map((part) => () => part.stop()),
      async () => void (await broker?.close()),
      async () => void (await db?.close()),
      // Last: Prometheus and operators see the shutdown through.
      () => internal.close(),
    ]);
  } catch (error) {
    logger.error('start-up failed', { error: (error as Error).message });
    process.exit(1);
  }
}

/**
 * Tells the process that started this one (when it opened an IPC channel: the harness does) the ports
 * actually bound; with METRICS_PORT=0 it has no other way to learn the internal one. Without a channel
 * (compose, Kubernetes) there is no one to tell.
 */
function reportListening(message: ServiceListeningMessage): void {
  // A channel the starter already closed would make send() emit an error: nobody is listening then.
  if (process.send && process.connected) process.send(message);
}

/** The service's config and, for one behind the gateway, its identity check; every bad variable named at once. */
function loadServiceConfig<S extends z.ZodObject>(spec: ServiceSpec<S>, env: NodeJS.ProcessEnv) {
  const issues: ConfigError['issues'] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues.push(...error.issues);
      return undefined;
    }
  };
  const config = attempt(() => loadConfig(spec.configSchema, env) as z.infer<S> & CommonConfig);
  const trust = spec.acceptsGatewayIdentity ? attempt(() => loadConfig(z.object(internalTokenEnv), env)) : undefined;
  attempt(() => armFaultPoint(spec.name, env));
  if (issues.length > 0 || !config) throw new ConfigError(issues);
  const gatewayIdentity = (): RequestHandler => {
    const audience = spec.name;
    if (!trust) throw new Error(`${audience} does not accept the gateway's identity: set acceptsGatewayIdentity in its runService spec`);
    if (!isInternalAudience(audience)) throw new Error(`${audience} is not a service the API gateway forwards to`);
    return requireInternalIdentity({ secret: trust.INTERNAL_TOKEN_SECRET, audience });
  };
  return { config, gatewayIdentity };
}

/** Consumer lag and dead letters, read from the broker when /metrics is scraped. */
function observeQueueDepths(metrics: ServiceMetrics, broker: Broker, events: ServiceEvents): void {
  new Gauge({
    name: 'broker_queue_messages',
    help: "Messages waiting in this service's queues: main (consumer lag), retry (failed, waiting), dead (dead-lettered)",
    labelNames: ['queue'] as const,
    registers: [metrics.registry],
    async collect() {
      if (!broker.isConnected()) return;
      const depths = await broker.queueDepths(events.service).catch(() => null);
      if (!depths) return;
      for (const [queue, count] of Object.entries(depths)) this.set({ queue }, count);
    },
  });
}
