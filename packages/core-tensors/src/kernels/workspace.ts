/**
 * The workspace limit MTU's wasm convolution kernels share (see {@link setConvWorkspaceLimit}).
 *
 * @module
 */

/** Default largest im2col workspace, in float32 elements (64 MiB). */
const DEFAULT_WORKSPACE_LIMIT = 1 << 24;
let workspaceLimit = DEFAULT_WORKSPACE_LIMIT;

/**
 * Sets the largest workspace (in float32 elements) that MTU's wasm convolution kernels allocate at
 * once: the im2col matrix of the filter gradient (larger problems are split into chunks of output
 * rows) and each set of Winograd matrices (split into chunks of images). Returns the previous
 * limit. Meant for tests (to exercise chunking on small shapes) and for memory-constrained hosts.
 *
 * @example
 * ```ts
 * const previous = setConvWorkspaceLimit(1000);
 * try {
 *   // ... gradients computed in chunks ...
 * } finally {
 *   setConvWorkspaceLimit(previous);
 * }
 * ```
 */
export function setConvWorkspaceLimit(elements: number): number {
  if (!Number.isInteger(elements) || elements < 1) {
    throw new RangeError(`setConvWorkspaceLimit: expected a positive integer, got ${elements}`);
  }
  const previous = workspaceLimit;
  workspaceLimit = elements;
  return previous;
}

/**
 * The current limit (see {@link setConvWorkspaceLimit}).
 *
 * @example
 * ```ts
 * const rowsPerChunk = Math.max(1, Math.floor(convWorkspaceLimit() / rowElements));
 * ```
 */
export function convWorkspaceLimit(): number {
  return workspaceLimit;
}
