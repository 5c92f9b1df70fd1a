import { createHmac, createSign } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FieldShape, Operation } from './operations';
import { seededRandom, type Random } from '../support/random';

/**
 * The fuzzer's requests: a pure function of (seed, context), so a seed reproduces a run's every byte.
 * Every request is meant to be refused: a write (anything but GET/HEAD/OPTIONS) always carries at least
 * one fault that must refuse it (a bad token or role, an id its sender may not act on, a body that breaks
 * the contract), and every callback fails verification or the payment's checks. The runner therefore
 * treats any 2xx to a write or a callback as a violation, and the business state must not move.
 */
export type Category = 'path' | 'query' | 'body' | 'encoding' | 'headers' | 'jwt' | 'method' | 'callback';
export const CATEGORIES: readonly Category[] = ['path', 'query', 'body', 'encoding', 'headers', 'jwt', 'method', 'callback'];

export interface FuzzRequest {
  index: number;
  target: 'api' | 'callback';
  category: Category;
  /** The operation (e.g. `POST /orders/{id}/cancel`) or `POST /callbacks/{provider}`. */
  route: string;
  /** The hostile form, in words. */
  what: string;
  method: string;
  /** The request target, sent byte for byte (never normalised). */
  path: string;
  /** In order; a name may repeat (duplicated headers). */
  headers: [string, string][];
  body: Buffer;
  /** GET, HEAD, OPTIONS: may be answered 2xx (nothing changes). */
  read: boolean;
  /** The Content-Length sent differs from the body (a lie): the answer may be none at all. */
  lengthLie?: 'shorter' | 'longer';
}

export interface OwnedObject {
  id: string;
  /** The customer who owns it (products: none). */
  owner?: string;
}

export interface SignedCallback {
  headers: Record<string, string>;
  body: string;
}

