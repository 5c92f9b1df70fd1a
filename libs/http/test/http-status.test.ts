import {
  AmountMismatch,
  BadInput,
  BusinessRuleViolation,
  Conflict,
  Forbidden,
  IllegalTransition,
  NotFound,
  Unauthorized,
  Unavailable,
  UnsupportedMediaType,
} from '@pay/errors';
import { httpStatusOf } from '../src';

describe('httpStatusOf', () => {
  it.each([
    ['BadInput', new BadInput('bad'), 400],
    ['Unauthorized', new Unauthorized('who?'), 401],
    ['Forbidden', new Forbidden('no'), 403],
    ['NotFound', new NotFound('gone'), 404],
    ['Conflict', new Conflict('busy'), 409],
    ['Conflict with its own code', new Conflict('taken', undefined, 'duplicate'), 409],
    ['IllegalTransition', new IllegalTransition('payment', 'succeeded', 'failed'), 409],
    ['UnsupportedMediaType', new UnsupportedMediaType('json only'), 415],
    ['BusinessRuleViolation', new BusinessRuleViolation('not payable', undefined, 'order_not_payable'), 422],
    ['AmountMismatch', new AmountMismatch(9900, 100), 422],
    ['Unavailable', new Unavailable('retry later'), 503],
  ])('maps %s to its status', (_name, error, status) => {
    expect(httpStatusOf(error)).toBe(status);
  });

  it('answers 500 for anything that is not a mapped error', () => {
    expect(httpStatusOf(new Error('boom'))).toBe(500);
    expect(httpStatusOf({ status: 404 })).toBe(500);
    expect(httpStatusOf(undefined)).toBe(500);
  });

  it('leaves the status to the mapper: errors carry none', () => {
    expect(new NotFound('x')).not.toHaveProperty('status');
    expect(new IllegalTransition('order', 'paid', 'cancelled')).not.toHaveProperty('status');
  });
});
