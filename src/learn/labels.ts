/**
 * Where `learn` gets its labels (an image's parent folder, or a CSV of path,label) and how it
 * splits the labelled images: held-out images per label (stratified, seeded), the rest for
 * training, of which a validation part is held back from the gradient for early stopping.
 */
import { readFile } from 'node:fs/promises';
import { invalid, NitamonoError } from '../errors.js';
import { rng } from '../util/random.js';

export interface LabelledImage {
  id: number;
  relpath: string;
  label: string;
}

/** The image's folder relative to the root ('' for images directly in the root: no label). */
function folderOf(relpath: string): string {
  const i = relpath.lastIndexOf('/');
  return i < 0 ? '' : relpath.slice(0, i);
}

/** Labels from folders: every image below the root in some folder; images in the root itself have none. */
export function labelsFromFolders(rows: readonly { id: number; relpath: string }[]): LabelledImage[] {
  const out: LabelledImage[] = [];
  for (const r of rows) {
    const label = folderOf(r.relpath);
    if (label !== '') out.push({ id: r.id, relpath: r.relpath, label });
  }
  return out;
}

/** Fields of one CSV line (RFC 4180 quoting: "a,b" and "" inside quotes). */
function csvFields(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return undefined; // unterminated quote
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += line[i++];
      }
      if (i < line.length && line[i] !== ',') return undefined;
    } else {
      const j = line.indexOf(',', i);
      field = line.slice(i, j < 0 ? line.length : j);
      i = j < 0 ? line.length : j;
    }
    out.push(field.trim());
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/**
 * Labels from a CSV file of `path,label` lines (paths relative to the collection root, as
 * `search` prints them; an optional header line `path,label`). INVALID_ARGUMENT naming the
 * line for a malformed row, a path given twice with two labels, or paths that are not
 * searchable images of the collection. Images the file does not name have no label.
 */
export async function labelsFromCsv(file: string, rows: readonly { id: number; relpath: string }[]): Promise<LabelledImage[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NitamonoError('NOT_FOUND', `cannot read the labels file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const byPath = new Map(rows.map((r) => [r.relpath, r.id]));
  const seen = new Map<string, string>();
  const unknown: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, n) => {
    if (raw.trim() === '') return;
    const f = csvFields(raw);
    if (f?.length !== 2 || f[0] === '' || f[1] === '')
      throw invalid(`${file}, line ${n + 1}: expected "path,label" with both fields non-empty, got ${JSON.stringify(raw)}`);
    const path = f[0]!.replace(/^\.\//, '');
    const label = f[1]!;
    if (n === 0 && path.toLowerCase() === 'path' && label.toLowerCase() === 'label') return;
    const before = seen.get(path);
    if (before !== undefined && before !== label) throw invalid(`${file}, line ${n + 1}: ${path} is labelled both "${before}" and "${label}"`);
    seen.set(path, label);
    if (!byPath.has(path)) unknown.push(path);
  });
  if (unknown.length > 0)
    throw invalid(
      `${file}: ${unknown.length} path(s) are not searchable images of the collection (paths are relative to the collection root): ${unknown
        .slice(0, 5)
        .join(', ')}${unknown.length > 5 ? ', …' : ''}`,
    );
  return [...seen].map(([relpath, label]) => ({ id: byPath.get(relpath)!, relpath, label })).sort((a, b) => a.id - b.id);
}

/** Checks there is something to learn: ≥ 2 labels, each with ≥ 2 images. */
export function checkLabels(images: readonly LabelledImage[]): string[] {
  const counts = new Map<string, number>();
  for (const im of images) counts.set(im.label, (counts.get(im.label) ?? 0) + 1);
  if (counts.size < 2)
    throw invalid(
      `learning needs at least 2 labels with 2 images each; found ${counts.size} label${counts.size === 1 ? '' : 's'} (put images in one folder per kind, or pass --labels FILE.csv)`,
    );
  const few = [...counts].filter(([, c]) => c < 2).map(([l]) => l);
  if (few.length > 0)
    throw invalid(
      `every label needs at least 2 images (one to train on, one to test with); too few: ${few.slice(0, 5).join(', ')}${few.length > 5 ? ', …' : ''}`,
    );
  return [...counts.keys()].sort();
}

export interface Split {
  train: LabelledImage[];
  validation: LabelledImage[];
  holdout: LabelledImage[];
}

/** Share of the training images of a label held back for validation (when it has ≥ 4). */
const VALIDATION_SHARE = 0.15;

/**
 * Stratified, seeded: per label (in name order; images by id), a seeded shuffle, then
 * round(n·holdout) held out (at least 1, at most n − 1), and of the rest round(share·m)
 * validation images when m ≥ 4 (at least 1). The same images, labels and seed give the same split.
 */
export function splitLabelled(images: readonly LabelledImage[], holdout: number, seed: number): Split {
  if (!(typeof holdout === 'number' && holdout > 0 && holdout < 1))
    throw invalid(`--holdout must be a fraction strictly between 0 and 1, e.g. 0.3, got ${holdout}`);
  const byLabel = new Map<string, LabelledImage[]>();
  for (const im of [...images].sort((a, b) => a.id - b.id)) {
    const list = byLabel.get(im.label) ?? [];
    list.push(im);
    byLabel.set(im.label, list);
  }
  const rand = rng(seed);
  const out: Split = { train: [], validation: [], holdout: [] };
  for (const label of [...byLabel.keys()].sort()) {
    const list = byLabel.get(label)!;
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    const h = Math.min(list.length - 1, Math.max(1, Math.round(list.length * holdout)));
    out.holdout.push(...list.slice(0, h));
    const rest = list.slice(h);
    const v = rest.length >= 4 ? Math.max(1, Math.round(rest.length * VALIDATION_SHARE)) : 0;
    out.validation.push(...rest.slice(0, v));
    out.train.push(...rest.slice(v));
  }
  const byId = (a: LabelledImage, b: LabelledImage) => a.id - b.id;
  out.train.sort(byId);
  out.validation.sort(byId);
  out.holdout.sort(byId);
  return out;
}

/** Row of each id in a snapshot's id list. */
export function rowsById(ids: ArrayLike<number>): Map<number, number> {
  const row = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) row.set(ids[i]!, i);
  return row;
}
