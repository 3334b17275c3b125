/**
 * A small pure-JS ray caster for the `scenes` source (float64 arithmetic, one ray per pixel
 * centre, no anti-aliasing, so that every label of a pixel comes from the same surface point).
 *
 * Per pixel it intersects the camera ray with the room (an axis-aligned box seen from inside) and
 * with every solid (yawed boxes, spheres, upright cylinders), keeps the nearest hit, and writes:
 * - RGB: Lambertian shading of the textured albedo by a point light (with cast shadows from the
 *   objects) plus ambient light, times the exposure, plus Gaussian noise, clamped to [0, 1];
 * - the surface's semantic class;
 * - depth: the hit's z coordinate in the camera frame (metres along the optical axis, as in NYUv2);
 * - the unit surface normal in camera coordinates (x right, y down, z forward), facing the camera.
 *
 * Sensor holes (depth 0 and normal (0, 0, 0)) are then punched into depth and normals.
 *
 * @module
 */
import type { Rng } from '@mtu/core-tensors';
import { SCENES_CLASSES } from './options.js';
import type { SceneDescription, SceneMaterial, Vec3 } from './scene.js';

/** The geometric kind of a surface: planes (room faces, box faces, cylinder tops) or curved. */
export type SceneSurfaceKind = 'plane' | 'sphere' | 'cylinder';

/**
 * One surface of a rendered scene: a room face, a box face, a sphere, a cylinder's side or top.
 * Surface ids are positions in `SceneRender.surfaces`: `0` floor, `1` ceiling, `2 … 5`
 * walls at `x = −rx`, `x = +rx`, `z = −rz`, `z = +rz`, then per primitive its faces (a box: `−x`,
 * `+x`, `−y`, `+y`, `−z`, `+z` of its local frame; a sphere: one; a cylinder: side, top).
 */
export interface SceneSurface {
  readonly kind: SceneSurfaceKind;
  readonly classId: number;
  /** The object (index into `scene.objects`), or −1 for the room. */
  readonly object: number;
  /** The primitive (index into `scene.primitives`), or −1 for the room. */
  readonly primitive: number;
}

/** What {@link renderInto} needs from the options. */
export interface RenderOptions {
  readonly height: number;
  readonly width: number;
  readonly noiseStd: number;
  readonly invalidFraction: number;
  readonly shadows: boolean;
}

/** Output buffers of {@link renderInto}; one instance is written at `offset` (in pixels). */
export interface RenderTargets {
  /** float32 `[·, H, W, 3]`. */
  readonly image: Float32Array;
  /** int32 `[·, H, W]`. */
  readonly segmentation: Int32Array;
  /** float32 `[·, H, W, 1]`. */
  readonly depth: Float32Array;
  /** float32 `[·, H, W, 3]`. */
  readonly normals: Float32Array;
  /** int32 `[·, H, W]`: the surface id each pixel sees (optional). */
  readonly surface?: Int32Array;
}

/** The surfaces of a scene, as {@link renderInto} numbers them. */
export interface RenderResult {
  readonly surfaces: readonly SceneSurface[];
}

const KIND_BOX = 0;
const KIND_SPHERE = 1;
const KIND_CYLINDER = 2;

/** A primitive flattened for the inner loop (one monomorphic shape for every kind). */
interface Solid {
  readonly kind: number;
  /** Centre (box, sphere) or base centre (cylinder). */
  readonly cx: number;
  readonly cy: number;
  readonly cz: number;
  /** Box half extents; sphere radius in `a`; cylinder radius in `a`, height in `b`. */
  readonly a: number;
  readonly b: number;
  readonly c: number;
  /** cos and sin of the box's yaw. */
  readonly cos: number;
  readonly sin: number;
  /** Id of the solid's first surface. */
  readonly surface: number;
  readonly classId: number;
  readonly material: SceneMaterial;
}

