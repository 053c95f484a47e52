/**
 * Image decoding with sharp: every supported format becomes 8-bit sRGB, 3 bytes a pixel,
 * EXIF orientation applied, alpha flattened onto white, first frame of animations.
 *
 * Everything that goes wrong becomes a NitamonoError with a code the CLI and the server can map:
 *   NOT_FOUND / IO   the file cannot be read;
 *   DECODE_FAILED    empty, truncated, corrupt, not an image, or a format we do not accept;
 *   TOO_LARGE        width × height above `maxPixels` (checked from the header, before any decoding).
 */
import { readFile } from 'node:fs/promises';
import type { Metadata as SharpMetadata, SharpOptions } from 'sharp';
import sharp from 'sharp';
import { invalid, NitamonoError } from '../errors.js';
import { featureImageSize } from './color.js';

/** 100 MP: a 20000×20000 decompression bomb (400 MP) is refused from its header. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** The formats decodeImage accepts (as reported in `DecodedImage.format`). */
export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'svg'] as const;
export type ImageFormat = (typeof SUPPORTED_FORMATS)[number];

export type ResizeFit = 'fill' | 'inside';

export interface ResizeOptions {
  width: number;
  height: number;
  /** 'fill' stretches to exactly width×height; 'inside' keeps the aspect ratio within the box. */
  fit: ResizeFit;
  /** Default: true for 'inside' (small images stay as they are), false for 'fill'. */
  withoutEnlargement?: boolean;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (from the header, before decoding). Default 100 MP. */
  maxPixels?: number;
  /**
   * Target size, or a function of the displayed (EXIF-oriented) size read from the header that
   * returns one (or null for no resize) — so a size can depend on the image's aspect ratio.
   */
  resize?: ResizeOptions | ((width: number, height: number) => ResizeOptions | null);
}

export interface DecodedImage {
  /** RGB, 3 bytes per pixel, row-major, `width × height` pixels. */
  data: Uint8Array;
  width: number;
  height: number;
  /** Size of the image as displayed (after EXIF orientation), before any resize. */
  originalWidth: number;
  originalHeight: number;
  format: string;
}

export interface ImageMetadata {
  /** As displayed, i.e. after EXIF orientation. */
  width: number;
  height: number;
  format: string;
  /** EXIF orientation tag (1–8) if present. */
  orientation?: number;
  /** Number of frames/pages for animated GIF / multi-page TIFF, if the format says. */
  pages?: number;
}

/** How inputs are named in error messages and results when they are not files. */
export const BUFFER_NAME = '<buffer>';

/** Name of an input for messages: the path as given, or '<buffer>'. */
export function inputName(input: string | Buffer): string {
  return typeof input === 'string' ? input : BUFFER_NAME;
}

// sharp's input options shared by every pipeline here.
function sharpOptions(maxPixels: number): SharpOptions {
  return {
    // 'truncated' refuses truncated files (premature end of JPEG, libpng read error) but keeps
    // images with harmless libjpeg warnings such as extraneous bytes before a marker.
    failOn: 'truncated',
    limitInputPixels: maxPixels > 0 ? Math.floor(maxPixels) : false,
    sequentialRead: true,
    pages: 1,
    page: 0,
  };
}

/** Reads a file (or passes a Buffer through), mapping fs errors to NOT_FOUND / IO. */
export async function readInput(input: string | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(input)) return input;
  if (typeof input !== 'string' || input.length === 0) throw invalid('image input must be a file path or a Buffer');
  try {
    return await readFile(input);
  } catch (err) {
    throw fsError(input, err);
  }
}

function fsError(path: string, err: unknown): NitamonoError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new NitamonoError('NOT_FOUND', `${path}: no such file`, { cause: err });
    case 'ENOTDIR':
      return new NitamonoError('NOT_FOUND', `${path}: no such file (a parent is not a directory)`, { cause: err });
    case 'EISDIR':
      return new NitamonoError('IO', `${path}: cannot read, it is a directory`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new NitamonoError('IO', `${path}: cannot read, permission denied`, { cause: err });
    default: {
      const msg = err instanceof Error ? err.message : String(err);
      return new NitamonoError('IO', `${path}: cannot read (${msg})`, { cause: err });
    }
  }
}

