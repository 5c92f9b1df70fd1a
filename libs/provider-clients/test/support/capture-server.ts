import { generateKeyPairSync } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A local HTTP server that records each request and answers as the test says ('hang': never answers). */

export interface CapturedRequest {
  method: string;
  /** Path with query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type CannedAnswer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface CaptureServer {
  /** Set once listening (before the file's first test). */
  url: string;
  requests: CapturedRequest[];
  answer: (request: CapturedRequest) => CannedAnswer;
}

/** One capture server for a test file: listening before its tests, its log cleared before each. */
export function useCaptureServer(): CaptureServer {
  const capture: CaptureServer = { url: '', requests: [], answer: () => ({ status: 500, body: '{}' }) };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      capture.requests.push(request);
      const answer = capture.answer(request);
      if (answer === 'hang') return;
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    capture.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    capture.requests.splice(0);
  });
  return capture;
}

/** A fresh RSA-2048 pair for one test run (never a committed key). */
export function rsaPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}
