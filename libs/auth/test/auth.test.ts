import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { bearerToken, createTokenVerifier, signInternalIdentity, signToken, verifyInternalIdentity } from '../src';

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
    expect(() => verify(jwt.sign({ role: 'customer' }, secret))).toThrow(/sub and role/);
    expect(() => verify(jwt.sign({ sub: 'u' }, secret))).toThrow(/sub and role/);
    expect(() => verify(jwt.sign({ sub: 'u', role: 'root' }, secret))).toThrow(/sub and role/);
  });

  it('pins RS256 and refuses an HS256 token made with the public key as secret', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const verifyRs = createTokenVerifier({ algorithm: 'RS256', publicKey: publicPem });
    const good = jwt.sign({ sub: 'u2', role: 'auditor' }, privateKey, { algorithm: 'RS256' });
    expect(verifyRs(good)).toEqual({ sub: 'u2', role: 'auditor' });
    const confused = jwt.sign({ sub: 'u2', role: 'admin' }, secret, { algorithm: 'HS256' });
    expect(() => verifyRs(confused)).toThrow(/invalid token/);
  });
});

describe('internal identity', () => {
  it('round-trips and refuses a public token in its place', () => {
    const token = signInternalIdentity({ sub: 'u1', role: 'customer' }, secret);
    expect(verifyInternalIdentity(token, secret)).toEqual({ sub: 'u1', role: 'customer' });
    expect(() => verifyInternalIdentity(signToken({ sub: 'u1', role: 'admin' }, secret), secret)).toThrow(/internal identity/);
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
