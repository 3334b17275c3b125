/**
 * Random indoor scenes for the `scenes` source: a room, a camera, a light and a few objects, drawn
 * from a seeded {@link Rng}. Pure data; the ray caster in `render.ts` draws it.
 *
 * World frame: metres, right-handed, `y` up, floor at `y = 0`. The room is the axis-aligned box
 * `[−rx, rx] × [0, roomHeight] × [−rz, rz]`; the camera stands near the `z = −rz` wall looking
 * roughly along `+z`.
 *
 * @module
 */
import type { Rng } from '@mtu/core-tensors';
import type { ScenesClassName } from './options.js';
import { SCENES_CLASSES, SCENES_ROOM_CLASSES } from './options.js';

/** A 3-vector. */
export type Vec3 = readonly [number, number, number];

/** Procedural texture of a material, evaluated in surface coordinates (metres). */
export type SceneTexture = 'plain' | 'stripes' | 'checker' | 'noise';

/** A surface's appearance: albedo `base`, mixed with `alt` by the texture pattern. */
export interface SceneMaterial {
  /** Linear RGB albedo in [0, 1]. */
  readonly base: Vec3;
  /** Second albedo of the pattern. */
  readonly alt: Vec3;
  readonly texture: SceneTexture;
  /** Pattern period in metres. */
  readonly period: number;
  /** Which surface coordinate stripes vary along (0: u, 1: v). */
  readonly axis: 0 | 1;
  /** Integer seed of the value-noise texture. */
  readonly noiseSeed: number;
}

/** A box with its bottom-to-top extent along world `y`, rotated by `yaw` about the vertical axis. */
export interface SceneBox {
  readonly kind: 'box';
  /** Centre in world coordinates. */
  readonly center: Vec3;
  /** Half extents along the box's local axes. */
  readonly half: Vec3;
  /** Rotation about world `y`, radians: `world = R_y(yaw) · local + center`. */
  readonly yaw: number;
}

/** A sphere. */
export interface SceneSphere {
  readonly kind: 'sphere';
  readonly center: Vec3;
  readonly radius: number;
}

/** An upright cylinder from `base` (centre of its bottom disc) up to `base.y + height`. */
export interface SceneCylinder {
  readonly kind: 'cylinder';
  readonly base: Vec3;
  readonly radius: number;
  readonly height: number;
}

/** One solid of a scene. */
export type SceneShape = SceneBox | SceneSphere | SceneCylinder;

/** A solid with its class, object and material. */
export type ScenePrimitive = SceneShape & {
  /** The object it belongs to (index into {@link SceneDescription.objects}). */
  readonly object: number;
  /** The semantic class id. */
  readonly classId: number;
  readonly material: SceneMaterial;
};

/** One object of a scene (a table is five primitives). */
export interface SceneObject {
  readonly category: ScenesClassName;
  readonly classId: number;
  /** Centre of its footprint on the floor, `[x, z]`. */
  readonly position: readonly [number, number];
  /** Radius of a circle holding its footprint. */
  readonly footprint: number;
  /** Indices into {@link SceneDescription.primitives}. */
  readonly primitives: readonly number[];
}

/**
 * The pinhole camera. Camera frame (OpenCV convention): `x` right, `y` down, `z` forward along the
 * optical axis. A pixel `(u, v)` (column, row) looks along `((u + ½ − cx) / fx, (v + ½ − cy) / fy,
 * 1)` in camera coordinates; `fx = fy = (W / 2) / tan(fov / 2)`, `cx = W / 2`, `cy = H / 2`.
 */
export interface SceneCamera {
  /** Optical centre in world coordinates. */
  readonly position: Vec3;
  /**
   * Camera-to-world rotation, row-major 3×3: `world = position + R · camera`. Its columns are the
   * camera's `x`, `y`, `z` axes in world coordinates.
   */
  readonly rotation: readonly number[];
  readonly fx: number;
  readonly fy: number;
  readonly cx: number;
  readonly cy: number;
  /** Yaw about world `y` (0 looks along `+z`), pitch (negative looks down) and roll, radians. */
  readonly yaw: number;
  readonly pitch: number;
  readonly roll: number;
}

