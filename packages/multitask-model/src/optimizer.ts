/**
 * The optimiser adapter shared by training and the unlearning loop: a tfjs optimiser that updates a
 * model's variables from gradients keyed by parameter name.
 *
 * @module
 */
import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import type { MultiTaskModel } from './model.js';

/** Which optimiser, and its hyper-parameters. */
export interface OptimizerConfig {
  readonly optimizer: 'sgd' | 'momentum' | 'adam';
  readonly learningRate: number;
  /** Momentum of `'momentum'` (ignored otherwise). */
  readonly momentum: number;
}

/** A model's optimiser. Call `dispose` when done (it owns slot variables). */
export interface ModelOptimizer {
  /**
   * One step from gradients by parameter name (θ ← θ − η·g for SGD). Names absent from `grads`
   * are not updated. Does not dispose `grads`.
   */
  step(grads: NamedTensorMap): void;
  dispose(): void;
}

/**
 * An optimiser over `model`'s variables. With `'sgd'` a step is exactly `θ ← θ − η·g` (tested),
 * which is what projection-based unlearning needs (Adam's preconditioning would undo projections).
 *
 * @example
 * ```ts
 * const opt = createOptimizer(model, { optimizer: 'sgd', learningRate: 1e-2, momentum: 0 });
 * opt.step(grads);
 * opt.dispose();
 * ```
 */
export function createOptimizer(model: MultiTaskModel, config: OptimizerConfig): ModelOptimizer {
  const optimizer: tf.Optimizer =
    config.optimizer === 'sgd'
      ? tf.train.sgd(config.learningRate)
      : config.optimizer === 'momentum'
        ? tf.train.momentum(config.learningRate, config.momentum)
        : tf.train.adam(config.learningRate);
  return {
    step(grads) {
      const byVariable: NamedTensorMap = {};
      for (const [name, g] of Object.entries(grads)) {
        const v = model.variables[name];
        if (v === undefined)
          throw new RangeError(`optimizer: '${name}' is not a parameter of the model`);
        byVariable[v.name] = g;
      }
      optimizer.applyGradients(byVariable);
    },
    dispose() {
      // tfjs 4.22's MomentumOptimizer.dispose forgets the learning-rate scalar `c` it inherits
      // from SGDOptimizer (one tensor leaked per optimiser).
      const c = (optimizer as unknown as { c?: tf.Tensor }).c;
      optimizer.dispose();
      if (c !== undefined && !c.isDisposed) c.dispose();
    },
  };
}