function compile(scene: SceneDescription): { solids: Solid[]; surfaces: SceneSurface[] } {
  const wallClass = SCENES_CLASSES.indexOf('wall');
  const surfaces: SceneSurface[] = [
    { kind: 'plane', classId: SCENES_CLASSES.indexOf('floor'), object: -1, primitive: -1 },
    { kind: 'plane', classId: SCENES_CLASSES.indexOf('ceiling'), object: -1, primitive: -1 },
  ];
  for (let i = 0; i < 4; i++) {
    surfaces.push({ kind: 'plane', classId: wallClass, object: -1, primitive: -1 });
  }
  const solids: Solid[] = [];
  scene.primitives.forEach((p, index) => {
    const first = surfaces.length;
    const common = { surface: first, classId: p.classId, material: p.material };
    const surface = (kind: SceneSurfaceKind): SceneSurface => ({
      kind,
      classId: p.classId,
      object: p.object,
      primitive: index,
    });
    if (p.kind === 'box') {
      for (let f = 0; f < 6; f++) surfaces.push(surface('plane'));
      solids.push({
        kind: KIND_BOX,
        cx: p.center[0],
        cy: p.center[1],
        cz: p.center[2],
        a: p.half[0],
        b: p.half[1],
        c: p.half[2],
        cos: Math.cos(p.yaw),
        sin: Math.sin(p.yaw),
        ...common,
      });
    } else if (p.kind === 'sphere') {
      surfaces.push(surface('sphere'));
      solids.push({
        kind: KIND_SPHERE,
        cx: p.center[0],
        cy: p.center[1],
        cz: p.center[2],
        a: p.radius,
        b: 0,
        c: 0,
        cos: 1,
        sin: 0,
        ...common,
      });
    } else {
      surfaces.push(surface('cylinder'), surface('plane'));
      solids.push({
        kind: KIND_CYLINDER,
        cx: p.base[0],
        cy: p.base[1],
        cz: p.base[2],
        a: p.radius,
        b: p.height,
        c: 0,
        cos: 1,
        sin: 0,
        ...common,
      });
    }
  });
  return { solids, surfaces };
}

/** Face of the last hit found by {@link intersect} (box: axis·2 + positive; cylinder: 0 side, 1 top). */
let hitFace = 0;

/**
 * The ray parameter `t > tMin` where the ray `o + t·d` enters `s`, or `Infinity`. Rays starting
 * inside a solid do not hit it (the camera and shadow-ray origins are outside every solid).
 * Sets {@link hitFace}.
 */