/** A point light with ambient fill. */
export interface SceneLight {
  readonly position: Vec3;
  /** Direct intensity at distance 0 (falls off as `1 / (1 + falloff · d²)`). */
  readonly intensity: number;
  readonly falloff: number;
  /** Ambient intensity. */
  readonly ambient: number;
  /** RGB tint of the light (white balance). */
  readonly colour: Vec3;
}

/** The room: half extents and height, with one material per surface class. */
export interface SceneRoom {
  readonly halfX: number;
  readonly halfZ: number;
  readonly height: number;
  readonly floor: SceneMaterial;
  readonly ceiling: SceneMaterial;
  /** Walls at `x = −halfX`, `x = +halfX`, `z = −halfZ`, `z = +halfZ`. */
  readonly walls: readonly [SceneMaterial, SceneMaterial, SceneMaterial, SceneMaterial];
}

/** Everything that determines one rendered instance, except pixel noise and sensor holes. */
export interface SceneDescription {
  readonly room: SceneRoom;
  readonly camera: SceneCamera;
  readonly light: SceneLight;
  readonly objects: readonly SceneObject[];
  readonly primitives: readonly ScenePrimitive[];
  /** Global exposure gain of the image. */
  readonly exposure: number;
}

/** What {@link generateScene} needs from the options. */
export interface SceneGenerationOptions {
  readonly height: number;
  readonly width: number;
  readonly classes: number;
  readonly minObjects: number;
  readonly maxObjects: number;
  readonly fov: number;
}

type Palette = readonly Vec3[];

interface Look {
  readonly palette: Palette;
  readonly textures: readonly SceneTexture[];
  /** Period range in metres. */
  readonly period: readonly [number, number];
  /** How dark `alt` is relative to `base` (range), or 'palette': another palette colour. */
  readonly contrast: readonly [number, number] | 'palette';
  readonly axis: 0 | 1 | 'random';
}

// Palettes overlap on purpose (wood floors, wood boxes and wood tables; white walls, cabinets,
// ceilings and tables; grey tiles, metal bins and grey crates), so that no class has a colour of
// its own and a per-pixel colour classifier is far from perfect.
const WOOD: Vec3 = [0.55, 0.38, 0.22];
const DARK_WOOD: Vec3 = [0.33, 0.22, 0.14];
const OFF_WHITE: Vec3 = [0.82, 0.8, 0.76];
const GREY: Vec3 = [0.5, 0.5, 0.52];
const LOOKS: Readonly<Record<ScenesClassName, Look>> = {
  floor: {
    palette: [WOOD, DARK_WOOD, GREY, [0.62, 0.55, 0.45]],
    textures: ['stripes', 'checker'],
    period: [0.15, 0.45],
    contrast: [0.65, 0.85],
    axis: 'random',
  },
  wall: {
    palette: [OFF_WHITE, [0.7, 0.76, 0.82], [0.74, 0.8, 0.7], [0.85, 0.75, 0.62], GREY],
    textures: ['plain', 'noise', 'stripes'],
    period: [0.3, 0.8],
    contrast: [0.8, 0.92],
    axis: 0,
  },
  ceiling: {
    palette: [[0.88, 0.88, 0.86], OFF_WHITE, [0.9, 0.86, 0.8]],
    textures: ['plain', 'noise'],
    period: [0.4, 1],
    contrast: [0.85, 0.95],
    axis: 0,
  },
  box: {
    palette: [[0.6, 0.45, 0.28], WOOD, [0.7, 0.6, 0.45], GREY],
    textures: ['stripes', 'noise'],
    period: [0.05, 0.15],
    contrast: [0.6, 0.8],
    axis: 'random',
  },
  cabinet: {
    palette: [OFF_WHITE, DARK_WOOD, [0.55, 0.58, 0.62], [0.7, 0.76, 0.82]],
    textures: ['checker', 'plain'],
    period: [0.3, 0.5],
    contrast: [0.75, 0.9],
    axis: 0,
  },
  sphere: {
    palette: [[0.8, 0.2, 0.15], [0.2, 0.35, 0.75], [0.85, 0.75, 0.2], [0.25, 0.6, 0.3], OFF_WHITE],
    textures: ['checker', 'plain'],
    period: [0.1, 0.2],
    contrast: 'palette',
    axis: 0,
  },
  cylinder: {
    palette: [[0.55, 0.57, 0.6], [0.2, 0.3, 0.6], [0.7, 0.2, 0.2], [0.3, 0.3, 0.3], WOOD],
    textures: ['stripes', 'plain'],
    period: [0.08, 0.2],
    contrast: [0.55, 0.8],
    axis: 1,
  },
  table: {
    palette: [WOOD, [0.85, 0.85, 0.83], [0.18, 0.18, 0.2], DARK_WOOD],
    textures: ['noise', 'stripes', 'plain'],
    period: [0.05, 0.2],
    contrast: [0.7, 0.85],
    axis: 'random',
  },
};

