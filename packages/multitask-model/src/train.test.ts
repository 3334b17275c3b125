import { ConfigError, tf } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { createDataset, requestViews } from '@mtu/datasets';
import type { Dataset, ForgetRequest, SplitArrays } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import {
  createModel,
  createOptimizer,
  defaultModelSpec,
  resolveTrainConfig,
  train,
} from './index.js';
import type { MultiTaskModel, TrainEvent } from './index.js';

useWasm();
useLeakGuard({ beforeEach, afterEach });

const ds = createToyDataset({ trainSize: 24, testSize: 4, size: 8 });
const spec = defaultModelSpec(ds, { backbone: { width: 4, stages: 1 }, hidden: 8 });
const recipe = { epochs: 2, batchSize: 5, seed: 3 } as const;

function weightsOf(model: MultiTaskModel): Float32Array {
  const w = model.flatWeights();
  const v = Float32Array.from(w.dataSync());
  w.dispose();
  return v;
}

async function trained(
  dataset: Dataset,
  options: Parameters<typeof train>[2] = {},
): Promise<Float32Array> {
  const model = createModel(spec, { seed: 0 });
  try {
    await train(model, dataset, { ...recipe, ...options });
    return weightsOf(model);
  } finally {
    model.dispose();
  }
}

/** A copy of `dataset` whose given train instances have other inputs and labels for `tasks`. */
function scramble(
  dataset: Dataset,
  ids: readonly number[],
  tasks: readonly string[],
  inputs: boolean,
): Dataset {
  const train: SplitArrays = {
    inputs: dataset.train.inputs.slice(),
    labels: Object.fromEntries(
      Object.entries(dataset.train.labels).map(([k, v]) => [k, v.slice()]),
    ),
  };
  const inSize = dataset.inputShape.reduce((a, b) => a * b, 1);
  for (const id of ids) {
    if (inputs) train.inputs.fill(0.123 * (id + 1), id * inSize, (id + 1) * inSize);
    for (const task of dataset.tasks.filter((t) => tasks.includes(t.name))) {
      const arr = train.labels[task.name]!;
      const from = id * task.labelSize;
      for (let i = from; i < from + task.labelSize; i++) {
        arr[i] =
          task.kind === 'depth'
            ? 9
            : task.kind === 'normals'
              ? i % 3 === 0
                ? 1
                : 0
              : (i + id) % task.classes;
      }
    }
  }
  return createDataset({
    id: dataset.id,
    description: dataset.description,
    tasks: dataset.tasks.map((t) => ({
      name: t.name,
      kind: t.kind,
      ...(t.classes > 0 ? { classes: t.classes } : {}),
    })),
    inputShape: dataset.inputShape,
    train,
    test: { inputs: dataset.test.inputs, labels: dataset.test.labels },
  });
}

