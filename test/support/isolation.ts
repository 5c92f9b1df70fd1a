import { randomBytes } from 'node:crypto';

/** A name unique to this run and this test file: database prefix and broker prefix. */
export function isolatedPrefix(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 10);
  return `t${process.env.TEST_RUN_ID ?? 'x'}_${clean}_${randomBytes(3).toString('hex')}`;
}

export function testMongoUrl(): string {
  const url = process.env.TEST_MONGO_URL;
  if (!url) throw new Error('TEST_MONGO_URL not set: run through jest (global setup starts the database)');
  return url;
}

export function testAmqpUrl(): string {
  const url = process.env.TEST_AMQP_URL;
  if (!url) throw new Error('TEST_AMQP_URL not set: run through jest (global setup checks the broker)');
  return url;
}
