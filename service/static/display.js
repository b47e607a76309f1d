// Display transforms: a layer's linear float pixels -> 8-bit RGBA for the canvas.
// They run once per change of exposure, view transform, layer or compare mode, never per pan
// or zoom (the viewports only redraw these images under a transform).
//
// A layer of pixels is {width, height, channels: [names], data: Float32Array (H, W, C)}, row
// 0 at the top, as GET /v1/jobs/{id}/pixels sends it.

// Relative difference |a-b| / (|b| + EPS): 0.01 as in the relative MSE loss the denoiser
// trains with, so dark pixels do not swamp the view with huge ratios.
export const REL_EPS = 0.01;

// sRGB's encoding (IEC 61966-2-1) of a linear value in [0, 1].
export function srgbEncode(v) {
  return v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

const clamp01 = (v) => (v > 0 ? (v < 1 ? v : 1) : 0);  // NaN -> 0 too

// Tables of the 8-bit result of a value in [0, 1] at 1/65535 steps (at most 0.03 of a byte
// off): a UHD frame is 25 million channel values, and Math.pow on each took seconds.
const STEPS = 65535;
function table(fn) {
  const bytes = new Uint8ClampedArray(STEPS + 1);
  for (let i = 0; i <= STEPS; i++) bytes[i] = 255 * fn(i / STEPS);
  return bytes;
}
const SRGB8 = table(srgbEncode);
const AGX8 = table((v) => srgbEncode(Math.pow(v, 2.2)));
const byte = (lut, v) => lut[(clamp01(v) * STEPS + 0.5) | 0];

// The filmic view: the minimal AgX fit (Benjamin Wrensch's polynomial fit of Troy Sobotka's
// AgX sigmoid, the "default" look, as in Blender 4 and three.js), for sRGB primaries. Linear
// RGB in, display-encoded RGB in [0, 1] out. Unlike sRGB (clip) it rolls highlights off
// instead of clipping them and desaturates them toward white, so that bright
// fireflies and lamps stay readable at any exposure.
const AGX_MIN_EV = -12.47393;  // log2(2^-10 * 0.18): 10 stops under middle grey
const AGX_MAX_EV = 4.026069;   // log2(2^6.5 * 0.18): 6.5 stops over it
// The inset matrix (rows), and the outset (its approximate inverse) that undoes it.
const AGX_IN = [0.842479062253094, 0.0784335999999992, 0.0792237451477643,
                0.0423282422610123, 0.878468636469772, 0.0791661274605434,
                0.0423756549057051, 0.0784336, 0.879142973793104];
const AGX_OUT = [1.19687900512017, -0.0980208811401368, -0.0990297440797205,
                 -0.0528968517574562, 1.15190312990417, -0.0989611768448433,
                 -0.0529716355144438, -0.0980434501171241, 1.15107367264116];

function agxContrast(x) {  // the sigmoid's 6th-order polynomial fit on [0, 1]
  const x2 = x * x, x4 = x2 * x2;
  return 15.5 * x4 * x2 - 40.14 * x4 * x + 31.96 * x4 - 6.868 * x2 * x + 0.4298 * x2
    + 0.1191 * x - 0.00232;
}

function agxChannel(v) {
  const ev = Math.log2(Math.max(v, 1e-10));
  const clamped = Math.min(Math.max(ev, AGX_MIN_EV), AGX_MAX_EV);
  const t = (clamped - AGX_MIN_EV) / (AGX_MAX_EV - AGX_MIN_EV);
  return agxContrast(t);
}

// Writes AgX(r, g, b) (three display-encoded bytes) into out at j.
function agx(r, g, b, out, j) {
  const m = AGX_IN, n = AGX_OUT;
  const x = agxChannel(m[0] * r + m[1] * g + m[2] * b);
  const y = agxChannel(m[3] * r + m[4] * g + m[5] * b);
  const z = agxChannel(m[6] * r + m[7] * g + m[8] * b);
  // The outset gives values for a 2.2 power display; linearise and encode as sRGB, which is
  // what the canvas expects (the AGX8 table).
  for (let c = 0; c < 3; c++) {
    out[j + c] = byte(AGX8, n[3 * c] * x + n[3 * c + 1] * y + n[3 * c + 2] * z);
  }
}

// The three source channels to show for a layer of C channels: RGB as is, one channel as
// grey, two as red and green (blue 0, marked -1).
function sources(channels) {
  if (channels >= 3) return [0, 1, 2];
  if (channels === 2) return [0, 1, -1];
  return [0, 0, 0];
}

// The finite min and max over the given layers (depth is shown normalised to them; the
// same range for noisy and denoised, so that they compare).
export function range(...layers) {
  let lo = Infinity, hi = -Infinity;
  for (const layer of layers) {
    if (!layer) continue;
    for (const v of layer.data) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? { lo, hi } : { lo: 0, hi: 1 };
}

// The 8-bit RGBA (ImageData) of one layer for display.
//   kind "color": linear radiance, times 2^exposure, then the view transform (srgb or agx);
//   "albedo": reflectance in [0, 1], sRGB-encoded, no exposure (it is not light);
//   "normal": n * 0.5 + 0.5 per channel, no encoding (the usual normal-map look);
//   "alpha" and "data": values as they are, clipped to [0, 1] (one channel as grey);
//   "depth": normalised to depthRange (the finite min/max), near dark, far bright.
// (Bytes are stored into a Uint8ClampedArray, which rounds to nearest by itself.)
export function displayImage(layer, kind, { exposure = 0, transform = "srgb", depthRange } = {}) {
  const { width, height, data } = layer;
  const C = layer.channels.length;
  const out = new ImageData(width, height);
  const dst = out.data;
  const [s0, s1, s2] = sources(C);
  const n = width * height;
  if (kind === "color") {
    const scale = Math.pow(2, exposure);
    for (let p = 0, i = 0, j = 0; p < n; p++, i += C, j += 4) {
      const r = data[i + s0] * scale, g = data[i + s1] * scale;
      const b = s2 < 0 ? 0 : data[i + s2] * scale;
      if (transform === "agx") {
        agx(r, g, b, dst, j);
      } else {
        dst[j] = byte(SRGB8, r);
        dst[j + 1] = byte(SRGB8, g);
        dst[j + 2] = byte(SRGB8, b);
      }
      dst[j + 3] = 255;
    }
    return out;
  }
  let map;
  if (kind === "albedo") map = (v) => byte(SRGB8, v);
  else if (kind === "normal") map = (v) => 255 * clamp01(v * 0.5 + 0.5);
  else if (kind === "depth") {
    const { lo, hi } = depthRange || range(layer);
    const span = hi > lo ? hi - lo : 1;
    map = (v) => 255 * clamp01((v - lo) / span);
  } else map = (v) => 255 * clamp01(v);
  for (let p = 0, i = 0, j = 0; p < n; p++, i += C, j += 4) {
    dst[j] = map(data[i + s0]);
    dst[j + 1] = map(data[i + s1]);
    dst[j + 2] = s2 < 0 ? 0 : map(data[i + s2]);
    dst[j + 3] = 255;
  }
  return out;
}

// The 8-bit RGBA of the difference of two layers of one shape, per channel:
// |a - b| (relative: / (|b| + REL_EPS)) times scale, shown linearly (a grey level of g/255
// is a difference of g/255/scale), so identical layers are black.
export function differenceImage(a, b, { relative = false, scale = 1 } = {}) {
  const { width, height } = a;
  const C = a.channels.length;
  const out = new ImageData(width, height);
  const dst = out.data, x = a.data, y = b.data;
  const [s0, s1, s2] = sources(C);
  const diff = (i) => {
    const d = Math.abs(x[i] - y[i]);
    return 255 * clamp01((relative ? d / (Math.abs(y[i]) + REL_EPS) : d) * scale);
  };
  for (let p = 0, i = 0, j = 0; p < width * height; p++, i += C, j += 4) {
    dst[j] = diff(i + s0);
    dst[j + 1] = diff(i + s1);
    dst[j + 2] = s2 < 0 ? 0 : diff(i + s2);
    dst[j + 3] = 255;
  }
  return out;
}
