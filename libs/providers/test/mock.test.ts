import { createHmac, randomBytes } from 'node:crypto';
import {
  type CallbackRequest,
  MAX_CALLBACK_BYTES,
  type RejectReason,
  type VerifyResult,
  createMockProvider,
  signMockCallback,
} from '../src';

const secret = randomBytes(24).toString('hex');
const provider = createMockProvider({ secret });
const NOW = new Date('2025-01-15T08:00:00Z');
const nowSeconds = Math.floor(NOW.getTime() / 1000);

const successBody = {
  notification_id: 'ntf-1',
  payment_id: 'pay-1',
  transaction_id: 'txn-1',
  status: 'SUCCESS' as const,
  amount: '99.00',
};

function toRequest(signed: { headers: Record<string, string>; rawBody: string | Buffer }): CallbackRequest {
  return { headers: { ...signed.headers }, rawBody: Buffer.from(signed.rawBody) };
}

/** Signs arbitrary bytes the way the protocol says, independently of the code under test. */
function signRaw(rawBody: Buffer | string, t: number = nowSeconds, key: string = secret): CallbackRequest {
  const bytes = Buffer.from(rawBody);
  const v1 = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${t}.`), bytes])).digest('hex');
  return { headers: { 'x-mock-signature': `t=${t},v1=${v1}` }, rawBody: bytes };
}

function expectRejected(result: VerifyResult, reason: RejectReason): void {
  expect(result).toMatchObject({ ok: false, reason });
  if (!result.ok) {
    expect(result.detail.length).toBeGreaterThan(0);
    expect(result.detail).not.toContain(secret);
  }
}

describe('mock provider: verify', () => {
  it('accepts a validly signed success and normalizes it', () => {
    const result = provider.verify(toRequest(signMockCallback(successBody, secret, NOW)), NOW);
    expect(result).toEqual({
      ok: true,
      notification: {
        provider: 'mock',
        notificationId: 'ntf-1',
        paymentId: 'pay-1',
        transactionId: 'txn-1',
        outcome: 'success',
        amountMinor: 9900,
      },
    });
  });

  it('accepts a validly signed failure, with or without a transaction id', () => {
    for (const transactionId of ['txn-2', null]) {
      const body = { ...successBody, status: 'FAILED' as const, transaction_id: transactionId, amount: '0.01' };
      const result = provider.verify(toRequest(signMockCallback(body, secret, NOW)), NOW);
      expect(result).toEqual({ ok: true, notification: expect.objectContaining({ outcome: 'failure', transactionId, amountMinor: 1 }) });
    }
  });

  it('reads the amount exactly, without float drift', () => {
    const result = provider.verify(toRequest(signMockCallback({ ...successBody, amount: '1234567.29' }, secret, NOW)), NOW);
    expect(result.ok && result.notification.amountMinor).toBe(123456729);
  });

  it('refuses a body with one byte changed', () => {
    const request = toRequest(signMockCallback(successBody, secret, NOW));
    const at = request.rawBody.indexOf('99.00');
    request.rawBody[at] = '1'.charCodeAt(0);
    expectRejected(provider.verify(request, NOW), 'bad_signature');
  });

  it('refuses a changed timestamp in the signature header', () => {
    const request = toRequest(signMockCallback(successBody, secret, NOW));
    request.headers['x-mock-signature'] = request.headers['x-mock-signature']!.replace(`t=${nowSeconds}`, `t=${nowSeconds + 1}`);
    expectRejected(provider.verify(request, NOW), 'bad_signature');
  });

  it('refuses a changed signature, a truncated one and a non-hex one', () => {
    const signed = signMockCallback(successBody, secret, NOW);
    const header = signed.headers['x-mock-signature']!;
    const last = header.slice(-1);
    const flipped = header.slice(0, -1) + (last === '0' ? '1' : '0');
    for (const value of [flipped, header.slice(0, -2), header.slice(0, -1) + 'z', `t=${nowSeconds},v1=`]) {
      expectRejected(provider.verify({ ...toRequest(signed), headers: { 'x-mock-signature': value } }, NOW), 'bad_signature');
    }
  });

  it('refuses a body signed with another secret', () => {
    expectRejected(provider.verify(toRequest(signMockCallback(successBody, `${secret}x`, NOW)), NOW), 'bad_signature');
  });

  it('refuses a timestamp more than 300 s in the past or the future, and accepts the edges', () => {
    for (const offset of [-301, 301, -3600, 86400]) {
      const signed = signMockCallback(successBody, secret, new Date(NOW.getTime() + offset * 1000));
      expectRejected(provider.verify(toRequest(signed), NOW), 'stale_timestamp');
    }
    for (const offset of [-300, 300]) {
      const signed = signMockCallback(successBody, secret, new Date(NOW.getTime() + offset * 1000));
      expect(provider.verify(toRequest(signed), NOW).ok).toBe(true);
    }
  });

  it('refuses a missing or incomplete signature header', () => {
    const request = toRequest(signMockCallback(successBody, secret, NOW));
    expectRejected(provider.verify({ ...request, headers: {} }, NOW), 'missing_signature');
    expectRejected(provider.verify({ ...request, headers: { 'x-mock-signature': '' } }, NOW), 'missing_signature');
    expectRejected(provider.verify({ ...request, headers: { 'x-mock-signature': `t=${nowSeconds}` } }, NOW), 'missing_signature');
    expectRejected(provider.verify({ ...request, headers: { 'x-mock-signature': 'garbage' } }, NOW), 'missing_signature');
  });

  it('refuses a non-numeric timestamp as malformed and a header that repeats a key', () => {
    const v1 = 'a'.repeat(64);
    expectRejected(provider.verify({ ...signRaw('{}'), headers: { 'x-mock-signature': `t=soon,v1=${v1}` } }, NOW), 'malformed');
    const signed = signRaw('{}');
    const doubled = `${signed.headers['x-mock-signature']},t=${nowSeconds}`;
    expectRejected(provider.verify({ ...signed, headers: { 'x-mock-signature': doubled } }, NOW), 'missing_signature');
  });

  it('refuses validly signed bodies that are not the mock schema', () => {
    const cases: unknown[] = [
      { ...successBody, amount: 99 },
      { ...successBody, amount: '99.001' },
      { ...successBody, amount: '-1.00' },
      { ...successBody, amount: '1e3' },
      { ...successBody, extra: 'field' },
      { ...successBody, payment_id: '' },
      { notification_id: 'ntf-1', status: 'SUCCESS', amount: '99.00' },
      [successBody],
    ];
    for (const body of cases) expectRejected(provider.verify(signRaw(JSON.stringify(body)), NOW), 'malformed');
    expectRejected(provider.verify(signRaw('{"notification_id": '), NOW), 'malformed');
  });

  it('refuses an unknown status as unsupported', () => {
    expectRejected(provider.verify(signRaw(JSON.stringify({ ...successBody, status: 'PENDING' })), NOW), 'unsupported_event');
  });

  it('refuses a body that is not valid UTF-8, even when signed', () => {
    const bytes = Buffer.concat([Buffer.from('{"notification_id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expectRejected(provider.verify(signRaw(bytes), NOW), 'malformed');
  });

  it('refuses a body over the size limit before anything else', () => {
    const big = Buffer.alloc(MAX_CALLBACK_BYTES + 1, 0x20);
    expectRejected(provider.verify(signRaw(big), NOW), 'body_too_large');
    expectRejected(provider.verify({ headers: {}, rawBody: big }, NOW), 'body_too_large');
  });

  it('never throws, whatever it is given', () => {
    const garbage: unknown[] = [
      { headers: undefined, rawBody: Buffer.from('{}') },
      { headers: { 'x-mock-signature': 't=1,v1=00' }, rawBody: '{}' },
      { headers: { 'x-mock-signature': ['t=1', 'v1=00'] }, rawBody: Buffer.from('{}') },
      null,
    ];
    for (const request of garbage) {
      const result = provider.verify(request as CallbackRequest, NOW);
      expect(result.ok).toBe(false);
    }
    expectRejected(provider.verify(toRequest(signMockCallback(successBody, secret, NOW)), new Date(Number.NaN)), 'stale_timestamp');
  });
});

describe('mock provider: signing', () => {
  it('produces the documented header and the raw JSON body', () => {
    const signed = signMockCallback(successBody, secret, NOW);
    expect(JSON.parse(signed.rawBody)).toEqual(successBody);
    expect(signed.headers['content-type']).toBe('application/json');
    const expected = createHmac('sha256', secret).update(`${nowSeconds}.${signed.rawBody}`).digest('hex');
    expect(signed.headers['x-mock-signature']).toBe(`t=${nowSeconds},v1=${expected}`);
  });

  it('round-trips through verify whatever key order the caller used', () => {
    const reordered = { amount: '12.30', status: 'FAILED' as const, transaction_id: 't', payment_id: 'p', notification_id: 'n' };
    const result = provider.verify(toRequest(signMockCallback(reordered, secret)), new Date());
    expect(result).toEqual({
      ok: true,
      notification: { provider: 'mock', notificationId: 'n', paymentId: 'p', transactionId: 't', outcome: 'failure', amountMinor: 1230 },
    });
  });
});

describe('mock provider: answers', () => {
  it('acknowledges with 200 {"code":"SUCCESS"} as JSON', () => {
    expect(provider.acknowledge()).toEqual({ status: 200, contentType: 'application/json; charset=utf-8', body: '{"code":"SUCCESS"}' });
  });

  it('refuses with {"code":"FAIL","message":...} and our status', () => {
    expect(provider.refuse(401, 'bad signature')).toEqual({
      status: 401,
      contentType: 'application/json; charset=utf-8',
      body: '{"code":"FAIL","message":"bad signature"}',
    });
    expect(provider.refuse(503, 'try later').status).toBe(503);
  });

  it('never answers a refusal with a success status', () => {
    expect(provider.refuse(200, 'oops').status).toBe(500);
  });

  it('requires a secret', () => {
    expect(() => createMockProvider({ secret: '' })).toThrow(/secret is required/);
  });
});
