import { Agent, createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerProtocolErrorsInFormat } from '@pay/http';

/**
 * A small round-robin HTTP reverse proxy (node:http only) for running several replicas of a public
 * service behind ONE address, as a load balancer would in a deployment. `npm start` and the tests put it
 * on the callback port in front of the callback-gateway replicas.
 *
 * - Bodies are streamed byte for byte both ways (provider signatures are over the raw bytes); request and
 *   answer headers are forwarded as received (names, case, order, repeats), except the hop-by-hop ones.
 * - `X-Forwarded-For` gets the client's address appended and `X-Forwarded-Proto` is set, as a normal
 *   proxy does; the replicas then trust one more proxy hop (`TRUST_PROXY_HOPS` + 1).
 * - Failover: when a replica refuses the connection (ECONNREFUSED, or ECONNRESET before the TCP
 *   connection was established), the request never reached it, so even a POST goes to the next replica.
 *   Any other failure (a reset after connecting, a timeout, a broken answer) is NOT retried: the replica
 *   may have acted on the request, and a notification must never be applied twice by us. The client
 *   gets a 502 (or its answer cut off) and, being a provider, retries.
 */
export interface Balancer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  upstreams: readonly string[];
  close(): Promise<void>;
}

export interface BalancerOptions {
  /** Base URLs (http) of the replicas. */
  upstreams: readonly string[];
  /** 0: a free port. */
  port?: number;
  /** Listen address (default 0.0.0.0, like the services). */
  host?: string;
  /** An upstream silent for this long (no byte) is given up on with a 504 (default 60 s). */
  idleTimeoutMs?: number;
}

/** RFC 9110 §7.6.1: meaningful for one connection only; a proxy does not forward them. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Errors proving the request never reached the replica, when they happen before the connection is up. */
const NOT_REACHED_CODES = new Set(['ECONNREFUSED', 'ECONNRESET']);

/** Raw header pairs without the hop-by-hop ones (and those the Connection header names). */
export function endToEndHeaders(rawHeaders: readonly string[]): string[] {
  const dropped = new Set(HOP_BY_HOP);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      for (const token of rawHeaders[i + 1]!.split(',')) dropped.add(token.trim().toLowerCase());
    }
  }
  const kept: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!dropped.has(rawHeaders[i]!.toLowerCase())) kept.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return kept;
}

/**
 * The request headers for a replica: end-to-end ones (Host kept as the client sent it), X-Forwarded-For
 * extended, X-Forwarded-Proto set.
 */
function forwardedRequestHeaders(req: IncomingMessage): string[] {
  const kept = endToEndHeaders(req.rawHeaders);
  const headers: string[] = [];
  const priorHops: string[] = [];
  for (let i = 0; i < kept.length; i += 2) {
    const name = kept[i]!.toLowerCase();
    if (name === 'x-forwarded-for') priorHops.push(kept[i + 1]!);
    else if (name !== 'x-forwarded-proto') headers.push(kept[i]!, kept[i + 1]!);
  }
  const client = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  // An HTTP/1.0 client may send no Host; the replica speaks HTTP/1.1, which requires one.
  if (!headers.some((value, i) => i % 2 === 0 && value.toLowerCase() === 'host')) {
    const local = req.socket.localAddress ?? '127.0.0.1';
    headers.push('Host', `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort ?? 80}`);
  }
  headers.push('X-Forwarded-For', [...priorHops, client].join(', '), 'X-Forwarded-Proto', 'http');
  return headers;
}

interface Upstream {
  url: string;
  hostname: string;
  port: number;
}

export async function startBalancer(options: BalancerOptions): Promise<Balancer> {
  if (options.upstreams.length === 0) throw new Error('the balancer needs at least one upstream');
  const upstreams: Upstream[] = options.upstreams.map((base) => {
    const parsed = new URL(base);
    if (parsed.protocol !== 'http:') throw new Error(`balancer upstream ${base}: only http is supported`);
    return { url: base, hostname: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 80) };
  });
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  // Keep-alive to the replicas; an idle socket is dropped before the services' own 5 s keep-alive
  // timeout (and before any shorter timeout a replica announces), so a reused socket is not one the
  // replica is closing at that very moment.
  const agent = new Agent({ keepAlive: true, timeout: 4_000 });
  let next = 0;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const start = next;
    next = (next + 1) % upstreams.length;
    const headers = forwardedRequestHeaders(req);
    let current: ClientRequest | null = null;
    let done = false;
    res.on('close', () => {
      // The client went away (or the answer is complete): nothing more to send upstream.
      done = true;
      if (!res.writableFinished) current?.destroy();
    });

    const fail = (status: number, message: string) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(message);
    };

    const attempt = (tried: number) => {
      if (done) return;
      if (tried >= upstreams.length) {
        fail(502, 'bad gateway: no replica accepted the connection\n');
        return;
      }
      const upstream = upstreams[(start + tried) % upstreams.length]!;
      let connected = false;
      const forward = httpRequest({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent });
      current = forward;
      // The client's body is piped only once the connection is up: until then nothing of it has been
      // read, so a refused attempt can be repeated on the next replica with the same bytes.
      forward.on('socket', (socket) => {
        const onConnected = () => {
          connected = true;
          req.pipe(forward);
        };
        if (socket.connecting) socket.once('connect', onConnected);
        else onConnected(); // a kept-alive socket: already connected (so never retried)
      });
      forward.setTimeout(idleTimeoutMs, () => forward.destroy(Object.assign(new Error('upstream idle timeout'), { code: 'ETIMEDOUT' })));
      forward.on('error', (error: NodeJS.ErrnoException) => {
        if (done) return;
        if (!connected && NOT_REACHED_CODES.has(error.code ?? '')) {
          attempt(tried + 1);
          return;
        }
        req.unpipe(forward);
        fail(error.code === 'ETIMEDOUT' ? 504 : 502, `bad gateway: ${error.code ?? error.message}\n`);
      });
      forward.on('response', (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEndHeaders(answer.rawHeaders));
        answer.pipe(res);
        answer.on('error', () => res.destroy());
        answer.on('aborted', () => res.destroy());
      });
    };
    attempt(0);
  };

  const server = createServer(handle);
  // The balancer stands for an L4 load balancer (a Kubernetes Service), behind which the replicas themselves
  // refuse what Node's parser cannot read: its own refusals (oversized headers, bytes after a short body) are
  // in the same error format, so a client sees no difference between one replica and several.
  answerProtocolErrorsInFormat(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    upstreams: options.upstreams,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
