/**
 * Config schemas: the loop's options every method shares, and resolving a user's partial config.
 *
 * @module
 */
import { ConfigError } from '@mtu/core-tensors';
import { z } from 'zod';
import type { LoopConfig, Unlearner } from './contract.js';

/**
 * The zod fields of {@link LoopConfig}, to spread into a method's schema:
 * `z.object({ ...loopConfigFields, myOption: z.number() }).strict()`.
 */
export const loopConfigFields: {
  epochs: z.ZodNumber;
  learningRate: z.ZodNumber;
  optimizer: z.ZodEnum<{ sgd: 'sgd'; momentum: 'momentum'; adam: 'adam' }>;
  momentum: z.ZodNumber;
  forgetBatchSize: z.ZodNumber;
  retainBatchSize: z.ZodNumber;
  maxSteps: z.ZodNumber;
  earlyStop: z.ZodBoolean;
} = {
  epochs: z.number().int().min(0).describe('Passes over the forget set'),
  learningRate: z.number().positive().finite().describe('Optimiser step size'),
  optimizer: z.enum(['sgd', 'momentum', 'adam']).describe('Optimiser'),
  momentum: z.number().min(0).lt(1).describe("Momentum of 'momentum'"),
  forgetBatchSize: z.number().int().min(1).describe('Forget instances per step'),
  retainBatchSize: z.number().int().min(0).describe('Retain instances per step'),
  maxSteps: z.number().int().min(0).describe('Step limit (0 = none)'),
  earlyStop: z.boolean().describe('Stop once the forget metrics reach the test level'),
};

/** Sensible loop defaults for fine-tuning-scale updates (methods override what they need). */
export const DEFAULT_LOOP_CONFIG: LoopConfig = Object.freeze({
  epochs: 5,
  learningRate: 1e-2,
  optimizer: 'sgd',
  momentum: 0.9,
  forgetBatchSize: 8,
  retainBatchSize: 8,
  maxSteps: 0,
  earlyStop: false,
});

/**
 * Merges `raw` over the method's defaults — and, when `datasetId` is given, over the method's
 * `datasetDefaults[datasetId]` in between — and validates it with the method's schema. Unknown
 * keys and bad values raise a {@link ConfigError} whose field is `<method id>.<option>`.
 *
 * @example
 * ```ts
 * const config = resolveConfig(interferenceAware, { epochs: 3, orthogonalization: 'qp' }, 'scenes');
 * ```
 */
export function resolveConfig<C extends LoopConfig, S>(
  unlearner: Unlearner<C, S>,
  raw: unknown = {},
  datasetId?: string,
): C {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${unlearner.id}`, raw, 'config must be an object');
  }
  const perDataset = datasetId === undefined ? undefined : unlearner.datasetDefaults?.[datasetId];
  const merged = { ...unlearner.defaults, ...perDataset, ...(raw as Record<string, unknown>) };
  const parsed = unlearner.schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      throw new ConfigError(
        `${unlearner.id}.${key}`,
        (raw as Record<string, unknown>)[key],
        `unknown option (options: ${Object.keys(unlearner.defaults).join(', ')})`,
      );
    }
    const path = issue.path.map(String).join('.');
    const value = (merged as Record<string, unknown>)[String(issue.path[0])];
    throw new ConfigError(`${unlearner.id}.${path}`, value, issue.message);
  }
  return parsed.data;
}
