/**
 * Input checks shared by the public functions.
 *
 * @module
 */
import { ConfigError, ShapeError } from '@mtu/core-tensors';
import type { Tensor } from '@mtu/core-tensors';

/** `[a, b, …]`. */
export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks that `g` is `[D]`, `matrix` is `[D, n]` and both are float32.
 *
 * @param fn - The calling function, for messages.
 * @param matrixName - How the matrix is called in messages (`'constraints'`, `'pool'`).
 * @param g - The vector.
 * @param matrix - The matrix.
 */
export function checkVectorAndMatrix(
  fn: string,
  matrixName: string,
  g: Tensor,
  matrix: Tensor,
): void {
  if (g.rank !== 1) {
    throw new ShapeError(`${fn}: g must be a Tensor1D [D], got shape ${shapeString(g.shape)}`, {
      actual: g.shape,
    });
  }
  if (matrix.rank !== 2) {
    throw new ShapeError(
      `${fn}: ${matrixName} must be a Tensor2D [D, n] (one vector per column), got shape ${shapeString(matrix.shape)}`,
      { actual: matrix.shape },
    );
  }
  const D = g.shape[0];
  const rows = matrix.shape[0];
  if (rows !== D) {
    throw new ShapeError(
      `${fn}: ${matrixName} has ${rows} rows but g has length ${D} ` +
        `(${matrixName} ${shapeString(matrix.shape)}, g ${shapeString(g.shape)}); ` +
        `the columns must be vectors of g's length`,
      { expected: [D, matrix.shape[1] as number], actual: matrix.shape },
    );
  }
  if (g.dtype !== 'float32') throw new ConfigError('g.dtype', g.dtype, `${fn}: must be float32`);
  if (matrix.dtype !== 'float32') {
    throw new ConfigError(`${matrixName}.dtype`, matrix.dtype, `${fn}: must be float32`);
  }
}

/**
 * Throws {@link ConfigError} naming the first non-finite entry of `data` (a `rows × cols` row-major
 * matrix, or a vector with `cols = 1`).
 *
 * @param name - The tensor's name in messages.
 * @param data - Its values.
 * @param cols - Columns (1 for a vector).
 */
export function checkFinite(name: string, data: ArrayLike<number>, cols: number): void {
  for (let i = 0; i < data.length; i++) {
    const x = data[i] as number;
    if (x - x !== 0) {
      const where = cols === 1 ? `index ${i}` : `row ${Math.floor(i / cols)}, column ${i % cols}`;
      throw new ConfigError(name, `${x} at ${where}`, 'entries must be finite');
    }
  }
}

/** Whether `value` is a plain options object (or undefined). */
export function checkOptionsObject(fn: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new ConfigError('options', value, `${fn}: options must be an object`);
  }
}
