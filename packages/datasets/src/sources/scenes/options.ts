/**
 * Options of the `scenes` source: the zod schema, its defaults, and the class vocabulary.
 *
 * @module
 */
import { z } from 'zod';

/** The name of a `scenes` semantic class. */
export type ScenesClassName =
  'floor' | 'wall' | 'ceiling' | 'box' | 'cabinet' | 'sphere' | 'cylinder' | 'table';

/**
 * The `scenes` class vocabulary, in label order (class id = position). The first three are the
 * room's surfaces; the rest are object categories, each with its own shape and its own palette and
 * texture (palettes deliberately overlap across classes, so appearance alone is ambiguous):
 *
 * | id | name     | geometry                                           | look                         |
 * |----|----------|----------------------------------------------------|------------------------------|
 * | 0  | floor    | the plane y = 0                                    | wood planks or tiles         |
 * | 1  | wall     | the four vertical room planes                      | pale paint, plain or mottled |
 * | 2  | ceiling  | the plane y = room height                          | off-white                    |
 * | 3  | box      | a crate: a box standing on the floor, any yaw      | cardboard / wood grain       |
 * | 4  | cabinet  | a tall box aligned with the walls                  | panels (checker) or plain    |
 * | 5  | sphere   | a ball resting on the floor                        | saturated, plain or checker  |
 * | 6  | cylinder | an upright cylinder (bin, pillar) with a flat top  | metal or paint, ringed       |
 * | 7  | table    | a thin top on four legs (five boxes), any yaw      | wood, white or black         |
 *
 * With the `classes` option set to `k`, a dataset uses the first `k` names (object categories
 * `3 … k−1`).
 */
export const SCENES_CLASSES: readonly ScenesClassName[] = Object.freeze([
  'floor',
  'wall',
  'ceiling',
  'box',
  'cabinet',
  'sphere',
  'cylinder',
  'table',
] as const);

/** Number of room-surface classes (floor, wall, ceiling) before the object categories. */
export const SCENES_ROOM_CLASSES = 3;

/** The resolved options of the `scenes` source (see `scenesOptionsSchema` for ranges). */
export interface ScenesOptions {
  /** Seed of every random draw (layout, materials, camera, noise, sensor holes). Default 0. */
  readonly seed: number;
  /** Number of train instances. Default 512. */
  readonly trainSize: number;
  /** Number of test instances. Default 128. */
  readonly testSize: number;
  /** Image height in pixels. Default 32. */
  readonly height: number;
  /** Image width in pixels. Default 32. */
  readonly width: number;
  /**
   * Number of semantic classes: the first `classes` names of {@link SCENES_CLASSES} (at least
   * floor, wall, ceiling and one object category). Default 8 (all).
   */
  readonly classes: number;
  /** Fewest objects per scene. Default 2. */
  readonly minObjects: number;
  /** Most objects per scene (inclusive). Default 6. */
  readonly maxObjects: number;
  /** Standard deviation of the Gaussian noise added to each RGB value (in [0, 1] units). Default 0.03. */
  readonly noiseStd: number;
  /**
   * Fraction of pixels per image whose depth and normal are missing (sensor holes: depth 0, normal
   * (0, 0, 0)), half of them at depth edges as with a real depth sensor. RGB and segmentation stay
   * valid. Default 0.02.
   */
  readonly invalidFraction: number;
  /** Horizontal field of view of the pinhole camera, in degrees. Default 60. */
  readonly fov: number;
  /** Whether objects cast shadows from the point light. Default true. */
  readonly shadows: boolean;
}

/**
 * The default options (the schema's output for `{}`), sized for the 2-core CPU budget of the
 * project's `quick` preset: 32 × 32 images have power-of-two sides that halve cleanly through
 * three stride-2 stages (32 → 16 → 8 → 4) and a quarter of the pixels of the 64 × 64 reference
 * step (≈ 85–124 ms per batch of 16 on wasm), so an epoch of 512 train images is ≈ 32 steps of
 * ≈ 25–30 ms, about a second (an estimate scaled from the reference step); 128 test images keep
 * evaluation cheap while every class covers ≥ 1% of the test pixels; 2–6 objects give frequent
 * occlusion; `noiseStd` 0.03 is visible sensor noise without hiding textures; 2% sensor holes
 * mimic real depth maps; 60° is close to the Kinect's horizontal field of view (NYUv2).
 */
