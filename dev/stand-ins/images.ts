import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { PNG } from 'pngjs';

/*
 * Real, decodable images whose pixels are random, so every call yields different bytes (tests check that
 * stored images are unique) and PNG noise does not compress away (benchmarks want realistic answer sizes).
 * JPEG and WebP are written by hand because no encoder for them is installed; both are tiny.
 */

/** An RGB PNG of random noise: about 3 bytes per pixel whatever the compression. */
export function noisePng(width: number, height: number): Buffer {
  const png = new PNG(); // given no size, it skips allocating an RGBA buffer we would throw away
  Object.assign(png, { width, height, data: randomBytes(width * height * 3) });
  return PNG.sync.write(png, {
    colorType: 2,
    inputColorType: 2,
    inputHasAlpha: false,
    filterType: 0,
    deflateLevel: 1,
  });
}

/** An image as a stand-in sends it: base64 in pieces (written one after another) and the decoded bytes' SHA-256. */
export interface EncodedImage {
  base64: Buffer[];
  sha256: string;
}

/**
 * Copies of one PNG made unique by a text chunk before IEND: far cheaper than encoding another large image, so a
 * stand-in answering many large images does not become the bottleneck of what it measures. Everything before the
 * chunk is the same in every copy, so its base64 and its share of the hash are computed once.
 */
export function pngStamper(png: Buffer): (text: string) => EncodedImage {
  const iend = png.length - 12;
  const shared = iend - (iend % 3); // base64 of a multiple of 3 bytes stands alone
  const sharedBase64 = Buffer.from(png.subarray(0, shared).toString('base64'), 'latin1');
  const hashedBeforeChunk = createHash('sha256').update(png.subarray(0, iend));
  return (text) => {
    const chunk = textChunk(text);
    const tail = Buffer.concat([png.subarray(shared, iend), chunk, png.subarray(iend)]);
    const sha256 = hashedBeforeChunk.copy().update(chunk).update(png.subarray(iend)).digest('hex');
    return { base64: [sharedBase64, Buffer.from(tail.toString('base64'), 'latin1')], sha256 };
  };
}

function textChunk(text: string): Buffer {
  const data = Buffer.from(`Comment\0${text}`, 'latin1');
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write('tEXt', 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

const JPEG_BLOCKS = 16;

/** A 128x8 greyscale baseline JPEG made of 16 flat 8x8 blocks with random grey levels. */
export function noiseJpeg(): Buffer {
  const greys = randomBytes(JPEG_BLOCKS);
  const width = JPEG_BLOCKS * 8;
  const height = 8;
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    jpegSegment(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0])), // JFIF 1.01
    // Quantisation table of ones, so a flat block's DC coefficient is exactly 8 * (grey - 128).
    jpegSegment(0xdb, Buffer.from([0, ...new Array<number>(64).fill(1)])),
    jpegSegment(0xc0, Buffer.from([8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0])),
    // DC table: categories 0..11 all get 4-bit codes, so category n is coded as n on 4 bits.
    jpegSegment(0xc4, Buffer.from([0x00, 0, 0, 0, 12, ...new Array<number>(12).fill(0), ...range(12)])),
    // AC table: only end-of-block, coded as a single 0 bit.
    jpegSegment(0xc4, Buffer.from([0x10, 1, ...new Array<number>(15).fill(0), 0x00])),
    jpegSegment(0xda, Buffer.from([1, 1, 0x00, 0, 63, 0])),
    jpegScan(greys),
    Buffer.from([0xff, 0xd9]),
  ]);
}

function jpegSegment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

function jpegScan(greys: Uint8Array): Buffer {
  const bits = new MsbFirstBitWriter();
  let previousDc = 0;
  for (const grey of greys) {
    const dc = 8 * (grey - 128);
    const diff = dc - previousDc;
    previousDc = dc;
    const category = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
    bits.write(category, 4);
    bits.write(diff >= 0 ? diff : diff + (1 << category) - 1, category);
    bits.write(0, 1); // end of block: no AC coefficients
  }
  return bits.finishJpegEntropyData();
}

class MsbFirstBitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private used = 0;

  write(value: number, count: number): void {
    for (let bit = count - 1; bit >= 0; bit--) {
      this.current = (this.current << 1) | ((value >> bit) & 1);
      if (++this.used === 8) this.flushByte();
    }
  }

  /** Pads with one bits and stuffs a zero after every 0xFF, as JPEG entropy-coded data requires. */
  finishJpegEntropyData(): Buffer {
    if (this.used > 0) this.write(0xff, 8 - this.used);
    return Buffer.from(this.bytes.flatMap((byte) => (byte === 0xff ? [0xff, 0x00] : [byte])));
  }

  private flushByte(): void {
    this.bytes.push(this.current);
    this.current = 0;
    this.used = 0;
  }
}

const WEBP_SIDE = 8;

/**
 * An 8x8 lossless WebP (VP8L). Green, red and blue each use a two-symbol prefix code, so every pixel
 * costs three bits choosing between two random levels per channel; alpha and distance use one symbol.
 */
export function noiseWebp(): Buffer {
  const bits = new LsbFirstBitWriter();
  bits.write(0x2f, 8); // VP8L signature
  bits.write(WEBP_SIDE - 1, 14);
  bits.write(WEBP_SIDE - 1, 14);
  bits.write(0, 1); // alpha not used
  bits.write(0, 3); // version
  bits.write(0, 1); // no transform
  bits.write(0, 1); // no colour cache
  bits.write(0, 1); // no meta prefix codes
  const [green, red, blue] = [...randomBytes(3)].map((level) => [level & 0x7f, level | 0x80]);
  for (const [low, high] of [green, red, blue]) writeTwoSymbolCode(bits, low, high);
  writeOneSymbolCode(bits, 0xff); // alpha
  writeOneSymbolCode(bits, 0); // distance, never used
  // Per pixel: green, red, blue; the lower symbol has code 0.
  for (const byte of randomBytes((WEBP_SIDE * WEBP_SIDE * 3) / 8)) bits.write(byte, 8);
  return riffWebp(bits.finish());
}

function writeOneSymbolCode(bits: LsbFirstBitWriter, symbol: number): void {
  bits.write(1, 1); // simple code
  bits.write(0, 1); // one symbol
  bits.write(1, 1); // 8-bit symbol
  bits.write(symbol, 8);
}

function writeTwoSymbolCode(bits: LsbFirstBitWriter, first: number, second: number): void {
  bits.write(1, 1); // simple code
  bits.write(1, 1); // two symbols
  bits.write(1, 1); // first symbol on 8 bits
  bits.write(first, 8);
  bits.write(second, 8);
}

function riffWebp(vp8l: Buffer): Buffer {
  const chunk = Buffer.concat([Buffer.from('VP8L'), uint32le(vp8l.length), vp8l, Buffer.alloc(vp8l.length % 2)]);
  return Buffer.concat([Buffer.from('RIFF'), uint32le(4 + chunk.length), Buffer.from('WEBP'), chunk]);
}

function uint32le(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

class LsbFirstBitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private used = 0;

  write(value: number, count: number): void {
    for (let bit = 0; bit < count; bit++) {
      this.current |= ((value >> bit) & 1) << this.used;
      if (++this.used === 8) {
        this.bytes.push(this.current);
        this.current = 0;
        this.used = 0;
      }
    }
  }

  finish(): Buffer {
    return Buffer.from(this.used > 0 ? [...this.bytes, this.current] : this.bytes);
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}
