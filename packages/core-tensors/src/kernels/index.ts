/**
 * Gradient kernels MTU registers on the wasm backend.
 *
 * @module
 */

/** Registers MTU's wasm gradient kernels. Idempotent. */
export function registerWasmGradientKernels(): void {
  // Filled in by the kernels work.
}
