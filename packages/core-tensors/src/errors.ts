/**
 * Typed errors of MTU. Every error a user can cause names the offending file, field or value.
 *
 * @module
 */

/** Base class of every error MTU throws on purpose; `code` is stable and machine-readable. */
export class MtuError extends Error {
  /** A stable machine-readable code, e.g. `'E_SHAPE'`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A tensor or array had the wrong shape, rank or length.
 *
 * @example
 * ```ts
 * throw new ShapeError('projectOut: v has length 3 but B has 4 rows', { expected: [4], actual: [3] });
 * ```
 */
export class ShapeError extends MtuError {
  /** The expected shape, when known. */
  readonly expected: readonly number[] | undefined;
  /** The shape that was received, when known. */
  readonly actual: readonly number[] | undefined;
  constructor(
    message: string,
    shapes: { expected?: readonly number[]; actual?: readonly number[] } = {},
  ) {
    super('E_SHAPE', message);
    this.expected = shapes.expected;
    this.actual = shapes.actual;
  }
}

/**
 * An option or configuration value was invalid. `field` names it (e.g. `'threads'`).
 *
 * @example
 * ```ts
 * throw new ConfigError('threads', 0, 'must be a positive integer');
 * ```
 */
export class ConfigError extends MtuError {
  /** The name of the offending option or field. */
  readonly field: string;
  /** The offending value. */
  readonly value: unknown;
  constructor(field: string, value: unknown, reason: string) {
    super('E_CONFIG', `invalid ${field} = ${formatValue(value)}: ${reason}`);
    this.field = field;
    this.value = value;
  }
}

/** A backend could not be initialised, or a kernel is missing on the active backend. */
export class BackendError extends MtuError {
  /** The backend concerned, e.g. `'wasm'`. */
  readonly backend: string;
  constructor(backend: string, message: string, options?: ErrorOptions) {
    super('E_BACKEND', `${backend}: ${message}`, options);
    this.backend = backend;
  }
}

/** A checkpoint (or other data file) is missing, truncated, corrupt or of an unsupported version. */
export class CheckpointError extends MtuError {
  /** The path of the offending file. */
  readonly file: string;
  constructor(file: string, message: string, options?: ErrorOptions) {
    super('E_CHECKPOINT', `${file}: ${message}`, options);
    this.file = file;
  }
}

/** A lookup by id in a registry failed. */
export class NotRegisteredError extends MtuError {
  /** The id that was looked up. */
  readonly id: string;
  constructor(kind: string, id: string, known: readonly string[]) {
    super(
      'E_NOT_REGISTERED',
      `unknown ${kind} '${id}'` + (known.length > 0 ? ` (known: ${known.join(', ')})` : ''),
    );
    this.id = id;
  }
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
