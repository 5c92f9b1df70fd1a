import { paymentMethod, PROVIDER_FOR_METHOD, providerForMethod, providerName } from '../src';

describe('the provider of a payment method', () => {
  it.each([
    ['wechat', 'wechatpay'],
    ['alipay', 'alipay'],
    ['bank_card', 'mock'],
  ] as const)('pays a %s payment at %s', (method, provider) => {
    expect(providerForMethod(method)).toBe(provider);
    expect(PROVIDER_FOR_METHOD[method]).toBe(provider);
  });

  it('has exactly one provider for every payment method, each a provider the events name', () => {
    expect(Object.keys(PROVIDER_FOR_METHOD).sort()).toEqual([...paymentMethod.options].sort());
    for (const provider of Object.values(PROVIDER_FOR_METHOD)) expect(providerName.options).toContain(provider);
  });
});
