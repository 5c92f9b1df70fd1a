import { createHttpApp } from '@pay/http';
import { Counter, Histogram } from '@pay/metrics';
import { createProviders } from '@pay/providers';
import { runService } from '@pay/runtime';
import { callbackConfigSchema, PROVIDER_VARIABLES, providerSettings } from './config';
import { KnownPaymentsRepository } from './data-access/known-payments-repository';
import { NotificationRepository } from './data-access/notification-repository';
import { callbackRoutes } from './entry-points/http/routes';
import { callbackGatewayEventHandlers } from './entry-points/messaging/consumers';
import { callbackGatewayEvents } from './events';

void runService({
  name: 'callback-gateway',
  configSchema: callbackConfigSchema,
  port: (config) => config.CALLBACK_PORT,
  metricsPort: (config) => config.METRICS_PORT,
  database: 'callbacks',
  events: callbackGatewayEvents,
  async build({ config, logger, metrics, broker, db, readiness }) {
    const providers = createProviders(providerSettings(config));
    logger.info('providers enabled', { providers: Object.keys(providers) });
    if (Object.keys(providers).length === 0) {
      // Allowed (compose and k8s enable a provider only when its variables are given), but loud: every
      // callback is answered 404 until one is configured.
      const groups = Object.entries(PROVIDER_VARIABLES).map(([provider, names]) => `${provider}: ${names.join(', ')}`);
      logger.warn(`no payment provider is configured, so every callback is refused (404): set all variables of one provider (${groups.join('; ')})`);
    }
    const responseTime = new Histogram({
      name: 'callback_response_seconds',
      help: 'Time from receiving a provider callback to answering it, by provider and outcome',
      labelNames: ['provider', 'outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [metrics.registry],
    });
    const callbacks = new Counter({
      name: 'callbacks_total',
      help: 'Provider callbacks by outcome (accepted, replayed, rejected = signature/format/amount failures, payment_unknown, retry_later)',
      labelNames: ['provider', 'outcome'] as const,
      registers: [metrics.registry],
    });
    const payments = new KnownPaymentsRepository(db!);
    const app = createHttpApp({ service: 'callback-gateway', logger, metrics, readiness, parseJson: false });
    app.set('trust proxy', config.TRUST_PROXY_HOPS);
    app.use(
      callbackRoutes(providers, {
        log: new NotificationRepository(db!),
        payments,
        paymentWaitMs: config.PAYMENT_WAIT_MS,
        publish: (event) => broker!.publish(event),
        logger,
        observe: (provider, outcome, seconds) => {
          responseTime.observe({ provider, outcome }, seconds);
          callbacks.inc({ provider, outcome });
        },
      }, { refusalsPerMinutePerIp: config.CALLBACK_REFUSALS_PER_IP }),
    );
    return {
      app,
      async start() {
        // No inbox: the only effect is an insert keyed by the payment id, so a second copy is a no-op by itself.
        await broker!.consume(callbackGatewayEvents, callbackGatewayEventHandlers(payments));
      },
    };
  },
});
