import { AmountMismatch, BusinessRuleViolation, Conflict, IllegalTransition, NotFound } from '../src';

describe('errors', () => {
  it('names both states in an illegal transition', () => {
    const error = new IllegalTransition('payment', 'succeeded', 'failed');
    expect(error).toBeInstanceOf(Conflict);
    expect(error.code).toBe('illegal_transition');
    expect(error).toMatchObject({ aggregate: 'payment', from: 'succeeded', to: 'failed' });
    expect(error.message).toContain("'succeeded'");
    expect(error.message).toContain("'failed'");
    expect(error.details).toEqual({ current_status: 'succeeded', requested_status: 'failed' });
  });

  it('says what went wrong, not how a transport answers it', () => {
    const mismatch = new AmountMismatch(9900, 100);
    expect(mismatch).toBeInstanceOf(BusinessRuleViolation);
    expect(mismatch).toMatchObject({ code: 'amount_mismatch', details: { expected_minor: 9900, got_minor: 100 } });
    expect(new NotFound('payment not found').code).toBe('not_found');
    expect(new NotFound('x')).toBeInstanceOf(Error);
    expect(new NotFound('x')).not.toHaveProperty('status');
  });
});
