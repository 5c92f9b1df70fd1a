/**
 * `npm run simulate -- <pay|fail> --payment <id> [--notify normal|never|duplicate|delay_s:N]`
 * The customer pays (or fails) a started payment at the provider simulator, which then notifies the
 * callback gateway as the provider would (or not, or twice, or late).
 *
 * `npm run simulate -- <mock|wechatpay|alipay> --payment <id> [--status SUCCESS|FAILED] [--amount 99.00]
 *   [--tamper] [--notification <id>] [--transaction <id>] [--repeat N]`
 * Signs a provider callback with the running dev stack's keys and sends it to the callback gateway
 * directly. Without --amount it reads the payment's amount through the gateway.
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
      notify: { type: 'string', default: 'normal' },
    },
  });
  if (positionals[0] === 'pay' || positionals[0] === 'fail') {
    await atSimulator(positionals[0], values.payment, values.notify!);
    return;
  }
  const provider = providerName.safeParse(positionals[0]);
  if (!provider.success || !values.payment || !['SUCCESS', 'FAILED'].includes(values.status!)) {
    console.error('usage: npm run simulate -- <pay|fail> --payment <id> [--notify normal|never|duplicate|delay_s:N]');
    console.error('       npm run simulate -- <mock|wechatpay|alipay> --payment <id> [--status SUCCESS|FAILED] [--amount 99.00] [--tamper] [--repeat N]');
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
    const admin = signToken({ sub: 'simulator', role: 'admin' }, session.jwtSecret, '5m', { audience: session.jwtAudience, issuer: session.jwtIssuer });
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

/** The cashier's pay / fail button, pressed through the simulator's control API. */
async function atSimulator(action: 'pay' | 'fail', paymentId: string | undefined, notify: string): Promise<void> {
  const simUrl = readDevSession()?.providerSimUrl;
  if (!paymentId || !simUrl) {
    console.error(!paymentId ? '--payment <id> is required' : 'no running dev stack with a provider simulator found; run `npm start` first');
    process.exit(2);
  }
  const response = await fetch(`${simUrl}/sim/orders/${encodeURIComponent(paymentId)}/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ notify }),
  });
  console.log(`simulator ${action} → HTTP ${response.status} ${await response.text()}`);
  if (!response.ok) process.exit(1);
}

void main();
