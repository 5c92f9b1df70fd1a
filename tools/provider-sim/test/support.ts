import { createHash, createSign, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlipaySdk } from 'alipay-sdk';
import { Wechatpay } from 'wechatpay-axios-plugin';
import { type ProviderSim, type ProviderSimOptions, startProviderSim } from '../src';

/**
 * Test kit: fresh keys for both sides, a simulator, a receiver standing in for our callback gateway,
 * and request signing written out from the providers' documentation (independently of the simulator).
 */

export interface KeyPair {
  publicKey: string;
  privateKey: string;
}

export function rsaPair(): KeyPair {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

export interface TestKeys {
  wechatpay: { mchid: string; appid: string; apiV3Key: string; platformSerial: string; merchantSerial: string; platform: KeyPair; merchant: KeyPair };
  alipay: { appId: string; alipay: KeyPair; app: KeyPair };
  mockSecret: string;
}

export function testKeys(): TestKeys {
  return {
    wechatpay: {
      mchid: '1900000109',
      appid: 'wxd678efh567hg6787',
      apiV3Key: randomBytes(16).toString('hex'),
      platformSerial: `PUB_KEY_ID_0119000001092025${randomBytes(8).toString('hex').toUpperCase()}`,
      merchantSerial: randomBytes(20).toString('hex').toUpperCase(),
      platform: rsaPair(),
      merchant: rsaPair(),
    },
    alipay: { appId: '2021000000000001', alipay: rsaPair(), app: rsaPair() },
    mockSecret: randomBytes(24).toString('hex'),
  };
}

export function simOptions(keys: TestKeys, extra: Partial<ProviderSimOptions> = {}): ProviderSimOptions {
  return {
    timeScale: 0.001,
    wechatpay: {
      mchid: keys.wechatpay.mchid,
      appid: keys.wechatpay.appid,
      apiV3Key: keys.wechatpay.apiV3Key,
      platformPrivateKey: keys.wechatpay.platform.privateKey,
      platformSerial: keys.wechatpay.platformSerial,
      merchantPublicKey: keys.wechatpay.merchant.publicKey,
      merchantSerial: keys.wechatpay.merchantSerial,
    },
    alipay: { appId: keys.alipay.appId, privateKey: keys.alipay.alipay.privateKey, appPublicKey: keys.alipay.app.publicKey },
    mock: { secret: keys.mockSecret },
    ...extra,
  };
}

export async function startSim(keys: TestKeys, extra: Partial<ProviderSimOptions> = {}): Promise<ProviderSim> {
  return startProviderSim(simOptions(keys, extra));
}

/** Parsed JSON answers are read field by field in the tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A simulator for the whole test file: started before its tests, closed after them. */
export function useSim(keys: TestKeys, extra: Partial<ProviderSimOptions> = {}): ProviderSim {
  let running: ProviderSim | undefined;
  beforeAll(async () => {
    running = await startSim(keys, extra);
  });
  afterAll(async () => {
    await running?.close();
  });
  const started = (): ProviderSim => {
    if (running === undefined) throw new Error('the simulator is started in beforeAll');
    return running;
  };
  return {
    get url() {
      return started().url;
    },
    get port() {
      return started().port;
    },
    close: () => started().close(),
  };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json(): Json;
}

export async function call(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** The control API: JSON in, JSON out. */
export function control(sim: ProviderSim, method: string, path: string, body?: unknown): Promise<HttpAnswer> {
  return call(`${sim.url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

// ---- WeChat Pay v3, per the signing guide ----

export interface WechatSigning {
  mchid?: string;
  serial?: string;
  privateKey?: string;
  timestamp?: number;
  /** Sends other bytes than the ones signed */
  sendInstead?: string;
}

export function wechatAuthorization(keys: TestKeys, method: string, pathWithQuery: string, raw: string, signing: WechatSigning = {}): string {
  const timestamp = String(signing.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const signer = createSign('RSA-SHA256');
  signer.update(`${method}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${raw}\n`);
  const signature = signer.sign(signing.privateKey ?? keys.wechatpay.merchant.privateKey, 'base64');
  return (
    `WECHATPAY2-SHA256-RSA2048 mchid="${signing.mchid ?? keys.wechatpay.mchid}",nonce_str="${nonce}",` +
    `timestamp="${timestamp}",serial_no="${signing.serial ?? keys.wechatpay.merchantSerial}",signature="${signature}"`
  );
}

export async function wechatCall(sim: ProviderSim, keys: TestKeys, method: string, pathWithQuery: string, body?: unknown, signing: WechatSigning = {}): Promise<HttpAnswer> {
  const raw = body === undefined ? '' : JSON.stringify(body);
  return call(`${sim.url}${pathWithQuery}`, {
    method,
    headers: {
      authorization: wechatAuthorization(keys, method, pathWithQuery, raw, signing),
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: signing.sendInstead ?? raw }),
  });
}

/** True when the answer carries a valid platform signature over "<timestamp>\n<nonce>\n<body>\n". */
export function wechatAnswerVerifies(answer: HttpAnswer, keys: TestKeys): boolean {
  const timestamp = answer.headers.get('wechatpay-timestamp');
  const nonce = answer.headers.get('wechatpay-nonce');
  const signature = answer.headers.get('wechatpay-signature');
  if (!timestamp || !nonce || !signature || answer.headers.get('wechatpay-serial') !== keys.wechatpay.platformSerial) return false;
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${timestamp}\n${nonce}\n${answer.text}\n`);
  return verifier.verify(keys.wechatpay.platform.publicKey, signature, 'base64');
}

export function nativeOrder(keys: TestKeys, outTradeNo: string, total = 1234, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { appid: keys.wechatpay.appid, mchid: keys.wechatpay.mchid, description: 'Tea', out_trade_no: outTradeNo, amount: { total, currency: 'CNY' }, ...extra };
}

/** The SDK the adapters use, in public-key mode, pointed at the simulator (its chained API is untyped: Json). */
export function wechatpaySdk(sim: ProviderSim, keys: TestKeys): Json {
  return new Wechatpay({
    mchid: keys.wechatpay.mchid,
    serial: keys.wechatpay.merchantSerial,
    privateKey: keys.wechatpay.merchant.privateKey,
    certs: { [keys.wechatpay.platformSerial]: keys.wechatpay.platform.publicKey },
    baseURL: `${sim.url}/`,
  });
}

// ---- Alipay v2 gateway, per its request signing ----

export function alipaySdk(sim: ProviderSim, keys: TestKeys, privateKey = keys.alipay.app.privateKey): AlipaySdk {
  return new AlipaySdk({
    appId: keys.alipay.appId,
    privateKey,
    alipayPublicKey: keys.alipay.alipay.publicKey,
    gateway: `${sim.url}/gateway.do`,
    keyType: 'PKCS8',
    signType: 'RSA2',
  });
}

function chinaTimestamp(now = new Date()): string {
  return new Date(now.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

export interface AlipayCallOptions {
  appId?: string;
  privateKey?: string;
  /** Parameters added before signing (or replacing the defaults) */
  extra?: Record<string, string>;
  /** Parameters replaced after signing */
  sendInstead?: Record<string, string>;
  /** Everything in a GET query string instead of query + form body */
  get?: boolean;
}

/** Common parameters in the query string, biz_content in the form body, signed with the app key (sign_type included). */
export async function alipayCall(sim: ProviderSim, keys: TestKeys, method: string, biz: Record<string, unknown>, options: AlipayCallOptions = {}): Promise<HttpAnswer> {
  const params: Record<string, string> = {
    app_id: options.appId ?? keys.alipay.appId,
    method,
    format: 'JSON',
    charset: 'utf-8',
    sign_type: 'RSA2',
    timestamp: chinaTimestamp(),
    version: '1.0',
    biz_content: JSON.stringify(biz),
    ...options.extra,
  };
  const content = Object.keys(params)
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
  const signer = createSign('RSA-SHA256');
  signer.update(content, 'utf8');
  const signed: Record<string, string> = { ...params, sign: signer.sign(options.privateKey ?? keys.alipay.app.privateKey, 'base64'), ...options.sendInstead };
  if (options.get) return call(`${sim.url}/gateway.do?${new URLSearchParams(signed).toString()}`);
  const { biz_content: bizContent, ...common } = signed;
  return call(`${sim.url}/gateway.do?${new URLSearchParams(common).toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
    body: new URLSearchParams({ biz_content: bizContent ?? '' }).toString(),
  });
}

/** The `*_response` value, after checking the answer's sign over its exact text with Alipay's public key. */
export function alipayAnswer(answer: HttpAnswer, keys: TestKeys, method: string): Json {
  const key = `${method.replace(/\./g, '_')}_response`;
  const match = new RegExp(`^\\{"${key}":(.*),"sign":"([A-Za-z0-9+/=]+)"\\}$`).exec(answer.text);
  if (!match) throw new Error(`not a signed ${key} envelope: ${answer.text}`);
  const verifier = createVerify('RSA-SHA256');
  verifier.update(match[1]!, 'utf8');
  if (!verifier.verify(keys.alipay.alipay.publicKey, match[2]!, 'base64')) throw new Error('the answer sign does not verify');
  return JSON.parse(match[1]!);
}

// ---- A receiver standing in for our callback gateway ----

export interface Received {
  path: string;
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** Records every POST and answers with `answer(request, index)` (default 200 "success", good for every provider). */
export async function startReceiver(answer: (request: Received, index: number) => { status: number; body: string } = () => ({ status: 200, body: 'success' })): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: Received = {
        path: req.url ?? '',
        headers: Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value])),
        rawBody: Buffer.concat(chunks),
        at: Date.now(),
      };
      received.push(request);
      const reply = answer(request, received.length - 1);
      res.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function waitFor(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A unique out_trade_no per test (WeChat: 6-32 characters). */
export function tradeNo(prefix = 'T'): string {
  return `${prefix}${createHash('sha256').update(randomBytes(8)).digest('hex').slice(0, 20)}`;
}
