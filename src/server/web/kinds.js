// @ts-check
// The "how it works" comparison of index kinds on this collection's vectors (GET /api/sweep
// with kinds=all): recall against search time, one line per kind labelled with its RAM, or
// recall against RAM (log scale) at each kind's cheapest nprobe reaching the target, and a
// table of kind, RAM, disk, nprobe, recall and time. Each kind has its own marker shape and
// dash pattern besides its colour, so the chart reads without colour.
import { fmtAxis, svg, text } from './charts.js';

/**
 * @typedef {import('./api.js').Sweep} Sweep
 * @typedef {import('./api.js').KindSeries} KindSeries
 * @typedef {import('./api.js').SweepPoint} SweepPoint
 * @typedef {{ bytes: (b: number) => string, ms: (v: number) => string }} Formats
 * @typedef {'time' | 'memory'} KindsView
 */

/** Recall the memory view and the table look for (the cheapest nprobe reaching it). */
export const TARGET_RECALL = 0.95;

const STYLES = [
  { marker: 'circle', dash: '', color: '#2f6f6a' },
  { marker: 'square', dash: '7 4', color: '#c2571a' },
  { marker: 'triangle', dash: '2 3', color: '#6a4c93' },
  { marker: 'diamond', dash: '9 3 2 3', color: '#3c78c3' },
];

const W = 560,
  L = 52,
  R = 18,
  T = 16,
  PLOT = 240,
  AXIS = 40,
  LEGEND_ROW = 18;

/**
 * A marker of `shape` centred on (x, y).
 * @param {string} shape
 * @param {number} x
 * @param {number} y
 * @param {string} color
 */
function marker(shape, x, y, color) {
  const a = { fill: 'var(--panel, #fff)', stroke: color, 'stroke-width': 2, class: 'kind-pt' };
  const r = 4.5;
  if (shape === 'square') return svg('rect', { x: x - r, y: y - r, width: 2 * r, height: 2 * r, ...a });
  if (shape === 'triangle') return svg('polygon', { points: `${x},${y - r - 1} ${x + r + 1},${y + r} ${x - r - 1},${y + r}`, ...a });
  if (shape === 'diamond') return svg('polygon', { points: `${x},${y - r - 1} ${x + r + 1},${y} ${x},${y + r + 1} ${x - r - 1},${y}`, ...a });
  return svg('circle', { cx: x, cy: y, r, ...a });
}

/**
 * @param {SVGElement} el
 * @param {string} s
 */
function titled(el, s) {
  const t = svg('title');
  t.textContent = s;
  el.append(t);
  return el;
}

/**
 * The point of a series the memory view and the table show: the smallest nprobe whose recall
 * reaches `target`, else the one of best recall.
 * @param {KindSeries} s
 * @param {number} target
 * @returns {SweepPoint | undefined}
 */
export function pickPoint(s, target) {
  const reach = s.points.find((p) => p.recall_at_k >= target);
  if (reach) return reach;
  return s.points.reduce((/** @type {SweepPoint | undefined} */ best, p) => (!best || p.recall_at_k > best.recall_at_k ? p : best), undefined);
}

/**
 * The frame both views share: recall grid (y), axis titles, and a legend of the kinds below.
 * @param {Sweep} sw
 * @param {KindSeries[]} series
 * @param {string} xTitle
 * @param {Formats} f
 */
function frame(sw, series, xTitle, f) {
  const H = T + PLOT + AXIS + LEGEND_ROW * Math.ceil(series.length / 2) + 6;
  const sy = (/** @type {number} */ r) => T + (1 - r) * PLOT;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'kinds-svg' });
  for (let i = 0; i <= 4; i++) {
    const r = i / 4;
    root.append(svg('line', { x1: L, x2: W - R, y1: sy(r), y2: sy(r), class: 'axis', 'stroke-dasharray': i === 0 ? '' : '2 4' }));
    root.append(text(L - 8, sy(r) + 4, r.toFixed(2), { 'text-anchor': 'end' }));
  }
  root.append(text(L + (W - L - R) / 2, T + PLOT + 34, xTitle, { 'text-anchor': 'middle' }));
  root.append(text(14, T + PLOT / 2, `recall@${sw.k}`, { 'text-anchor': 'middle', transform: `rotate(-90 14 ${T + PLOT / 2})` }));
  // legend: marker, dash and label with RAM, two per row
  series.forEach((s, i) => {
    const st = STYLES[i % STYLES.length];
    const x = L + (i % 2) * ((W - L - R) / 2);
    const y = T + PLOT + AXIS + LEGEND_ROW * Math.floor(i / 2) + 8;
    root.append(svg('line', { x1: x, x2: x + 26, y1: y, y2: y, stroke: st.color, 'stroke-width': 2, 'stroke-dasharray': st.dash }));
    root.append(marker(st.marker, x + 13, y, st.color));
    const own = s.own ? ' (this collection)' : '';
    root.append(text(x + 34, y + 4, `${s.label} · ${f.bytes(s.memory_bytes)}${own}`, { class: 'lbl kind-label' }));
  });
  return { root, sy };
}

