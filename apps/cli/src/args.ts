/**
 * Parsing of command-line values: numbers, `key=value` pairs, task lists and JSON, each with an
 * error that names the option and the value.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { CheckpointError, ConfigError, MtuError } from '@mtu/core-tensors';

/** A bad command line (an option's value, a missing option, conflicting options). */
export class UsageError extends MtuError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

/** Options for {@link parseNumber}. */
export interface NumberRule {
  /** Integers only. */
  readonly integer?: boolean;
  /** Smallest allowed value (inclusive). */
  readonly min?: number;
  /** Largest allowed value (inclusive). */
  readonly max?: number;
  /** Strictly greater than this. */
  readonly above?: number;
  /** Strictly less than this. */
  readonly below?: number;
}

/**
 * Parses a number given to `option` (e.g. `'--epochs'`), or throws a {@link ConfigError} naming it:
 * `invalid --epochs = "-1": must be an integer ≥ 0`.
 */
export function parseNumber(option: string, raw: string, rule: NumberRule = {}): number {
  const text = raw.trim();
  const value = text === '' ? Number.NaN : Number(text);
  const fail = (why: string): never => {
    throw new ConfigError(option, raw, why);
  };
  if (!Number.isFinite(value))
    fail(rule.integer === true ? 'must be an integer' : 'must be a number');
  if (rule.integer === true && !Number.isSafeInteger(value)) fail('must be an integer');
  if (rule.min !== undefined && value < rule.min) fail(`must be ≥ ${rule.min}`);
  if (rule.max !== undefined && value > rule.max) fail(`must be ≤ ${rule.max}`);
  if (rule.above !== undefined && !(value > rule.above)) fail(`must be > ${rule.above}`);
  if (rule.below !== undefined && !(value < rule.below)) fail(`must be < ${rule.below}`);
  return value;
}

/** Parses an optional number (undefined stays undefined). */
export function optionalNumber(
  option: string,
  raw: string | undefined,
  rule: NumberRule = {},
): number | undefined {
  return raw === undefined ? undefined : parseNumber(option, raw, rule);
}

/**
 * The value of a `key=value` pair as typed data: JSON when it parses (`3`, `0.5`, `true`, `"x"`,
 * `[1,2]`, `{"a":1}`), else the raw string (`adam`, `abc`). Schemas then check the type, so
 * `--set learningRate=abc` fails with the field's name.
 */
export function parseValue(raw: string): unknown {
  const text = raw.trim();
  if (text === '') return raw;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return raw;
  }
}

/**
 * Parses repeated `key=value` options (`--option trainSize=24 --option seed=1`) into an object;
 * a pair without `=` or with an empty key, and a key given twice, are errors naming the option.
 */
export function parsePairs(option: string, pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (eq < 0 || key === '') {
      throw new ConfigError(option, pair, 'expected key=value');
    }
    if (Object.hasOwn(out, key)) throw new ConfigError(option, pair, `'${key}' is given twice`);
    out[key] = parseValue(pair.slice(eq + 1));
  }
  return out;
}

/** `'all'` or a comma-separated list of task names, as given to `--tasks`. */
export function parseTasks(raw: string): 'all' | string[] {
  const text = raw.trim();
  if (text === 'all') return 'all';
  const names = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (names.length === 0) throw new ConfigError('--tasks', raw, "expected 'all' or a,b,…");
  return names;
}

/** Reads and parses a JSON file; a missing file or bad JSON is a {@link CheckpointError} naming it. */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CheckpointError(path, `cannot read ${what}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CheckpointError(path, `malformed ${what} (not JSON): ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * The `--config` value: inline JSON when it starts with `{`, else the path of a JSON file. Must be
 * an object.
 */
export async function readConfigOption(raw: string): Promise<Record<string, unknown>> {
  let value: unknown;
  const where = raw.trim().startsWith('{') ? '--config' : raw;
  if (raw.trim().startsWith('{')) {
    try {
      value = JSON.parse(raw) as unknown;
    } catch (error) {
      throw new ConfigError('--config', raw, `not valid JSON: ${(error as Error).message}`);
    }
  } else {
    value = await readJsonFile(raw, 'method config');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(where, value, 'a method config must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** `ENOENT: no such file or directory` rather than the full Node message with the path again. */
export function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return e.message ?? String(error);
  }
}
