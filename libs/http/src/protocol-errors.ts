import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's own refusals (its parser's error codes) as statuses of the error format; anything else is a 400. */
const PROTOCOL_REFUSALS: Readonly<Record<string, readonly [status: number, code: string, message: string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'request headers too large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'payload_too_large', 'chunk extensions too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'request not received in time'],
};
const MALFORMED: readonly [number, string, string] = [400, 'bad_request', 'malformed HTTP request'];

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/**
 * Requests Node refuses before express sees them (headers over the limit, unparsable bytes, a body
 * ending before its Content-Length, an `Expect` other than 100-continue) are answered in the error format
 * `{error: {code, message}}` with Node's status, not with Node's bare empty answers: clients and the
 * api-gateway (which relays a service's answer) get one format for every refusal. `Expect: 100-continue`
 * keeps Node's default (100 Continue, then the request is served).
 */
export function answerProtocolErrorsInFormat(server: Server): void {
  // The response under way on each connection: a refusal may be written on the socket only while that
  // response has sent nothing, else the two answers would interleave (Node's default handler has the same rule).
  const responses = new WeakMap<Duplex, ServerResponse>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    responses.set(req.socket, res);
    res.once('finish', () => {
      if (responses.get(req.socket) === res) responses.delete(req.socket);
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = responses.get(socket);
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, code, message] = PROTOCOL_REFUSALS[error.code ?? ''] ?? MALFORMED;
    const body = errorBody(code, message);
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      // The parser cannot find where the next request starts: the connection ends with this answer.
      'Connection: close',
    ];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  });
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const body = errorBody('expectation_failed', 'only "Expect: 100-continue" is supported');
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
}
