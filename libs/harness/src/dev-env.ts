import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { generateDevKeys, type DevKeys } from '@pay/providers';
import { REPO_ROOT } from './ferretdb';

/** What a local stack was started with; read by `npm run token` and `npm run simulate`. */
export interface DevSession {
  gatewayUrl: string;
  callbackUrl: string;
  jwtSecret: string;
  mockProviderSecret: string;
  wechatpay: { mchid: string; appid: string; serial: string; apiV3Key: string; platformPrivateKey: string };
  alipay: { appId: string; privateKey: string };
}

export const DEV_SESSION_FILE = path.join(REPO_ROOT, '.cache', 'dev-session.json');

const randomSecret = (bytes = 32) => randomBytes(bytes).toString('base64url');

/**
 * Fresh secrets and provider keys for one local run or test run: generated at start-up, never
 * committed. Returns the services' environment and the matching signing material for the simulator.
 */
export function generateDevSecrets(keys: DevKeys = generateDevKeys()) {
  const session = {
    jwtSecret: randomSecret(),
    internalTokenSecret: randomSecret(),
    mockProviderSecret: randomSecret(),
    wechatpay: {
      mchid: '1900000109',
      appid: 'wxdevappid0000001',
      serial: keys.wechatpay.serial,
      apiV3Key: keys.wechatpay.apiV3Key,
      platformPrivateKey: keys.wechatpay.platformPrivateKey,
      platformPublicKey: keys.wechatpay.platformPublicKey,
    },
    alipay: { appId: '2021000000000001', privateKey: keys.alipay.privateKey, publicKey: keys.alipay.publicKey },
  };
  const env: NodeJS.ProcessEnv = {
    JWT_SECRET: session.jwtSecret,
    INTERNAL_TOKEN_SECRET: session.internalTokenSecret,
    MOCK_PROVIDER_SECRET: session.mockProviderSecret,
    WECHATPAY_MCHID: session.wechatpay.mchid,
    WECHATPAY_APPID: session.wechatpay.appid,
    WECHATPAY_APIV3_KEY: session.wechatpay.apiV3Key,
    WECHATPAY_PLATFORM_SERIAL: session.wechatpay.serial,
    WECHATPAY_PLATFORM_PUBLIC_KEY: session.wechatpay.platformPublicKey,
    ALIPAY_APP_ID: session.alipay.appId,
    ALIPAY_PUBLIC_KEY: session.alipay.publicKey,
  };
  return { env, session };
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
