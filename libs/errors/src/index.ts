/**
 * Typed application errors. Domain code throws these; they say what went wrong (`code`, `message`,
 * `details`), never how a transport answers it: the one HTTP error mapper (@pay/http `httpStatusOf`)
 * picks the status from the error's class and turns it into `{error:{code,message,details?}}`.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadInput extends AppError {
  readonly code = 'bad_request';
}

export class Unauthorized extends AppError {
  readonly code = 'unauthorized';
}

export class Forbidden extends AppError {
  readonly code = 'forbidden';
}

export class UnsupportedMediaType extends AppError {
  readonly code = 'unsupported_media_type';
}

export class NotFound extends AppError {
  readonly code = 'not_found';
}

/** A state conflict: the thing exists but is not in a state that allows the request. */
export class Conflict extends AppError {
  readonly code: string;
  constructor(message: string, details?: unknown, code = 'conflict') {
    super(message, details);
    this.code = code;
  }
}

/** A move the state machine does not allow; names both states. */
export class IllegalTransition extends Conflict {
  constructor(
    readonly aggregate: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`${aggregate} cannot go from '${from}' to '${to}'`, { current_status: from, requested_status: to }, 'illegal_transition');
  }
}

/** A business rule refused the request (e.g. amount mismatch, order not payable). */
export class BusinessRuleViolation extends AppError {
  readonly code: string;
  constructor(message: string, details?: unknown, code = 'business_rule_violation') {
    super(message, details);
    this.code = code;
  }
}

export class AmountMismatch extends BusinessRuleViolation {
  constructor(expectedMinor: number, gotMinor: number) {
    super('amount does not match the order total', { expected_minor: expectedMinor, got_minor: gotMinor }, 'amount_mismatch');
  }
}

export interface UnavailableOptions {
  /** A more precise code than `unavailable` (e.g. `order_not_yet_known`). */
  code?: string;
  /** When it is worth trying again; a transport may say so (HTTP `Retry-After`). */
  retryAfterSeconds?: number;
}

/** A dependency (database, broker, another service) is unavailable, or not caught up yet; the caller may retry. */
export class Unavailable extends AppError {
  readonly code: string;
  readonly retryAfterSeconds?: number;
  constructor(message: string, details?: unknown, options: UnavailableOptions = {}) {
    super(message, details);
    this.code = options.code ?? 'unavailable';
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