/** Recognises a few formats sharp cannot decode, so the message can say which. */
function sniffUnsupported(buf: Buffer): string | undefined {
  const ascii = (start: number, s: string) => buf.length >= start + s.length && buf.toString('latin1', start, start + s.length) === s;
  if (ascii(0, 'BM') && buf.length >= 26) return 'BMP';
  if (buf.length >= 4 && buf[0] === 0 && buf[1] === 0 && (buf[2] === 1 || buf[2] === 2) && buf[3] === 0) return 'ICO/CUR';
  if (ascii(0, '8BPS')) return 'PSD';
  if (ascii(0, '%PDF')) return 'PDF';
  if (ascii(4, 'ftyp')) {
    const brand = buf.toString('latin1', 8, 12);
    if (/^(heic|heix|hevc|hevx|heim|heis)$/.test(brand)) return 'HEIC';
    if (/^(qt {2}|isom|mp4[12]|M4V |3gp)/.test(brand)) return 'video (MP4/MOV)';
  }
  if (ascii(0, 'RIFF') && !ascii(8, 'WEBP')) return 'RIFF (AVI/WAV)';
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0x0a) return 'JPEG XL';
  if (ascii(4, 'jP  ') || (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0x4f && buf[2] === 0xff && buf[3] === 0x51)) return 'JPEG 2000';
  if (buf.length >= 2 && buf[0] === 0x50 && buf[1] >= 0x31 && buf[1] <= 0x37 && (buf[2] === 0x0a || buf[2] === 0x20 || buf[2] === 0x0d)) return 'PNM';
  if (ascii(0, 'PK\u0003\u0004')) return 'ZIP archive';
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip archive';
  return undefined;
}

/** True when the first bytes look like text (no NULs, nearly all printable ASCII/UTF-8). */
function looksLikeText(buf: Buffer): boolean {
  const n = Math.min(buf.length, 1024);
  if (n === 0) return false;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === 0) return false;
    if (c < 9 || (c > 13 && c < 32) || c === 127) bad++;
  }
  return bad / n < 0.02;
}

function notAnImage(name: string, why: string, cause?: unknown): NitamonoError {
  return new NitamonoError('DECODE_FAILED', `${name}: not a supported image (${why})`, { cause });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function tooLarge(name: string, w: number, h: number, maxPixels: number): NitamonoError {
  const mp = (n: number) => (n >= 1e7 ? Math.round(n / 1e6).toString() : String(Number((n / 1e6).toPrecision(2))));
  return new NitamonoError('TOO_LARGE', `${name} is ${w}×${h} = ${mp(w * h)} MP, above the ${mp(maxPixels)} MP limit`);
}

interface Probe {
  meta: SharpMetadata;
  format: ImageFormat;
  /** Displayed size (after EXIF orientation). */
  width: number;
  height: number;
}

/** Reads only the header: format, size, orientation. Throws DECODE_FAILED for non-images. */
async function probe(buf: Buffer, name: string, maxPixels: number): Promise<Probe> {
  if (buf.length === 0) throw notAnImage(name, 'file is empty');
  let meta: SharpMetadata;
  try {
    meta = await sharp(buf, { ...sharpOptions(0) }).metadata();
  } catch (err) {
    const msg = errorMessage(err);
    if (/unsupported image format/i.test(msg)) {
      const sniffed = sniffUnsupported(buf);
      if (sniffed) throw notAnImage(name, `${sniffed} is not a supported format`, err);
      if (looksLikeText(buf)) throw notAnImage(name, 'the file is text, not an image', err);
      throw notAnImage(name, 'unrecognised file format', err);
    }
    throw new NitamonoError('DECODE_FAILED', `${name}: corrupt image header (${msg})`, { cause: err });
  }
  let format: ImageFormat;
  switch (meta.format) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
    case 'tiff':
    case 'svg':
      format = meta.format;
      break;
    case 'heif':
      if (meta.compression === 'av1') {
        format = 'avif';
        break;
      }
      throw notAnImage(name, `HEIF/${(meta.compression ?? 'unknown').toUpperCase()} is not a supported format`);
    default:
      throw notAnImage(name, `${String(meta.format).toUpperCase()} is not a supported format`);
  }
  const w = meta.width ?? 0;
  const h = meta.pageHeight ?? meta.height ?? 0;
  if (!(w > 0 && h > 0)) throw new NitamonoError('DECODE_FAILED', `${name}: image header has no size`);
  if (maxPixels > 0 && w * h > maxPixels) throw tooLarge(name, w, h, maxPixels);
  const swap = (meta.orientation ?? 1) >= 5;
  return { meta, format, width: swap ? h : w, height: swap ? w : h };
}

function decodeError(name: string, format: string, err: unknown, maxPixels: number, p: Probe): NitamonoError {
  if (err instanceof NitamonoError) return err;
  const msg = errorMessage(err);
  if (/pixel limit/i.test(msg)) return tooLarge(name, p.width, p.height, maxPixels);
  if (/premature end|truncated|read error|unexpected end|not enough data|end of file|EOF/i.test(msg)) {
    return new NitamonoError('DECODE_FAILED', `${name}: truncated or corrupt ${format.toUpperCase()} (${msg})`, { cause: err });
  }
  return new NitamonoError('DECODE_FAILED', `${name}: cannot decode ${format.toUpperCase()} (${msg})`, { cause: err });
}

