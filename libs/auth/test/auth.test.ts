import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Request, Response } from 'express';
import { INTERNAL_IDENTITY_HEADER } from '@pay/contracts';
import { bearerToken, createTokenVerifier, DEV_JWT_AUDIENCE, DEV_JWT_ISSUER, requireInternalIdentity, signInternalIdentity, signToken, verifyInternalIdentity, type InternalBinding } from '../src';

const secret = 'test-fixture-secret-0123456789abcdef';

describe('token verification', () => {
  const verify = createTokenVerifier({ algorithm: 'HS256', secret });

  it('accepts a valid HS256 token and returns sub and role', () => {
    expect(verify(signToken({ sub: 'u1', role: 'customer' }, secret))).toEqual({ sub: 'u1', role: 'customer' });
  });

  it('refuses alg none', () => {
    const unsigned = jwt.sign({ sub: 'u1', role: 'admin' }, '', { algorithm: 'none' });
    expect(() => verify(unsigned)).toThrow(/invalid token/);
  });

  it('refuses a token signed with another key', () => {
    expect(() => verify(signToken({ sub: 'u1', role: 'admin' }, 'another-secret-0123456789abcdefgh'))).toThrow(/invalid token/);
  });

  it('refuses an expired token', () => {
    const expired = jwt.sign({ sub: 'u1', role: 'customer', exp: Math.floor(Date.now() / 1000) - 60 }, secret, { algorithm: 'HS256' });
    expect(() => verify(expired)).toThrow(/expired/);
  });

  it('refuses missing sub or role, and unknown roles', () => {
    expect(() => verify(jwt.sign({ role: 'customer' }, secret, { expiresIn: 60 }))).toThrow(/sub and role/);
    expect(() => verify(jwt.sign({ sub: 'u' }, secret, { expiresIn: 60 }))).toThrow(/sub and role/);
    expect(() => verify(jwt.sign({ sub: 'u', role: 'root' }, secret, { expiresIn: 60 }))).toThrow(/sub and role/);
  });

  it('refuses a token without exp (it would be valid forever)', () => {
    expect(() => verify(jwt.sign({ sub: 'u1', role: 'customer' }, secret, { algorithm: 'HS256' }))).toThrow(/invalid token: exp is required/);
    expect(() => verify(jwt.sign({ sub: 'u1', role: 'customer' }, secret, { algorithm: 'HS256', noTimestamp: true }))).toThrow(/exp is required/);
  });

  it('refuses a lifetime over the cap (86400 s by default): exp − iat, or exp − now without iat or with a future iat', () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'u1', role: 'customer' };
    expect(verify(jwt.sign({ ...claims, iat: now, exp: now + 86_400 }, secret))).toEqual(claims);
    expect(() => verify(jwt.sign({ ...claims, iat: now, exp: now + 86_400 + 60 }, secret))).toThrow(/lifetime exceeds 86400 s/);
    // Issued long ago with a long lifetime: still too long, though little of it is left.
    expect(() => verify(jwt.sign({ ...claims, iat: now - 10 * 86_400, exp: now + 60 }, secret))).toThrow(/lifetime exceeds/);
    expect(() => verify(jwt.sign({ ...claims, exp: now + 2 * 86_400 }, secret, { noTimestamp: true }))).toThrow(/lifetime exceeds/);
    expect(() => verify(jwt.sign({ ...claims, iat: now + 86_400, exp: now + 2 * 86_400 }, secret))).toThrow(/lifetime exceeds/);
    const short = createTokenVerifier({ algorithm: 'HS256', secret, maxTtlSeconds: 600 });
    expect(short(signToken({ sub: 'u1', role: 'customer' }, secret, '10m'))).toEqual(claims);
    expect(() => short(signToken({ sub: 'u1', role: 'customer' }, secret, '1h'))).toThrow(/lifetime exceeds 600 s/);
  });

  it('checks aud and iss when configured: a mismatch or a missing claim is refused, matching ones accepted', () => {
    const strict = createTokenVerifier({ algorithm: 'HS256', secret, audience: 'payments-api', issuer: 'https://id.example' });
    const make = (claims: object) => jwt.sign({ sub: 'u1', role: 'customer', ...claims }, secret, { expiresIn: 60 });
    expect(strict(make({ aud: 'payments-api', iss: 'https://id.example' }))).toEqual({ sub: 'u1', role: 'customer' });
    expect(strict(make({ aud: ['other-api', 'payments-api'], iss: 'https://id.example' }))).toEqual({ sub: 'u1', role: 'customer' });
    expect(() => strict(make({ aud: 'other-api', iss: 'https://id.example' }))).toThrow(/audience invalid/);
    expect(() => strict(make({ iss: 'https://id.example' }))).toThrow(/audience invalid/);
    expect(() => strict(make({ aud: 'payments-api', iss: 'https://evil.example' }))).toThrow(/issuer invalid/);
    expect(() => strict(make({ aud: 'payments-api' }))).toThrow(/issuer invalid/);
    // Not configured: not checked.
    expect(verify(make({ aud: 'other-api', iss: 'https://evil.example' }))).toEqual({ sub: 'u1', role: 'customer' });
  });

  it('signToken signs the dev audience and issuer by default, the given ones, or none', () => {
    const claimsOf = (token: string) => jwt.decode(token) as jwt.JwtPayload;
    expect(claimsOf(signToken({ sub: 'u1', role: 'customer' }, secret))).toMatchObject({ aud: DEV_JWT_AUDIENCE, iss: DEV_JWT_ISSUER, sub: 'u1', role: 'customer' });
    expect(claimsOf(signToken({ sub: 'u1', role: 'customer' }, secret, '5m', { audience: 'a', issuer: 'i' }))).toMatchObject({ aud: 'a', iss: 'i' });
    const bare = claimsOf(signToken({ sub: 'u1', role: 'customer' }, secret, '5m', { audience: null, issuer: null }));
    expect(bare.aud).toBeUndefined();
    expect(bare.iss).toBeUndefined();
    const dev = createTokenVerifier({ algorithm: 'HS256', secret, audience: DEV_JWT_AUDIENCE, issuer: DEV_JWT_ISSUER });
    expect(dev(signToken({ sub: 'u1', role: 'admin' }, secret))).toEqual({ sub: 'u1', role: 'admin' });
  });

  it('pins RS256 and refuses an HS256 token made with the public key as secret', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const verifyRs = createTokenVerifier({ algorithm: 'RS256', publicKey: publicPem });
    const good = jwt.sign({ sub: 'u2', role: 'auditor' }, privateKey, { algorithm: 'RS256', expiresIn: 60 });
    expect(verifyRs(good)).toEqual({ sub: 'u2', role: 'auditor' });
    const confused = jwt.sign({ sub: 'u2', role: 'admin' }, secret, { algorithm: 'HS256', expiresIn: 60 });
    expect(() => verifyRs(confused)).toThrow(/invalid token/);
  });
});

