/** `nitamono duplicates`: groups of near-identical images and exact copies (src/collection/duplicates.ts does the work). */
import type { Command } from 'commander';
import { Collection, checkDuplicateThreshold, DEFAULT_COLLECTION_PATH, type DuplicateReport, parseFeatureKind } from '../../collection/index.js';
import { displayPath, fmtInt, fmtMs, writeJson } from '../format.js';
import { collectionPath } from '../options.js';
import { progressFor } from '../progress-bar.js';
import { printing } from '../run.js';

interface DuplicatesCliOptions {
  collection?: string;
  features?: string;
  threshold?: number;
  /** false with --no-verify. */
  verify?: boolean;
  json?: boolean;
}

function thresholdOption(v: string): number {
  const n = Number(v);
  return checkDuplicateThreshold(v.trim() === '' || !Number.isFinite(n) ? v : n, '--threshold');
}

function duplicatesJson(r: DuplicateReport) {
  return {
    features: r.features,
    model: r.model,
    threshold: r.threshold,
    threshold_source: r.threshold_source,
    verified: r.verified,
    ...(r.pixel_threshold !== undefined
      ? { pixel_threshold: r.pixel_threshold, pixel_pairs: r.pixel_pairs, pixel_ms: r.pixel_ms, pixel_prints: r.pixel_prints }
      : {}),
    method: r.method,
    ...(r.nprobe !== undefined ? { nprobe: r.nprobe } : {}),
    neighbours: r.neighbours,
    candidate_pairs: r.candidate_pairs,
    n: r.n,
    images_in_groups: r.images_in_groups,
    took_ms: r.took_ms,
    groups: r.groups.map((g) => ({
      images: g.images.map((i) => ({ id: i.id, path: displayPath(i.absolute_path), relpath: i.path, exact_copy: i.exact_copy })),
      max_distance: g.max_distance,
      ...(g.max_pixel_distance !== undefined ? { max_pixel_distance: g.max_pixel_distance } : {}),
      exact: g.exact,
    })),
  };
}

function printDuplicates(c: Collection, r: DuplicateReport): void {
  const out: string[] = [];
  const exact = r.groups.filter((g) => g.exact).length;
  out.push(
    `Duplicates in ${displayPath(c.root)}: ${fmtInt(r.groups.length)} groups (${fmtInt(exact)} of exact copies), ${fmtInt(r.images_in_groups)} of ${fmtInt(r.n)} images`,
  );
  const how = r.method === 'exact' ? 'exact self-join' : `approximate self-join (nprobe ${r.nprobe ?? '?'})`;
  const pixels = r.verified
    ? ` · verified on the pixels (${fmtInt(r.pixel_pairs ?? 0)} pairs, distance ≤ ${r.pixel_threshold})`
    : ' · not verified on the pixels';
  out.push(
    `${r.features} features (${r.model}) · threshold ${r.threshold} (${r.threshold_source === 'default' ? 'calibrated default' : 'given'}) · ${how}, ${r.neighbours} neighbours per image${pixels} · took ${fmtMs(r.took_ms)}`,
  );
  if (r.groups.length === 0) out.push('  (no duplicates)');
  const w = String(r.groups.length).length;
  r.groups.forEach((g, i) => {
    out.push('');
    out.push(
      `${String(i + 1).padStart(w)}. ${g.exact ? 'exact copies (same content)' : `max distance ${g.max_distance.toFixed(4)}`} · ${g.images.length} images`,
    );
    for (const img of g.images) out.push(`   ${displayPath(img.absolute_path)}${img.exact_copy && !g.exact ? '  (exact copy)' : ''}`);
  });
  process.stdout.write(`${out.join('\n')}\n`);
}

async function duplicatesCommand(o: DuplicatesCliOptions): Promise<void> {
  const features = o.features !== undefined ? parseFeatureKind(o.features) : undefined;
  const c = await Collection.open(collectionPath(o));
  try {
    const r = await c.findDuplicates({
      ...(features ? { features } : {}),
      ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
      verify: o.verify !== false,
      progress: progressFor(o.json),
    });
    if (o.json) writeJson(duplicatesJson(r));
    else printDuplicates(c, r);
  } finally {
    await c.close();
  }
}

export function registerDuplicatesCommand(program: Command): void {
  program
    .command('duplicates')
    .description('groups of near-identical images (resized, recompressed, slightly cropped, converted copies) and exact copies')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH})`)
    .option('--features <kind>', 'color, deep or the name of learned features (default: deep if indexed, else color)')
    .option(
      '--threshold <t>',
      'largest squared L2 distance between two images of a group (default: calibrated per feature kind; needed for other kinds)',
      thresholdOption,
    )
    .option('--no-verify', 'skip the pixel check of each pair (faster; groups look-alike drawings, e.g. one clock at two hours)')
    .option('--json', 'print the groups as JSON')
    .action(printing(duplicatesCommand));
}
