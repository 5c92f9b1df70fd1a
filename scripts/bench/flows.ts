import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { signToken } from '@pay/auth';
import { createClient } from '@pay/client';
import { sendProviderCallback, type Stack, type generateDevSecrets } from '@pay/harness';
import { exchangeName } from '@pay/messaging';
import { percentile, timed } from './measure';

/**
 * Learns from the broker, not by polling the API, when each order became paid: an exclusive queue bound
 * to `order.paid` on the stack's exchange. Polling would add load to the very services being measured.
 */
export class PaidWatcher {
  private connection: ChannelModel | null = null;
  private channel: Channel | null = null;
  private readonly waiting = new Map<string, (at: number) => void>();
  private readonly paidAt = new Map<string, number>();

  async start(amqpUrl: string, brokerPrefix: string): Promise<void> {
    this.connection = await amqp.connect(amqpUrl);
    this.channel = await this.connection.createChannel();
    const { queue } = await this.channel.assertQueue('', { exclusive: true, autoDelete: true });
    await this.channel.bindQueue(queue, exchangeName(brokerPrefix), 'order.paid');
    await this.channel.consume(
      queue,
      (message) => {
        if (!message) return;
        const at = performance.now();
        const orderId = (JSON.parse(message.content.toString('utf8')) as { data: { orderId: string } }).data.orderId;
        this.paidAt.set(orderId, at);
        this.waiting.get(orderId)?.(at);
      },
      { noAck: true },
    );
  }

  /** Resolves with the moment (performance.now) `order.paid` of the order was seen. */
  paid(orderId: string, timeoutMs = 60_000): Promise<number> {
    const seen = this.paidAt.get(orderId);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`order ${orderId} not paid within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(orderId, (at) => {
        clearTimeout(timer);
        this.waiting.delete(orderId);
        resolve(at);
      });
    });
  }

  async stop(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
  }
}

export interface FlowFigures {
  customers: number;
  flows: number;
  flowsPerSecond: number;
  /** Callback sent → order.paid seen on the broker. */
  paidLatencyMs: { p50: number; p99: number };
  /** One whole flow as the customer sees it: order → payment → start → provider callback → paid. */
  flowLatencyMs: { p50: number; p99: number };
}

/**
 * `customers` concurrent customers, each running whole flows back to back until `flows` are done:
 * order → payment → start → signed provider callback → order.paid (seen on the broker).
 */
export async function runFlows(
  stack: Stack,
  secrets: ReturnType<typeof generateDevSecrets>,
  watcher: PaidWatcher,
  customers: number,
  flows: number,
  label: string,
): Promise<FlowFigures> {
  // The product the flows order (orders take their price from the catalog), added before the clock starts.
  const catalog = createClient({ baseUrl: `${stack.gatewayUrl}/api/v1`, token: signToken({ sub: `bench-${label}-admin`, role: 'admin' }, secrets.session.jwtSecret, '2h') });
  const product = await catalog.createProduct({ name: 'Bench tea', unit_price: '1.00' });
  const paidLatencies: number[] = [];
  const flowLatencies: number[] = [];
  let next = 0;
  const [, totalMs] = await timed(() =>
    Promise.all(
      Array.from({ length: customers }, async (_, customer) => {
        const client = createClient({
          baseUrl: `${stack.gatewayUrl}/api/v1`,
          token: signToken({ sub: `bench-${label}-${customer}`, role: 'customer' }, secrets.session.jwtSecret, '2h'),
        });
        while (next < flows) {
          next++;
          const [, flowMs] = await timed(async () => {
            const order = await client.createOrder({ items: [{ product_id: product.id, quantity: 1 }] });
            // bank_card pays through the mock provider (at the simulator), whose signed callback the bench sends.
            const payment = await client.createPayment({ order_id: order.id, method: 'bank_card' });
            await client.startPayment(payment.id);
            const sentAt = performance.now();
            const answer = await sendProviderCallback(stack.callbackUrl, { provider: 'mock', paymentId: payment.id, amountMinor: 100, status: 'SUCCESS' }, secrets.session);
            if (answer.status !== 200) throw new Error(`callback answered ${answer.status}: ${answer.body}`);
            paidLatencies.push((await watcher.paid(order.id)) - sentAt);
          });
          flowLatencies.push(flowMs);
        }
      }),
    ),
  );
  return {
    customers,
    flows,
    flowsPerSecond: flows / (totalMs / 1000),
    paidLatencyMs: { p50: percentile(paidLatencies, 50), p99: percentile(paidLatencies, 99) },
    flowLatencyMs: { p50: percentile(flowLatencies, 50), p99: percentile(flowLatencies, 99) },
  };
}