describe('internal identity', () => {
  const binding: InternalBinding = { audience: 'order-service', method: 'GET', path: '/api/v1/orders/o-1?page=2' };
  const alice = { sub: 'u1', role: 'customer' } as const;

  it('round-trips for its service, method and path, and refuses a public token in its place', () => {
    const token = signInternalIdentity(alice, secret, binding);
    expect(verifyInternalIdentity(token, secret, binding)).toEqual(alice);
    expect(jwt.decode(token)).toMatchObject({ aud: 'order-service', method: 'GET', path: '/api/v1/orders/o-1?page=2', sub: 'u1', role: 'customer' });
    expect(() => verifyInternalIdentity(signToken({ sub: 'u1', role: 'admin' }, secret), secret, binding)).toThrow(/internal identity/);
  });

  it('lives 30 s', () => {
    const claims = jwt.decode(signInternalIdentity(alice, secret, binding)) as jwt.JwtPayload;
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(30);
  });

  it.each<[string, Partial<InternalBinding>]>([
    ['another service', { audience: 'payment-service' }],
    ['another method', { method: 'POST' }],
    ['another path', { path: '/api/v1/orders/o-2?page=2' }],
    ['another query', { path: '/api/v1/orders/o-1?page=3' }],
    ['the path without its query', { path: '/api/v1/orders/o-1' }],
  ])('refuses a token presented for %s', (_name, other) => {
    const token = signInternalIdentity(alice, secret, binding);
    expect(() => verifyInternalIdentity(token, secret, { ...binding, ...other })).toThrow(/internal identity/);
  });

  it('refuses a token without exp, with a long lifetime, with several audiences, or for the old shared audience', () => {
    const sign = (claims: object, options: jwt.SignOptions = {}) => jwt.sign({ sub: 'u1', role: 'admin', iss: 'api-gateway', method: 'GET', path: binding.path, ...claims }, secret, { algorithm: 'HS256', ...options });
    expect(verifyInternalIdentity(sign({ aud: 'order-service' }, { expiresIn: 30 }), secret, binding)).toEqual({ sub: 'u1', role: 'admin' });
    expect(() => verifyInternalIdentity(sign({ aud: 'order-service' }), secret, binding)).toThrow(/exp is required/);
    expect(() => verifyInternalIdentity(sign({ aud: 'order-service' }, { expiresIn: 3600 }), secret, binding)).toThrow(/lifetime exceeds/);
    expect(() => verifyInternalIdentity(sign({ aud: ['order-service', 'payment-service'] }, { expiresIn: 30 }), secret, binding)).toThrow(/another service/);
    expect(() => verifyInternalIdentity(sign({ aud: 'payments-internal' }, { expiresIn: 30 }), secret, binding)).toThrow(/audience invalid/);
    expect(() => verifyInternalIdentity(sign({ aud: 'order-service', method: undefined }, { expiresIn: 30 }), secret, binding)).toThrow(/method and path/);
  });

  it('requireInternalIdentity checks the request it guards: its method and its original URL with the query', () => {
    const guard = requireInternalIdentity({ secret, audience: 'order-service' });
    const run = (method: string, originalUrl: string, token: string | undefined) => {
      const res = { locals: {} } as Response;
      let passed: unknown = 'not called';
      const req = { method, originalUrl, header: (name: string) => (name === INTERNAL_IDENTITY_HEADER ? token : undefined) } as unknown as Request;
      guard(req, res, (error?: unknown) => (passed = error));
      return { error: passed as Error | undefined, identity: res.locals.identity as unknown };
    };
    const token = signInternalIdentity(alice, secret, binding);
    expect(run('GET', binding.path, token)).toEqual({ error: undefined, identity: alice });
    expect(run('POST', binding.path, token).error?.message).toMatch(/another request/);
    expect(run('GET', '/api/v1/orders/o-1/cancel', token).error?.message).toMatch(/another request/);
    expect(run('GET', binding.path, undefined).error?.message).toMatch(/missing internal identity/);
    const forPayments = requireInternalIdentity({ secret, audience: 'payment-service' });
    let refused: unknown;
    forPayments({ method: 'GET', originalUrl: binding.path, header: () => token } as unknown as Request, { locals: {} } as Response, (error?: unknown) => (refused = error));
    expect((refused as Error).message).toMatch(/audience invalid/);
  });
});

describe('bearerToken', () => {
  it('extracts the token or refuses', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(() => bearerToken(undefined)).toThrow(/missing/);
    expect(() => bearerToken('Basic x')).toThrow(/missing/);
  });
});
