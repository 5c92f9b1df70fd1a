import { violationsOf } from '../../scripts/fuzz/check';
import type { FuzzRequest } from '../../scripts/fuzz/generate';
import type { Answer } from '../../scripts/fuzz/send';

const request = (target: FuzzRequest['target'], lengthLie?: FuzzRequest['lengthLie']): FuzzRequest => ({
  index: 0,
  target,
  category: target === 'callback' ? 'callback' : 'headers',
  route: target === 'callback' ? 'POST /callbacks/{provider}' : 'POST /orders',
  what: 'test',
  method: 'POST',
  path: target === 'callback' ? '/callbacks/mock' : '/api/v1/orders',
  headers: [],
  body: Buffer.from('{}'),
  read: false,
  ...(lengthLie ? { lengthLie } : {}),
});
const silence: Answer = { status: 0, headers: {}, body: Buffer.alloc(0), silence: 'no answer within 10000 ms' };
const answer = (status: number, body: string, contentType = 'application/json; charset=utf-8'): Answer => ({ status, headers: { 'content-type': contentType }, body: Buffer.from(body) });

describe('the fuzzer\u2019s answer check', () => {
  it('accepts no answer to a body shorter than its Content-Length, at the API and at the callbacks alike', () => {
    expect(violationsOf(request('api', 'longer'), silence)).toEqual([]);
    expect(violationsOf(request('callback', 'longer'), silence)).toEqual([]);
  });

  it('flags no answer to any other request, at both targets', () => {
    expect(violationsOf(request('api'), silence)).toEqual(['no answer (no answer within 10000 ms)']);
    expect(violationsOf(request('callback', 'shorter'), silence)).toEqual(['no answer (no answer within 10000 ms)']);
  });

  it('flags a bare refusal, accepts the error format, and a provider\u2019s own failure answer only at the callbacks', () => {
    expect(violationsOf(request('api', 'longer'), answer(400, '', ''))).toEqual(['status 400 with a body not in the error format: ""']);
    expect(violationsOf(request('callback', 'longer'), answer(400, '{"error":{"code":"bad_request","message":"malformed HTTP request"}}'))).toEqual([]);
    expect(violationsOf(request('callback'), answer(401, '{"code":"FAIL","message":"bad signature"}'))).toEqual([]);
    expect(violationsOf(request('api'), answer(401, '{"code":"FAIL","message":"bad signature"}'))).toHaveLength(1);
  });

  it('flags a 5xx and an accepted write', () => {
    expect(violationsOf(request('api'), answer(503, '{"error":{"code":"unavailable","message":"x"}}'))).toEqual(['status 503 (a 5xx)']);
    expect(violationsOf(request('callback'), answer(200, '{"code":"SUCCESS"}'))).toEqual(['status 200: a request meant to be refused was accepted']);
  });
});
