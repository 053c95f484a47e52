// @ts-check
// nitamono web page: query by upload / drop / paste / click, results grid, cost and recall
// panels, and the "how it works" view. State lives in the URL (id or query, k, features, method,
// nprobe, view) so a search can be shared and reloaded; an uploaded query is named by the hash
// the server kept it under (query=sha256:…).
import { api } from './api.js';
import { histogramChart, sweepChart } from './charts.js';
import { renderDuplicates } from './duplicates.js';
import { bindFilters, filterParams, hasNameQuery, nameTitle } from './filters.js';
import { renderKinds } from './kinds.js';

/**
 * @typedef {import('./api.js').Features} Features
 * @typedef {import('./api.js').Method} Method
 * @typedef {import('./api.js').Stats} Stats
 * @typedef {import('./api.js').FeatureStats} FeatureStats
 * @typedef {import('./api.js').SearchResponse} SearchResponse
 * @typedef {import('./api.js').ImageItem} ImageItem
 * @typedef {import('./api.js').Sweep} Sweep
 * @typedef {import('./api.js').Cost} Cost
 * @typedef {import('./api.js').Query} Query
 * @typedef {'search' | 'how' | 'duplicates'} View
 */

/**
 * The element of the page matching `sel`, of the expected type: index.html and this script go
 * together, so a missing or different element is a bug, reported as such.
 * @template {Element} [T=HTMLElement]
 * @param {string} sel
 * @param {new (...args: any[]) => T} [type]
 * @returns {T}
 */
function $(sel, type) {
  const e = document.querySelector(sel);
  const want = type ?? HTMLElement;
  if (!(e instanceof want)) throw new Error(`the page has no ${want.name} ${sel}`);
  return /** @type {T} */ (e);
}

/**
 * Every element matching `sel` of the expected type.
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} sel
 * @param {new (...args: any[]) => T} type
 * @returns {T[]}
 */
function all(root, sel, type) {
  return [...root.querySelectorAll(sel)].filter(/** @returns {e is T} */ (e) => e instanceof type);
}

const nf = new Intl.NumberFormat('en');
const fmt = (/** @type {number} */ n) => nf.format(Math.round(n));
const ms = (/** @type {number} */ v) => (v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1));
const bytes = (/** @type {number} */ b) =>
  b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GB` : b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KB` : `${b} B`;
const K_CHOICES = [12, 24, 48, 96];
const MAX_K = 1000;

/**
 * @typedef {string | number | boolean | null | undefined} AttrValue
 * @typedef {Node | string | null | undefined | false} Child
 */

/**
 * An element with attributes (`class`, `text` and boolean ones handled) and children; null,
 * undefined and false attributes and children are left out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue>} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = String(v);
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

// ------------------------------------------------------------------ state

/**
 * @type {{ view: View, id: number | null, file: File | null, ref: string | null, k: number, features: Features, method: Method, nprobe: number, shown: number }}
 */
const state = {
  view: 'search',
  id: null, // query image id, when the query is an image of the collection
  file: null, // uploaded query (File) of this page
  ref: null, // 'sha256:<hex>': an uploaded query the server keeps, so the URL can name it
  k: 24,
  features: 'color',
  method: 'exact',
  nprobe: 1,
  shown: 24, // results requested (k grows with "load more")
};
/** @type {Stats | null} */
let stats = null;
/** @type {SearchResponse | null} */
let lastSearch = null;
let browseOffset = 0;
let searchSeq = 0;
let busy = 0;

/** @param {Features} features */
function nlistOf(features) {
  const f = stats?.features.find((x) => x.kind === features);
  return f?.ivf_nlist || 1;
}

/** @param {Features} features */
function dimOf(features) {
  const f = stats?.features.find((x) => x.kind === features);
  return f ? f.dim : 0;
}

/** @param {string | null | undefined} v */
const asView = (v) => (v === 'how' || v === 'duplicates' ? v : 'search');

function readUrl() {
  const p = new URLSearchParams(location.search);
  state.view = asView(p.get('view'));
  const id = p.get('id');
  state.id = id !== null && /^\d+$/.test(id) ? Number(id) : null;
  const q = p.get('query');
  const ref = state.id === null && q !== null && /^sha256:[0-9a-f]{64}$/.test(q) ? q : null;
  if (state.id !== null || (ref !== null && ref !== state.ref)) state.file = null;
  state.ref = ref;
  const k = Number(p.get('k'));
  state.k = Number.isInteger(k) && k >= 1 && k <= MAX_K ? k : 24;
  state.shown = state.k;
  const f = p.get('features');
  // a learned kind's name too; one the collection lacks is replaced once its stats are known
  if (f !== null && /^[a-z0-9][a-z0-9-]*$/.test(f)) state.features = f;
  const m = p.get('method');
  state.method = m === 'ivf' ? 'ivf' : 'exact';
  const np = Number(p.get('nprobe'));
  if (Number.isInteger(np) && np >= 1) state.nprobe = np;
}

