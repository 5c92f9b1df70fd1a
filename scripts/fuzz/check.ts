import type { FuzzRequest } from './generate';
import type { Answer } from './send';

/** What every refused answer of the API must be: `{error: {code, message, details?, request_id?}}` and nothing else. */
export function isStandardError(body: Buffer, contentType: string | undefined): boolean {
  if (!contentType?.includes('application/json')) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).join() !== 'error') return false;
  const error = (parsed as { error: unknown }).error;
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return false;
  const { code, message, ...rest } = error as Record<string, unknown>;
  return typeof code === 'string' && code.length > 0 && typeof message === 'string' && Object.keys(rest).every((key) => key === 'details' || key === 'request_id');
}

/** A provider's own failure answer (services/callback-gateway → libs/providers `refuse`). */
function isProviderFailure(provider: string, answer: Answer): boolean {
  const text = answer.body.toString('utf8');
  if (provider === 'alipay') return answer.headers['content-type']?.startsWith('text/plain') === true && text === 'failure';
  if (provider === 'mock' || provider === 'wechatpay') {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      return parsed.code === 'FAIL' && typeof parsed.message === 'string';
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * The violations in one answer: a 5xx; a refusal not in its format; a write or callback accepted (the
 * fuzzer sends only input meant to be refused); no answer at all, but for one case below.
 */
export function violationsOf(request: FuzzRequest, answer: Answer): string[] {
  if (answer.status === 0) {
    // A body shorter than its Content-Length, then the fuzzer's half-close: the server has not received the
    // request, so it must not act on it, and it may refuse it (a 400 in the format, checked below like any
    // answer) or keep waiting for the promised bytes until the connection ends or the fuzzer stops waiting.
    // Both are correct HTTP, and the same for the API and for the callback endpoints: which one happens
    // depends on timing (whether Node's parser sees the end of the stream before the body reader gives up),
    // not on the target. Silence to any other request is a violation.
    return request.lengthLie === 'longer' ? [] : [`no answer (${answer.silence})`];
  }
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`status ${answer.status} (a 5xx)`);
  if (answer.status < 400 && !request.read) problems.push(`status ${answer.status}: a request meant to be refused was accepted`);
  if (answer.status >= 400 && request.method !== 'HEAD') {
    const provider = request.target === 'callback' ? decodeURIComponent(request.path.slice('/callbacks/'.length).replace(/%(?![0-9a-fA-F]{2})/g, '%25')) : '';
    const standard = isStandardError(answer.body, answer.headers['content-type']);
    if (!standard && !(request.target === 'callback' && isProviderFailure(provider, answer))) {
      problems.push(`status ${answer.status} with a body not in the error format: ${JSON.stringify(answer.body.subarray(0, 300).toString('utf8'))}`);
    }
  }
  return problems;
}

/** The request as it went on the wire (bodies cut at 2 kB), for the report of a violation. */
export function describeRequest(request: FuzzRequest): string {
  const body = request.body.length > 2048 ? `${JSON.stringify(request.body.subarray(0, 2048).toString('latin1'))}… (${request.body.length} bytes)` : JSON.stringify(request.body.toString('latin1'));
  const headers = request.headers.map(([name, value]) => `    ${name}: ${value.length > 300 ? `${value.slice(0, 300)}… (${value.length} chars)` : value}`).join('\n');
  const path = request.path.length > 300 ? `${request.path.slice(0, 300)}… (${request.path.length} chars)` : request.path;
  return `#${request.index} [${request.category}] ${request.route}: ${request.what}\n  ${request.method} ${path}${request.lengthLie ? ` (Content-Length ${request.lengthLie} than the body)` : ''}\n${headers}\n  body ${body}`;
}
