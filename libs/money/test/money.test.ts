import { formatMinorAmount, parseDecimalAmount, MAX_AMOUNT_MINOR } from '../src';

describe('money', () => {
  it.each([
    ['99.00', 9900],
    ['99.5', 9950],
    ['99', 9900],
    ['0.01', 1],
    ['0', 0],
    ['1234567.89', 123456789],
  ])('parses %s exactly as %d fen', (text, minor) => {
    expect(parseDecimalAmount(text)).toBe(minor);
  });

  it.each(['-1.00', '1.001', '1e3', ' 1.00', '1,00', '', '.5', '01.00', 'NaN', '99999999999.00', '0x10'])(
    'refuses %p',
    (text) => {
      expect(parseDecimalAmount(text)).toBeNull();
    },
  );

  it('formats minor units with two places', () => {
    expect(formatMinorAmount(9900)).toBe('99.00');
    expect(formatMinorAmount(1)).toBe('0.01');
    expect(formatMinorAmount(123456789)).toBe('1234567.89');
  });

  it('round-trips without float drift', () => {
    for (const minor of [1, 10, 29, 1999, 100001, 33333333]) {
      expect(parseDecimalAmount(formatMinorAmount(minor))).toBe(minor);
    }
  });

  it('refuses to format non-integer or out-of-range values', () => {
    expect(() => formatMinorAmount(1.5)).toThrow(RangeError);
    expect(() => formatMinorAmount(-1)).toThrow(RangeError);
    expect(() => formatMinorAmount(MAX_AMOUNT_MINOR + 1)).toThrow(RangeError);
  });
});