export const SCENES_DEFAULTS: Readonly<ScenesOptions> = Object.freeze({
  seed: 0,
  trainSize: 512,
  testSize: 128,
  height: 32,
  width: 32,
  classes: SCENES_CLASSES.length,
  minObjects: 2,
  maxObjects: 6,
  noiseStd: 0.03,
  invalidFraction: 0.02,
  fov: 60,
  shadows: true,
});

const MAX_SIZE = 1_000_000;
const MAX_SIDE = 1024;
const MAX_OBJECTS = 16;

const int = (lo: number, hi: number, what: string): z.ZodNumber =>
  z
    .number()
    .int(`${what} must be an integer`)
    .min(lo, `${what} must be at least ${lo}`)
    .max(hi, `${what} must be at most ${hi}`);

/**
 * The zod schema of {@link ScenesOptions}: strict (unknown options are errors), every option with
 * a default and a description; `minObjects ≤ maxObjects` is checked with the error on
 * `minObjects`.
 */
export const scenesOptionsSchema: z.ZodType<ScenesOptions, Record<string, unknown>> = z
  .object({
    seed: z
      .number()
      .int('the seed must be an integer')
      .min(-Number.MAX_SAFE_INTEGER, 'the seed must be a safe integer')
      .max(Number.MAX_SAFE_INTEGER, 'the seed must be a safe integer')
      .default(SCENES_DEFAULTS.seed)
      .describe(
        'seed of every random draw; instance i of a split depends only on (seed, split, i)',
      ),
    trainSize: int(1, MAX_SIZE, 'trainSize')
      .default(SCENES_DEFAULTS.trainSize)
      .describe('number of train instances'),
    testSize: int(1, MAX_SIZE, 'testSize')
      .default(SCENES_DEFAULTS.testSize)
      .describe('number of test instances'),
    height: int(4, MAX_SIDE, 'height')
      .default(SCENES_DEFAULTS.height)
      .describe('image height in pixels'),
    width: int(4, MAX_SIDE, 'width')
      .default(SCENES_DEFAULTS.width)
      .describe('image width in pixels'),
    classes: int(SCENES_ROOM_CLASSES + 1, SCENES_CLASSES.length, 'classes')
      .default(SCENES_DEFAULTS.classes)
      .describe(
        `number of semantic classes: the first k of ${SCENES_CLASSES.join(', ')} (objects are drawn from the categories after ceiling)`,
      ),
    minObjects: int(0, MAX_OBJECTS, 'minObjects')
      .default(SCENES_DEFAULTS.minObjects)
      .describe('fewest objects per scene'),
    maxObjects: int(0, MAX_OBJECTS, 'maxObjects')
      .default(SCENES_DEFAULTS.maxObjects)
      .describe('most objects per scene (inclusive)'),
    noiseStd: z
      .number()
      .min(0, 'noiseStd must be ≥ 0')
      .max(0.5, 'noiseStd must be ≤ 0.5')
      .default(SCENES_DEFAULTS.noiseStd)
      .describe('standard deviation of the Gaussian noise added to every RGB value in [0, 1]'),
    invalidFraction: z
      .number()
      .min(0, 'invalidFraction must be ≥ 0')
      .max(0.5, 'invalidFraction must be ≤ 0.5')
      .default(SCENES_DEFAULTS.invalidFraction)
      .describe('fraction of pixels per image with missing depth and normal (sensor holes)'),
    fov: z
      .number()
      .gt(10, 'fov must be > 10 degrees')
      .lt(150, 'fov must be < 150 degrees')
      .default(SCENES_DEFAULTS.fov)
      .describe('horizontal field of view of the pinhole camera, in degrees'),
    shadows: z
      .boolean()
      .default(SCENES_DEFAULTS.shadows)
      .describe('whether objects cast shadows from the point light'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.minObjects > o.maxObjects) {
      ctx.addIssue({
        code: 'custom',
        path: ['minObjects'],
        message: `minObjects must be ≤ maxObjects (${o.maxObjects})`,
        input: o.minObjects,
      });
    }
  });
