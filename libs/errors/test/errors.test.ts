import { AmountMismatch, IllegalTransition, NotFound } from '../src';

describe('errors', () => {
  it('names both states in an illegal transition', () => {
    const error = new IllegalTransition('payment', 'succeeded', 'failed');
    expect(error.status).toBe(409);
    expect(error.code).toBe('illegal_transition');
    expect(error.message).toContain("'succeeded'");
    expect(error.message).toContain("'failed'");
    expect(error.details).toEqual({ current_status: 'succeeded', requested_status: 'failed' });
  });

  it('maps business errors to their statuses', () => {
    expect(new AmountMismatch(9900, 100).status).toBe(422);
    expect(new NotFound('payment not found').status).toBe(404);
    expect(new NotFound('x')).toBeInstanceOf(Error);
  });
});
