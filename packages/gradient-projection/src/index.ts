/**
 * `@mtu/gradient-projection`: task subspaces and task-aware gradient projection (Mode G of the
 * reconstruction in `research/method.md` §2.3–§2.4, step (a) of §2.7).
 *
 * - {@link buildTaskSubspace}: per-task, per-block orthonormal bases of per-instance gradients
 *   (float64 Gram route, GPM energy rank).
 * - {@link protectedSubspace}: the per-block union `B_{¬t}` of the other tasks' subspaces.
 * - {@link createTaskProjector}: the blockwise projector `v_b ← v_b − B_b B_bᵀ v_b` (identity on
 *   heads), for single vectors and for the columns of a constraint matrix.
 *
 * @packageDocumentation
 */
export { blockSlices } from './blocks.js';
export type { BlockSlice } from './blocks.js';
export { DEFAULT_SUBSPACE_ENERGY, buildTaskSubspace, protectedSubspace } from './subspace.js';
export type { ProtectedSubspace, SubspaceOptions, TaskSubspace } from './subspace.js';
export { createTaskProjector } from './projector.js';
export type { TaskProjector } from './projector.js';