function intersect(
  s: Solid,
  ox: number,
  oy: number,
  oz: number,
  dx: number,
  dy: number,
  dz: number,
  tMin: number,
): number {
  if (s.kind === KIND_BOX) {
    // Into the box frame: local = R_y(yaw)ᵀ (p − centre).
    const px = ox - s.cx;
    const pz = oz - s.cz;
    const lo0 = s.cos * px - s.sin * pz;
    const lo1 = oy - s.cy;
    const lo2 = s.sin * px + s.cos * pz;
    const ld0 = s.cos * dx - s.sin * dz;
    const ld1 = dy;
    const ld2 = s.sin * dx + s.cos * dz;
    let tNear = -Infinity;
    let tFar = Infinity;
    let face = -1;
    for (let axis = 0; axis < 3; axis++) {
      const o = axis === 0 ? lo0 : axis === 1 ? lo1 : lo2;
      const d = axis === 0 ? ld0 : axis === 1 ? ld1 : ld2;
      const h = axis === 0 ? s.a : axis === 1 ? s.b : s.c;
      if (d === 0) {
        if (o < -h || o > h) return Infinity;
        continue;
      }
      let t1 = (-h - o) / d;
      let t2 = (h - o) / d;
      // Entering through the −h face when d > 0, through +h when d < 0.
      let f = axis * 2;
      if (t1 > t2) {
        const tmp = t1;
        t1 = t2;
        t2 = tmp;
        f += 1;
      }
      if (t1 > tNear) {
        tNear = t1;
        face = f;
      }
      if (t2 < tFar) tFar = t2;
      if (tNear > tFar) return Infinity;
    }
    if (tNear <= tMin || face < 0) return Infinity;
    hitFace = face;
    return tNear;
  }
  if (s.kind === KIND_SPHERE) {
    const px = ox - s.cx;
    const py = oy - s.cy;
    const pz = oz - s.cz;
    const a = dx * dx + dy * dy + dz * dz;
    const b = px * dx + py * dy + pz * dz;
    const c = px * px + py * py + pz * pz - s.a * s.a;
    const disc = b * b - a * c;
    if (disc < 0 || c < 0) return Infinity;
    const t = (-b - Math.sqrt(disc)) / a;
    if (t <= tMin) return Infinity;
    hitFace = 0;
    return t;
  }
  // Cylinder: the side (x − cx)² + (z − cz)² = r², cy ≤ y ≤ cy + h, and the top disc.
  const px = ox - s.cx;
  const pz = oz - s.cz;
  const r2 = s.a * s.a;
  let best = Infinity;
  const a = dx * dx + dz * dz;
  if (a > 0) {
    const b = px * dx + pz * dz;
    const c = px * px + pz * pz - r2;
    const disc = b * b - a * c;
    if (disc >= 0 && c > 0) {
      const t = (-b - Math.sqrt(disc)) / a;
      const y = oy + t * dy - s.cy;
      if (t > tMin && y >= 0 && y <= s.b) {
        best = t;
        hitFace = 0;
      }
    }
  }
  const top = s.cy + s.b;
  if (dy < 0 && oy > top) {
    const t = (top - oy) / dy;
    const qx = px + t * dx;
    const qz = pz + t * dz;
    if (t > tMin && t < best && qx * qx + qz * qz <= r2) {
      best = t;
      hitFace = 1;
    }
  }
  return best;
}

