import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/**
 * What the demo's Gemini stand-in answers when asked for a variation: the source itself, its hues turned by a
 * different angle for each image and every other one mirrored, so a person sees the same scene made anew.
 */

interface Pixels {
  width: number;
  height: number;
  /** RGBA. */
  data: Buffer;
}

/** A PNG variation of a PNG or JPEG source; undefined for a type this cannot decode. */
export function variationOf(source: Buffer, mimeType: string, index: number): Buffer | undefined {
  const pixels = decode(source, mimeType);
  return pixels && PNG.sync.write(turned(pixels, index) as PNG);
}

function decode(bytes: Buffer, mimeType: string): Pixels | undefined {
  try {
    if (mimeType === 'image/jpeg') return jpeg.decode(bytes, { useTArray: false, formatAsRGBA: true }) as Pixels;
    if (mimeType === 'image/png') return PNG.sync.read(bytes);
  } catch {
    return undefined;
  }
  return undefined;
}

function turned(source: Pixels, index: number): Pixels {
  const angle = ((index * 137.5 + 60) % 360) * (Math.PI / 180);
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  // The standard luminance-preserving hue-rotation matrix.
  const m = [
    0.213 + cos * 0.787 - sin * 0.213,
    0.715 - cos * 0.715 - sin * 0.715,
    0.072 - cos * 0.072 + sin * 0.928,
    0.213 - cos * 0.213 + sin * 0.143,
    0.715 + cos * 0.285 + sin * 0.14,
    0.072 - cos * 0.072 - sin * 0.283,
    0.213 - cos * 0.213 - sin * 0.787,
    0.715 - cos * 0.715 + sin * 0.715,
    0.072 + cos * 0.928 + sin * 0.072,
  ] as const;
  const out = new PNG({ width: source.width, height: source.height });
  const mirror = index % 2 === 1;
  for (let y = 0; y < source.height; y++) {
    for (let x = 0; x < source.width; x++) {
      const from = (y * source.width + (mirror ? source.width - 1 - x : x)) * 4;
      const to = (y * source.width + x) * 4;
      const [r, g, b] = [source.data[from]!, source.data[from + 1]!, source.data[from + 2]!];
      out.data[to] = clamp(m[0] * r + m[1] * g + m[2] * b);
      out.data[to + 1] = clamp(m[3] * r + m[4] * g + m[5] * b);
      out.data[to + 2] = clamp(m[6] * r + m[7] * g + m[8] * b);
      out.data[to + 3] = source.data[from + 3]!;
    }
  }
  return out;
}

const clamp = (value: number) => Math.max(0, Math.min(255, Math.round(value)));
