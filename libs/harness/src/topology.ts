import type { ServiceEvents } from '@pay/messaging';
import { auditServiceEvents } from '../../../services/audit-service/src/events';
import { callbackGatewayEvents } from '../../../services/callback-gateway/src/events';
import { orderServiceEvents } from '../../../services/order-service/src/events';
import { paymentServiceEvents } from '../../../services/payment-service/src/events';

/**
 * Every service's event declaration, i.e. the whole broker topology of an environment: declared before
 * any service starts (so no consumer misses an event published before its first start) and removed
 * with the environment. Each service still declares its own queue when it starts consuming.
 */
export const ALL_SERVICE_EVENTS: readonly ServiceEvents[] = [orderServiceEvents, paymentServiceEvents, auditServiceEvents, callbackGatewayEvents];