/** A hash of two integers and a seed to [0, 1). */
function hash2(ix: number, iy: number, seed: number): number {
  let h = Math.imul(ix, 0x27d4_eb2d) ^ Math.imul(iy, 0x1656_67b1) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x85eb_ca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** The texture's mix weight of `alt` at surface coordinates `(u, v)` (metres). */
function pattern(m: SceneMaterial, u: number, v: number): number {
  switch (m.texture) {
    case 'plain':
      return 0;
    case 'stripes': {
      const w = (m.axis === 0 ? u : v) / m.period;
      return w - Math.floor(w) < 0.5 ? 0 : 1;
    }
    case 'checker':
      return (Math.floor(u / m.period) + Math.floor(v / m.period)) & 1;
    case 'noise': {
      // Bilinear value noise with a smoothstep.
      const x = u / m.period;
      const y = v / m.period;
      const ix = Math.floor(x);
      const iy = Math.floor(y);
      let fx = x - ix;
      let fy = y - iy;
      fx = fx * fx * (3 - 2 * fx);
      fy = fy * fy * (3 - 2 * fy);
      const a = hash2(ix, iy, m.noiseSeed);
      const b = hash2(ix + 1, iy, m.noiseSeed);
      const c = hash2(ix, iy + 1, m.noiseSeed);
      const d = hash2(ix + 1, iy + 1, m.noiseSeed);
      return (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy;
    }
  }
}

/**
 * Ray casts `scene` into `targets` at pixel offset `offset` (instance `k` of a batch: `k·H·W`).
 * `noiseRng` draws the pixel noise, `holeRng` the sensor holes. Returns the scene's surfaces (the
 * ids written to `targets.surface`).
 */
export function renderInto(
  scene: SceneDescription,
  options: RenderOptions,
  noiseRng: Rng,
  holeRng: Rng,
  targets: RenderTargets,
  offset: number,
): RenderResult {
  const { height: H, width: W } = options;
  const { solids, surfaces } = compile(scene);
  const { room, camera, light } = scene;
  const R = camera.rotation;
  const [r00, r01, r02, r10, r11, r12, r20, r21, r22] = R as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [ox, oy, oz] = camera.position;
  const [lx, ly, lz] = light.position;
  const lightColour: Vec3 = light.colour;
  const { image, segmentation, depth, normals } = targets;
  const surfaceOut = targets.surface;
  const roomMaterials: SceneMaterial[] = [room.floor, room.ceiling, ...room.walls];
  const roomClass = surfaces.slice(0, 6).map((s) => s.classId);
  const nSolids = solids.length;

  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      const p = offset + v * W + u;
      // Camera-frame direction with z = 1, so that the ray parameter t is the z-depth.
      const cxd = (u + 0.5 - camera.cx) / camera.fx;
      const cyd = (v + 0.5 - camera.cy) / camera.fy;
      const dx = r00 * cxd + r01 * cyd + r02;
      const dy = r10 * cxd + r11 * cyd + r12;
      const dz = r20 * cxd + r21 * cyd + r22;

      // The room, seen from inside: the nearest exit through one of its six planes.
      let t = Infinity;
      let surface = 0;
      if (dy < 0) {
        t = -oy / dy;
        surface = 0;
      } else if (dy > 0) {
        t = (room.height - oy) / dy;
        surface = 1;
      }
      if (dx !== 0) {
        const tx = dx < 0 ? (-room.halfX - ox) / dx : (room.halfX - ox) / dx;
        if (tx < t) {
          t = tx;
          surface = dx < 0 ? 2 : 3;
        }
      }
      if (dz !== 0) {
        const tz = dz < 0 ? (-room.halfZ - oz) / dz : (room.halfZ - oz) / dz;
        if (tz < t) {
          t = tz;
          surface = dz < 0 ? 4 : 5;
        }
      }
      let solid = -1;
      for (let k = 0; k < nSolids; k++) {
        const tk = intersect(solids[k]!, ox, oy, oz, dx, dy, dz, 0);
        if (tk < t) {
          t = tk;
          solid = k;
          surface = solids[k]!.surface + hitFace;
        }
      }

      // Hit point, world normal, texture coordinates.
      const hx = ox + t * dx;
      const hy = oy + t * dy;
      const hz = oz + t * dz;
      let nx = 0;
      let ny = 0;
      let nz = 0;
      let tu: number;
      let tv: number;
      let material: SceneMaterial;
      let classId: number;
      if (solid < 0) {
        material = roomMaterials[surface]!;
        classId = roomClass[surface]!;
        switch (surface) {
          case 0:
          case 1:
            ny = surface === 0 ? 1 : -1;
            tu = hx;
            tv = hz;
            break;
          case 2:
          case 3:
            nx = surface === 2 ? 1 : -1;
            tu = hz;
            tv = hy;
            break;
          default:
            nz = surface === 4 ? 1 : -1;
            tu = hx;
            tv = hy;
        }
      } else {
        const s = solids[solid]!;
        material = s.material;
        classId = s.classId;
        const face = surface - s.surface;
        if (s.kind === KIND_BOX) {
          const px = hx - s.cx;
          const pz = hz - s.cz;
          const l0 = s.cos * px - s.sin * pz;
          const l1 = hy - s.cy;
          const l2 = s.sin * px + s.cos * pz;
          const axis = face >> 1;
          const sign = face & 1 ? 1 : -1;
          // Local normal along `axis`, back to world: world = R_y(yaw) · local.
          if (axis === 0) {
            nx = sign * s.cos;
            nz = -sign * s.sin;
            tu = l2;
            tv = l1;
          } else if (axis === 1) {
            ny = sign;
            tu = l0;
            tv = l2;
          } else {
            nx = sign * s.sin;
            nz = sign * s.cos;
            tu = l0;
            tv = l1;
          }
        } else if (s.kind === KIND_SPHERE) {
          const px = hx - s.cx;
          const py = hy - s.cy;
          const pz = hz - s.cz;
          const n = Math.hypot(px, py, pz);
          nx = px / n;
          ny = py / n;
          nz = pz / n;
          tu = s.a * Math.atan2(pz, px);
          tv = py;
        } else {
          const px = hx - s.cx;
          const pz = hz - s.cz;
          if (face === 0) {
            const n = Math.hypot(px, pz);
            nx = px / n;
            nz = pz / n;
            tu = s.a * Math.atan2(pz, px);
            tv = hy - s.cy;
          } else {
            ny = 1;
            tu = px;
            tv = pz;
          }
        }
      }

      // Shading: ambient + Lambertian point light with cast shadows, times exposure.
      const m = pattern(material, tu, tv);
      const Lx = lx - hx;
      const Ly = ly - hy;
      const Lz = lz - hz;
      const dist2 = Lx * Lx + Ly * Ly + Lz * Lz;
      let direct = (nx * Lx + ny * Ly + nz * Lz) / Math.sqrt(dist2);
      if (direct > 0 && options.shadows) {
        const sx = hx + 1e-6 * nx;
        const sy = hy + 1e-6 * ny;
        const sz = hz + 1e-6 * nz;
        for (let k = 0; k < nSolids; k++) {
          // The light is at t = 1 along (L − origin); occluders lie in (0, 1).
          if (intersect(solids[k]!, sx, sy, sz, lx - sx, ly - sy, lz - sz, 1e-9) < 1) {
            direct = 0;
            break;
          }
        }
      }
      direct = direct > 0 ? (direct * light.intensity) / (1 + light.falloff * dist2) : 0;
      for (let ch = 0; ch < 3; ch++) {
        const albedo = material.base[ch]! + (material.alt[ch]! - material.base[ch]!) * m;
        let value = albedo * (light.ambient + direct * lightColour[ch]!) * scene.exposure;
        if (options.noiseStd > 0) value += noiseRng.normal(0, options.noiseStd);
        image[p * 3 + ch] = value < 0 ? 0 : value > 1 ? 1 : value;
      }

      segmentation[p] = classId;
      depth[p] = t;
      // Camera-frame normal: Rᵀ · n (R is orthonormal).
      normals[p * 3] = r00 * nx + r10 * ny + r20 * nz;
      normals[p * 3 + 1] = r01 * nx + r11 * ny + r21 * nz;
      normals[p * 3 + 2] = r02 * nx + r12 * ny + r22 * nz;
      if (surfaceOut !== undefined) surfaceOut[p] = surface;
    }
  }

  punchHoles(options, holeRng, depth, normals, offset);
  return { surfaces };
}