/**
 * A log-scale x axis over [lo, hi] (both > 0): the scale, with ticks at `ticks` that fall in
 * range (labelled by `label`) drawn into `root`.
 * @param {SVGElement} root
 * @param {number} lo
 * @param {number} hi
 * @param {number[]} ticks
 * @param {(v: number) => string} label
 */
function logAxis(root, lo, hi, ticks, label) {
  const a = Math.log10(lo),
    b = Math.max(a + 1e-9, Math.log10(hi));
  const sx = (/** @type {number} */ v) => L + 12 + ((Math.log10(Math.max(v, lo)) - a) / (b - a)) * (W - L - R - 24);
  for (const v of ticks) {
    if (v < lo || v > hi) continue;
    root.append(svg('line', { x1: sx(v), x2: sx(v), y1: T + PLOT, y2: T + PLOT + 4, class: 'axis' }));
    root.append(text(sx(v), T + PLOT + 17, label(v), { 'text-anchor': 'middle' }));
  }
  return sx;
}

/**
 * `base`^e × each of `steps`, from below lo to above hi, thinned to at most 7.
 * @param {number} lo
 * @param {number} hi
 * @param {number} base
 * @param {number[]} steps
 */
function ticksOf(lo, hi, base, steps) {
  const out = [];
  for (let e = Math.floor(Math.log(lo) / Math.log(base)) - 1; base ** e <= hi * base; e++) for (const m of steps) out.push(m * base ** e);
  const inside = out.filter((v) => v >= lo && v <= hi);
  const every = Math.ceil(inside.length / 7);
  return inside.filter((_, i) => i % every === 0);
}

/**
 * Recall (y) against median search time (x, log scale: kinds differ by orders of magnitude),
 * one line per kind.
 * @param {Sweep} sw
 * @param {Formats} f
 */
export function kindsTimeChart(sw, f) {
  const series = (sw.series || []).filter((s) => s.points.length > 0);
  const { root, sy } = frame(sw, series, 'median search time (ms, log scale)', f);
  const times = series.flatMap((s) => s.points.map((p) => Math.max(1e-4, p.p50_ms)));
  const lo = Math.min(...times, 1) / 1.25,
    hi = Math.max(...times, lo * 10) * 1.25;
  const sx = logAxis(root, lo, hi, ticksOf(lo, hi, 10, [1, 2, 5]), fmtAxis);
  series.forEach((s, i) => {
    const st = STYLES[i % STYLES.length];
    const pts = s.points.map((p) => [sx(p.p50_ms), sy(p.recall_at_k)]);
    if (pts.length > 1)
      root.append(
        svg('polyline', { points: pts.map((p) => p.join(',')).join(' '), fill: 'none', stroke: st.color, 'stroke-width': 2, 'stroke-dasharray': st.dash }),
      );
    s.points.forEach((p, j) => {
      const [x, y] = pts[j];
      root.append(
        titled(
          marker(st.marker, x, y, st.color),
          `${s.label} (${s.factory}), nprobe ${p.nprobe}: recall@${sw.k} ${p.recall_at_k.toFixed(3)}, ${f.ms(p.p50_ms)} ms (median), RAM ${f.bytes(s.memory_bytes)}`,
        ),
      );
    });
  });
  return root;
}

/**
 * Recall (y) against RAM (x, log scale): each kind at its cheapest nprobe reaching `target`.
 * @param {Sweep} sw
 * @param {Formats} f
 * @param {number} [target]
 */
