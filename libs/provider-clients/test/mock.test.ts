import { randomBytes } from 'node:crypto';
import { MOCK_SIGNATURE_HEADER, signMockAnswer, verifyMockRequest } from '@pay/providers';
import { type OpenRequest, createMockClient } from '../src';
import { useCaptureServer } from './support/capture-server';

const secret = randomBytes(24).toString('hex');
const server = useCaptureServer();

const client = (timeoutMs = 2000) => createMockClient({ secret, baseUrl: server.url, notifyUrl: 'http://127.0.0.1:8081/callbacks/mock', timeoutMs });

function signed(status: number, body: string, key = secret) {
  return { status, headers: { 'content-type': 'application/json', [MOCK_SIGNATURE_HEADER]: signMockAnswer(key, body) }, body };
}

const order: OpenRequest = {
  paymentId: 'pay_0003',
  amountMinor: 1234,
  currency: 'CNY',
  description: 'Order 3',
  expiresAt: new Date('2025-01-15T08:30:00Z'),
  channel: 'mock',
};

describe('mock client (local server)', () => {
  it("signs method, path and body so that the provider side's own check accepts it", async () => {
    server.answer = () => signed(200, JSON.stringify({ out_trade_no: 'pay_0003', cashier_url: 'http://sim/cashier/mock/pay_0003', status: 'NOTPAY' }));
    await expect(client().open(order)).resolves.toEqual({ channel: 'mock', payParams: { cashier_url: 'http://sim/cashier/mock/pay_0003' }, providerOrderId: null });
    const [request] = server.requests;
    if (!request) throw new Error('no request');
    expect(request.url).toBe('/mock/v1/orders');
    expect(JSON.parse(request.body)).toEqual({
      out_trade_no: 'pay_0003',
      amount: '12.34',
      description: 'Order 3',
      notify_url: 'http://127.0.0.1:8081/callbacks/mock',
      time_expire: '2025-01-15T08:30:00.000Z',
    });
    const header = String(request.headers[MOCK_SIGNATURE_HEADER]);
    expect(verifyMockRequest(secret, header, 'POST', request.url, request.body)).toEqual({ ok: true });
    expect(verifyMockRequest(secret, header, 'POST', '/mock/v1/refunds', request.body).ok).toBe(false);
  });

  it('maps a query, and never trusts an answer without a valid signature', async () => {
    server.answer = () => signed(200, JSON.stringify({ status: 'SUCCESS', transaction_id: 'mock_txn_1', amount: '12.34' }));
    await expect(client().query('pay_0003')).resolves.toEqual({ state: 'paid', transactionId: 'mock_txn_1', amountMinor: 1234, providerState: 'SUCCESS' });
    expect(server.requests[0]?.url).toBe('/mock/v1/orders/pay_0003');
    server.answer = () => signed(200, JSON.stringify({ status: 'SUCCESS', transaction_id: 'mock_txn_1', amount: '12.34' }), 'another secret');
    await expect(client().query('pay_0003')).rejects.toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
    server.answer = () => ({ status: 404, body: JSON.stringify({ code: 'ORDER_NOT_EXIST' }) });
    await expect(client().query('pay_0003')).rejects.toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
    server.answer = () => signed(404, JSON.stringify({ code: 'ORDER_NOT_EXIST' }));
    await expect(client().query('pay_0003')).resolves.toMatchObject({ state: 'not_found' });
  });

  it('treats a 5xx as retryable and a silent server as unknown', async () => {
    server.answer = () => ({ status: 500, body: '{"code":"SYSTEM_ERROR"}' });
    await expect(client().close('pay_0003')).rejects.toMatchObject({ kind: 'retryable', code: 'SYSTEM_ERROR' });
    server.answer = () => 'hang';
    await expect(client(200).close('pay_0003')).rejects.toMatchObject({ kind: 'unknown', code: 'timeout' });
  });
});
