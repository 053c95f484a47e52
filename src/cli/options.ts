/**
 * Option parsers shared by several commands. A parser throws NitamonoError INVALID_ARGUMENT, which
 * run.ts turns into the message and exit 2.
 *
 * The vector commands (ann-*) and the collection commands word a bad integer differently ("a
 * positive integer" / "an integer ≥ 1"); scripts and tests match those messages, so both stay.
 */
import { DEFAULT_COLLECTION_PATH } from '../collection/index.js';
import { invalid } from '../errors.js';
import { parseIndexFactory } from '../search/factory.js';
import type { Metric } from '../search/types.js';

/** For the ann-* commands: an integer ≥ 1. */
export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw invalid(`--${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

/** For the collection commands: an integer ≥ `min`. */
export function intAtLeast(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw invalid(`--${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

/** A comma-separated list, each item read by `item`. */
export function listOf<T>(item: (v: string) => T) {
  return (v: string): T[] => v.split(',').map((s) => item(s.trim()));
}

export function metricOf(v: string): Metric {
  if (v !== 'l2' && v !== 'ip') throw invalid(`--metric must be l2 or ip, got '${v}'`);
  return v;
}

/** --index of the ann-* commands: 'flat', 'ivf' or a Faiss factory string ('IVF256,PQ16,RFlat', …), checked here. */
export function indexDescription(v: string): string {
  try {
    parseIndexFactory(v);
  } catch (err) {
    throw invalid(`--index: ${(err as Error).message}`);
  }
  return v;
}

/** A number ≥ 1 (--refine-factor). */
export function factorAtLeastOne(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 1) throw invalid(`--${name} must be a number ≥ 1, got '${v}'`);
    return n;
  };
}

/** --collection, else $NITAMONO_COLLECTION, else ./.nitamono. */
export function collectionPath(o: { collection?: string }): string {
  return o.collection ?? process.env.NITAMONO_COLLECTION ?? DEFAULT_COLLECTION_PATH;
}

// ---- cluster mode

/** The collection's name inside a --catalog database: --collection, else 'default'. */
export function clusterCollection(o: { collection?: string }): string {
  return o.collection ?? 'default';
}

/** Where the job queue's Redis is when no URL is given. */
export const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

/** The job queue's Redis: `url` (from the command line), else $NITAMONO_REDIS, else DEFAULT_REDIS. */
export function redisUrl(url: string | undefined): string {
  return url ?? process.env.NITAMONO_REDIS ?? DEFAULT_REDIS;
}

/** A comma-separated list of http(s) URLs (--shards). */
export function urlList(name: string) {
  return (v: string): string[] => {
    const urls = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (urls.length === 0) throw invalid(`--${name} needs at least one URL`);
    for (const u of urls) if (!/^https?:\/\/[^/\s]+/.test(u)) throw invalid(`--${name}: not an http:// or https:// URL: '${u}'`);
    return urls;
  };
}

/** The shards' bearer token: --shard-token, else $NITAMONO_SHARD_TOKEN (which keeps it out of the process list). */
export function shardToken(o: { shardToken?: string }): string | undefined {
  const t = o.shardToken ?? process.env.NITAMONO_SHARD_TOKEN;
  if (t === undefined || t === '') return undefined;
  if (!/^[\x21-\x7e]{8,}$/.test(t)) throw invalid('the shard token must be at least 8 printable characters without spaces');
  return t;
}
