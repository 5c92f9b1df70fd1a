import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { startBalancer, type Balancer } from '../src/balancer';

/**
 * The harness's round-robin proxy in front of several callback-gateway replicas: small in-process HTTP
 * servers stand in for the replicas.
 */
interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
}

interface Replica {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A replica that records each request and answers with the SHA-256 of the body it received. */
async function replica(name: string, mode: 'answer' | 'die' = 'answer'): Promise<Replica> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body });
      if (mode === 'die') {
        res.socket?.destroy();
        return;
      }
      res.writeHead(200, ['Content-Type', 'text/plain', 'X-Replica', name, 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
      res.end(createHash('sha256').update(body).digest('hex'));
    });
  });
  return { url: await listen(server), seen, close: async () => undefined };
}

async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function balancerOver(upstreams: string[]): Promise<Balancer> {
  const balancer = await startBalancer({ upstreams, host: '127.0.0.1' });
  closers.push(balancer.close);
  return balancer;
}

/** A raw request (exact header names and body bytes) through node:http. */
function send(url: string, path: string, method: string, rawHeaders: string[], body?: Buffer): Promise<{ status: number; rawHeaders: string[]; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method, headers: ['Host', `${hostname}:${port}`, ...rawHeaders], agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const headerValues = (rawHeaders: string[], name: string) => rawHeaders.filter((_, i) => i % 2 === 1 && rawHeaders[i - 1]!.toLowerCase() === name);

describe('the callback balancer', () => {
  it('alternates between replicas', async () => {
    const [a, b] = [await replica('a'), await replica('b')];
    const balancer = await balancerOver([a.url, b.url]);
    const served: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const answer = await send(balancer.url, `/callbacks/mock?i=${i}`, 'GET', []);
      served.push(headerValues(answer.rawHeaders, 'x-replica')[0]!);
    }
    expect(served).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(a.seen.map((seen) => seen.url)).toEqual(['/callbacks/mock?i=0', '/callbacks/mock?i=2', '/callbacks/mock?i=4']);
  });

  it('passes the body byte for byte and the headers as sent, appending the client to X-Forwarded-For', async () => {
    const a = await replica('a');
    const balancer = await balancerOver([a.url]);
    // Not valid UTF-8, with CR/LF and NUL: any re-encoding would change the digest a signature covers.
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x0d, 0x0a, 0xe4, 0xb8, 0xad, 0x7d]);
    const answer = await send(
      balancer.url,
      '/callbacks/wechatpay?x=%2F',
      'POST',
      ['Wechatpay-Signature', 'c2lnbmF0dXJl', 'Content-Type', 'application/json', 'Content-Length', String(body.length), 'X-Forwarded-For', '203.0.113.7', 'Connection', 'keep-alive, X-Hop', 'X-Hop', 'gone'],
      body,
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(createHash('sha256').update(body).digest('hex'));
    expect(headerValues(answer.rawHeaders, 'set-cookie')).toEqual(['a=1', 'b=2']);
    const [seen] = a.seen;
    expect(seen!.body.equals(body)).toBe(true);
    expect(seen!.method).toBe('POST');
    expect(seen!.url).toBe('/callbacks/wechatpay?x=%2F');
    expect(headerValues(seen!.rawHeaders, 'wechatpay-signature')).toEqual(['c2lnbmF0dXJl']);
    expect(seen!.rawHeaders).toContain('Wechatpay-Signature'); // the header name's case too
    expect(headerValues(seen!.rawHeaders, 'content-length')).toEqual([String(body.length)]);
    expect(headerValues(seen!.rawHeaders, 'x-forwarded-for')).toEqual(['203.0.113.7, 127.0.0.1']);
    expect(headerValues(seen!.rawHeaders, 'x-forwarded-proto')).toEqual(['http']);
    expect(headerValues(seen!.rawHeaders, 'x-hop')).toEqual([]); // named in Connection: hop-by-hop
  });

  it('streams a chunked body unchanged', async () => {
    const a = await replica('a');
    const balancer = await balancerOver([a.url]);
    const { hostname, port } = new URL(balancer.url);
    const parts = [Buffer.from('{"a":'), Buffer.from([0xc3, 0xa9]), Buffer.from('}')];
    const digest = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ hostname, port, path: '/callbacks/alipay', method: 'POST', agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      for (const part of parts) req.write(part);
      req.end();
    });
    expect(digest).toBe(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
  });

  it('fails over when a replica refuses the connection, even for a POST with a body', async () => {
    const live = await replica('live');
    const balancer = await balancerOver([await deadUrl(), live.url]);
    const body = Buffer.from('{"notification_id":"n1"}');
    for (let i = 0; i < 4; i += 1) {
      const answer = await send(balancer.url, '/callbacks/mock', 'POST', ['Content-Type', 'application/json'], body);
      expect(answer.status).toBe(200);
    }
    expect(live.seen).toHaveLength(4);
    expect(live.seen.every((seen) => seen.body.equals(body))).toBe(true);
  });

  it('answers 502 when every replica refuses', async () => {
    const balancer = await balancerOver([await deadUrl(), await deadUrl()]);
    expect((await send(balancer.url, '/callbacks/mock', 'POST', [], Buffer.from('{}'))).status).toBe(502);
  });

  // Were Node's bare empty answers, so several callback replicas answered otherwise than one (the fuzzer's `--replicas 2`).
  it('refuses what its HTTP parser cannot read in the error format, as the replicas behind it do', async () => {
    const balancer = await balancerOver([(await replica('a')).url]);
    const { port } = new URL(balancer.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect({ host: '127.0.0.1', port: Number(port) }, () => socket.write(`POST /callbacks/mock HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
    });
    expect(raw.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'headers_too_large', message: 'request headers too large' } });
  });

  it('does not retry once a replica has received the request', async () => {
    const dying = await replica('dying', 'die');
    const other = await replica('other');
    const balancer = await balancerOver([dying.url, other.url]);
    const answer = await send(balancer.url, '/callbacks/mock', 'POST', ['Content-Type', 'application/json'], Buffer.from('{"n":1}'));
    expect(answer.status).toBe(502);
    expect(dying.seen).toHaveLength(1);
    expect(other.seen).toEqual([]);
  });
});
