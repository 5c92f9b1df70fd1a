/**
 * `npm run simulate -- <mock|wechatpay|alipay> --payment <id> [--status SUCCESS|FAILED] [--amount 99.00]
 *   [--tamper] [--notification <id>] [--transaction <id>] [--repeat N]`
 * Signs a provider callback with the running dev stack's keys and sends it to the callback gateway,
 * exactly as the provider would. Without --amount it reads the payment's amount through the gateway.
 */
import { parseArgs } from 'node:util';
import { signToken } from '@pay/auth';
import { providerName } from '@pay/contracts';
import { readDevSession, sendProviderCallback } from '@pay/harness';
import { parseDecimalAmount } from '@pay/money';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      payment: { type: 'string' },
      status: { type: 'string', default: 'SUCCESS' },
      amount: { type: 'string' },
      tamper: { type: 'boolean', default: false },
      notification: { type: 'string' },
      transaction: { type: 'string' },
      repeat: { type: 'string', default: '1' },
    },
  });
  const provider = providerName.safeParse(positionals[0]);
  if (!provider.success || !values.payment || !['SUCCESS', 'FAILED'].includes(values.status!)) {
    console.error('usage: npm run simulate -- <mock|wechatpay|alipay> --payment <id> [--status SUCCESS|FAILED] [--amount 99.00] [--tamper] [--repeat N]');
    process.exit(2);
  }
  const session = readDevSession();
  if (!session) {
    console.error('no running dev stack found (.cache/dev-session.json); run `npm start` first');
    process.exit(2);
  }
  let amountMinor = values.amount ? parseDecimalAmount(values.amount) : null;
  if (values.amount && amountMinor === null) {
    console.error('--amount must look like 99.00');
    process.exit(2);
  }
  if (amountMinor === null) {
    const admin = signToken({ sub: 'simulator', role: 'admin' }, session.jwtSecret, '5m');
    const response = await fetch(`${session.gatewayUrl}/api/v1/payments/${encodeURIComponent(values.payment)}`, { headers: { authorization: `Bearer ${admin}` } });
    if (!response.ok) {
      console.error(`cannot read payment ${values.payment}: HTTP ${response.status} ${await response.text()}`);
      process.exit(1);
    }
    amountMinor = parseDecimalAmount(((await response.json()) as { amount: string }).amount);
  }
  const notificationId = values.notification ?? `ntf-${Date.now()}`;
  const transactionId = values.transaction ?? `txn-${Date.now()}`; // a repeat is the same notification, byte for byte in content
  for (let i = 0; i < Number(values.repeat); i++) {
    const result = await sendProviderCallback(
      session.callbackUrl,
      {
        provider: provider.data,
        paymentId: values.payment,
        amountMinor: amountMinor!,
        status: values.status as 'SUCCESS' | 'FAILED',
        tamper: values.tamper,
        notificationId,
        transactionId,
      },
      session,
    );
    console.log(`${provider.data} callback → HTTP ${result.status} ${result.body}`);
  }
}

void main();