const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng.uniform();
const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(0, items.length)]!;
const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

/** A material of `category`: a palette colour with per-instance jitter, a texture and a period. */
function drawMaterial(rng: Rng, category: ScenesClassName): SceneMaterial {
  const look = LOOKS[category];
  const jitter = (c: Vec3): Vec3 => [
    clamp01(c[0] + uniform(rng, -0.07, 0.07)),
    clamp01(c[1] + uniform(rng, -0.07, 0.07)),
    clamp01(c[2] + uniform(rng, -0.07, 0.07)),
  ];
  const base = jitter(pick(rng, look.palette));
  let alt: Vec3;
  if (look.contrast === 'palette') {
    alt = jitter(pick(rng, look.palette));
  } else {
    const k = uniform(rng, look.contrast[0], look.contrast[1]);
    alt = [base[0] * k, base[1] * k, base[2] * k];
  }
  return {
    base,
    alt,
    texture: pick(rng, look.textures),
    period: uniform(rng, look.period[0], look.period[1]),
    axis: look.axis === 'random' ? (rng.int(0, 2) as 0 | 1) : look.axis,
    noiseSeed: rng.int(0, 0x7fff_ffff),
  };
}

/** Rotation about world `y`: `(cos·x + sin·z, y, −sin·x + cos·z)`. */
function rotateY(yaw: number, x: number, z: number): [number, number] {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  return [c * x + s * z, -s * x + c * z];
}

interface ObjectShape {
  readonly footprint: number;
  /** The primitives, built once the footprint centre `(x, z)` is known. */
  readonly build: (x: number, z: number) => SceneShape[];
}

