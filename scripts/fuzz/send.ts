import net from 'node:net';
import type { FuzzRequest } from './generate';

export interface Answer {
  /** 0: the server closed or timed out without an answer. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Why there is no answer (status 0). */
  silence?: string;
}

/**
 * Sends one request over its own socket exactly as built (no URL normalisation, duplicated headers,
 * Content-Length lies): fetch and node:http would rewrite or refuse much of what the fuzzer must send.
 */
export function sendRaw(baseUrl: string, request: FuzzRequest, timeoutMs: number): Promise<Answer> {
  const { hostname, port } = new URL(baseUrl);
  const length = request.lengthLie === 'shorter' ? Math.max(0, request.body.length - 5) : request.lengthLie === 'longer' ? request.body.length + 50 : request.body.length;
  const chunked = request.headers.some(([name, value]) => name === 'transfer-encoding' && value === 'chunked');
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `host: ${hostname}:${port}`, 'connection: close'];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  // A body on GET/HEAD is still sent when built (a hostile form); otherwise no length header at all.
  if (request.body.length || request.method !== 'GET') lines.push(`content-length: ${length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const payload = chunked ? Buffer.concat([Buffer.from(`${request.body.length.toString(16)}\r\n`), request.body, Buffer.from('\r\n0\r\n\r\n')]) : request.body;

  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: hostname, port: Number(port) });
    let settled = false;
    const finish = (silence?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const answer = parseAnswer(Buffer.concat(chunks), request.method === 'HEAD');
      resolve(answer ?? { status: 0, headers: {}, body: Buffer.alloc(0), silence: silence ?? 'connection closed without an answer' });
    };
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('connect', () => {
      socket.write(head);
      socket.write(payload, () => {
        // Promised more bytes than sent: say we are done, so the server sees the body end early.
        if (request.lengthLie === 'longer') socket.end();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A complete answer ends the exchange even if the server keeps the socket open.
      if (parseAnswer(Buffer.concat(chunks), request.method === 'HEAD', true)) finish();
    });
    socket.on('end', () => finish());
    socket.on('error', (error) => finish(`socket error ${error.message}`));
  });
}

/** Parses a complete HTTP/1.1 answer (Content-Length or chunked); null when incomplete. */
function parseAnswer(whole: Buffer, headOnly: boolean, needComplete = false): Answer | null {
  // Interim answers (100 Continue) precede the real one: skip them.
  let raw = whole;
  while (/^HTTP\/1\.[01] 1\d\d /.test(raw.subarray(0, 16).toString('latin1')) && raw.indexOf('\r\n\r\n') >= 0) raw = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return null;
  const [statusLine, ...headerLines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  if (!status) return null;
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = raw.subarray(split + 4);
  if (headOnly || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
  if (headers['transfer-encoding']?.includes('chunked')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return needComplete ? null : { status, headers, body: Buffer.concat(parts) };
      const size = parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (!Number.isFinite(size)) return { status, headers, body: Buffer.concat(parts) };
      if (size === 0) return { status, headers, body: Buffer.concat(parts) };
      if (rest.length < lineEnd + 2 + size) return needComplete ? null : { status, headers, body: Buffer.concat(parts) };
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const declared = headers['content-length'];
  if (declared !== undefined) {
    const length = Number(declared);
    if (rest.length < length) return needComplete ? null : { status, headers, body: rest };
    return { status, headers, body: rest.subarray(0, length) };
  }
  return needComplete ? null : { status, headers, body: rest };
}
