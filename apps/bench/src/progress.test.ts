import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.js';

/** A writable that records what is written, posing as a terminal or not. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer | string, _enc, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  Object.assign(w, { isTTY, columns: 100 });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

describe('createProgress', () => {
  it('draws nothing but log lines when the stream is not a terminal', () => {
    const { stream, text } = fakeStream(false);
    const p = createProgress({ stream });
    expect(p.enabled).toBe(false);
    p.start('train', 10);
    p.update(3, 'loss 1.0');
    p.log('epoch 1 done');
    p.stop();
    expect(text()).toBe('epoch 1 done\n');
  });

  it('draws a bar with label, counts and info on a terminal, and logs above it', () => {
    const { stream, text } = fakeStream(true);
    const p = createProgress({ stream });
    expect(p.enabled).toBe(true);
    p.start('train', 10);
    p.update(4, 'loss 0.500');
    p.log('epoch 1: loss 0.5');
    p.update(10);
    p.stop();
    const out = text();
    expect(out).toContain('epoch 1: loss 0.5\n');
    expect(out).toContain('train [');
    expect(out).toContain('10/10');
    expect(out).toContain('loss 0.500');
    // Stopping twice, or logging after stop, is fine and plain.
    p.stop();
    p.log('after');
    expect(text().endsWith('after\n')).toBe(true);
  });

  it('honours enabled: false on a terminal', () => {
    const { stream, text } = fakeStream(true);
    const p = createProgress({ stream, enabled: false });
    p.start('unlearn', 5);
    p.update(5);
    p.stop();
    p.log('done');
    expect(text()).toBe('done\n');
  });

  it('starting a new bar stops the previous one', () => {
    const { stream, text } = fakeStream(true);
    const p = createProgress({ stream });
    p.start('first', 2);
    p.update(2);
    p.start('second', 3);
    p.update(1);
    p.stop();
    expect(text()).toContain('first [');
    expect(text()).toContain('second [');
  });
});
