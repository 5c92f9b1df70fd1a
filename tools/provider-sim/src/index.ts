import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Response } from 'express';
import { z } from 'zod';
import { type AlipaySimConfig, createAlipaySim } from './alipay';
import { createCashierRouter } from './cashier';
import type { SimContext } from './context';
import { createControlRouter } from './control';
import { Faults } from './faults';
import { Ledger } from './ledger';
import { type MockSimConfig, createMockSim } from './mock';
import { Notifier, Timers } from './notifier';
import { describeIssues } from './raw-body';
import { type WechatpaySimConfig, createWechatpaySim } from './wechatpay';
import { pemKey } from '@pay/config';

export type { AlipaySimConfig, MockSimConfig, WechatpaySimConfig };

/**
 * A local stand-in for WeChat Pay API v3, the Alipay open API (v2 gateway) and our mock provider:
 * strict like the real ones (signed requests verified, answers signed, their error codes), with its own
 * ledger, a cashier page for people, a control API for tests, and signed notifications delivered to our
 * callback gateway on the providers' retry schedules (time-scaled).
 */

export interface ProviderSimOptions {
  /** 0 or absent = a free port */
  port?: number;
  /** Default 127.0.0.1 */
  host?: string;
  /** Multiplies every provider retry delay and `delay_s`; default 1 (e.g. 0.001 in tests) */
  timeScale?: number;
  /** Base URL of our callback gateway: notifications go to `${callbackUrl}/callbacks/<provider>` when the order carried no notify_url */
  callbackUrl?: string;
  wechatpay?: WechatpaySimConfig;
  alipay?: AlipaySimConfig;
  mock?: MockSimConfig;
  /** Default: silent */
  log?: (line: string) => void;
}

export interface ProviderSim {
  url: string;
  port: number;
  close(): Promise<void>;
}

const identifier = z.string().min(1).max(64);

const optionsSchema = z.object({
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).max(255).optional(),
  timeScale: z.number().positive().max(1000).optional(),
  callbackUrl: z.url({ protocol: /^https?$/ }).optional(),
  wechatpay: z
    .object({
      mchid: identifier,
      appid: identifier,
      apiV3Key: z.string().refine((value) => Buffer.byteLength(value, 'utf8') === 32, 'must be 32 bytes'),
      platformPrivateKey: pemKey('private'),
      platformSerial: identifier,
      merchantPublicKey: pemKey('public'),
      merchantSerial: identifier,
    })
    .optional(),
  alipay: z.object({ appId: identifier, privateKey: pemKey('private'), appPublicKey: pemKey('public') }).optional(),
  mock: z.object({ secret: z.string().min(16, 'must be at least 16 characters') }).optional(),
  log: z.custom<(line: string) => void>((value) => typeof value === 'function', 'must be a function').optional(),
});

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The host to put in URLs: a wildcard address is not one a browser or client can use. */
function advertisedHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function listen(app: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export async function startProviderSim(options: ProviderSimOptions): Promise<ProviderSim> {
  const parsed = optionsSchema.safeParse(options);
  // The messages name fields and rules only: a key never appears in them.
  if (!parsed.success) throw new Error(`provider-sim: invalid options: ${describeIssues(parsed.error)}`);
  const settings = parsed.data;
  const host = settings.host ?? '127.0.0.1';
  const log = settings.log ?? (() => {});

  let baseUrl = '';
  const held = new Set<Response>();
  const timers = new Timers();
  const timeScale = settings.timeScale ?? 1;
  const context: SimContext = {
    baseUrl: () => baseUrl,
    callbackUrl: settings.callbackUrl?.replace(/\/+$/, '') ?? null,
    timeScale,
    ledger: new Ledger(),
    faults: new Faults(),
    timers,
    notifier: new Notifier(timers, timeScale, log),
    providers: {},
    plannedRefundOutcomes: new Map(),
    log,
    hold: (res) => {
      held.add(res);
      res.on('close', () => held.delete(res));
    },
  };

  const app = express();
  app.disable('x-powered-by');
  // ETags could turn a repeated answer into a 304 without a signed body.
  app.set('etag', false);

  const notEnabled = (provider: string): express.RequestHandler => (_req, res) => {
    res.status(404).json({ code: 'NOT_FOUND', message: `${provider} is not enabled in this simulator` });
  };
  const providerRoute = (path: string, provider: string, router: express.Router | null) => app.use(path, router ?? notEnabled(provider));
  try {
    const wechatpay = settings.wechatpay ? createWechatpaySim(context, settings.wechatpay) : null;
    const alipay = settings.alipay ? createAlipaySim(context, settings.alipay) : null;
    const mock = settings.mock ? createMockSim(context, settings.mock) : null;
    if (wechatpay) context.providers.wechatpay = wechatpay.hooks;
    if (alipay) context.providers.alipay = alipay.hooks;
    if (mock) context.providers.mock = mock.hooks;
    providerRoute('/v3', 'wechatpay', wechatpay?.router ?? null);
    providerRoute('/gateway.do', 'alipay', alipay?.router ?? null);
    providerRoute('/mock/v1', 'mock', mock?.router ?? null);
  } catch (error) {
    // Node's key-parsing errors carry no key material, but say which kind of failure it was only.
    throw new Error(`provider-sim: a key could not be loaded (${error instanceof Error ? error.message : 'unknown error'})`);
  }
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', providers: Object.keys(context.providers) });
  });
  app.use('/cashier', createCashierRouter(context));
  app.use('/sim', createControlRouter(context));
  app.use((_req, res) => {
    res.status(404).json({ code: 'NOT_FOUND', message: 'no such endpoint in the provider simulator' });
  });

  const server = await listen(app, settings.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${formatHost(advertisedHost(host))}:${port}`;
  log(`provider simulator listening on ${baseUrl} (${Object.keys(context.providers).join(', ') || 'no provider enabled'})`);

  let closing: Promise<void> | null = null;
  return {
    url: baseUrl,
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        timers.stop();
        context.notifier.close();
        for (const res of held) res.socket?.destroy();
        held.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
