import { createHmac, randomBytes } from 'node:crypto';
import { signMockAnswer, signMockCallback, signMockRequest, verifyMockAnswer, verifyMockRequest } from '../src';

const secret = randomBytes(24).toString('hex');
const NOW = new Date('2025-01-15T08:00:00Z');
const nowSeconds = Math.floor(NOW.getTime() / 1000);
const body = '{"out_trade_no":"pay-1","amount":"12.34","description":"Tea"}';

/** The request scheme written out independently of the code under test. */
function independentRequestSignature(method: string, pathWithQuery: string, rawBody: string, t = nowSeconds): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${method} ${pathWithQuery}\n${rawBody}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

describe('mock provider API: request signatures', () => {
  it('signs "<t>.<METHOD> <path-with-query>\\n<raw body>" with HMAC-SHA256', () => {
    expect(signMockRequest(secret, 'POST', '/mock/v1/orders', body, NOW)).toBe(independentRequestSignature('POST', '/mock/v1/orders', body));
    expect(signMockRequest(secret, 'get', '/mock/v1/orders/pay-1?x=1', '', NOW)).toBe(independentRequestSignature('GET', '/mock/v1/orders/pay-1?x=1', ''));
  });

  it('accepts its own signature, for bytes or text', () => {
    const header = signMockRequest(secret, 'POST', '/mock/v1/orders', body, NOW);
    expect(verifyMockRequest(secret, header, 'POST', '/mock/v1/orders', Buffer.from(body), NOW)).toEqual({ ok: true });
    expect(verifyMockRequest(secret, header, 'post', '/mock/v1/orders', body, NOW)).toEqual({ ok: true });
  });

  it('refuses the same signature for another method, path, query or body', () => {
    const header = signMockRequest(secret, 'POST', '/mock/v1/orders', body, NOW);
    const others: [string, string, string][] = [
      ['PUT', '/mock/v1/orders', body],
      ['POST', '/mock/v1/refunds', body],
      ['POST', '/mock/v1/orders?a=1', body],
      ['POST', '/mock/v1/orders', body.replace('12.34', '12.35')],
    ];
    for (const [method, path, raw] of others) {
      expect(verifyMockRequest(secret, header, method, path, raw, NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
    }
  });

  it('refuses another secret, a missing header and a stale timestamp', () => {
    const foreign = signMockRequest(`${secret}x`, 'GET', '/mock/v1/orders/pay-1', '', NOW);
    expect(verifyMockRequest(secret, foreign, 'GET', '/mock/v1/orders/pay-1', '', NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(verifyMockRequest(secret, undefined, 'GET', '/mock/v1/orders/pay-1', '', NOW)).toMatchObject({ ok: false, reason: 'missing_signature' });
    const old = signMockRequest(secret, 'GET', '/mock/v1/orders/pay-1', '', new Date(NOW.getTime() - 301_000));
    expect(verifyMockRequest(secret, old, 'GET', '/mock/v1/orders/pay-1', '', NOW)).toMatchObject({ ok: false, reason: 'stale_timestamp' });
  });

  it('cannot be passed off as a callback signature, nor a callback signature as a request one', () => {
    const callback = signMockCallback(
      { notification_id: 'n', payment_id: 'pay-1', transaction_id: 't', status: 'SUCCESS', amount: '1.00' },
      secret,
      NOW,
    );
    const header = callback.headers['x-mock-signature']!;
    expect(verifyMockRequest(secret, header, 'POST', '/mock/v1/orders', callback.rawBody, NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });
});

describe('mock provider API: answer signatures', () => {
  it('signs "<t>.<raw answer>", the empty string for a 204', () => {
    const expected = createHmac('sha256', secret).update(`${nowSeconds}.`).digest('hex');
    expect(signMockAnswer(secret, '', NOW)).toBe(`t=${nowSeconds},v1=${expected}`);
    expect(verifyMockAnswer(secret, signMockAnswer(secret, '', NOW), '', NOW)).toEqual({ ok: true });
  });

  it('refuses a changed answer, another secret and a stale one', () => {
    const answer = '{"out_trade_no":"pay-1","status":"SUCCESS"}';
    const header = signMockAnswer(secret, answer, NOW);
    expect(verifyMockAnswer(secret, header, answer, NOW)).toEqual({ ok: true });
    expect(verifyMockAnswer(secret, header, answer.replace('SUCCESS', 'NOTPAY'), NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(verifyMockAnswer(`${secret}x`, header, answer, NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(verifyMockAnswer(secret, header, answer, new Date(NOW.getTime() + 301_000))).toMatchObject({ ok: false, reason: 'stale_timestamp' });
    expect(verifyMockAnswer(secret, 't=1', answer, NOW)).toMatchObject({ ok: false, reason: 'missing_signature' });
  });
});
