/**
 * Draws the Teams app icons with Node only (no image library):
 *   manifest/color.png    192×192, full colour: a white person silhouette on the accent colour
 *   manifest/outline.png   32×32, the same silhouette as a white outline on a transparent background
 * Run: `npx tsx scripts/makeIcons.ts`. The PNGs are committed; re-run only when the design changes.
 *
 * Also exports the small PNG encoder/decoder and CRC-32 that scripts/packageManifest.ts uses to check the icons.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export const ACCENT_COLOR = '#2F5597';
export const MANIFEST_DIR = path.resolve(__dirname, '..', 'manifest');

// ---------------------------------------------------------------------------------------------------------------
// CRC-32 (ISO-HDLC, as PNG chunks and ZIP entries use)

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// PNG

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An 8-bit RGBA image, rows top to bottom, 4 bytes per pixel. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes an RGBA image as a non-interlaced 8-bit truecolour-with-alpha PNG (filter 0 on every row). */
export function encodePng(image: RgbaImage): Buffer {
  const { width, height, pixels } = image;
  if (pixels.length !== width * height * 4) throw new Error('encodePng: pixel buffer does not match the size');
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method
  ihdr[12] = 0; // no interlace
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type None
    Buffer.from(pixels.buffer, pixels.byteOffset + y * stride, stride).copy(raw, y * (stride + 1) + 1);
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly colorType: number;
  readonly interlace: number;
}

/** Reads the IHDR chunk; throws when the bytes are not a PNG. */
export function readPngHeader(png: Uint8Array): PngHeader {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 33 || !buf.subarray(0, 8).equals(PNG_SIGNATURE) || buf.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error('not a PNG file');
  }
  return {
    width: buf.readUInt32BE(16),
    height: buf.readUInt32BE(20),
    bitDepth: buf[24]!,
    colorType: buf[25]!,
    interlace: buf[28]!,
  };
}

/**
 * Decodes a non-interlaced 8-bit RGB or RGBA PNG (what icon editors export) into RGBA.
 * Other layouts throw: callers decide whether that matters.
 */
export function decodePng(png: Uint8Array): RgbaImage {
  const header = readPngHeader(png);
  const channels = header.colorType === 6 ? 4 : header.colorType === 2 ? 3 : 0;
  if (header.bitDepth !== 8 || channels === 0 || header.interlace !== 0) {
    throw new Error(
      `unsupported PNG layout (bit depth ${header.bitDepth}, colour type ${header.colorType}, interlace ${header.interlace})`,
    );
  }
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const idat: Buffer[] = [];
  for (let at = 8; at + 12 <= buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (type === 'IDAT') idat.push(buf.subarray(at + 8, at + 8 + length));
    if (type === 'IEND') break;
    at += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const { width, height } = header;
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) throw new Error('truncated PNG image data');
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = new Uint8Array(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let predictor: number;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`bad PNG filter type ${filter} in row ${y}`);
      }
      line[i] = (line[i]! + predictor) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      out[o] = line[x * channels]!;
      out[o + 1] = line[x * channels + 1]!;
      out[o + 2] = line[x * channels + 2]!;
      out[o + 3] = channels === 4 ? line[x * channels + 3]! : 255;
    }
    prev = line;
  }
  return { width, height, pixels: out };
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing: shapes are signed distance functions in a unit square (negative inside), rendered with 4×4 supersampling.

type Sdf = (x: number, y: number) => number;

const circle = (cx: number, cy: number, r: number): Sdf => (x, y) => Math.hypot(x - cx, y - cy) - r;

/** Approximate distance to an ellipse (exact enough for icons at these sizes). */
const ellipse = (cx: number, cy: number, rx: number, ry: number): Sdf => (x, y) =>
  (Math.hypot((x - cx) / rx, (y - cy) / ry) - 1) * Math.min(rx, ry);

const intersect = (a: Sdf, b: Sdf): Sdf => (x, y) => Math.max(a(x, y), b(x, y));
const union = (...shapes: Sdf[]): Sdf => (x, y) => Math.min(...shapes.map((s) => s(x, y)));
const above = (limit: number): Sdf => (_x, y) => y - limit;

/** The person silhouette: a head and rounded shoulders cut flat at the bottom. */
function person(): { head: Sdf; body: Sdf } {
  return {
    head: circle(0.5, 0.33, 0.155),
    body: intersect(ellipse(0.5, 0.86, 0.31, 0.3), above(0.8)),
  };
}

function render(size: number, coverage: (x: number, y: number) => number, paint: (alpha: number) => [number, number, number, number]): RgbaImage {
  const pixels = new Uint8Array(size * size * 4);
  const n = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let hits = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          hits += coverage((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size);
        }
      }
      const [r, g, b, a] = paint(hits / (n * n));
      pixels.set([r, g, b, a], (py * size + px) * 4);
    }
  }
  return { width: size, height: size, pixels };
}

function hexToRgb(hex: string): [number, number, number] {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
}

/** 192×192: white silhouette on the accent colour, full bleed (Teams rounds the corners itself). */
export function drawColorIcon(size = 192): RgbaImage {
  const { head, body } = person();
  // Keep the glyph inside the central area Teams recommends, with room around it.
  const scale = 0.78;
  const shape = union(head, body);
  const glyph: Sdf = (x, y) => shape(0.5 + (x - 0.5) / scale, 0.5 + (y - 0.5) / scale);
  const [br, bg, bb] = hexToRgb(ACCENT_COLOR);
  return render(size, (x, y) => (glyph(x, y) <= 0 ? 1 : 0), (t) => [
    Math.round(br + (255 - br) * t),
    Math.round(bg + (255 - bg) * t),
    Math.round(bb + (255 - bb) * t),
    255,
  ]);
}

/** 32×32: the silhouette's outline in white on a transparent background (white and transparency only). */
export function drawOutlineIcon(size = 32): RgbaImage {
  const { head, body } = person();
  const half = 1.9 / size / 2; // stroke about 1.9 px wide
  const ring = (s: Sdf) => (x: number, y: number) => (Math.abs(s(x, y)) <= half ? 1 : 0);
  const headRing = ring(head);
  const bodyRing = ring(body);
  return render(size, (x, y) => Math.max(headRing(x, y), bodyRing(x, y)), (t) => [255, 255, 255, Math.round(255 * t)]);
}

export function writeIcons(dir = MANIFEST_DIR): { color: string; outline: string } {
  fs.mkdirSync(dir, { recursive: true });
  const color = path.join(dir, 'color.png');
  const outline = path.join(dir, 'outline.png');
  fs.writeFileSync(color, encodePng(drawColorIcon()));
  fs.writeFileSync(outline, encodePng(drawOutlineIcon()));
  return { color, outline };
}

if (require.main === module) {
  const written = writeIcons();
  console.log(`wrote ${path.relative(process.cwd(), written.color)} and ${path.relative(process.cwd(), written.outline)}`);
}
