import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { DEV_JWT_AUDIENCE, DEV_JWT_ISSUER } from '@pay/auth';
import { generateDevKeys, type DevKeys } from '@pay/providers';
import { REPO_ROOT } from './ferretdb';

/** What a local stack was started with; read by `npm run token` and `npm run simulate`. */
export interface DevSession {
  gatewayUrl: string;
  callbackUrl: string;
  jwtSecret: string;
  /** The aud and iss the gateway requires (JWT_AUDIENCE, JWT_ISSUER): tokens signed for the stack carry them. */
  jwtAudience?: string;
  jwtIssuer?: string;
  mockProviderSecret: string;
  wechatpay: { mchid: string; appid: string; serial: string; apiV3Key: string; platformPrivateKey: string };
  alipay: { appId: string; privateKey: string };
  /** The provider simulator's base URL (its cashier pages and control API). */
  providerSimUrl?: string;
}

/** An RSA-2048 pair as PEM (SPKI public, PKCS#8 private). */
function rsaPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
}

/**
 * The merchant's own keys, the other half of each provider relationship: WeChat Pay's merchant API key
 * (signs our requests and paySign; the provider holds its public key) and Alipay's application key.
 */
export interface MerchantKeys {
  wechatpay: { serial: string; privateKey: string; publicKey: string };
  alipay: { privateKey: string; publicKey: string };
}

export function generateMerchantKeys(): MerchantKeys {
  return {
    // Merchant API certificate serials are 40 upper-case hex digits.
    wechatpay: { serial: randomBytes(20).toString('hex').toUpperCase(), ...rsaPair() },
    alipay: rsaPair(),
  };
}

export const DEV_SESSION_FILE = path.join(REPO_ROOT, '.cache', 'dev-session.json');

const randomSecret = (bytes = 32) => randomBytes(bytes).toString('base64url');

/**
 * Fresh secrets and provider keys for one local run or test run: generated at start-up, never
 * committed. Returns the services' environment and the matching signing material for the simulator.
 */
export function generateDevSecrets(keys: DevKeys = generateDevKeys(), merchant: MerchantKeys = generateMerchantKeys()) {
  // Merchants registered since late 2024 verify WeChat Pay with a platform public key named PUB_KEY_ID_…
  // (no platform certificates): the local stack runs in that mode.
  const platformSerial = `PUB_KEY_ID_01${Array.from({ length: 26 }, () => randomInt(10)).join('')}`;
  const session = {
    jwtSecret: randomSecret(),
    jwtAudience: DEV_JWT_AUDIENCE,
    jwtIssuer: DEV_JWT_ISSUER,
    internalTokenSecret: randomSecret(),
    mockProviderSecret: randomSecret(),
    wechatpay: {
      mchid: '1900000109',
      appid: 'wxdevappid0000001',
      serial: platformSerial,
      apiV3Key: keys.wechatpay.apiV3Key,
      platformPrivateKey: keys.wechatpay.platformPrivateKey,
      platformPublicKey: keys.wechatpay.platformPublicKey,
    },
    alipay: { appId: '2021000000000001', privateKey: keys.alipay.privateKey, publicKey: keys.alipay.publicKey },
  };
  const env: NodeJS.ProcessEnv = {
    JWT_SECRET: session.jwtSecret,
    // The gateway checks aud and iss, as compose and k8s configure it; the dev tools sign these.
    JWT_AUDIENCE: session.jwtAudience,
    JWT_ISSUER: session.jwtIssuer,
    // One environment for every process the harness starts: the callback gateway's config does not read it.
    INTERNAL_TOKEN_SECRET: session.internalTokenSecret,
    MOCK_PROVIDER_SECRET: session.mockProviderSecret,
    WECHATPAY_MCHID: session.wechatpay.mchid,
    WECHATPAY_APPID: session.wechatpay.appid,
    WECHATPAY_APIV3_KEY: session.wechatpay.apiV3Key,
    WECHATPAY_PLATFORM_SERIAL: session.wechatpay.serial,
    WECHATPAY_PLATFORM_PUBLIC_KEY: session.wechatpay.platformPublicKey,
    ALIPAY_APP_ID: session.alipay.appId,
    ALIPAY_PUBLIC_KEY: session.alipay.publicKey,
    // The merchant side (payment-service signs its provider requests with these).
    WECHATPAY_MERCHANT_SERIAL: merchant.wechatpay.serial,
    WECHATPAY_MERCHANT_PRIVATE_KEY: merchant.wechatpay.privateKey,
    ALIPAY_APP_PRIVATE_KEY: merchant.alipay.privateKey,
  };
  /** The provider side, for the simulator: its own signing keys and our public keys. */
  const simulatorEnv: NodeJS.ProcessEnv = {
    WECHATPAY_MCHID: session.wechatpay.mchid,
    WECHATPAY_APPID: session.wechatpay.appid,
    WECHATPAY_APIV3_KEY: session.wechatpay.apiV3Key,
    WECHATPAY_PLATFORM_SERIAL: platformSerial,
    WECHATPAY_MERCHANT_SERIAL: merchant.wechatpay.serial,
    PROVIDER_SIM_WECHATPAY_PLATFORM_PRIVATE_KEY: session.wechatpay.platformPrivateKey,
    PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY: merchant.wechatpay.publicKey,
    ALIPAY_APP_ID: session.alipay.appId,
    PROVIDER_SIM_ALIPAY_PRIVATE_KEY: session.alipay.privateKey,
    PROVIDER_SIM_ALIPAY_APP_PUBLIC_KEY: merchant.alipay.publicKey,
    MOCK_PROVIDER_SECRET: session.mockProviderSecret,
  };
  return { env, session, simulatorEnv };
}

export function writeDevSession(session: DevSession): void {
  mkdirSync(path.dirname(DEV_SESSION_FILE), { recursive: true });
  writeFileSync(DEV_SESSION_FILE, JSON.stringify(session, null, 2), { mode: 0o600 });
  chmodSync(DEV_SESSION_FILE, 0o600);
}

export function readDevSession(): DevSession | null {
  if (!existsSync(DEV_SESSION_FILE)) return null;
  return JSON.parse(readFileSync(DEV_SESSION_FILE, 'utf8')) as DevSession;
}