export function kindsMemoryChart(sw, f, target = TARGET_RECALL) {
  const series = (sw.series || []).filter((s) => s.points.length > 0);
  const { root, sy } = frame(sw, series, `RAM of the index (bytes, log scale), at the smallest nprobe reaching recall ${target}`, f);
  const mem = series.map((s) => Math.max(1, s.memory_bytes));
  const lo = Math.min(...mem) / 2,
    hi = Math.max(...mem, lo * 8) * 2;
  const sx = logAxis(root, lo, hi, ticksOf(lo, hi, 2, [1]), f.bytes);
  root.append(svg('line', { x1: L, x2: W - R, y1: sy(target), y2: sy(target), class: 'axis target', 'stroke-dasharray': '6 3' }));
  /** @type {{ x0: number, x1: number, y0: number, y1: number }[]} */
  const placed = [];
  series.forEach((s, i) => {
    const st = STYLES[i % STYLES.length];
    const p = pickPoint(s, target);
    if (!p) return;
    const x = sx(Math.max(1, s.memory_bytes)),
      y = sy(p.recall_at_k);
    root.append(
      titled(
        marker(st.marker, x, y, st.color),
        `${s.label}: RAM ${f.bytes(s.memory_bytes)}, nprobe ${p.nprobe}, recall@${sw.k} ${p.recall_at_k.toFixed(3)}, ${f.ms(p.p50_ms)} ms`,
      ),
    );
    // kinds of nearly equal RAM and recall sit on each other: each label takes the first
    // place above or below its marker that no earlier label holds
    const label = `${s.label} · nprobe ${p.nprobe}`;
    const w = label.length * 5.6;
    const x0 = Math.min(Math.max(L, x - w / 2), W - R - w);
    for (const dy of [-10, 19, -23, 32, -36, 45, -49, 58]) {
      const box = { x0, x1: x0 + w, y0: y + dy - 10, y1: y + dy + 2 };
      const free = placed.every((b) => b.x1 < box.x0 || box.x1 < b.x0 || b.y1 < box.y0 || box.y1 < b.y0);
      if (free || dy === 58) {
        placed.push(box);
        root.append(text(x0, y + dy, label, { class: 'lbl' }));
        break;
      }
    }
  });
  return root;
}

/**
 * Fills `root` (chart, view switch, table) with the comparison of `sw`.
 * @param {HTMLElement} root the chart's container
 * @param {HTMLElement} tableRoot the table's container
 * @param {Sweep} sw
 * @param {Formats} f
 * @param {KindsView} [view]
 */
export function renderKinds(root, tableRoot, sw, f, view = 'time') {
  root.textContent = '';
  tableRoot.textContent = '';
  const series = sw.series || [];
  const toggle = document.createElement('div');
  toggle.className = 'segmented small';
  toggle.setAttribute('role', 'radiogroup');
  toggle.setAttribute('aria-label', 'x axis');
  for (const [key, label] of /** @type {const} */ ([
    ['time', 'x: time'],
    ['memory', 'x: memory'],
  ])) {
    const lab = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'kinds-x';
    input.value = key;
    input.checked = key === view;
    input.addEventListener('change', () => renderKinds(root, tableRoot, sw, f, key));
    const span = document.createElement('span');
    span.textContent = label;
    lab.append(input, span);
    toggle.append(lab);
  }
  const head = document.createElement('div');
  head.className = 'row-head';
  head.append(toggle);
  root.append(head, view === 'time' ? kindsTimeChart(sw, f) : kindsMemoryChart(sw, f));

  const table = document.createElement('table');
  /** @type {(tr: HTMLTableRowElement, tag: 'th' | 'td', s: string) => void} */
  const cell = (tr, tag, s) => {
    const c = document.createElement(tag);
    c.textContent = s;
    tr.append(c);
  };
  const hr = table.createTHead().insertRow();
  for (const h of ['kind', 'RAM', 'disk', 'nprobe', `recall@${sw.k}`, 'median ms']) cell(hr, 'th', h);
  const body = table.createTBody();
  for (const s of series) {
    const p = pickPoint(s, TARGET_RECALL);
    const tr = body.insertRow();
    tr.title = s.factory;
    cell(tr, 'td', s.own ? `${s.label} (this collection)` : s.label);
    cell(tr, 'td', f.bytes(s.memory_bytes));
    cell(tr, 'td', s.refine_bytes > 0 ? f.bytes(s.refine_bytes) : '—');
    cell(tr, 'td', p ? String(p.nprobe) : '—');
    cell(tr, 'td', p ? p.recall_at_k.toFixed(3) : '—');
    cell(tr, 'td', p ? f.ms(p.p50_ms) : '—');
  }
  tableRoot.append(table);
}
