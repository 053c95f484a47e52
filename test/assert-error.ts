import assert from 'node:assert/strict';
import { NitamonoError } from '../src/errors.js';

/** For assert.throws / assert.rejects: a NitamonoError with this code and a message matching `re`. */
export function expectError(code: string, re: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof NitamonoError, `expected a NitamonoError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    assert.match(err.message, re);
    return true;
  };
}
