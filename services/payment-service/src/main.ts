import type { EventType } from '@pay/contracts';
import { createInbox } from '@pay/db';
import { createHttpApp } from '@pay/http';
import { Counter } from '@pay/metrics';
import { OutboxRelay } from '@pay/outbox';
import { runService } from '@pay/runtime';
import { paymentConfigSchema } from './config';
import { backfillRefundsPending, paymentModel } from './data-access/payment-model';
import { PaymentRepository } from './data-access/payment-repository';
import { KnownOrdersRepository } from './data-access/known-orders-repository';
import { expireOverduePayments, queryDuePayments } from './domain/pay-at-provider';
import { queryDueRefunds, type RefundCalls } from './domain/refund-at-provider';
import { paymentRoutes } from './entry-points/http/routes';
import { paymentEventHandlers } from './entry-points/messaging/consumers';
import { InHandDeliveries } from './entry-points/messaging/in-hand-deliveries';
import { ConsumerLag } from './entry-points/messaging/order-view-lag';
import { startSweeper } from './entry-points/sweeper';
import { providerDirectory } from './outbound/provider-directory';
import { paymentServiceEvents } from './events';

/** The payment outcome each stored event stands for (payments_total{outcome}). */
const PAYMENT_OUTCOME_OF: Partial<Record<EventType, string>> = {
  'payment.created': 'created',
  'payment.processing': 'processing',
  'payment.succeeded': 'succeeded',
  'payment.failed': 'failed',
  'payment.cancelled': 'cancelled',
  'payment.expired': 'expired',
  'payment.late_success': 'late_success',
};

void runService({
  name: 'payment-service',
  configSchema: paymentConfigSchema,
  port: (config) => config.PAYMENT_PORT,
  metricsPort: (config) => config.METRICS_PORT,
  database: 'payments',
  events: paymentServiceEvents,
  // Served only to the API gateway's identity tokens for this service (INTERNAL_TOKEN_SECRET).
  acceptsGatewayIdentity: true,
  async build({ config, logger, metrics, broker, db, readiness, gatewayIdentity }) {
    const model = paymentModel(db!);
    const relay = new OutboxRelay({ models: [model], publisher: broker!, logger, onBacklog: (n) => metrics.outboxBacklog.set(n) });
    // The original's monitoring figures: success rate, failure and timeout (expiry) rates are ratios of
    // this counter's outcomes; it counts only changes that were stored (a lost race or a repeat is not).
    const payments = new Counter({
      name: 'payments_total',
      help: 'Payments entering a state: created, processing, succeeded, failed, cancelled, expired, late_success',
      labelNames: ['outcome', 'method', 'provider'] as const,
      registers: [metrics.registry],
    });
    const store = new PaymentRepository(model, relay, (events, payment) => {
      for (const event of events) {
        const outcome = PAYMENT_OUTCOME_OF[event.type];
        if (outcome) payments.inc({ outcome, method: payment.method, provider: payment.provider ?? 'none' });
      }
    });
    const providers = providerDirectory(config);
    logger.info('payment providers', { configured: Object.keys(providers) });
    const calls: RefundCalls = { store, providers, logger, queryAfterSeconds: config.PAYMENT_QUERY_AFTER_S, refundQueryAfterSeconds: config.REFUND_QUERY_AFTER_S };
    const orders = new KnownOrdersRepository(db!);
    // order.created deliveries in hand count as lag (RabbitMQ's queue depth counts only ready messages).
    const orderDeliveries = new InHandDeliveries(['order.created']);
    const inbox = orderDeliveries.track(createInbox(db!));
    const lag = new ConsumerLag({ waiting: () => broker!.queueDepths(paymentServiceEvents.service), inHand: () => orderDeliveries.count });

    const app = createHttpApp({ service: 'payment-service', logger, metrics, readiness });
    app.use('/api/v1', gatewayIdentity(), paymentRoutes({ store, calls, orders, lag, config, logger }));

    let sweepers: { stop(): Promise<void> }[] = [];
    return {
      app,
      async start() {
        const marked = await backfillRefundsPending(model);
        if (marked > 0) logger.info('payments stored before refunds_pending marked for the refund job', { count: marked });
        relay.start();
        await broker!.consume(paymentServiceEvents, paymentEventHandlers(calls, orders, logger), { inbox, prefetch: config.CONSUMER_PREFETCH });
        sweepers = [
          startSweeper('expiry', () => expireOverduePayments(calls), config.EXPIRY_SWEEP_INTERVAL_MS, logger),
          startSweeper('provider query', () => queryDuePayments(calls), config.PROVIDER_QUERY_INTERVAL_MS, logger),
          startSweeper('refund query', () => queryDueRefunds(calls), config.PROVIDER_QUERY_INTERVAL_MS, logger),
        ];
      },
      background: [{ stop: async () => void (await Promise.all(sweepers.map((sweeper) => sweeper.stop()))) }, relay],
    };
  },
});
