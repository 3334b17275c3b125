import { describe, expect, it } from 'vitest';
import { initBackend, tf } from './index.js';

describe('smoke', () => {
  it('wasm runs conv2d forward', async () => {
    const info = await initBackend({ prefer: 'wasm' });
    expect(info.name).toBe('wasm');
    const y = tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'same');
    expect(y.shape).toEqual([1, 4, 4, 1]);
  });
});
