// A failure that is part of normal operation and that a retry resolves: a write that lost a race with another
// (a 409 Conflict on a precondition), a write refused because leadership is being lost. The work queue retries
// it with backoff like any failure but logs it at debug: at error it would bury the failures that need a human.

export class ExpectedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ExpectedError';
  }
}

export function isExpected(error: unknown): error is ExpectedError {
  return error instanceof ExpectedError;
}