export interface FuzzContext {
  operations: readonly Operation[];
  apiBase: string;
  jwt: { secret: string; audience?: string; issuer?: string; nowSeconds: number; rsaPrivateKeyPem: string };
  users: { customers: readonly string[]; admin: string; auditor: string };
  objects: { orders: readonly OwnedObject[]; payments: readonly OwnedObject[]; refunds: readonly OwnedObject[]; products: readonly OwnedObject[] };
  /**
   * Per enabled provider, notifications signed with the provider's real keys that must still be refused:
   * `mismatch` names a known payment with a wrong amount (422), `stale` is signed 1 h ago (replay window).
   * Signed by the runner (WeChat Pay's signing draws random nonces), fixed for the whole run.
   */
  callbacks: Record<string, { mismatch: SignedCallback; stale: SignedCallback }>;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

// ---------- JWT forms ----------

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

function jwt(header: object, payload: object, sign: (input: string) => string): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${sign(input)}`;
}

interface TokenMaker {
  valid(sub: string, role: string): string;
  /** A token that must be refused (401), and what is wrong with it. */
  hostile(random: Random, sub: string, role: string): { token: string; what: string };
}

function tokenMaker(context: FuzzContext): TokenMaker {
  const { secret, audience, issuer, nowSeconds, rsaPrivateKeyPem } = context.jwt;
  const hs = (key: string | Buffer) => (input: string) => createHmac('sha256', key).update(input).digest('base64url');
  const rs = (input: string) => createSign('sha256').update(input).sign(rsaPrivateKeyPem, 'base64url');
  const claims = (sub: string, role: string) => ({
    sub,
    role,
    iat: nowSeconds - 60,
    exp: nowSeconds + 3600,
    ...(audience ? { aud: audience } : {}),
    ...(issuer ? { iss: issuer } : {}),
  });
  const HS = { alg: 'HS256', typ: 'JWT' };
  const forms: ((sub: string, role: string, random: Random) => [string, string])[] = [
    (sub, role) => ['alg none', `${jwt({ alg: 'none', typ: 'JWT' }, claims(sub, role), () => '')}`],
    (sub, role) => ['alg "NONE" with the real signature', jwt({ alg: 'NONE' }, claims(sub, role), hs(secret))],
    (sub, role) => ['expired', jwt(HS, { ...claims(sub, role), iat: nowSeconds - 7200, exp: nowSeconds - 3600 }, hs(secret))],
    (sub, role) => {
      const { exp: _exp, ...noExp } = claims(sub, role);
      return ['no exp', jwt(HS, noExp, hs(secret))];
    },
    (sub, role) => ['lifetime over the cap', jwt(HS, { ...claims(sub, role), exp: nowSeconds + 86400 * 400 }, hs(secret))],
    (sub, role) => ['exp as a string', jwt(HS, { ...claims(sub, role), exp: String(nowSeconds + 3600) }, hs(secret))],
    (sub, role) => ['not yet valid (nbf)', jwt(HS, { ...claims(sub, role), nbf: nowSeconds + 3600 }, hs(secret))],
    (sub, role, random) => ['wrong signature', jwt(HS, claims(sub, role), hs(`${secret}${random.text(4)}`))],
    (sub, role) => ['wrong audience', jwt(HS, { ...claims(sub, role), aud: 'someone-else' }, hs(secret))],
    (sub, role) => ['wrong issuer', jwt(HS, { ...claims(sub, role), iss: 'https://evil.example' }, hs(secret))],
    (sub, role) => ['audience as an array of others', jwt(HS, { ...claims(sub, role), aud: ['x', 'y'] }, hs(secret))],
    (sub, role) => ['RS256 signed with a key the gateway does not hold', jwt({ alg: 'RS256', typ: 'JWT' }, claims(sub, role), rs)],
    (sub, role) => ['RS256 header with an HMAC signature (algorithm confusion)', jwt({ alg: 'RS256', typ: 'JWT' }, claims(sub, role), hs(secret))],
    (sub, role) => ['HS512 with the real secret', jwt({ alg: 'HS512' }, claims(sub, role), (input) => createHmac('sha512', secret).update(input).digest('base64url'))],
    (sub) => ['unknown role', jwt(HS, claims(sub, 'superuser'), hs(secret))],
    (sub) => ['role as an array', jwt(HS, { ...claims(sub, 'admin'), role: ['admin'] }, hs(secret))],
    (_sub, role) => {
      const { sub: _s, ...noSub } = claims('x', role);
      return ['missing sub', jwt(HS, noSub, hs(secret))];
    },
    (_sub, role) => ['sub as an object', jwt(HS, { ...claims('x', role), sub: { $ne: null } }, hs(secret))],
    (_sub, role) => ['empty sub', jwt(HS, claims('', role), hs(secret))],
    (sub, role) => ['kid header pointing at a file', jwt({ ...HS, kid: '../../../../dev/null' }, claims(sub, role), hs(''))],
    // The attack: sign with one's own key and point `jku` at one's own key set (a real-secret signature would be a valid token).
    (sub, role) => ['jku header pointing at the signer\u2019s own keys', jwt({ alg: 'RS256', typ: 'JWT', jku: 'https://evil.example/jwks.json' }, claims(sub, role), rs)],
    (_sub, _role, random) => ['garbage', random.text(random.int(1, 80), 'abcdefghijklmnopqrstuvwxyz0123456789.-_+/=')],
    () => ['two dots only', '..'],
    () => ['four segments', 'a.b.c.d'],
    (sub, role) => ['header is not JSON', `${b64url('{not json')}.${b64url(JSON.stringify(claims(sub, role)))}.${hs(secret)('x')}`],
    // Signed with another secret: a big token is not wrong in itself (its signature is), and a valid one would be served.
    (sub, role, random) => ['huge token (12 kB) with a wrong signature', jwt(HS, { ...claims(sub, role), pad: random.text(12_000) }, hs(`${secret}x`))],
    (sub, role) => ['signature with base64 padding', `${jwt(HS, claims(sub, role), hs(secret))}==`],
    (sub, role) => ['payload claims as a JSON array', jwt(HS, [claims(sub, role)], hs(secret))],
  ];
  return {
    valid: (sub, role) => jwt(HS, claims(sub, role), hs(secret)),
    hostile: (random, sub, role) => {
      const [what, token] = random.pick(forms)(sub, role, random);
      return { token, what: `JWT ${what}` };
    },
  };
}

// ---------- values ----------

const HOSTILE_IDS: readonly [string, string][] = [
  ['traversal ..', '..'],
  ['traversal %2e%2e', '%2e%2e'],
  ['traversal ..%2f..%2faudit%2fevents', '..%2f..%2faudit%2fevents'],
  ['traversal %2e%2e%2f%2e%2e%2fadmin', '%2e%2e%2f%2e%2e%2fadmin'],
  ['encoded slash', 'a%2Fb'],
  ['broken percent escape %ZZ', '%ZZ'],
  ['truncated percent escape', '%E0%A4%A'],
  ['encoded NUL', 'x%00y'],
  ['overlong UTF-8 slash', '%C0%AF'],
  ['unicode (encoded)', encodeURIComponent('订单-ü-🙂')],
  ['right-to-left override', encodeURIComponent('\u202eabc')],
  ['operator object', encodeURIComponent('{"$ne":null}')],
  ['operator key', '$where'],
  ['prototype name __proto__', '__proto__'],
  ['prototype name constructor', 'constructor'],
  ['65 characters', 'a'.repeat(65)],
  ['6000 characters', 'z'.repeat(6000)],
  ['spaces and quotes', encodeURIComponent(`x' OR '1'='1`)],
  ['empty segment', ''],
  ['dot', '.'],
  ['id with a query', 'abc%3Fpage_size%3D1'],
];

const HOSTILE_STRINGS: readonly [string, unknown][] = [
  ['a NUL character', 'a\u0000b'],
  ['an operator object', { $gt: '' }],
  ['an operator $ne', { $ne: null }],
  ['a number', 12345],
  ['a float', 0.30000000000000004],
  ['an array', ['a', 'b']],
  ['null', null],
  ['a boolean', true],
  ['an object with __proto__', JSON.parse('{"__proto__":{"admin":true}}') as unknown],
  ['40 000 characters', 'x'.repeat(40_000)],
  ['an empty object', {}],
];

const HOSTILE_NUMBERS: readonly [string, unknown][] = [
  ['a negative number', -1],
  ['zero', 0],
  ['a fraction', 1.5],
  ['1e21', 1e21],
  ['a number as a string', '2'],
  ['an operator', { $gt: 0 }],
  ['MAX_SAFE_INTEGER + 1', Number.MAX_SAFE_INTEGER + 1],
  ['null', null],
  ['an array', [1]],
];

const HOSTILE_MONEY: readonly [string, unknown][] = [
  ['a float that is not exact', 0.30000000000000004],
  ['three decimals', '10.005'],
  ['a negative amount', '-1.00'],
  ['exponent form', '1e3'],
  ['a huge amount', '99999999999999999999.99'],
  ['NaN as text', 'NaN'],
  ['Infinity as text', 'Infinity'],
  ['an operator', { $gt: '' }],
  ['a tiny float', 1e-7],
  ['spaces', ' 1.00 '],
];

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

/** A plausible body from the document's fields (examples first): the base the faults are put into. */
function sampleBody(fields: readonly FieldShape[], context: FuzzContext, random: Random): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of fields) body[field.name] = sampleValue(field, context, random);
  return body;
}

function sampleValue(field: FieldShape, context: FuzzContext, random: Random): unknown {
  if (field.enum?.length) return random.pick(field.enum);
  if (field.example !== undefined) return field.example;
  if (field.name === 'product_id' && context.objects.products.length) return random.pick(context.objects.products).id;
  if (field.name === 'order_id' && context.objects.orders.length) return random.pick(context.objects.orders).id;
  switch (field.type) {
    case 'string':
      return 'fuzz';
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return field.items ? [sampleBody(field.items, context, random)] : ['fuzz'];
    case 'object':
      return {};
    default:
      return 'fuzz';
  }
}

const isMoney = (name: string) => /amount|price/.test(name);

/** A body that breaks the contract whatever the sender may do: always refused. */
function breakingBody(operation: Operation, context: FuzzContext, random: Random): { what: string; body: Buffer; contentType: string } {
  const json = (what: string, value: unknown) => ({ what, body: Buffer.from(JSON.stringify(value)), contentType: 'application/json' });
  const raw = (what: string, text: string | Buffer, contentType = 'application/json') => ({ what, body: Buffer.from(text), contentType });
  const base = sampleBody(operation.body?.fields ?? [], context, random);
  const fields = operation.body?.fields ?? [];
  const forms: (() => ReturnType<typeof json>)[] = [
    () => json('an unknown field', { ...base, [random.pick(['status', 'user_id', 'role', 'total_amount', 'paid', 'extra'])]: 'x' }),
    () => raw(`a prototype key ${PROTOTYPE_KEYS[0]}`, `${JSON.stringify(base).slice(0, -1)}${Object.keys(base).length ? ',' : ''}"__proto__":{"role":"admin","status":"paid"}}`),
    () => json('a constructor key', { ...base, constructor: { prototype: { admin: true } } }),
    () => json('an operator key', { ...base, $where: 'sleep(1000)' }),
    () => json('an operator as the whole body', { $gt: '' }),
    () => json('an array body', [base]),
    () => json('a string body', 'fuzz'),
    () => json('a number body', 42),
    () => raw('null body', 'null'),
    () => raw('malformed JSON (truncated)', JSON.stringify(base).slice(0, Math.max(1, JSON.stringify(base).length - 2))),
    () => raw('malformed JSON (single quotes)', "{'a': 1}"),
    () => raw('malformed JSON (trailing comma)', '{"a":1,}'),
    () => raw('malformed JSON (two objects)', '{"a":1}{"b":2}'),
    () => raw('malformed JSON (NaN)', '{"a":NaN}'),
    () => raw('malformed JSON (comment)', '{/* x */"a":1}'),
    () => raw('deeply nested arrays (5000)', `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`),
    () => raw('deeply nested objects (3000)', `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`),
    () => raw('a 40 kB body', JSON.stringify({ ...base, pad: 'x'.repeat(40_000) })),
    () => raw('a 1 MB body', Buffer.alloc(1024 * 1024, 0x20)),
    () => raw('raw NUL bytes', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x00, 0x7d])),
    () => raw('invalid UTF-8', Buffer.concat([Buffer.from('{"reason":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('"}')])),
    () => raw('duplicate keys with an operator', `{"reason":"a","reason":{"$ne":null},"order_id":"x","order_id":{"$gt":""}}`),
    () => raw('a huge number', '{"quantity":1e999999}'),
  ];
  // Faults in one field of an otherwise plausible body (money, numbers, strings): type and range checks.
  for (const field of fields) {
    const table = isMoney(field.name) ? HOSTILE_MONEY : field.type === 'integer' || field.type === 'number' ? HOSTILE_NUMBERS : HOSTILE_STRINGS;
    forms.push(() => {
      const [what, value] = random.pick(table);
      return json(`${field.name} as ${what}`, { ...base, [field.name]: value });
    });
    if (field.items?.length) {
      forms.push(() => {
        const item = sampleBody(field.items!, context, random);
        const inner = random.pick(field.items!);
        const [what, value] = random.pick(isMoney(inner.name) ? HOSTILE_MONEY : inner.type === 'integer' || inner.type === 'number' ? HOSTILE_NUMBERS : HOSTILE_STRINGS);
        return json(`${field.name}[].${inner.name} as ${what}`, { ...base, [field.name]: [item, { ...item, [inner.name]: value }] });
      });
      forms.push(() => json(`${field.name} with an unknown item field`, { ...base, [field.name]: [{ ...sampleBody(field.items!, context, random), __proto__: null, amount: '0.01' }] }));
      forms.push(() => json(`1001 ${field.name}`, { ...base, [field.name]: Array.from({ length: 1001 }, () => sampleBody(field.items!, context, random)) }));
    }
  }
  return random.pick(forms)();
}

/** Faults of encoding and content type; refusing only where the body is required (see `definite`). */
function encodingFault(operation: Operation, context: FuzzContext, random: Random): { what: string; body: Buffer; headers: [string, string][]; definite: boolean } {
  const base = Buffer.from(JSON.stringify(sampleBody(operation.body?.fields ?? [], context, random)));
  const required = operation.body?.required === true;
  const forms: (() => { what: string; body: Buffer; headers: [string, string][]; definite: boolean })[] = [
    () => ({ what: 'text/plain content type', body: base, headers: [['content-type', 'text/plain']], definite: required }),
    () => ({ what: 'form content type', body: Buffer.from('a=1&a=2&b[c]=3'), headers: [['content-type', 'application/x-www-form-urlencoded']], definite: required }),
    () => ({ what: 'multipart without a boundary', body: base, headers: [['content-type', 'multipart/form-data']], definite: required }),
    () => ({ what: 'no content type', body: base, headers: [], definite: required }),
    () => ({ what: 'content type with garbage parameters', body: base, headers: [['content-type', 'application/json; charset=; boundary="']], definite: false }),
    () => ({ what: 'JSON in UTF-16', body: Buffer.from(base.toString('utf8'), 'utf16le'), headers: [['content-type', 'application/json; charset=utf-16']], definite: true }),
    () => ({ what: 'unknown charset', body: base, headers: [['content-type', 'application/json; charset=x-klingon']], definite: true }),
    () => ({ what: 'gzip declared, garbage sent', body: Buffer.from(random.text(64)), headers: [['content-type', 'application/json'], ['content-encoding', 'gzip']], definite: true }),
    () => ({ what: 'unknown content encoding', body: base, headers: [['content-type', 'application/json'], ['content-encoding', 'br, x-evil']], definite: true }),
    () => ({
      what: 'gzip bomb (4 MB of zeros compressed)',
      body: gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x30)),
      headers: [['content-type', 'application/json'], ['content-encoding', 'gzip']],
      definite: true,
    }),
    () => ({ what: 'UTF-8 BOM before JSON', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), base]), headers: [['content-type', 'application/json']], definite: false }),
    // Refused only where the body has fields: to a route whose body is the empty object, no body is that object.
    () => ({ what: 'empty body declared JSON', body: Buffer.alloc(0), headers: [['content-type', 'application/json']], definite: required && (operation.body?.fields.length ?? 0) > 0 }),
  ];
  return random.pick(forms)();
}

function hostileQuery(operation: Operation, random: Random): { what: string; query: string } {
  const names = operation.queryParams.map((p) => p.name);
  const name = names.length ? random.pick(names) : random.pick(['page', 'page_size', 'status', 'order_id']);
  const forms: [string, string][] = [
    ['repeated parameter', `${name}=1&${name}=2`],
    ['nested parameter', `${name}[b]=1`],
    ['operator $ne', `${name}[$ne]=x`],
    ['operator $gt as JSON', `${name}=${encodeURIComponent('{"$gt":""}')}`],
    ['huge page_size', 'page_size=100000000'],
    ['negative page', 'page=-1'],
    ['page 0', 'page=0'],
    ['fractional page', 'page=1.5'],
    ['page as exponent', 'page=1e9'],
    ['page_size as text', 'page_size=ten'],
    ['unknown parameter', 'admin=true'],
    ['prototype parameter', '__proto__[role]=admin&constructor[prototype][x]=1'],
    ['broken escape %ZZ', `${name}=%ZZ`],
    ['encoded NUL', `${name}=a%00b`],
    ['unicode value', `${name}=${encodeURIComponent('状态🙂')}`],
    ['8 kB value', `${name}=${'q'.repeat(8000)}`],
    ['1000 parameters', Array.from({ length: 1000 }, (_, i) => `p${i}=1`).join('&')],
    ['empty name', '=1&&&'],
    ['date out of range', 'date=9999-99-99&from=-1&to=x'],
    ['format not offered', 'format=xml'],
    ['full as operator', 'full[$ne]=false'],
  ];
  for (const param of operation.queryParams) {
    if (param.enum?.length) forms.push([`${param.name} outside its values`, `${param.name}=${encodeURIComponent('DROP TABLE')}`]);
  }
  const [what, query] = random.pick(forms);
  return { what: `query ${what}`, query };
}

/** Header faults; `definite` when the fault alone must refuse the request. */
function headerFault(operation: Operation, random: Random): { what: string; headers: [string, string][]; definite: boolean; lengthLie?: 'shorter' | 'longer' } {
  const idempotent = operation.headerParams.includes('idempotency-key');
  const forms: (() => { what: string; headers: [string, string][]; definite: boolean; lengthLie?: 'shorter' | 'longer' })[] = [
    () => ({ what: 'Idempotency-Key too short', headers: [['idempotency-key', 'abc']], definite: idempotent }),
    () => ({ what: 'Idempotency-Key of 300 characters', headers: [['idempotency-key', 'k'.repeat(300)]], definite: idempotent }),
    () => ({ what: 'Idempotency-Key with spaces and quotes', headers: [['idempotency-key', `key' OR '1'='1`]], definite: idempotent }),
    () => ({ what: 'Idempotency-Key with an operator', headers: [['idempotency-key', '{"$ne":null}']], definite: idempotent }),
    () => ({ what: 'Idempotency-Key in latin-1 bytes', headers: [['idempotency-key', 'schlüssel-ÿÿÿÿ']], definite: idempotent }),
    () => ({ what: 'two Idempotency-Keys', headers: [['idempotency-key', 'fuzz-key-0001'], ['idempotency-key', 'fuzz-key-0002']], definite: false }),
    () => ({ what: 'empty Idempotency-Key', headers: [['idempotency-key', '']], definite: false }),
    () => ({ what: 'x-request-id of 5000 characters', headers: [['x-request-id', 'r'.repeat(5000)]], definite: false }),
    () => ({ what: 'x-request-id with an operator', headers: [['x-request-id', '{"$gt":""}']], definite: false }),
    () => ({ what: 'x-request-id with latin-1 bytes', headers: [['x-request-id', 'réq-ÿ']], definite: false }),
    () => ({ what: 'two x-request-ids', headers: [['x-request-id', 'aaaa-1'], ['x-request-id', 'bbbb-2']], definite: false }),
    () => ({ what: 'x-forwarded-for forms', headers: [['x-forwarded-for', '127.0.0.1, ::1, not-an-ip, 999.1.1.1']], definite: false }),
    () => ({ what: 'two content types', headers: [['content-type', 'application/json'], ['content-type', 'text/plain']], definite: false }),
    () => ({ what: 'two Authorization headers', headers: [['authorization', 'Bearer x.y.z']], definite: false }),
    () => ({ what: 'Authorization without Bearer', headers: [['authorization', 'Basic YWRtaW46YWRtaW4=']], definite: true }),
    () => ({ what: 'Authorization "Bearer" alone', headers: [['authorization', 'Bearer']], definite: true }),
    () => ({ what: 'Authorization with two tokens', headers: [['authorization', 'Bearer a.b.c d.e.f']], definite: true }),
    () => ({ what: 'Content-Length shorter than the body', headers: [], definite: false, lengthLie: 'shorter' }),
    () => ({ what: 'Content-Length longer than the body', headers: [], definite: false, lengthLie: 'longer' }),
    () => ({ what: 'Transfer-Encoding and Content-Length', headers: [['transfer-encoding', 'chunked']], definite: false }),
    () => ({ what: 'Expect 100-continue', headers: [['expect', '100-continue']], definite: false }),
    () => ({ what: 'unknown Expect', headers: [['expect', 'fuzz']], definite: false }),
    () => ({ what: 'a 12 kB header', headers: [['x-fuzz', 'h'.repeat(12_000)]], definite: false }),
    () => ({ what: 'Accept: text/csv', headers: [['accept', 'text/csv']], definite: false }),
    () => ({ what: 'Host of someone else', headers: [['x-forwarded-host', 'evil.example']], definite: false }),
    () => ({ what: 'X-HTTP-Method-Override DELETE', headers: [['x-http-method-override', 'DELETE']], definite: false }),
  ];
  return random.pick(forms)();
}

// ---------- callbacks ----------

function callbackRequest(context: FuzzContext, random: Random): Omit<FuzzRequest, 'index'> {
  const enabled = Object.keys(context.callbacks);
  const otherNames = ['paypal', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'MOCK', 'WeChatPay', '%2e%2e', '..%2fhealthz', '%ZZ', encodeURIComponent('支付宝'), 'x'.repeat(3000), ''];
  const provider = enabled.length && random.chance(0.8) ? random.pick(enabled) : random.pick(otherNames);
  const samples = context.callbacks[provider];
  const route = 'POST /callbacks/{provider}';
  const make = (what: string, headers: Record<string, string> | [string, string][], body: string | Buffer, lengthLie?: 'shorter' | 'longer') => ({
    target: 'callback' as const,
    category: 'callback' as const,
    route,
    what: `${provider || '(empty provider)'}: ${what}`,
    method: 'POST',
    path: `/callbacks/${provider}`,
    headers: Array.isArray(headers) ? headers : Object.entries(headers),
    body: Buffer.from(body),
    read: false,
    ...(lengthLie ? { lengthLie } : {}),
  });
  if (!samples || !Object.hasOwn(context.callbacks, provider)) {
    return make('unknown provider', { 'content-type': 'application/json' }, '{"payment_id":"x","status":"SUCCESS"}');
  }
  const { mismatch, stale } = samples;
  const flip = (text: string) => {
    const at = random.int(0, Math.max(0, text.length - 1));
    const code = text.charCodeAt(at);
    return text.slice(0, at) + String.fromCharCode(code === 0x41 ? 0x42 : 0x41) + text.slice(at + 1);
  };
  const withHeader = (headers: Record<string, string>, patch: Record<string, string | undefined>) => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...headers, ...patch })) if (value !== undefined) out[name] = value;
    return out;
  };
  const signatureHeader = Object.keys(mismatch.headers).find((name) => /signature/i.test(name));
  const forms: (() => ReturnType<typeof make>)[] = [
    () => make('signed, but the amount is not the payment\u2019s', mismatch.headers, mismatch.body),
    () => make('signed 1 h ago (stale timestamp)', stale.headers, stale.body),
    () => make('replayed headers over a changed body', mismatch.headers, flip(mismatch.body)),
    () => make('replayed headers over another signed body', stale.headers, mismatch.body),
    () => make('truncated body', mismatch.headers, mismatch.body.slice(0, random.int(0, mismatch.body.length - 1))),
    () => make('body with a trailing byte', mismatch.headers, `${mismatch.body}\n`),
    () => make('no headers at all', {}, mismatch.body),
    () => make('empty body', mismatch.headers, ''),
    () => make('garbage signature', withHeader(mismatch.headers, signatureHeader ? { [signatureHeader]: random.text(random.int(0, 400)) } : {}), mismatch.body),
    () => make('signature header removed', withHeader(mismatch.headers, signatureHeader ? { [signatureHeader]: undefined } : {}), mismatch.body),
    () => make('signature header of 20 kB', withHeader(mismatch.headers, signatureHeader ? { [signatureHeader]: 'A'.repeat(20_000) } : {}), mismatch.body),
    () => make('signature header twice', [...Object.entries(mismatch.headers), ...(signatureHeader ? [[signatureHeader, 'x'] as [string, string]] : [])], mismatch.body),
    () => make('timestamp far in the future', withHeader(mismatch.headers, { 'wechatpay-timestamp': '9999999999' }), mismatch.body),
    () => make('timestamp not a number', withHeader(mismatch.headers, { 'wechatpay-timestamp': '1e10' }), mismatch.body),
    () => make('unknown serial', withHeader(mismatch.headers, { 'wechatpay-serial': 'PUB_KEY_ID_0000' }), mismatch.body),
    () => make('body in UTF-16', withHeader(mismatch.headers, { 'content-type': 'application/json; charset=utf-16' }), Buffer.from(mismatch.body, 'utf16le')),
    () => make('body in latin-1 with a BOM', mismatch.headers, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(mismatch.body, 'latin1')])),
    () => make('form body declared JSON', withHeader(mismatch.headers, { 'content-type': 'application/json' }), 'a=1&b=2'),
    () => make('JSON body declared form', withHeader(mismatch.headers, { 'content-type': 'application/x-www-form-urlencoded' }), '{"out_trade_no":"x"}'),
    () => make('form with a repeated field', mismatch.headers, `${mismatch.body}&out_trade_no=other&sign=x`),
    () => make('form with a broken escape', mismatch.headers, `${mismatch.body}&x=%ZZ`),
    () => make('prototype fields', mismatch.headers, provider === 'alipay' ? '__proto__[x]=1&constructor=2&sign=abc' : '{"__proto__":{"status":"SUCCESS"},"constructor":{}}'),
    () => make('operator injection', mismatch.headers, provider === 'alipay' ? 'out_trade_no[$ne]=x&sign=abc' : '{"payment_id":{"$ne":null},"status":"SUCCESS","amount":{"$gt":""}}'),
    () => make('deeply nested JSON', mismatch.headers, `${'['.repeat(5000)}${']'.repeat(5000)}`),
    () => make('a 300 kB body (over the read limit)', mismatch.headers, 'x'.repeat(300 * 1024)),
    () => make('a 70 kB body (over the provider limit)', mismatch.headers, 'y'.repeat(70 * 1024)),
    () => make('NUL bytes', mismatch.headers, Buffer.from([0x00, 0x7b, 0x00, 0x7d])),
    () => make('gzip declared, garbage sent', withHeader(mismatch.headers, { 'content-encoding': 'gzip' }), mismatch.body),
    () => make('Content-Length shorter than the body', mismatch.headers, mismatch.body, 'shorter'),
    () => make('Content-Length longer than the body', mismatch.headers, mismatch.body, 'longer'),
  ];
  return random.pick(forms)();
}

// ---------- API requests ----------

const objectsFor = (context: FuzzContext, path: string): readonly OwnedObject[] => {
  if (path.startsWith('/orders')) return context.objects.orders;
  if (path.startsWith('/payments')) return context.objects.payments;
  if (path.startsWith('/refunds')) return context.objects.refunds;
  if (path.startsWith('/products')) return context.objects.products;
  return [...context.objects.orders, ...context.objects.payments, ...context.objects.refunds, ...context.objects.products];
};

const UNLISTED_METHODS = ['PUT', 'DELETE', 'PATCH', 'POST', 'GET', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND'];

function apiRequest(context: FuzzContext, random: Random, tokens: TokenMaker, category: Exclude<Category, 'callback'>): Omit<FuzzRequest, 'index'> {
  const operation = random.pick(context.operations);
  let method = operation.method;
  const route = `${operation.method} ${operation.path}`;
  const allowed = operation.roles.filter((role) => ['customer', 'admin', 'auditor'].includes(role));
  const role = allowed.length ? random.pick(allowed) : 'admin';
  const subOf = (chosen: string) => (chosen === 'customer' ? random.pick(context.users.customers) : chosen === 'admin' ? context.users.admin : context.users.auditor);
  let sub = subOf(role);
  let token = tokens.valid(sub, role);
  const whats: string[] = [];
  const candidates = objectsFor(context, operation.path);
  // A valid id its sender could act on: a customer's own object, or any object for admin and auditor.
  const own = candidates.filter((object) => role !== 'customer' || !object.owner || object.owner === sub);
  let id = own.length ? random.pick(own).id : 'fuzz-missing';
  let headers: [string, string][] = [];
  let body: Buffer | null = operation.body ? Buffer.from(JSON.stringify(sampleBody(operation.body.fields, context, random))) : null;
  let query = '';
  let refused = false;
  let lengthLie: 'shorter' | 'longer' | undefined;

  switch (category) {
    case 'path': {
      const others = role === 'customer' ? candidates.filter((object) => object.owner && object.owner !== sub) : [];
      if (others.length && random.chance(0.3)) {
        id = random.pick(others).id;
        whats.push('path id of another customer\u2019s object');
        refused = true;
      } else {
        const [what, value] = random.pick(HOSTILE_IDS);
        id = value;
        whats.push(`path id ${what}`);
        refused = operation.pathParams.length > 0;
      }
      if (!operation.pathParams.length) {
        // No id in this route: put the hostile segment after it (an unknown route under its family).
        whats.push('appended to a route without an id');
      }
      break;
    }
    case 'query': {
      const hostile = hostileQuery(operation, random);
      query = hostile.query;
      whats.push(hostile.what);
      break;
    }
    case 'body': {
      const broken = breakingBody(operation, context, random);
      body = broken.body;
      headers.push(['content-type', broken.contentType]);
      whats.push(`body ${broken.what}`);
      refused = true;
      break;
    }
    case 'encoding': {
      const fault = encodingFault(operation, context, random);
      body = fault.body;
      headers.push(...fault.headers);
      whats.push(`encoding ${fault.what}`);
      refused = fault.definite && operation.body !== null;
      break;
    }
    case 'headers': {
      const fault = headerFault(operation, random);
      headers.push(...fault.headers);
      lengthLie = fault.lengthLie;
      whats.push(`header ${fault.what}`);
      if (fault.what === 'two Authorization headers') headers.push(['authorization', `Bearer ${token}`]);
      refused = fault.definite;
      if (/^Authorization/.test(fault.what)) token = '';
      break;
    }
    case 'jwt': {
      if (random.chance(0.25)) {
        const refusedRoles = ['customer', 'admin', 'auditor'].filter((candidate) => !operation.roles.includes(candidate));
        if (refusedRoles.length) {
          const wrong = random.pick(refusedRoles);
          sub = subOf(wrong);
          token = tokens.valid(sub, wrong);
          whats.push(`JWT valid but role ${wrong} may not`);
          refused = true;
          break;
        }
      }
      const hostile = tokens.hostile(random, sub, role);
      token = hostile.token;
      whats.push(hostile.what);
      if (random.chance(0.1)) {
        headers.push(['authorization', `bearer  ${token}`]);
        token = '';
        whats.push('(lower-case scheme, two spaces)');
      }
      refused = true;
      break;
    }
    case 'method': {
      const listed = new Set(context.operations.filter((other) => other.path === operation.path).map((other) => other.method));
      const unlisted = UNLISTED_METHODS.filter((candidate) => !listed.has(candidate));
      method = random.pick(unlisted);
      whats.push(`method ${method} not offered`);
      refused = !READ_METHODS.has(method);
      break;
    }
  }

  const read = READ_METHODS.has(method);
  if (!read && !refused) {
    // The fault alone may not refuse this write: add one that must, keeping the fault reachable behind
    // it where possible (an id the sender may not touch; a body that breaks the contract; else a token).
    const others = role === 'customer' ? candidates.filter((object) => object.owner && object.owner !== sub) : [];
    if (operation.pathParams.length && others.length && category !== 'path') {
      id = random.pick(others).id;
      whats.push('+ id of another customer\u2019s object');
    } else if (operation.body && category !== 'encoding' && category !== 'method') {
      const broken = breakingBody(operation, context, random);
      body = broken.body;
      headers = headers.filter(([name]) => name !== 'content-type');
      headers.push(['content-type', broken.contentType]);
      whats.push(`+ body ${broken.what}`);
    } else {
      const hostile = tokens.hostile(random, sub, role);
      token = hostile.token;
      headers = headers.filter(([name]) => name !== 'authorization');
      whats.push(`+ ${hostile.what}`);
    }
  }

  const pathname = operation.pathParams.length
    ? operation.path.replace(/\{[^}]+\}/g, () => id)
    : category === 'path'
      ? `${operation.path}/${id}`
      : operation.path;
  const finalHeaders: [string, string][] = [];
  if (token) finalHeaders.push(['authorization', `Bearer ${token}`]);
  if (body && !headers.some(([name]) => name === 'content-type') && category !== 'encoding') finalHeaders.push(['content-type', 'application/json']);
  finalHeaders.push(...headers);
  return {
    target: 'api',
    category,
    route,
    what: whats.join(' '),
    method,
    path: `${context.apiBase}${pathname}${query ? `?${query}` : ''}`,
    headers: finalHeaders,
    body: method === 'GET' || method === 'HEAD' ? (category === 'body' || category === 'encoding' ? (body ?? Buffer.alloc(0)) : Buffer.alloc(0)) : (body ?? Buffer.alloc(0)),
    read,
    ...(lengthLie ? { lengthLie } : {}),
  };
}

/** `count` requests from `seed`: about a fifth at the callback endpoints, the rest spread over the API's categories. */
export function generateRequests(seed: number, count: number, context: FuzzContext): FuzzRequest[] {
  const random = seededRandom(seed);
  const tokens = tokenMaker(context);
  const requests: FuzzRequest[] = [];
  const apiCategories = CATEGORIES.filter((category): category is Exclude<Category, 'callback'> => category !== 'callback');
  for (let index = 0; index < count; index++) {
    const request = random.chance(0.2) ? callbackRequest(context, random) : apiRequest(context, random, tokens, random.pick(apiCategories));
    requests.push({ index, ...request });
  }
  return requests;
}
