import net from 'node:net';
import { createLogger } from '@pay/logger';
import { createMetrics } from '@pay/metrics';
import { createHttpApp, finishApp, listen, rawBodyOf, type RunningServer } from '../src';

const logger = createLogger('http-malformed-test', 'error');
logger.silent = true;

/** Writes `bytes` on a fresh connection (half-closing it when `end`) and returns everything the server sends back. */
function exchange(port: number, bytes: Buffer | string, { end = false } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of answer within 5 s; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`));
    }, 5000);
    socket.on('connect', () => (end ? socket.end(bytes) : socket.write(bytes)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.on('error', reject);
  });
}

/** The final answer's status, headers (lower-case names) and body; interim 1xx answers are skipped. */
function parse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  let rest = raw;
  while (/^HTTP\/1\.1 1\d\d /.test(rest)) rest = rest.slice(rest.indexOf('\r\n\r\n') + 4);
  const [head = '', body = ''] = rest.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

describe('requests the HTTP parser or the JSON parser refuses', () => {
  let server: RunningServer;
  const request = (lines: string[], body = '') => `${lines.join('\r\n')}\r\n\r\n${body}`;

  beforeAll(async () => {
    const app = createHttpApp({ service: 'test', logger, metrics: createMetrics('malformed_test'), readiness: {} });
    app.post('/echo', (req, res) => {
      res.json({ body: req.body as unknown, raw: rawBodyOf(req)?.toString('utf8') });
    });
    finishApp(app, logger);
    server = await listen(app, 0, '127.0.0.1', logger);
  });

  afterAll(async () => {
    await server.close();
  });

  it('refuses a JSON body that is not valid UTF-8 with 400 in the error format instead of decoding it to U+FFFD', async () => {
    const body = Buffer.concat([Buffer.from('{"reason":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('"}')]);
    const answer = await fetch(`http://127.0.0.1:${server.port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: expect.objectContaining({ code: 'bad_request', message: 'request body is not valid UTF-8 JSON' }) });
  });

  it('refuses a JSON body declared in another charset, which the services would read as UTF-8', async () => {
    const body = Buffer.from('{"reason":"x"}', 'utf16le');
    const answer = await fetch(`http://127.0.0.1:${server.port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-16' }, body });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('bad_request');
  });

  it('still accepts UTF-8 text beyond ASCII', async () => {
    const answer = await fetch(`http://127.0.0.1:${server.port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"退款 ü 🙂"}' });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ body: { reason: '退款 ü 🙂' }, raw: '{"reason":"退款 ü 🙂"}' });
  });

  it('answers headers over the limit with 431 in the error format and closes the connection', async () => {
    const answer = parse(await exchange(server.port, request(['GET /healthz HTTP/1.1', 'host: x', `x-big: ${'h'.repeat(20_000)}`])));
    expect(answer.status).toBe(431);
    expect(answer.headers['content-type']).toContain('application/json');
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'headers_too_large', message: 'request headers too large' } });
  });

  it('answers unparsable bytes with 400 in the error format', async () => {
    const answer = parse(await exchange(server.port, 'NOT HTTP AT ALL\r\n\r\n'));
    expect(answer.status).toBe(400);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'bad_request', message: 'malformed HTTP request' } });
  });

  it('answers a body that ends before its Content-Length with 400 in the error format', async () => {
    const raw = await exchange(server.port, request(['POST /echo HTTP/1.1', 'host: x', 'content-type: application/json', 'content-length: 60'], '{"reason":"x"}'), { end: true });
    const answer = parse(raw);
    expect(answer.status).toBe(400);
    // Node's parser (at the end of the stream) or the body reader (request aborted) refuses first: either way the format.
    expect((JSON.parse(answer.body) as { error: { code: string } }).error.code).toBe('bad_request');
  });

  it('answers an Expect other than 100-continue with 417 in the error format', async () => {
    const answer = parse(await exchange(server.port, request(['POST /echo HTTP/1.1', 'host: x', 'expect: fuzz', 'content-type: application/json', 'content-length: 2'], '{}')));
    expect(answer.status).toBe(417);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'expectation_failed', message: 'only "Expect: 100-continue" is supported' } });
  });

  it('keeps Expect: 100-continue working: an interim 100, then the route answers', async () => {
    const raw = await exchange(server.port, request(['POST /echo HTTP/1.1', 'host: x', 'connection: close', 'expect: 100-continue', 'content-type: application/json', 'content-length: 14'], '{"reason":"x"}'));
    expect(raw.startsWith('HTTP/1.1 100 Continue')).toBe(true);
    const answer = parse(raw);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ body: { reason: 'x' }, raw: '{"reason":"x"}' });
  });
});
