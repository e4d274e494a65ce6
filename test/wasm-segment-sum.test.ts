import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../workers/backend.js';

describe('UnsortedSegmentSum on wasm (gradient of gather)', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
  });

  const embeddingGradient = (backend: string): number[] => {
    void tf.setBackend(backend);
    return tf.tidy(() => {
      const table = tf.variable(tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 1]]), true, `table-${backend}`);
      const ids = tf.tensor1d([2, 0, 2, 3, 2], 'int32');
      const weights = tf.tensor2d([[1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 1], [2, 2, 2]]);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.gather(table, ids), weights)) as tf.Scalar, [table]);
      const values = Array.from(grads[table.name]!.dataSync());
      table.dispose();
      return values;
    });
  };

  it('trains an embedding table on wasm with the same gradient as the cpu backend', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const onWasm = embeddingGradient('wasm');
    const onCpu = embeddingGradient('cpu');
    // Rows 2 (three times), 0 and 3 receive gradient; row 1 none.
    expect(onWasm).toEqual([0, 2, 0, 0, 0, 0, 3, 2, 5, 1, 1, 1]);
    expect(onWasm).toEqual(onCpu);
    await tf.setBackend('wasm');
  });
});
