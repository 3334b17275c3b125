/**
 * The baselines, in table order, and their explicit registration.
 *
 * @module
 */
import type { AnyUnlearner, UnlearnerRegistry } from '@mtu/unlearning';
import { boundaryShrink } from './methods/boundary-shrink.js';
import { finetune } from './methods/finetune.js';
import { gradientAscent } from './methods/gradient-ascent.js';
import { l1Sparse } from './methods/l1-sparse.js';
import { lur } from './methods/lur.js';
import { negGradPlus } from './methods/neggrad-plus.js';
import { orthograd } from './methods/orthograd.js';
import { pcgrad } from './methods/pcgrad.js';
import { pgu } from './methods/pgu.js';
import { randomLabels } from './methods/random-labels.js';
import { retrain } from './methods/retrain.js';
import { salun } from './methods/salun.js';
import { scrub } from './methods/scrub.js';
import { ssd } from './methods/ssd.js';

/** Every baseline, in the order of the README table. */
export const BASELINES: readonly AnyUnlearner[] = [
  retrain,
  finetune,
  gradientAscent,
  negGradPlus,
  randomLabels,
  scrub,
  salun,
  l1Sparse,
  boundaryShrink,
  pgu,
  pcgrad,
  orthograd,
  lur,
  ssd,
];

/**
 * Registers every baseline in `registry` (nothing registers on import).
 *
 * @example
 * ```ts
 * const registry = createUnlearnerRegistry();
 * registerBaselines(registry);
 * registerInterferenceAware(registry);
 * registry.get('salun');
 * ```
 */
export function registerBaselines(registry: UnlearnerRegistry): void {
  for (const method of BASELINES) registry.register(method);
}