function checkResize(r: ResizeOptions): void {
  for (const k of ['width', 'height'] as const) {
    const v = r[k];
    if (!Number.isInteger(v) || v < 1 || v > 16384) throw invalid(`resize.${k} must be an integer in 1..16384, got ${v}`);
  }
  if (r.fit !== 'fill' && r.fit !== 'inside') throw invalid(`resize.fit must be 'fill' or 'inside', got ${String(r.fit)}`);
}

function checkMaxPixels(maxPixels: number): void {
  if (!(Number.isFinite(maxPixels) && maxPixels >= 0)) throw invalid(`maxPixels must be a non-negative number, got ${maxPixels}`);
}

/**
 * Decodes an image file or Buffer to 8-bit RGB.
 * With `resize`, sharp shrinks on load where the format allows (JPEG decodes at 1/2, 1/4, 1/8 scale;
 * WebP and SVG render smaller), so a small target size is much cheaper than a full decode.
 */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const name = inputName(input);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  checkMaxPixels(maxPixels);
  if (opts.resize && typeof opts.resize !== 'function') checkResize(opts.resize);
  const buf = await readInput(input);
  const p = await probe(buf, name, maxPixels);
  const r = typeof opts.resize === 'function' ? opts.resize(p.width, p.height) : opts.resize;
  if (r && typeof opts.resize === 'function') checkResize(r);
  try {
    let img = sharp(buf, sharpOptions(maxPixels)).rotate().flatten({ background: '#ffffff' });
    if (r) {
      img = img.resize(r.width, r.height, {
        fit: r.fit,
        withoutEnlargement: r.withoutEnlargement ?? r.fit === 'inside',
      });
    }
    const { data, info } = await img.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new NitamonoError('DECODE_FAILED', `${name}: decoder returned ${info.channels} channels, expected 3`);
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      originalWidth: p.width,
      originalHeight: p.height,
      format: p.format,
    };
  } catch (err) {
    throw decodeError(name, p.format, err, maxPixels, p);
  }
}

/**
 * The one decode that feeds every feature (see COLOR_SIZE in color.ts): shorter side 224, long
 * side ≤ 1024, never enlarged, stretched exactly to that size (aspect ratio kept up to rounding).
 */
export function decodeFeatureImage(input: string | Buffer, opts: { maxPixels?: number } = {}): Promise<DecodedImage> {
  return decodeImage(input, {
    ...opts,
    resize: (w, h) => {
      const t = featureImageSize(w, h);
      return t.width === w && t.height === h ? null : { width: t.width, height: t.height, fit: 'fill' };
    },
  });
}

/** Header-only read: displayed width/height (EXIF orientation applied) and format. No pixel limit. */
export async function imageMetadata(input: string | Buffer): Promise<ImageMetadata> {
  const buf = await readInput(input);
  const p = await probe(buf, inputName(input), 0);
  const out: ImageMetadata = { width: p.width, height: p.height, format: p.format };
  if (p.meta.orientation !== undefined) out.orientation = p.meta.orientation;
  if (p.meta.pages !== undefined) out.pages = p.meta.pages;
  return out;
}

export interface ThumbnailOptions {
  format?: 'jpeg' | 'webp';
  /** Encoder quality 1–100. Default 80. */
  quality?: number;
  maxPixels?: number;
}

/**
 * A thumbnail that fits in size×size (never enlarged), EXIF-rotated, alpha flattened onto white,
 * metadata stripped. JPEG by default, or WebP.
 */
export async function makeThumbnail(input: string | Buffer, size = 256, opts: ThumbnailOptions = {}): Promise<Buffer> {
  if (!Number.isInteger(size) || size < 1 || size > 4096) throw invalid(`thumbnail size must be an integer in 1..4096, got ${size}`);
  const name = inputName(input);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  checkMaxPixels(maxPixels);
  const quality = opts.quality ?? 80;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw invalid(`thumbnail quality must be 1..100, got ${quality}`);
  const buf = await readInput(input);
  const p = await probe(buf, name, maxPixels);
  try {
    const img = sharp(buf, sharpOptions(maxPixels))
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb');
    return opts.format === 'webp' ? await img.webp({ quality }).toBuffer() : await img.jpeg({ quality, mozjpeg: false }).toBuffer();
  } catch (err) {
    throw decodeError(name, p.format, err, maxPixels, p);
  }
}

/**
 * Resizes a raw RGB buffer (3 bytes/pixel) — used to derive the 224×224 CNN input from the
 * already-decoded feature image without decoding the file twice.
 */
export async function resizeRgb(
  rgb: Uint8Array,
  width: number,
  height: number,
  target: ResizeOptions,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  checkResize(target);
  if (rgb.length !== width * height * 3) throw invalid(`rgb buffer has ${rgb.length} bytes, expected ${width}×${height}×3`);
  if (width === target.width && height === target.height) return { data: rgb, width, height };
  const { data, info } = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize(target.width, target.height, {
      fit: target.fit,
      withoutEnlargement: target.withoutEnlargement ?? target.fit === 'inside',
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}