/** Draws the size and shape of an object of `category` (position comes later). */
function drawShape(rng: Rng, category: ScenesClassName): ObjectShape {
  switch (category) {
    case 'box': {
      const hx = uniform(rng, 0.15, 0.4);
      const hz = uniform(rng, 0.15, 0.4);
      const hy = uniform(rng, 0.15, 0.45);
      const yaw = uniform(rng, 0, Math.PI / 2);
      return {
        footprint: Math.hypot(hx, hz),
        build: (x, z) => [{ kind: 'box', center: [x, hy, z], half: [hx, hy, hz], yaw }],
      };
    }
    case 'cabinet': {
      const hx = uniform(rng, 0.3, 0.55);
      const hz = uniform(rng, 0.2, 0.3);
      const hy = uniform(rng, 0.4, 0.95);
      const yaw = rng.int(0, 2) * (Math.PI / 2); // aligned with the walls
      return {
        footprint: Math.hypot(hx, hz),
        build: (x, z) => [{ kind: 'box', center: [x, hy, z], half: [hx, hy, hz], yaw }],
      };
    }
    case 'sphere': {
      const r = uniform(rng, 0.15, 0.4);
      return {
        footprint: r,
        build: (x, z) => [{ kind: 'sphere', center: [x, r, z], radius: r }],
      };
    }
    case 'cylinder': {
      const r = uniform(rng, 0.12, 0.3);
      const h = uniform(rng, 0.3, 1.2);
      return {
        footprint: r,
        build: (x, z) => [{ kind: 'cylinder', base: [x, 0, z], radius: r, height: h }],
      };
    }
    case 'table': {
      const hx = uniform(rng, 0.4, 0.7);
      const hz = uniform(rng, 0.3, 0.5);
      const top = uniform(rng, 0.6, 0.8);
      const thick = 0.025; // half thickness of the top
      const leg = 0.04; // half width of a leg
      const yaw = uniform(rng, 0, Math.PI);
      return {
        footprint: Math.hypot(hx, hz),
        build: (x, z) => {
          const legHeight = (top - 2 * thick) / 2;
          const shapes: SceneShape[] = [
            { kind: 'box', center: [x, top - thick, z], half: [hx, thick, hz], yaw },
          ];
          for (const [sx, sz] of [
            [-1, -1],
            [1, -1],
            [-1, 1],
            [1, 1],
          ] as const) {
            const [dx, dz] = rotateY(yaw, sx * (hx - 2 * leg), sz * (hz - 2 * leg));
            shapes.push({
              kind: 'box',
              center: [x + dx, legHeight, z + dz],
              half: [leg, legHeight, leg],
              yaw,
            });
          }
          return shapes;
        },
      };
    }
    default:
      throw new Error(`no shape for the room class '${category}'`);
  }
}

/** The camera-to-world rotation (row-major) of a camera with this yaw, pitch and roll. */
export function cameraRotation(yaw: number, pitch: number, roll: number): number[] {
  // z (forward), x = z × up normalised (right), y = z × x (down): a right-handed camera frame.
  const fz: Vec3 = [
    Math.sin(yaw) * Math.cos(pitch),
    Math.sin(pitch),
    Math.cos(yaw) * Math.cos(pitch),
  ];
  let fx: Vec3 = [-fz[2], 0, fz[0]]; // fz × (0, 1, 0)
  const n = Math.hypot(fx[0], fx[2]);
  fx = [fx[0] / n, 0, fx[2] / n];
  let fy: Vec3 = [
    fz[1] * fx[2] - fz[2] * fx[1],
    fz[2] * fx[0] - fz[0] * fx[2],
    fz[0] * fx[1] - fz[1] * fx[0],
  ];
  // Roll: rotate x and y about z.
  const c = Math.cos(roll);
  const s = Math.sin(roll);
  const rx: Vec3 = [c * fx[0] + s * fy[0], c * fx[1] + s * fy[1], c * fx[2] + s * fy[2]];
  fy = [-s * fx[0] + c * fy[0], -s * fx[1] + c * fy[1], -s * fx[2] + c * fy[2]];
  fx = rx;
  return [fx[0], fy[0], fz[0], fx[1], fy[1], fz[1], fx[2], fy[2], fz[2]];
}

/**
 * Draws one scene from `rng`: room size and materials, camera pose, light, and between
 * `minObjects` and `maxObjects` objects placed on the floor in front of the camera (footprints
 * do not overlap when the room allows it; objects are never placed on the camera).
 */
