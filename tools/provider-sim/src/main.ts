import { z } from 'zod';
import { ConfigError, loadConfig, optionalVariable, pemKey, requireWholeGroups, secret, url } from '@pay/config';
import { type ProviderSimOptions, startProviderSim } from './index';

/**
 * `npm run provider-sim`: the simulator as a process. Each provider is enabled when its whole group of
 * variables is set; half a group is a start-up error naming what is missing. Keys are never printed.
 */

const GROUPS = {
  wechatpay: [
    'WECHATPAY_MCHID',
    'WECHATPAY_APPID',
    'WECHATPAY_APIV3_KEY',
    'WECHATPAY_PLATFORM_SERIAL',
    'WECHATPAY_MERCHANT_SERIAL',
    'PROVIDER_SIM_WECHATPAY_PLATFORM_PRIVATE_KEY',
    'PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY',
  ],
  alipay: ['ALIPAY_APP_ID', 'PROVIDER_SIM_ALIPAY_PRIVATE_KEY', 'PROVIDER_SIM_ALIPAY_APP_PUBLIC_KEY'],
  mock: ['MOCK_PROVIDER_SECRET'],
} as const;

const envSchema = z
  .object({
    PROVIDER_SIM_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
    PROVIDER_SIM_HOST: optionalVariable(z.string().min(1).max(255)),
    PROVIDER_SIM_TIME_SCALE: z.coerce.number().positive().max(1000).default(1),
    PROVIDER_SIM_CALLBACK_URL: optionalVariable(url(['http', 'https'])),
    WECHATPAY_MCHID: optionalVariable(z.string().min(1).max(32)),
    WECHATPAY_APPID: optionalVariable(z.string().min(1).max(32)),
    WECHATPAY_APIV3_KEY: optionalVariable(z.string().length(32, 'must be exactly 32 characters (WeChat Pay APIv3 key)')),
    WECHATPAY_PLATFORM_SERIAL: optionalVariable(z.string().min(1).max(64)),
    WECHATPAY_MERCHANT_SERIAL: optionalVariable(z.string().min(1).max(64)),
    PROVIDER_SIM_WECHATPAY_PLATFORM_PRIVATE_KEY: optionalVariable(pemKey('private')),
    PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY: optionalVariable(pemKey('public')),
    ALIPAY_APP_ID: optionalVariable(z.string().min(1).max(32)),
    PROVIDER_SIM_ALIPAY_PRIVATE_KEY: optionalVariable(pemKey('private')),
    PROVIDER_SIM_ALIPAY_APP_PUBLIC_KEY: optionalVariable(pemKey('public')),
    MOCK_PROVIDER_SECRET: optionalVariable(secret(16)),
  })
  .superRefine((env, ctx) => requireWholeGroups(env, ctx, GROUPS));

/** The simulator's options from the environment; throws ConfigError naming every bad variable. */
export function loadSimOptions(source: NodeJS.ProcessEnv = process.env): ProviderSimOptions {
  const env = loadConfig(envSchema, source);
  const options: ProviderSimOptions = { port: env.PROVIDER_SIM_PORT, timeScale: env.PROVIDER_SIM_TIME_SCALE };
  if (env.PROVIDER_SIM_HOST) options.host = env.PROVIDER_SIM_HOST;
  if (env.PROVIDER_SIM_CALLBACK_URL) options.callbackUrl = env.PROVIDER_SIM_CALLBACK_URL;
  if (
    env.WECHATPAY_MCHID &&
    env.WECHATPAY_APPID &&
    env.WECHATPAY_APIV3_KEY &&
    env.WECHATPAY_PLATFORM_SERIAL &&
    env.WECHATPAY_MERCHANT_SERIAL &&
    env.PROVIDER_SIM_WECHATPAY_PLATFORM_PRIVATE_KEY &&
    env.PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY
  ) {
    options.wechatpay = {
      mchid: env.WECHATPAY_MCHID,
      appid: env.WECHATPAY_APPID,
      apiV3Key: env.WECHATPAY_APIV3_KEY,
      platformPrivateKey: env.PROVIDER_SIM_WECHATPAY_PLATFORM_PRIVATE_KEY,
      platformSerial: env.WECHATPAY_PLATFORM_SERIAL,
      merchantPublicKey: env.PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY,
      merchantSerial: env.WECHATPAY_MERCHANT_SERIAL,
    };
  }
  if (env.ALIPAY_APP_ID && env.PROVIDER_SIM_ALIPAY_PRIVATE_KEY && env.PROVIDER_SIM_ALIPAY_APP_PUBLIC_KEY) {
    options.alipay = { appId: env.ALIPAY_APP_ID, privateKey: env.PROVIDER_SIM_ALIPAY_PRIVATE_KEY, appPublicKey: env.PROVIDER_SIM_ALIPAY_APP_PUBLIC_KEY };
  }
  if (env.MOCK_PROVIDER_SECRET) options.mock = { secret: env.MOCK_PROVIDER_SECRET };
  return options;
}

async function main(): Promise<void> {
  let options: ProviderSimOptions;
  try {
    options = loadSimOptions(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`provider-sim: ${error.message}`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const sim = await startProviderSim({ ...options, log: (line) => console.log(`[provider-sim] ${line}`) });
  const enabled = (['wechatpay', 'alipay', 'mock'] as const).filter((name) => options[name] !== undefined);
  console.log(`provider simulator: ${sim.url}`);
  console.log(`  providers: ${enabled.join(', ') || 'none (set a provider group of variables)'}; time scale ${options.timeScale}`);
  console.log(`  notifications without notify_url: ${options.callbackUrl ? `${options.callbackUrl}/callbacks/<provider>` : 'not sent (PROVIDER_SIM_CALLBACK_URL unset)'}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`provider-sim: ${signal}, stopping`);
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`provider-sim: failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