/** @param {Partial<typeof state>} [overrides] */
function urlFor(overrides = {}) {
  const s = { ...state, ...overrides };
  const p = new URLSearchParams();
  if (s.view !== 'search') p.set('view', s.view);
  if (s.id !== null && s.id !== undefined) p.set('id', String(s.id));
  else if (s.ref) p.set('query', s.ref);
  p.set('k', String(s.k));
  p.set('features', s.features);
  p.set('method', s.method);
  if (s.method === 'ivf') p.set('nprobe', String(s.nprobe));
  return `?${p.toString()}`;
}

/** @param {boolean} push a new history entry (else the current one is replaced) */
function writeUrl(push) {
  const url = urlFor();
  if (url === location.search) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

// ------------------------------------------------------------------ feedback

/** @param {boolean} on */
function setBusy(on) {
  busy += on ? 1 : -1;
  $('#progress').hidden = busy <= 0;
  $('#main').setAttribute('aria-busy', busy > 0 ? 'true' : 'false');
}

/** @param {unknown} err null to hide the alert */
function showError(err) {
  const box = $('#alert');
  box.textContent = err ? (err instanceof Error && err.message) || String(err) : '';
  box.hidden = !err;
}

// ------------------------------------------------------------------ controls

/** A feature kind as the switch names it: learned kinds by the name they were given. */
const kindLabel = (/** @type {Features} */ kind) => (kind === 'color' ? 'Colour' : kind === 'deep' ? 'Deep' : `Learned: ${kind}`);

/** @param {Stats} stats */
function buildFeatureControls(stats) {
  const group = $('#features-group');
  group.textContent = '';
  const kinds = stats.features.map((f) => f.kind);
  if (!kinds.includes(state.features)) state.features = kinds.includes(stats.default_features) ? stats.default_features : kinds[0];
  for (const kind of kinds) {
    const input = el('input', { type: 'radio', name: 'features', value: kind, checked: kind === state.features });
    group.append(el('label', {}, input, el('span', { text: kindLabel(kind) })));
  }
  $('#features-field').hidden = kinds.length === 0;
  const how = $('#how-features');
  how.textContent = '';
  for (const kind of kinds) {
    const input = el('input', { type: 'radio', name: 'how-features', value: kind, checked: kind === state.features });
    how.append(el('label', {}, input, el('span', { text: `${kindLabel(kind)} (D = ${dimOf(kind)})` })));
  }
}

function syncControls() {
  for (const r of all(document, 'input[name="features"]', HTMLInputElement)) r.checked = r.value === state.features;
  for (const r of all(document, 'input[name="how-features"]', HTMLInputElement)) r.checked = r.value === state.features;
  for (const r of all(document, 'input[name="method"]', HTMLInputElement)) r.checked = r.value === state.method;
  const nlist = nlistOf(state.features);
  state.nprobe = Math.max(1, Math.min(state.nprobe, nlist));
  const slider = $('#nprobe', HTMLInputElement);
  slider.max = String(nlist);
  slider.value = String(state.nprobe);
  slider.disabled = state.method !== 'ivf';
  $('#nprobe-field').classList.toggle('disabled', state.method !== 'ivf');
  $('#nprobe-out').textContent = String(state.nprobe);
  $('#nlist-note').textContent = `of K = ${nlist}`;
  const kSel = $('#k', HTMLSelectElement);
  if (![...kSel.options].some((o) => Number(o.value) === state.k)) kSel.append(el('option', { text: String(state.k) }));
  kSel.value = String(state.k);
}

function hasQuery() {
  return state.id !== null || state.file !== null || state.ref !== null;
}

function onSettingsChanged() {
  state.shown = state.k;
  writeUrl(false);
  if (hasQuery()) runSearch();
}

/** The value of the input or select an event came from. */
const inputValue = (/** @type {Event} */ e) => (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement ? e.target.value : '');
/** @returns {Features} */
const asFeatures = (/** @type {string} */ v) => v || 'color';
/** @returns {Method} */
const asMethod = (/** @type {string} */ v) => (v === 'ivf' ? 'ivf' : 'exact');

function bindControls() {
  $('#controls').addEventListener('submit', (e) => e.preventDefault());
  $('#features-group').addEventListener('change', (e) => {
    state.features = asFeatures(inputValue(e));
    syncControls();
    onSettingsChanged();
  });
  for (const r of all(document, 'input[name="method"]', HTMLInputElement)) {
    r.addEventListener('change', () => {
      state.method = asMethod(r.value);
      syncControls();
      onSettingsChanged();
    });
  }
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let t;
  $('#nprobe').addEventListener('input', (e) => {
    state.nprobe = Number(inputValue(e));
    $('#nprobe-out').textContent = String(state.nprobe);
    clearTimeout(t);
    t = setTimeout(onSettingsChanged, 200);
  });
  $('#k').addEventListener('change', (e) => {
    state.k = Number(inputValue(e));
    onSettingsChanged();
  });
  const fileInput = $('#file-input', HTMLInputElement);
  fileInput.addEventListener('change', () => {
    const f = fileInput.files?.[0];
    if (f) searchFile(f);
    fileInput.value = '';
  });
  $('#more').addEventListener('click', loadMore);
  bindFilters(() => (hasQuery() ? onSettingsChanged() : browse(false)));
  $('#how-features').addEventListener('change', (e) => {
    state.features = asFeatures(inputValue(e));
    syncControls();
    writeUrl(false);
    renderHow();
  });
  for (const tab of all(document, '.tab', HTMLAnchorElement)) {
    tab.addEventListener('click', (e) => {
      e.preventDefault();
      setView(asView(tab.dataset.view), true);
    });
  }
}

// ------------------------------------------------------------------ drag, drop and paste

function bindDrop() {
  const overlay = $('#drop-overlay');
  const zone = $('#dropzone');
  let depth = 0;
  const hasFiles = (/** @type {DragEvent} */ e) => e.dataTransfer !== null && [...e.dataTransfer.types].includes('Files');
  document.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    overlay.hidden = false;
    zone.classList.add('dragging');
  });
  document.addEventListener('dragover', (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) {
      overlay.hidden = true;
      zone.classList.remove('dragging');
    }
  });
  document.addEventListener('drop', (e) => {
    if (!e.dataTransfer || !hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    zone.classList.remove('dragging');
    const f = [...e.dataTransfer.files].find((x) => x.type.startsWith('image/')) || e.dataTransfer.files[0];
    if (f) searchFile(f);
  });
  document.addEventListener('paste', (e) => {
    const items = e.clipboardData ? [...e.clipboardData.items] : [];
    const item = items.find((i) => i.kind === 'file' && i.type.startsWith('image/'));
    if (!item) return;
    const f = item.getAsFile();
    if (f) {
      e.preventDefault();
      searchFile(new File([f], f.name || 'pasted-image.png', { type: f.type }));
    }
  });
}

