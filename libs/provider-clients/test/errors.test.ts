import { ProviderError, type ProviderErrorKind, classifyAlipayError, classifyMockError, classifyWechatpayError } from '../src';
import { transportError } from '../src/errors';

describe('error classification', () => {
  it.each<[number, string | undefined, ProviderErrorKind]>([
    [500, 'SYSTEM_ERROR', 'retryable'],
    [502, undefined, 'retryable'],
    [503, 'SOMETHING_NEW', 'retryable'],
    [429, 'FREQUENCY_LIMITED', 'retryable'],
    [401, 'SIGN_ERROR', 'misconfigured'],
    [401, undefined, 'misconfigured'],
    [403, 'NO_AUTH', 'misconfigured'],
    [400, 'APPID_MCHID_NOT_MATCH', 'misconfigured'],
    [400, 'MCH_NOT_EXISTS', 'misconfigured'],
    [400, 'ORDER_CLOSED', 'rejected'],
    [400, 'PARAM_ERROR', 'rejected'],
    [403, 'OUT_TRADE_NO_USED', 'rejected'],
    [403, 'NOT_ENOUGH', 'rejected'],
    [403, 'RULE_LIMIT', 'rejected'],
    [403, 'TRADE_ERROR', 'rejected'],
    [404, 'RESOURCE_NOT_EXISTS', 'rejected'],
    [302, undefined, 'unknown'],
  ])('WeChat Pay HTTP %i %s → %s', (status, code, kind) => {
    expect(classifyWechatpayError(status, code)).toBe(kind);
  });

  it.each<[string, string | undefined, ProviderErrorKind]>([
    ['20000', 'isp.unknow-error', 'retryable'],
    ['40004', 'ACQ.SYSTEM_ERROR', 'retryable'],
    ['40004', 'ACQ.DISCORDANT_REPEAT_REQUEST', 'unknown'],
    ['40002', 'isv.invalid-signature', 'misconfigured'],
    ['40002', 'isv.invalid-app-id', 'misconfigured'],
    ['40001', 'isv.missing-signature', 'misconfigured'],
    ['40006', 'isv.insufficient-isv-permissions', 'misconfigured'],
    ['40004', 'ACQ.TRADE_STATUS_ERROR', 'rejected'],
    ['40004', 'ACQ.SELLER_BALANCE_NOT_ENOUGH', 'rejected'],
    ['40004', 'ACQ.TRADE_HAS_SUCCESS', 'rejected'],
    ['40004', undefined, 'rejected'],
    ['99999', undefined, 'unknown'],
  ])('Alipay code %s sub_code %s → %s', (code, subCode, kind) => {
    expect(classifyAlipayError(code, subCode)).toBe(kind);
  });

  it.each<[number, ProviderErrorKind]>([
    [500, 'retryable'],
    [429, 'retryable'],
    [401, 'misconfigured'],
    [409, 'rejected'],
  ])('mock provider HTTP %i → %s', (status, kind) => {
    expect(classifyMockError(status)).toBe(kind);
  });

  const timeoutLike = Object.assign(new Error('timeout of 200ms exceeded'), { code: 'ECONNABORTED' });
  const fetchTimeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
  const urllibTimeout = Object.assign(new Error('Request timeout for 200 ms'), { name: 'HttpClientRequestTimeoutError' });
  const refused = new Error('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
  const refusedBothFamilies = Object.assign(new Error('fetch failed'), {
    cause: Object.assign(new AggregateError([Object.assign(new Error('::1'), { code: 'ECONNREFUSED' })]), { code: 'ECONNREFUSED' }),
  });
  const reset = new Error('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });

  it.each<[string, unknown, ProviderErrorKind, string]>([
    ['an axios timeout', timeoutLike, 'unknown', 'timeout'],
    ['a fetch AbortSignal.timeout', fetchTimeout, 'unknown', 'timeout'],
    ['a urllib timeout', { message: 'HttpClient Request error', cause: urllibTimeout }, 'unknown', 'timeout'],
    ['a refused connection (nothing sent)', refused, 'retryable', 'connect_failed'],
    ['a refused connection on every address', refusedBothFamilies, 'retryable', 'connect_failed'],
    ['a connection cut after sending', reset, 'unknown', 'connection_error'],
    ['something else entirely', 'boom', 'unknown', 'connection_error'],
  ])('%s → %s', (_what, error, kind, code) => {
    const classified = transportError('wechatpay', 'query', error);
    expect(classified).toBeInstanceOf(ProviderError);
    expect(classified).toMatchObject({ provider: 'wechatpay', kind, code });
    expect(classified.message).toMatch(/^wechatpay: query: /);
  });
});
