/**
 * Sync planning: what a scan of the folder means for the catalogue. Pure functions (no I/O), so
 * every rule is unit-tested on plain data, and every executor — in-process worker threads today,
 * a job queue tomorrow — runs the same plan.
 *
 * Two steps, because hashing is the expensive I/O between them:
 * 1. `selectCandidates`: files whose size and mtime match a complete row are unchanged; the rest
 *    are candidates and get hashed.
 * 2. `planSync`: with the hashes, each candidate is touched (same content, new mtime), reused
 *    (its content is already indexed under another row: vectors are copied), extracted (grouped
 *    by content, so identical copies are extracted once) or failed (unreadable); rows of files
 *    that vanished are deleted, except under folders whose listing failed.
 */
import type { ImageSummary } from '../catalog/types.js';

export interface PlannedFile {
  /** Path relative to the root, "/"-separated. */
  relpath: string;
  abspath: string;
  size: number;
  mtimeMs: number;
}

export interface Candidate extends PlannedFile {
  /** The catalogue row at this relpath, if any. */
  old?: ImageSummary;
}

export interface HashedCandidate extends Candidate {
  /** SHA-256 of the content, or undefined when the file could not be read. */
  sha?: string;
  /** Why hashing failed. */
  hashError?: string;
}

export interface SelectOptions {
  /** Re-try files that were skipped before even if they did not change. */
  retrySkipped?: boolean;
}

export interface Selection {
  /** Files whose stored row is current. */
  unchanged: number;
  candidates: Candidate[];
}

/** Step 1: which files need a look at their content. */
export function selectCandidates(files: readonly PlannedFile[], catalog: readonly ImageSummary[], opts: SelectOptions = {}): Selection {
  const byPath = new Map(catalog.map((r) => [r.relpath, r]));
  let unchanged = 0;
  const candidates: Candidate[] = [];
  for (const f of files) {
    const old = byPath.get(f.relpath);
    const same = old !== undefined && old.size === f.size && old.mtime_ms === f.mtimeMs;
    if (same && isSettled(old, opts)) unchanged++;
    else candidates.push(old ? { ...f, old } : { ...f });
  }
  return { unchanged, candidates };
}

/** A row that needs no work while its file is unchanged. */
function isSettled(row: ImageSummary, opts: SelectOptions): boolean {
  if (row.status === 'ok') return row.complete;
  if (row.status === 'excluded') return true;
  return !opts.retrySkipped;
}

export interface SyncPlan {
  /** Same content under a new size/mtime: metadata update only. */
  touches: HashedCandidate[];
  /** Content already indexed under another searchable row: copy its vectors. */
  reuses: { file: HashedCandidate; from: number }[];
  /** Content to extract, one group per content hash; the first file is the one read. */
  extract: HashedCandidate[][];
  /** Files that could not be read. */
  failures: { file: HashedCandidate; code: string; reason: string }[];
  /** Rows whose file is gone. */
  deletions: ImageSummary[];
}

export interface PlanInput {
  /** Every image file the scan found (relpaths). */
  seen: ReadonlySet<string>;
  /** Folders whose listing failed ('.' = the root itself). */
  unreadableDirs: readonly string[];
  candidates: readonly HashedCandidate[];
  catalog: readonly ImageSummary[];
  retrySkipped?: boolean;
}

/** Step 2: the work for hashed candidates, and the deletions. */
export function planSync(input: PlanInput): SyncPlan {
  const plan: SyncPlan = { touches: [], reuses: [], extract: [], failures: [], deletions: [] };
  // A searchable, complete row per content hash: the source of copies.
  const source = new Map<string, number>();
  for (const r of input.catalog) if (r.status === 'ok' && r.complete && r.sha256 && !source.has(r.sha256)) source.set(r.sha256, r.id);
  const groups = new Map<string, HashedCandidate[]>();
  for (const c of input.candidates) {
    if (c.sha === undefined) {
      plan.failures.push({ file: c, code: 'IO', reason: `cannot read file: ${c.hashError ?? 'unknown error'}` });
      continue;
    }
    const old = c.old;
    if (old && old.sha256 === c.sha && isSettled(old, { retrySkipped: input.retrySkipped })) {
      plan.touches.push(c);
      continue;
    }
    const from = source.get(c.sha);
    if (from !== undefined && from !== old?.id) {
      plan.reuses.push({ file: c, from });
      continue;
    }
    const g = groups.get(c.sha);
    if (g) g.push(c);
    else groups.set(c.sha, [c]);
  }
  plan.extract = [...groups.values()];
  const underUnreadable = (relpath: string) => input.unreadableDirs.some((d) => d === '.' || relpath === d || relpath.startsWith(`${d}/`));
  plan.deletions = input.catalog.filter((r) => !input.seen.has(r.relpath) && !underUnreadable(r.relpath));
  return plan;
}