// ------------------------------------------------------------------ queries

/** @param {File} file */
function searchFile(file) {
  state.file = file;
  state.id = null;
  state.ref = null;
  state.shown = state.k;
  if (state.view !== 'search') setView('search', false);
  writeUrl(true);
  showQueryPreview();
  runSearch();
}

/** @param {number} id */
function searchId(id) {
  state.id = id;
  state.file = null;
  state.ref = null;
  state.shown = state.k;
  if (state.view !== 'search') setView('search', false);
  writeUrl(true);
  showQueryPreview();
  runSearch();
  window.scrollTo({ top: 0, behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
}

/** @type {string | null} */
let previewUrl = null;
function showQueryPreview() {
  const img = $('#query-img', HTMLImageElement);
  if (previewUrl) {
    URL.revokeObjectURL(previewUrl);
    previewUrl = null;
  }
  if (state.file) {
    previewUrl = URL.createObjectURL(state.file);
    img.src = previewUrl;
    img.alt = `Query: ${state.file.name}`;
    $('#query-caption').textContent = state.file.name;
  } else if (state.id !== null) {
    img.src = `/api/images/${state.id}/thumbnail?size=512`;
    img.alt = `Query: image ${state.id}`;
    $('#query-caption').textContent = `image #${state.id}`;
  } else if (state.ref !== null) {
    // A shared link: the server may have forgotten the image (the search then says so).
    img.src = `/api/queries/${state.ref}/thumbnail`;
    img.alt = 'Query: an uploaded image';
    $('#query-caption').textContent = `uploaded image ${state.ref.slice(0, 19)}…`;
  }
  $('#query-preview').hidden = !hasQuery();
  $('#drop-hint').hidden = hasQuery();
}

/** @returns {import('./api.js').QueryParams} */
function params() {
  return {
    k: state.shown,
    features: state.features,
    method: state.method,
    ...(state.method === 'ivf' ? { nprobe: state.nprobe } : {}),
    ...filterParams(),
  };
}

/** @returns {Query} */
function currentQuery() {
  if (state.file) return { file: state.file };
  if (state.ref !== null) return { ref: state.ref };
  if (state.id === null) throw new Error('no query');
  return { id: state.id };
}

async function runSearch() {
  if (!hasQuery()) return;
  const seq = ++searchSeq;
  setBusy(true);
  showError(null);
  try {
    const res = await api.search(currentQuery(), params());
    if (seq !== searchSeq) return;
    lastSearch = res;
    if (res.query?.path && state.id !== null) $('#query-caption').textContent = res.query.path;
    if (state.file && res.query?.ref && res.query.ref !== state.ref) {
      state.ref = res.query.ref;
      writeUrl(false);
    }
    renderStats(res);
    renderHistogram(res);
    renderResults(res);
  } catch (err) {
    if (seq === searchSeq) showError(err);
  } finally {
    setBusy(false);
  }
}

function loadMore() {
  if (hasQuery()) {
    const before = lastSearch ? lastSearch.results.length : 0;
    state.shown = Math.min(MAX_K, state.shown + state.k);
    runSearch().then(() => focusCard(before));
  } else {
    const before = $('#grid').children.length;
    browse(true).then(() => focusCard(before));
  }
}

/** The result or image buttons of the grid, in order. */
const picks = () => all($('#grid'), '.pick', HTMLButtonElement);

/** @param {number} i */
function focusCard(i) {
  const cards = picks();
  if (cards[i]) cards[i].focus({ preventScroll: false });
}

// ------------------------------------------------------------------ rendering: search

/** @param {SearchResponse} res */
function costBars(res) {
  const nd = res.cost.exact;
  const model = res.cost.ivf;
  const thisOps = res.distances_computed * res.dim;
  const max = Math.max(nd, thisOps, 1);
  /** @type {(cls: string, label: string, value: number, note?: string) => HTMLElement[]} */
  const row = (cls, label, value, note) => [
    el('span', { class: 'lbl', text: label }),
    el('div', { class: `bar ${cls}`, role: 'presentation' }, barFill(value / max)),
    el('span', { class: 'num', text: fmt(value) + (note ? ` ${note}` : '') }),
  ];
  return el(
    'div',
    { class: 'cost-bars', 'aria-label': 'Cost in operations' },
    ...row('exact', 'Exact search N·D', nd),
    ...row('model', "Approximate, the lecture's D·√N", res.cost.ivf_seed),
    ...row('model', `Inverted file D·(K + N/K), K = ${res.cost.k_groups}`, model),
    ...row('this', `This search: ${fmt(res.distances_computed)} distances × D`, thisOps),
  );
}

/** @param {number} frac */
function barFill(frac) {
  const i = document.createElement('i');
  i.style.width = `${Math.max(0.4, Math.min(100, frac * 100)).toFixed(2)}%`;
  return i;
}

/** @param {SearchResponse} res */
function renderStats(res) {
  const box = $('#search-stats');
  $('#stats-panel').hidden = false;
  box.textContent = '';
  /** @type {(value: string, label: string, id?: string) => HTMLElement} */
  const stat = (value, label, id) => el('div', { class: 'stat' }, el('b', { text: value, id }), el('span', { text: label }));
  const compressed = res.index !== undefined && /SQ8|PQ/.test(res.index);
  const methodLabel =
    res.method !== 'ivf'
      ? 'exact'
      : compressed
        ? `${res.index}${res.nprobe !== undefined ? `, nprobe ${res.nprobe}/${res.nlist ?? '?'}` : ''}${res.refine_factor !== undefined ? `, re-ranked ×${res.refine_factor}` : ''}`
        : `inverted file, nprobe ${res.nprobe}/${res.nlist ?? '?'}`;
  box.append(
    el(
      'div',
      { class: 'stats-head' },
      stat(`${ms(res.took_ms)} ms`, `search, ${methodLabel}`, 'stat-time'),
      stat(fmt(res.distances_computed), `distances of N = ${fmt(res.n)}`, 'stat-distances'),
      stat(`D = ${res.dim}`, res.features === 'color' ? 'colour' : 'deep'),
      res.extract_ms > 0 ? stat(`${ms(res.extract_ms)} ms`, 'reading the uploaded image') : null,
    ),
    costBars(res),
  );
  if (res.warnings?.length) box.append(el('p', { class: 'warn', text: res.warnings.join(' ') }));
  const out = el('span', { class: 'recall-out', id: 'recall-out', 'aria-live': 'polite' });
  const btn = el('button', {
    class: 'button small',
    type: 'button',
    id: 'recall-btn',
    text: `Check recall@${res.k} of the inverted file (nprobe ${state.nprobe})`,
  });
  btn.addEventListener('click', () => checkRecall(btn, out));
  box.append(el('div', { class: 'recall-row' }, btn, out));
}

/**
 * @param {HTMLButtonElement} btn
 * @param {HTMLElement} out
 */
async function checkRecall(btn, out) {
  btn.disabled = true;
  out.textContent = 'measuring…';
  setBusy(true);
  try {
    const ev = await api.evaluate(currentQuery(), { k: state.shown, features: state.features, nprobe: state.nprobe });
    out.textContent = '';
    out.append(
      `recall@${ev.k} = `,
      el('b', { text: ev.recall_at_k.toFixed(3) }),
      ` (recall@1 ${ev.recall_at_1.toFixed(0)}) · inverted file ${ms(ev.ivf.took_ms)} ms, ${fmt(ev.ivf.distances_computed)} distances · exact ${ms(ev.exact.took_ms)} ms, ${fmt(ev.exact.distances_computed)} distances`,
    );
  } catch (err) {
    out.textContent = err instanceof Error ? err.message : String(err);
  } finally {
    btn.disabled = false;
    setBusy(false);
  }
}

/** @param {SearchResponse} res */
function renderHistogram(res) {
  const box = $('#hist-box');
  const h = res.color_histogram;
  box.hidden = !h;
  $('#stats-panel').classList.toggle('no-hist', !h);
  const holder = $('#hist');
  holder.textContent = '';
  if (h) holder.append(histogramChart(h.values, h.bins));
}

/**
 * @param {ImageItem} item
 * @param {number | null} rank its place in the results (null: a listed image)
 * @param {{ isQuery?: boolean }} [opts]
 */
function card(item, rank, opts = {}) {
  const title = item.distance !== undefined ? `${item.path} — distance ${item.distance.toFixed(4)}` : item.path;
  const pick = el(
    'button',
    { class: 'pick', type: 'button', 'data-id': item.id, 'aria-label': `Search for images like ${title}` },
    el('img', { src: item.thumbnail_url, alt: '', loading: 'lazy', decoding: 'async', width: 256, height: 256 }),
    rank !== null ? el('span', { class: 'rank', text: `#${rank}` }) : null,
  );
  pick.addEventListener('click', () => searchId(item.id));
  return el(
    'li',
    { class: `card${opts.isQuery ? ' is-query' : ''}`, title },
    pick,
    el(
      'div',
      { class: 'meta' },
      el('span', {
        class: 'dist',
        text: item.distance !== undefined ? item.distance.toFixed(4) : `#${item.id}`,
        title: item.distance !== undefined ? 'squared distance (smaller = more similar)' : 'image id',
      }),
      el(
        'a',
        { class: 'open', href: item.file_url, target: '_blank', rel: 'noopener', 'aria-label': `Open the original of ${item.path}` },
        el('span', { class: 'word', text: 'Open ' }),
        '↗',
      ),
    ),
    el('div', { class: 'path', text: item.path }),
  );
}

/** @param {SearchResponse} res */
function renderResults(res) {
  $('#intro').hidden = true;
  $('#grid-title').textContent =
    `${res.results.length} most similar · ${res.features === 'color' ? 'colour' : 'deep'} features · ${res.method === 'ivf' ? 'inverted file' : 'exact'}` +
    (res.filtered !== undefined ? ` · among the ${fmt(res.filtered)} images that pass the filters` : '');
  const grid = $('#grid');
  grid.textContent = '';
  for (const [i, r] of res.results.entries()) grid.append(card(r, i + 1, { isQuery: state.id !== null && r.id === state.id }));
  $('#more').hidden = !(res.results.length >= state.shown && state.shown < Math.min(MAX_K, res.n));
}

// ------------------------------------------------------------------ rendering: browse

/** @param {boolean} append the next page (else the first) */
async function browse(append) {
  if (hasNameQuery()) return browseNames();
  setBusy(true);
  try {
    if (!append) browseOffset = 0;
    const page = await api.images(browseOffset, state.k);
    const grid = $('#grid');
    if (!append) grid.textContent = '';
    for (const img of page.images) grid.append(card(img, null));
    browseOffset += page.images.length;
    $('#grid-title').textContent = `Images in the collection (${fmt(page.total)})`;
    $('#more').hidden = browseOffset >= page.total;
  } catch (err) {
    showError(err);
  } finally {
    setBusy(false);
  }
}

/** Without an image query: the images whose names hold the words of the name box (./filters.js). */
async function browseNames() {
  setBusy(true);
  showError(null);
  try {
    const { in: folder, name } = filterParams();
    const r = await api.names({ q: name ?? '', limit: MAX_K, ...(folder ? { in: folder } : {}) });
    const grid = $('#grid');
    grid.textContent = '';
    for (const img of r.results) grid.append(card(img, null));
    $('#grid-title').textContent = nameTitle(r);
    $('#more').hidden = true;
  } catch (err) {
    showError(err);
  } finally {
    setBusy(false);
  }
}

// ------------------------------------------------------------------ keyboard navigation in the grid

function bindGridKeys() {
  $('#grid').addEventListener('keydown', (e) => {
    const t = e.target;
    if (!(t instanceof HTMLButtonElement) || !t.classList.contains('pick')) return;
    const cards = picks();
    const i = cards.indexOf(t);
    const cols = getComputedStyle($('#grid')).gridTemplateColumns.split(' ').length || 1;
    let j = null;
    if (e.key === 'ArrowRight') j = i + 1;
    else if (e.key === 'ArrowLeft') j = i - 1;
    else if (e.key === 'ArrowDown') j = i + cols;
    else if (e.key === 'ArrowUp') j = i - cols;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = cards.length - 1;
    if (j === null) return;
    e.preventDefault();
    if (j >= 0 && j < cards.length) cards[j].focus();
  });
}

// ------------------------------------------------------------------ how it works

/** @type {'time' | 'dist'} */
let sweepXKey = 'time';

async function renderHow() {
  if (!stats) return;
  const feat = stats.features.find((f) => f.kind === state.features) || stats.features[0];
  if (!feat) return;
  renderFacts(stats);
  renderCostTable(feat, null);
  $('#sweep-note').textContent = 'measuring…';
  $('#sweep-chart').textContent = '';
  $('#sweep-table').textContent = '';
  if (stats.images === 0) {
    $('#sweep-note').textContent = 'the collection is empty';
    return;
  }
  setBusy(true);
  try {
    const sw = await api.sweep(feat.kind, 10);
    if (feat.kind !== state.features) return;
    renderCostTable(feat, sw);
    renderSweep(sw);
    void loadKinds(feat.kind);
  } catch (err) {
    $('#sweep-note').textContent = err instanceof Error ? err.message : String(err);
  } finally {
    setBusy(false);
  }
}

/**
 * The comparison of index kinds, asked for once the nprobe sweep is shown: it is slower (the
 * kinds the collection does not hold are built for it).
 * @param {Features} kind
 */
async function loadKinds(kind) {
  const note = $('#kinds-note');
  note.textContent = 'measuring: building the index kinds this collection does not hold…';
  $('#kinds-chart').textContent = '';
  $('#kinds-table').textContent = '';
  try {
    const sw = await api.sweep(kind, 10, 'all');
    if (kind !== state.features) return;
    const c = sw.comparison;
    const left = c?.skipped.length ? `; not measured: ${c.skipped.map((x) => `${x.factory} (${x.reason})`).join(', ')}` : '';
    note.textContent = `${sw.queries} queries, K = ${sw.nlist}, k = ${sw.k}${c?.train_vectors ? `, built kinds trained on ${fmt(c.train_vectors)} images` : ''}${left}`;
    renderKinds($('#kinds-chart'), $('#kinds-table'), sw, { bytes, ms });
  } catch (err) {
    note.textContent = err instanceof Error ? err.message : String(err);
  }
}

/**
 * @param {FeatureStats} feat
 * @param {Sweep | null} sw the measured figures, once the sweep is in
 */
function renderCostTable(feat, sw) {
  const c = feat.costs;
  const head = el(
    'tr',
    {},
    el('th', { text: `D = ${feat.dim}` }),
    ...c.seed.map((r) => el('th', { text: `N = ${fmt(r.n)}` })),
    el('th', { class: 'this', text: `this collection (N = ${fmt(c.collection.n)})` }),
  );
  /** @type {(label: string, f: (r: Cost) => string, thisCell?: string) => HTMLTableRowElement} */
  const row = (label, f, thisCell) => {
    const measured = thisCell !== undefined;
    return el(
      'tr',
      { class: measured ? 'measured' : null },
      el('th', { scope: 'row', text: label }),
      ...c.seed.map((r) => el('td', { class: measured ? 'na' : null, text: f(r) })),
      el('td', { class: 'this', text: measured ? thisCell : f(c.collection) }),
    );
  };
  const body = [
    row('Exact search: N·D', (r) => fmt(r.exact)),
    row("Approximate search (the lecture's table): D·√N", (r) => fmt(r.ivf_seed)),
    row('Groups K (≈ √N)', (r) => fmt(r.k_groups)),
    row('Inverted file: D·(K + N/K)', (r) => fmt(r.ivf)),
    row('Speed-up N·D ÷ D·(K + N/K)', (r) => `${r.ratio.toFixed(1)}×`),
    row('Memory, exact: N·D·4 bytes (float32)', (r) => bytes(r.memory_flat)),
    row('Memory, inverted file of float32 vectors', (r) => bytes(r.memory_ivf)),
    row('Memory, inverted file of 8-bit codes (SQ8): N·D bytes', (r) => bytes(r.memory_ivf_sq8)),
    row(`Memory, inverted file of PQ codes: N·m bytes (m = ${c.collection.pq_m}; re-ranked from disk)`, (r) => bytes(r.memory_ivf_pq)),
  ];
  const idx = feat.index;
  if (idx) {
    const memory = row(
      `Measured: this index in RAM (${idx.factory})`,
      () => '—',
      `${bytes(idx.memory_bytes)} · ${bytes(Math.round(idx.bytes_per_image))} per image`,
    );
    // under the label, wrapping: in the figures' column it would widen the table past the page
    if (idx.codec) memory.cells[0]?.append(el('span', { class: 'codec', text: `codes: ${idx.codec}` }));
    body.push(memory);
    if (idx.refine_bytes > 0) body.push(row('Measured: full vectors for re-ranking, on disk', () => '—', bytes(idx.refine_bytes)));
  }
  if (sw) {
    const p1 = sw.points[0];
    body.push(
      row('Measured: exact, distances', () => '—', fmt(sw.exact.distances_computed)),
      row('Measured: exact, median time', () => '—', `${ms(sw.exact.p50_ms)} ms`),
      row(`Measured: inverted file (nprobe ${p1.nprobe}), distances`, () => '—', fmt(p1.distances_computed)),
      row(`Measured: inverted file (nprobe ${p1.nprobe}), median time`, () => '—', `${ms(p1.p50_ms)} ms`),
      row(`Measured: recall@${sw.k} at nprobe ${p1.nprobe}`, () => '—', p1.recall_at_k.toFixed(3)),
    );
  }
  const table = el('table', {}, el('thead', {}, head), el('tbody', {}, ...body));
  const wrap = $('#cost-table');
  wrap.textContent = '';
  wrap.append(table);
  $('#cost-note').textContent = sw
    ? `Operations counted as in the lecture (one distance = D multiply-adds); memory in bytes of RAM (codes or vectors, ids, centroids, codebooks). Measured over ${sw.queries} images of the collection used as queries; times are the search only, on this server.`
    : 'Operations counted as in the lecture (one distance = D multiply-adds); memory in bytes of RAM (codes or vectors, ids, centroids, codebooks).';
}

/** @param {Sweep} sw */
function renderSweep(sw) {
  $('#sweep-note').textContent = `${sw.queries} queries, K = ${sw.nlist}, k = ${sw.k}`;
  const chart = $('#sweep-chart');
  chart.textContent = '';
  const toggle = el('div', { class: 'segmented small', role: 'radiogroup', 'aria-label': 'x axis' });
  for (const [key, label] of /** @type {const} */ ([
    ['time', 'time'],
    ['dist', 'distances'],
  ])) {
    const input = el('input', { type: 'radio', name: 'sweep-x', value: key, checked: key === sweepXKey });
    input.addEventListener('change', () => {
      sweepXKey = key;
      renderSweep(sw);
    });
    toggle.append(el('label', {}, input, el('span', { text: `x: ${label}` })));
  }
  chart.append(el('div', { class: 'row-head' }, toggle), sweepChart(sw, sweepXKey));
  const table = el(
    'table',
    {},
    el('thead', {}, el('tr', {}, ...['nprobe', `recall@${sw.k}`, 'recall@1', 'median ms', 'distances'].map((h) => el('th', { text: h })))),
    el(
      'tbody',
      {},
      ...sw.points.map((p) =>
        el(
          'tr',
          {},
          el('td', { text: String(p.nprobe) }),
          el('td', { text: p.recall_at_k.toFixed(3) }),
          el('td', { text: p.recall_at_1.toFixed(2) }),
          el('td', { text: ms(p.p50_ms) }),
          el('td', { text: fmt(p.distances_computed) }),
        ),
      ),
      el(
        'tr',
        {},
        el('td', { text: 'exact' }),
        el('td', { text: '1.000' }),
        el('td', { text: '1.00' }),
        el('td', { text: ms(sw.exact.p50_ms) }),
        el('td', { text: fmt(sw.exact.distances_computed) }),
      ),
    ),
  );
  const wrap = $('#sweep-table');
  wrap.textContent = '';
  wrap.append(table);
}

/** @param {Stats} stats */
function renderFacts(stats) {
  const dl = $('#collection-facts');
  dl.textContent = '';
  const add = (/** @type {string} */ k, /** @type {string} */ v) => dl.append(el('dt', { text: k }), el('dd', { text: v }));
  add('Images (N)', fmt(stats.images));
  if (stats.skipped) add('Skipped files', fmt(stats.skipped));
  for (const f of stats.features) {
    const idx = f.index;
    const kind = idx
      ? idx.kind === 'ivf'
        ? `inverted file, ${idx.nlist} lists`
        : idx.kind === 'flat'
          ? 'flat (exact)'
          : `${idx.factory} (compressed)`
      : 'not built';
    const ivf = f.ivf_nlist && idx?.kind === 'flat' ? ` · inverted file K = ${f.ivf_nlist}${f.ivf_nlist_estimated ? ' (once built)' : ''}` : '';
    const label = f.kind === 'color' ? 'Colour' : 'Deep';
    add(`${label} features`, `D = ${f.dim} · primary index ${kind}${ivf}`);
    if (idx) {
      const share = idx.raw_bytes > 0 ? ` (${Math.round((100 * idx.memory_bytes) / idx.raw_bytes)}% of float32)` : '';
      const disk = idx.refine_bytes > 0 ? ` · ${bytes(idx.refine_bytes)} of full vectors on disk for re-ranking` : '';
      add(`${label} index memory`, `${bytes(idx.memory_bytes)} in RAM, ${bytes(Math.round(idx.bytes_per_image))} per image${share}${disk}`);
      // the same line as `nitamono info`'s "codes:": what a PQ kind's bytes per image are made of
      if (idx.codec) add(`${label} index codes`, idx.codec);
      const d = idx.search_defaults;
      const set = [d.nprobe !== null ? `nprobe ${d.nprobe}` : '', d.refine_factor !== null ? `re-ranking ×${d.refine_factor}` : ''].filter(Boolean).join(', ');
      if (idx.tuning)
        add(`${label} tuning`, `${set}: 10-recall@10 ${idx.tuning.recall} (target ${idx.tuning.target_recall}${idx.tuning.reached ? '' : ', not reached'})`);
    }
  }
  add('Index memory', bytes(stats.memory.index_bytes));
  if (stats.memory.refine_bytes > 0) add('Re-ranking vectors (disk)', bytes(stats.memory.refine_bytes));
  add('Server memory (RSS)', bytes(stats.memory.rss_bytes));
  add('On disk', bytes(stats.disk_bytes));
}

// ------------------------------------------------------------------ views

/**
 * @param {View} view
 * @param {boolean} push a new history entry
 */
function setView(view, push) {
  state.view = view;
  $('#view-search').hidden = view !== 'search';
  $('#view-how').hidden = view !== 'how';
  $('#view-duplicates').hidden = view !== 'duplicates';
  for (const t of all(document, '.tab', HTMLAnchorElement)) {
    if (t.dataset.view === view) t.setAttribute('aria-current', 'page');
    else t.removeAttribute('aria-current');
    t.href = urlFor({ view: asView(t.dataset.view) });
  }
  if (push) writeUrl(true);
  if (view === 'how') renderHow();
  if (view === 'duplicates' && stats)
    renderDuplicates($('#dups'), { kinds: stats.features.map((f) => f.kind), features: stats.default_features, onError: showError, setBusy });
}

async function applyState() {
  syncControls();
  setView(state.view, false);
  showQueryPreview();
  if (hasQuery()) await runSearch();
  else {
    lastSearch = null;
    $('#stats-panel').hidden = true;
    $('#hist-box').hidden = true;
    $('#intro').hidden = false;
    await browse(false);
  }
}

/**
 * Unhides the Japanese name only when a font of this machine draws its glyphs (a stock Debian
 * Chromium without CJK fonts shows empty boxes): each character, drawn on a canvas in the
 * heading's font, must differ both from nothing and from a code point no font has, which is
 * drawn as the missing-glyph box.
 */
function showJapaneseName() {
  const jp = $('h1 .jp');
  const g = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  if (!g) return;
  g.canvas.width = 48;
  g.canvas.height = 48;
  g.font = `32px ${getComputedStyle(jp).fontFamily}`;
  const draw = (/** @type {string} */ ch) => {
    g.clearRect(0, 0, 48, 48);
    g.fillText(ch, 4, 36);
    return g.getImageData(0, 0, 48, 48).data;
  };
  const same = (/** @type {Uint8ClampedArray} */ a, /** @type {Uint8ClampedArray} */ b) => a.every((v, i) => v === b[i]);
  const missing = draw('\u{10FFFD}');
  const nothing = draw(' ');
  const drawn = [...(jp.textContent ?? '')].every((ch) => {
    const d = draw(ch);
    return !same(d, missing) && !same(d, nothing);
  });
  jp.hidden = !drawn;
  jp.dataset.glyphs = drawn ? 'drawn' : 'missing';
}

async function main() {
  showJapaneseName();
  readUrl();
  bindControls();
  bindDrop();
  bindGridKeys();
  setBusy(true);
  /** @type {Stats} */
  let loaded;
  try {
    loaded = await api.stats();
  } catch (err) {
    showError(err);
    return;
  } finally {
    setBusy(false);
  }
  stats = loaded;
  const given = new URLSearchParams(location.search);
  // Without features in the URL, start on the collection's default (deep when it stores them).
  if (!given.has('features')) state.features = stats.default_features;
  // Without a method in the URL, search the way the collection is indexed (as the API does).
  const f0 = stats.features.find((x) => x.kind === state.features) ?? stats.features[0];
  if (!given.has('method') && f0?.index && f0.index.kind !== 'flat') state.method = 'ivf';
  // a compressed or tuned index: start from the nprobe its searches default to
  const defaultNprobe = f0?.index?.search_defaults.nprobe;
  if (!given.has('nprobe') && defaultNprobe && (f0.index?.tuning || (f0.index && f0.index.kind !== 'ivf'))) state.nprobe = defaultNprobe;
  $('#summary').textContent =
    `${fmt(stats.images)} images · ${stats.features.map((f) => `${f.kind === 'color' ? 'colour' : 'deep'} D = ${f.dim}`).join(' · ')}`;
  if (!K_CHOICES.includes(state.k)) $('#k').append(el('option', { text: String(state.k) }));
  buildFeatureControls(stats);
  // readUrl keeps the uploaded file while the URL still names it (or names no query at all).
  window.addEventListener('popstate', () => {
    readUrl();
    applyState();
  });
  await applyState();
  document.body.dataset.ready = 'true';
}

main();
