// @ts-check
// The "Duplicates" view: groups of near-identical images side by side (GET /api/duplicates),
// exact copies marked, a features switch and a threshold field (empty = the calibrated default).
import { api } from './api.js';

/**
 * @typedef {import('./api.js').Features} Features
 * @typedef {import('./api.js').Duplicates} Duplicates
 * @typedef {import('./api.js').DuplicateGroup} DuplicateGroup
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [cls]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
function node(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const distance = (/** @type {number} */ d) => (d === 0 ? '0' : d < 0.001 ? d.toExponential(1) : d.toFixed(4));

/** @param {DuplicateGroup} g */
function groupCard(g) {
  const card = node('li', `panel dup-group${g.exact ? ' exact' : ''}`);
  const head = node('p', 'dup-head');
  head.append(
    node('span', g.exact ? 'badge exact' : 'badge', g.exact ? 'Exact copies' : 'Near-duplicates'),
    node('span', 'muted', `${g.images.length} images · ${g.exact ? 'same content' : `max distance ${distance(g.max_distance)}`}`),
  );
  const row = node('ul', 'dup-row');
  for (const img of g.images) {
    const item = node('li', 'dup-item');
    const link = node('a');
    // a click searches for images like this one
    link.href = `?id=${img.id}`;
    link.title = img.path;
    const pic = node('img');
    pic.src = img.thumbnail_url;
    pic.alt = img.path;
    pic.loading = 'lazy';
    link.append(pic);
    const cap = node('span', 'dup-path', img.path);
    item.append(link, cap);
    if (img.exact_copy && !g.exact) item.append(node('span', 'badge exact', 'exact copy'));
    row.append(item);
  }
  card.append(head, row);
  return card;
}

/**
 * Renders the view into `root` (once: later calls only re-run the search when asked).
 * @param {HTMLElement} root
 * @param {{ kinds: Features[], features: Features, onError: (err: unknown) => void, setBusy: (on: boolean) => void }} opts
 */
export function renderDuplicates(root, opts) {
  if (root.dataset.built) return;
  root.dataset.built = 'true';
  const form = node('form', 'panel dup-controls');
  form.setAttribute('aria-label', 'Duplicate settings');
  const feats = node('div', 'segmented small');
  feats.setAttribute('role', 'radiogroup');
  feats.setAttribute('aria-label', 'Features');
  for (const kind of opts.kinds) {
    const label = node('label');
    const input = node('input');
    input.type = 'radio';
    input.name = 'dup-features';
    input.value = kind;
    input.checked = kind === opts.features;
    label.append(input, node('span', undefined, kind === 'color' ? 'Colour' : 'Deep'));
    feats.append(label);
  }
  const tLabel = node('label', 'dup-threshold', 'Threshold ');
  const threshold = node('input');
  threshold.id = 'dup-threshold';
  threshold.type = 'number';
  threshold.min = '0';
  threshold.step = 'any';
  threshold.placeholder = 'calibrated default';
  tLabel.append(threshold);
  const go = node('button', 'button primary', 'Find duplicates');
  go.type = 'submit';
  form.append(feats, tLabel, go);
  const summary = node('p', 'dup-summary muted');
  summary.id = 'dup-summary';
  summary.setAttribute('aria-live', 'polite');
  const list = node('ol', 'dup-groups');
  list.id = 'dup-groups';
  root.append(form, summary, list);

  let seq = 0;
  const run = async () => {
    const mine = ++seq;
    const checked = feats.querySelector('input:checked');
    const features = /** @type {Features} */ (checked instanceof HTMLInputElement ? checked.value : opts.features);
    const t = threshold.value.trim();
    summary.textContent = 'Looking for duplicates…';
    list.textContent = '';
    opts.onError(null);
    opts.setBusy(true);
    try {
      const r = await api.duplicates(features, t === '' ? undefined : Number(t));
      if (mine !== seq) return;
      const exact = r.groups.filter((g) => g.exact).length;
      summary.textContent =
        `${r.groups.length} ${r.groups.length === 1 ? 'group' : 'groups'} (${exact} of exact copies), ${r.images_in_groups} of ${r.n} images · ` +
        `${r.features} features, threshold ${r.threshold} (${r.threshold_source === 'default' ? 'calibrated default' : 'given'}) · ` +
        `${r.method === 'exact' ? 'exact' : `inverted file, nprobe ${r.nprobe}`} self-join${r.verified ? ', checked on the pixels' : ''} · ${Math.round(r.took_ms)} ms`;
      if (r.groups.length === 0) list.append(node('li', 'muted', 'No duplicates at this threshold.'));
      for (const g of r.groups) list.append(groupCard(g));
    } catch (err) {
      if (mine !== seq) return;
      summary.textContent = '';
      opts.onError(err);
    } finally {
      opts.setBusy(false);
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  feats.addEventListener('change', run);
  run();
}
