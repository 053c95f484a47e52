import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkDim, checkIds, checkInt, checkK, checkMetric, checkOneOf, checkPositiveInt, checkVectors, MAX_ID, MAX_K } from '../src/validate.js';
import { checkVectors as fromMatrix } from '../src/vectors/matrix.js';
import { expectError } from './assert-error.js';

describe('numbers', () => {
  test('checkPositiveInt names the parameter and what was given', () => {
    assert.equal(checkPositiveInt('nprobe', 3), 3);
    for (const v of [0, -1, 1.5, NaN, Infinity, '3', null, undefined]) {
      assert.throws(() => checkPositiveInt('nprobe', v), expectError('INVALID_ARGUMENT', /^nprobe must be a positive integer, got /));
    }
    assert.throws(() => checkPositiveInt('nprobe', '3'), expectError('INVALID_ARGUMENT', /got '3'$/));
  });

  test('checkInt with a range says the range', () => {
    assert.equal(checkInt('n', 0, { min: 0 }), 0);
    assert.throws(() => checkInt('n', -1, { min: 0 }), expectError('INVALID_ARGUMENT', /^n must be a non-negative integer, got -1$/));
    assert.throws(() => checkInt('n', 11, { min: 1, max: 10 }), expectError('INVALID_ARGUMENT', /^n must be an integer from 1 to 10, got 11$/));
  });

  test('checkDim prefixes what the dimension belongs to', () => {
    assert.equal(checkDim(12), 12);
    assert.throws(() => checkDim(0), expectError('INVALID_ARGUMENT', /^dimension must be a positive integer, got 0$/));
    assert.throws(() => checkDim(2.5, 'queries'), expectError('INVALID_ARGUMENT', /^queries: dimension must be a positive integer, got 2.5$/));
  });

  test('checkK: any positive k for the engine; at most MAX_K for user-facing queries', () => {
    assert.equal(MAX_K, 1000);
    assert.equal(checkK(5000), 5000);
    assert.equal(checkK(1000, { max: MAX_K }), 1000);
    assert.throws(() => checkK(0), expectError('INVALID_ARGUMENT', /^k must be a positive integer, got 0$/));
    assert.throws(() => checkK(1001, { max: MAX_K }), expectError('INVALID_ARGUMENT', /^k must be an integer from 1 to 1000, got 1001$/));
    assert.throws(() => checkK(0, { max: MAX_K, name: 'limit' }), expectError('INVALID_ARGUMENT', /^limit must be an integer from 1 to 1000, got 0$/));
  });
});

describe('choices', () => {
  test('checkOneOf lists the accepted values', () => {
    assert.equal(checkOneOf('index', 'ivf', ['flat', 'ivf']), 'ivf');
    assert.throws(() => checkOneOf('index', 'hnsw', ['flat', 'ivf']), expectError('INVALID_ARGUMENT', /^index must be one of 'flat', 'ivf', got 'hnsw'$/));
    assert.throws(() => checkOneOf('index', 3, ['flat']), expectError('INVALID_ARGUMENT', /got 3$/));
  });

  test("checkMetric accepts 'l2' and 'ip'; 'cosine' gets a hint", () => {
    assert.equal(checkMetric('l2'), 'l2');
    assert.equal(checkMetric('ip'), 'ip');
    assert.throws(
      () => checkMetric('cosine'),
      expectError('INVALID_ARGUMENT', /^metric must be one of 'l2', 'ip', got 'cosine' \(for cosine similarity, l2Normalize the vectors and use 'ip'\)$/),
    );
    assert.throws(() => checkMetric(undefined, '--metric'), expectError('INVALID_ARGUMENT', /^--metric must be one of 'l2', 'ip', got undefined$/));
  });
});

describe('ids and vectors', () => {
  test('checkIds: the right count, integers in [0, MAX_ID], distinct, not taken', () => {
    assert.deepEqual(checkIds([3, 1, 2], 3), new Int32Array([3, 1, 2]));
    assert.throws(() => checkIds([1, 2], 3), expectError('INVALID_ARGUMENT', /^got 3 vectors but 2 ids$/));
    assert.throws(() => checkIds([1, -1], 2), expectError('INVALID_ARGUMENT', /^id -1 at position 1 is not an integer in \[0, 2147483647\]$/));
    assert.throws(() => checkIds([MAX_ID + 1], 1), expectError('INVALID_ARGUMENT', /position 0/));
    assert.throws(() => checkIds([0.5], 1), expectError('INVALID_ARGUMENT', /position 0/));
    assert.throws(() => checkIds([4, 4], 2), expectError('INVALID_ARGUMENT', /^id 4 is already in the index$/));
    assert.throws(() => checkIds([7], 1, (id) => id === 7), expectError('INVALID_ARGUMENT', /^id 7 is already in the index$/));
  });

  test('checkVectors is the one vectors/matrix exports', () => {
    assert.equal(fromMatrix, checkVectors);
    assert.equal(checkVectors(new Float32Array(6), 3), 2);
  });
});