/**
 * Marks about `invalidFraction · H · W` pixels invalid (depth 0, normal 0) in 1×1 and 2×2 holes,
 * half of them centred on depth edges (a 4-neighbour more than 5% nearer or farther), where real
 * depth sensors lose their signal.
 */
function punchHoles(
  options: RenderOptions,
  rng: Rng,
  depth: Float32Array,
  normals: Float32Array,
  offset: number,
): void {
  const { height: H, width: W } = options;
  const target = Math.round(options.invalidFraction * H * W);
  if (target === 0) return;
  const edges: number[] = [];
  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      const d = depth[offset + v * W + u]!;
      const right = u + 1 < W ? depth[offset + v * W + u + 1]! : d;
      const down = v + 1 < H ? depth[offset + (v + 1) * W + u]! : d;
      if (Math.abs(right - d) > 0.05 * d || Math.abs(down - d) > 0.05 * d) edges.push(v * W + u);
    }
  }
  let invalid = 0;
  for (let attempt = 0; invalid < target && attempt < 8 * target; attempt++) {
    const centre =
      edges.length > 0 && rng.uniform() < 0.5
        ? edges[rng.int(0, edges.length)]!
        : rng.int(0, H * W);
    const size = rng.int(1, 3);
    const v0 = Math.floor(centre / W);
    const u0 = centre % W;
    for (let v = v0; v < Math.min(H, v0 + size); v++) {
      for (let u = u0; u < Math.min(W, u0 + size); u++) {
        const p = offset + v * W + u;
        if (depth[p] === 0) continue;
        depth[p] = 0;
        normals[p * 3] = 0;
        normals[p * 3 + 1] = 0;
        normals[p * 3 + 2] = 0;
        invalid++;
      }
    }
  }
}
