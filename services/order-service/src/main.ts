import { createInbox } from '@pay/db';
import { createHttpApp } from '@pay/http';
import { OutboxRelay } from '@pay/outbox';
import { runService } from '@pay/runtime';
import { orderConfigSchema } from './config';
import { backfillIdempotencyKeys, migrateIdempotencyKeys, orderModel } from './data-access/order-model';
import { auditAnchorModel, AuditAnchorRepository } from './data-access/audit-anchor-repository';
import { OrderRepository } from './data-access/order-repository';
import { productModel } from './data-access/product-model';
import { ProductRepository } from './data-access/product-repository';
import { productRoutes } from './entry-points/http/product-routes';
import { auditAnchorRoutes } from './entry-points/http/audit-anchor-routes';
import { orderRoutes } from './entry-points/http/routes';
import { orderEventHandlers } from './entry-points/messaging/consumers';
import { orderServiceEvents } from './events';

void runService({
  name: 'order-service',
  configSchema: orderConfigSchema,
  port: (config) => config.ORDER_PORT,
  metricsPort: (config) => config.METRICS_PORT,
  database: 'orders',
  events: orderServiceEvents,
  // Served only to the API gateway's identity tokens for this service (INTERNAL_TOKEN_SECRET).
  acceptsGatewayIdentity: true,
  async build({ logger, metrics, broker, db, readiness, gatewayIdentity }) {
    const model = orderModel(db!);
    const backfilled = await backfillIdempotencyKeys(model); // before the unique index is created
    if (backfilled > 0) logger.info('older orders given their idempotency key value', { count: backfilled });
    const migrated = await migrateIdempotencyKeys(model); // before the (user_id, idempotency_key) index is created
    if (migrated > 0) logger.info('older idempotency keys no longer carry the user (it is their own field)', { count: migrated });
    const relay = new OutboxRelay({ models: [model], publisher: broker!, logger, onBacklog: (n) => metrics.outboxBacklog.set(n) });
    const store = new OrderRepository(model, relay);
    const catalog = new ProductRepository(productModel(db!));
    const auditAnchors = new AuditAnchorRepository(auditAnchorModel(db!));
    const app = createHttpApp({ service: 'order-service', logger, metrics, readiness });
    app.use('/api/v1', gatewayIdentity(), orderRoutes({ orders: store, catalog }, logger), productRoutes(catalog, logger), auditAnchorRoutes(auditAnchors));
    return {
      app,
      async start() {
        relay.start();
        await broker!.consume(orderServiceEvents, orderEventHandlers(store, logger, auditAnchors), { inbox: createInbox(db!) });
      },
      background: [relay],
    };
  },
});
