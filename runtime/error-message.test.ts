import { describe, expect, it } from '@jest/globals';
import { errorMessage } from './error-message.ts';

describe('errorMessage', () => {
  it("is an Error's message, and the text of anything else thrown", () => {
    expect(errorMessage(new TypeError('no such key'))).toBe('no such key');
    expect(errorMessage('plain text')).toBe('plain text');
    expect(errorMessage(404)).toBe('404');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});