describe('train', () => {
  it('lowers the loss, reports progress, and keeps the tensor count flat across steps', async () => {
    const model = createModel(spec, { seed: 0 });
    const events: TrainEvent[] = [];
    const counts: number[] = [];
    const result = await train(model, ds, {
      ...recipe,
      epochs: 4,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'step') counts.push(tf.memory().numTensors);
      },
    });
    expect(result.steps).toBe(4 * 5);
    expect(result.instances).toBe(24);
    expect(result.history[3]!.loss).toBeLessThan(result.history[0]!.loss);
    expect(events[0]).toMatchObject({ type: 'start', epochs: 4, stepsPerEpoch: 5, instances: 24 });
    expect(events.at(-1)).toMatchObject({ type: 'end', steps: 20 });
    expect(events.filter((e) => e.type === 'epoch')).toHaveLength(4);
    // Adam's slots are created on the first step; from then on nothing accumulates.
    expect(new Set(counts.slice(1)).size).toBe(1);
    model.dispose();
  });

  it('is deterministic for a seed, and the seed matters', async () => {
    const a = await trained(ds);
    const b = await trained(ds);
    const c = await trained(ds, { seed: 4 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('supports sgd, momentum and weight decay', async () => {
    for (const optimizer of ['sgd', 'momentum'] as const) {
      const w = await trained(ds, { optimizer, learningRate: 0.01, weightDecay: 1e-3, epochs: 1 });
      expect(w.every(Number.isFinite)).toBe(true);
    }
  });

  it('stops on abort between steps', async () => {
    const model = createModel(spec, { seed: 0 });
    const controller = new AbortController();
    let steps = 0;
    await expect(
      train(model, ds, {
        ...recipe,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'step' && ++steps === 2) controller.abort(new Error('stop'));
        },
      }),
    ).rejects.toThrow('stop');
    expect(steps).toBe(2);
    model.dispose();
  });

  it('rejects bad recipes naming the field', async () => {
    expect(() => resolveTrainConfig({ epochs: -1 })).toThrow(/train\.epochs/);
    expect(() => resolveTrainConfig({ optimizer: 'lbfgs' as never })).toThrow(/train\.optimizer/);
    expect(() => resolveTrainConfig({ learningRate: 0 })).toThrow(/train\.learningRate/);
    expect(() => resolveTrainConfig({ momentum: 1 })).toThrow(/train\.momentum/);
    expect(() => resolveTrainConfig({ batchSize: 2.5 })).toThrow(/train\.batchSize/);
    expect(() => resolveTrainConfig({ colour: 1 } as never)).toThrow(/train\.colour/);
    const model = createModel(spec, { seed: 0 });
    await expect(train(model, ds, { taskWeights: { colour: 1 } })).rejects.toThrow(ConfigError);
    model.dispose();
  });

  it('zero epochs leave the weights unchanged', async () => {
    const model = createModel(spec, { seed: 0 });
    const before = weightsOf(model);
    await train(model, ds, { epochs: 0 });
    expect(weightsOf(model)).toEqual(before);
    model.dispose();
  });
});

describe('exact retraining ignores what was removed', () => {
  const forget = [2, 7, 11, 19];

  it('full-task: forget inputs and labels can be anything', async () => {
    const request: ForgetRequest = { instances: forget, tasks: 'all' };
    const views = requestViews(ds, request);
    const changed = scramble(ds, forget, views.targetTasks, true);
    const a = await trained(ds, { supervision: views.supervision });
    const b = await trained(changed, { supervision: requestViews(changed, request).supervision });
    expect(b).toEqual(a);
    // Negative control: without the mask the scrambled data changes the weights.
    const c = await trained(changed);
    const d = await trained(ds);
    expect(c).not.toEqual(d);
  });

  it('partial-task: the removed labels can be anything; the kept ones matter', async () => {
    const request: ForgetRequest = { instances: forget, tasks: ['segmentation', 'depth'] };
    const views = requestViews(ds, request);
    const changed = scramble(ds, forget, views.targetTasks, false);
    const a = await trained(ds, { supervision: views.supervision });
    const b = await trained(changed, { supervision: requestViews(changed, request).supervision });
    expect(b).toEqual(a);
    // Negative control: changing a label the request keeps (normals of a forget instance) matters.
    const kept = scramble(ds, forget, ['normals'], false);
    const c = await trained(kept, { supervision: requestViews(kept, request).supervision });
    expect(c).not.toEqual(a);
  });
});

describe('createOptimizer', () => {
  it('P1: plain SGD moves θ by exactly −η·g (so grads = −d gives θ + η·d)', () => {
    const model = createModel(spec, { seed: 0 });
    const opt = createOptimizer(model, { optimizer: 'sgd', learningRate: 0.5, momentum: 0 });
    const before = weightsOf(model);
    const g = tf.tidy(() => tf.fill(model.variables['depth/out/b']!.shape, 2));
    opt.step({ 'depth/out/b': g });
    const after = weightsOf(model);
    const entry = model.layout.byName.get('depth/out/b')!;
    for (let i = 0; i < after.length; i++) {
      const inBlock = i >= entry.offset && i < entry.offset + entry.size;
      expect(after[i]).toBe(inBlock ? Math.fround(before[i]! - 1) : before[i]);
    }
    expect(() => opt.step({ nope: g })).toThrow(/not a parameter/);
    g.dispose();
    opt.dispose();
    model.dispose();
  });
});
