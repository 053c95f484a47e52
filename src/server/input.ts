/**
 * Reading a request that carries a query: either JSON (`{ "id": 12, "k": 20, … }`) or
 * multipart/form-data with a file field `image` and the same parameters as text fields.
 * Uploads are bounded (size from the server options, one file, a few small fields), checked to
 * be an image from their header only and refused above the pixel limit before anything decodes
 * them.
 */
import type { FastifyRequest } from 'fastify';
import { NitamonoError } from '../errors.js';
import { imageMetadata } from '../image/decode.js';
import { ApiError, badRequest } from './errors.js';

export interface Upload {
  buffer: Buffer;
  filename: string;
  width: number;
  height: number;
  format: string;
}

export interface RequestInput {
  fields: Record<string, unknown>;
  upload?: Upload;
}

export interface InputLimits {
  maxUploadBytes: number;
  maxPixels: number;
}

function mp(n: number): string {
  return n >= 10e6 ? `${Math.round(n / 1e6)}` : (n / 1e6).toFixed(1).replace(/\.0$/, '');
}

/** Header-only check of an uploaded image: format known, size within the pixel limit. */
export async function checkUpload(buffer: Buffer, filename: string, maxPixels: number): Promise<Upload> {
  if (buffer.length === 0) throw new ApiError(422, 'DECODE_FAILED', `${filename || 'upload'}: the file is empty`);
  let meta: Awaited<ReturnType<typeof imageMetadata>>;
  try {
    meta = await imageMetadata(buffer);
  } catch (err) {
    if (err instanceof NitamonoError) {
      throw new ApiError(422, err.code === 'TOO_LARGE' ? 'TOO_LARGE' : 'DECODE_FAILED', err.message.replace(/^<buffer>/, filename || 'upload'));
    }
    throw err;
  }
  if (maxPixels > 0 && meta.width * meta.height > maxPixels) {
    throw new ApiError(
      422,
      'TOO_LARGE',
      `${filename || 'upload'} is ${meta.width}×${meta.height} = ${mp(meta.width * meta.height)} MP, above this server's ${mp(maxPixels)} MP limit`,
    );
  }
  return { buffer, filename, width: meta.width, height: meta.height, format: meta.format };
}

/** Reads JSON or multipart input. The file field must be called `image`; at most one file. */
export async function readInput(req: FastifyRequest, limits: InputLimits): Promise<RequestInput> {
  if (req.isMultipart()) {
    const fields: Record<string, unknown> = {};
    let raw: { buffer: Buffer; filename: string } | undefined;
    let problem: ApiError | undefined;
    const parts = req.parts({
      limits: { fileSize: limits.maxUploadBytes, files: 1, fields: 16, fieldSize: 1024, parts: 20, fieldNameSize: 64 },
    });
    for await (const part of parts) {
      if (part.type === 'file') {
        // Always read the part to its end, so the request is consumed whatever we decide.
        const buffer = await part.toBuffer();
        if (part.fieldname !== 'image') problem ??= badRequest(`unexpected file field "${part.fieldname}" (the image goes in the field "image")`);
        else raw = { buffer, filename: part.filename ?? '' };
      } else {
        if (Object.hasOwn(fields, part.fieldname)) problem ??= badRequest(`field "${part.fieldname}" given twice`);
        if (part.valueTruncated) problem ??= badRequest(`field "${part.fieldname}" is too long`);
        fields[part.fieldname] = typeof part.value === 'string' ? part.value : String(part.value);
      }
    }
    if (problem) throw problem;
    if (Object.hasOwn(fields, 'image')) throw badRequest('the field "image" must be a file, not text');
    const out: RequestInput = { fields };
    if (raw) out.upload = await checkUpload(raw.buffer, raw.filename, limits.maxPixels);
    return out;
  }
  const body = req.body;
  if (body === undefined || body === null) {
    throw badRequest('send a JSON object (Content-Type: application/json) or multipart/form-data with an "image" file');
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the JSON body must be an object, e.g. { "id": 12, "k": 10 }');
  return { fields: { ...(body as Record<string, unknown>) } };
}
