/**
 * `@mtu/orthogonalization`: instance-level gradient orthogonalization for multi-task unlearning —
 * the full projection onto the complement of the retain constraints, PCGrad-style conflict-only
 * projection with the unlearning sign, and the exact non-conflict QP; plus retain-constraint
 * selection.
 *
 * @packageDocumentation
 */
export { orthogonalize, orthogonalizeWithInfo } from './orthogonalize.js';
export type {
  OrthogonalizeInfo,
  OrthogonalizeMode,
  OrthogonalizeOptions,
} from './orthogonalize.js';
export { selectConstraints } from './select.js';
export type {
  ConstraintSelectionStrategy,
  SelectConstraintsOptions,
  SelectedConstraints,
} from './select.js';