export function generateScene(rng: Rng, options: SceneGenerationOptions): SceneDescription {
  const halfX = uniform(rng, 2, 3.5);
  const halfZ = uniform(rng, 2, 3.5);
  const roomHeight = uniform(rng, 2.5, 3.2);
  const room: SceneRoom = {
    halfX,
    halfZ,
    height: roomHeight,
    floor: drawMaterial(rng, 'floor'),
    ceiling: drawMaterial(rng, 'ceiling'),
    // Usually one paint for the whole room, sometimes an accent wall.
    walls: ((): [SceneMaterial, SceneMaterial, SceneMaterial, SceneMaterial] => {
      const paint = drawMaterial(rng, 'wall');
      const accent = rng.uniform() < 0.3 ? rng.int(0, 4) : -1;
      const accentPaint = drawMaterial(rng, 'wall');
      return [0, 1, 2, 3].map((i) => (i === accent ? accentPaint : paint)) as [
        SceneMaterial,
        SceneMaterial,
        SceneMaterial,
        SceneMaterial,
      ];
    })(),
  };

  const fovX = (options.fov * Math.PI) / 180;
  const fx = options.width / 2 / Math.tan(fovX / 2);
  const yaw = uniform(rng, -0.6, 0.6);
  const pitch = uniform(rng, -0.4, 0.02);
  const roll = uniform(rng, -0.05, 0.05);
  const camX = uniform(rng, -0.5, 0.5) * halfX;
  const camZ = -halfZ + uniform(rng, 0.3, 1.2);
  const camY = uniform(rng, 1, 1.7);
  const camera: SceneCamera = {
    position: [camX, camY, camZ],
    rotation: cameraRotation(yaw, pitch, roll),
    fx,
    fy: fx,
    cx: options.width / 2,
    cy: options.height / 2,
    yaw,
    pitch,
    roll,
  };

  const light: SceneLight = {
    position: [uniform(rng, -0.6, 0.6) * halfX, roomHeight - 0.2, uniform(rng, -0.6, 0.6) * halfZ],
    intensity: uniform(rng, 0.7, 1.1),
    falloff: 0.04,
    ambient: uniform(rng, 0.25, 0.45),
    colour: [uniform(rng, 0.9, 1.1), 1, uniform(rng, 0.85, 1.1)],
  };

  const categories = SCENES_CLASSES.slice(SCENES_ROOM_CLASSES, options.classes);
  const count = rng.int(options.minObjects, options.maxObjects + 1);
  // Objects stand within 90% of the horizontal half field of view around the camera's heading,
  // their footprint's edge at least 1 m from the camera and their centre at most 6.5 m away (some
  // end up partly outside the frame, or hidden behind others).
  const halfAngle = 0.9 * Math.atan(options.width / 2 / fx);
  const objects: SceneObject[] = [];
  const primitives: ScenePrimitive[] = [];
  for (let k = 0; k < count; k++) {
    const category = pick(rng, categories);
    const classId = SCENES_CLASSES.indexOf(category);
    const shape = drawShape(rng, category);
    const material = drawMaterial(rng, category);
    const fp = shape.footprint;
    const inRoom = (x: number, z: number): boolean =>
      Math.abs(x) <= halfX - fp - 0.02 &&
      Math.abs(z) <= halfZ - fp - 0.02 &&
      Math.hypot(x - camX, z - camZ) >= fp + 0.6;
    const free = (x: number, z: number): boolean =>
      objects.every((o) => Math.hypot(x - o.position[0], z - o.position[1]) >= fp + o.footprint);
    let position: [number, number] | undefined;
    // Up to 60 draws without overlap, then up to 60 allowing overlap (solids may interpenetrate;
    // the ray caster handles any union), then the room's centre. The centre is ≥ 0.8 m from the
    // camera (camZ ≤ −0.8); only tables have a wider footprint, and their top (≤ 0.8 m) is below
    // the camera (≥ 1 m), so the camera is never inside a solid.
    for (let attempt = 0; attempt < 120 && position === undefined; attempt++) {
      const angle = yaw + uniform(rng, -halfAngle, halfAngle);
      const dist = uniform(rng, fp + 1, 6.5);
      const x = camX + dist * Math.sin(angle);
      const z = camZ + dist * Math.cos(angle);
      if (inRoom(x, z) && (attempt >= 60 || free(x, z))) position = [x, z];
    }
    position ??= [0, 0];
    const first = primitives.length;
    for (const s of shape.build(position[0], position[1])) {
      primitives.push({ ...s, object: k, classId, material });
    }
    objects.push({
      category,
      classId,
      position,
      footprint: fp,
      primitives: Array.from({ length: primitives.length - first }, (_, i) => first + i),
    });
  }
  return { room, camera, light, objects, primitives, exposure: uniform(rng, 0.8, 1.15) };
}
