/**
 * Search by name: the words of an image's path, as both catalogue backends index and match
 * them (SQLite: an FTS5 table; PostgreSQL: the same token text matched with LIKE), so a query
 * means the same on both.
 *
 * Tokens: the path is cut at every character that is not a letter or a digit (`/ _ - .`,
 * spaces, brackets, emoji, …), then at camelCase and letter/digit boundaries ("summerHoliday2019"
 * → summer holiday 2019; the joined word is kept too, "summerholiday"). Text is NFKC-folded,
 * lower-cased, and Latin letters lose their accents (café → cafe). Scripts written without
 * spaces (Han, Hiragana, Katakana, Hangul) are indexed one character per token, and a word of
 * them matches as the phrase of its characters: "海辺" finds 夏の海辺.jpg, whatever its length
 * (FTS5's trigram tokenizer would miss words of one or two characters, most Japanese words).
 *
 * Queries are cut the same way; every resulting word must occur (AND) as a token prefix
 * ("beach" finds beaches; "2019" finds 2019-08). Nothing the user types acts as an operator:
 * every word goes to FTS5 as a quoted string built only of letters and digits, so quotes, `*`,
 * `-`, `(`, `:`, NEAR, AND, OR, NOT are text. A query with no letter or digit at all (an emoji,
 * "***") matches the path literally as a substring instead.
 */

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}ー々〆]/u;
const WORD = /[\p{L}\p{N}]+/gu;

/** NFKC, lower case, Latin accents removed (other scripts' marks kept: ガ stays ガ). */
export function foldText(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/(\p{Script=Latin})\p{M}+/gu, '$1')
    .normalize('NFC');
}

/**
 * The words of one run of letters and digits: the run itself, split at camelCase and
 * letter/digit boundaries (with the joined form kept when split), CJK characters one by one.
 * Each word is a list of tokens (several for a CJK phrase).
 */
function runWords(run: string, joined: boolean): string[][] {
  const out: string[][] = [];
  let latin = '';
  let cjk: string[] = [];
  const flushLatin = (): void => {
    if (!latin) return;
    const parts = latin
      .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
      .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2')
      .replace(/(\p{L})(\p{N})/gu, '$1 $2')
      .replace(/(\p{N})(\p{L})/gu, '$1 $2')
      .split(' ')
      .map(foldText)
      .filter(Boolean);
    for (const p of parts) out.push([p]);
    if (joined && parts.length > 1) out.push([foldText(latin)]);
    latin = '';
  };
  const flushCjk = (): void => {
    if (cjk.length) out.push(cjk.map(foldText));
    cjk = [];
  };
  for (const ch of run) {
    if (CJK.test(ch)) {
      flushLatin();
      cjk.push(ch);
    } else {
      flushCjk();
      latin += ch;
    }
  }
  flushLatin();
  flushCjk();
  return out;
}

/** The words of any text; `joined`: also each split word whole (what a path is indexed with, not what a query asks). */
export function nameWords(text: string, joined = false): string[][] {
  const out: string[][] = [];
  for (const m of text.normalize('NFKC').matchAll(WORD)) out.push(...runWords(m[0], joined));
  return out;
}

/** What an image's path is indexed as: the file name's tokens and its folders' tokens, space-separated. */
export function pathTokens(relpath: string): { file: string; dirs: string } {
  const cut = relpath.lastIndexOf('/');
  const text = (s: string): string =>
    nameWords(s, true)
      .map((w) => w.join(' '))
      .join(' ');
  return { file: text(relpath.slice(cut + 1)), dirs: cut < 0 ? '' : text(relpath.slice(0, cut)) };
}

/** A parsed name query: the words to find (each a phrase of tokens, its last token a prefix), or a literal substring. */
export type NameQuery = { words: string[][] } | { literal: string };

/** Parses what a user typed; undefined for an empty (blank) query. */
export function parseNameQuery(text: string): NameQuery | undefined {
  const words = nameWords(text);
  if (words.length > 0) return { words };
  const literal = text.trim();
  return literal ? { literal } : undefined;
}

/** The FTS5 MATCH expression of parsed words: each a quoted phrase, the last token a prefix, all ANDed. */
export function ftsMatch(words: string[][]): string {
  // tokens hold letters and digits only: nothing to escape, and `"` is doubled all the same
  return words.map((w) => `"${w.join(' ').replaceAll('"', '""')}"*`).join(' AND ');
}

/** Escapes a LIKE pattern's wildcards with `\`. */
export function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
