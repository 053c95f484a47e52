// @ts-check
// Small inline-SVG charts: the query's colour histogram and the recall-versus-time curve.
/** @typedef {import('./api.js').Sweep} Sweep */

const NS = 'http://www.w3.org/2000/svg';

/**
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @param {(Node | string)[]} [children]
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, children = []) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/**
 * @param {number} x
 * @param {number} y
 * @param {string} s
 * @param {Record<string, string | number>} [attrs]
 */
export function text(x, y, s, attrs = {}) {
  const t = svg('text', { x, y, ...attrs });
  t.textContent = s;
  return t;
}

const CHANNELS = [
  { name: 'R', label: 'red', color: '#d1495b' },
  { name: 'G', label: 'green', color: '#3f9a5b' },
  { name: 'B', label: 'blue', color: '#3c78c3' },
];

/**
 * 3 × bins bars (R, G, B), each channel's bins summing to 1. Bar heights use a common scale
 * (0…max value), lighter shades for darker bins so the four brightness ranges read left to right.
 * @param {number[]} values
 * @param {number} bins
 */
export function histogramChart(values, bins) {
  const W = 300,
    H = 150,
    padL = 8,
    padR = 8,
    top = 18,
    base = 118;
  const groupGap = 14;
  const nb = values.length;
  const groups = Math.round(nb / bins);
  const inner = W - padL - padR - groupGap * (groups - 1);
  const bw = inner / nb;
  const max = Math.max(0.25, ...values);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Colour histogram: ${describe(values, bins)}` });
  root.append(svg('line', { x1: padL, x2: W - padR, y1: base + 0.5, y2: base + 0.5, stroke: 'currentColor', 'stroke-opacity': 0.2 }));
  for (let g = 0; g < groups; g++) {
    const ch = CHANNELS[g] || CHANNELS[0];
    const gx = padL + g * (bins * bw + groupGap);
    for (let b = 0; b < bins; b++) {
      const v = values[g * bins + b] || 0;
      const h = Math.max(v > 0 ? 1.5 : 0, (v / max) * (base - top));
      const x = gx + b * bw + 2;
      const rect = svg('rect', {
        x,
        y: base - h,
        width: Math.max(1, bw - 4),
        height: h,
        rx: 2,
        fill: ch.color,
        'fill-opacity': 0.45 + (0.55 * (b + 1)) / bins,
      });
      const lo = Math.round((b * 256) / bins),
        hi = Math.round(((b + 1) * 256) / bins) - 1;
      const title = svg('title');
      title.textContent = `${ch.label} ${lo}–${hi}: ${(v * 100).toFixed(1)}% of pixels`;
      rect.append(title);
      root.append(rect);
      if (v >= 0.005)
        root.append(
          text(x + (bw - 4) / 2, base - h - 4, v >= 0.995 ? '1' : v.toFixed(2).replace(/^0/, ''), {
            'text-anchor': 'middle',
            'font-size': 9,
            fill: 'currentColor',
            'fill-opacity': 0.75,
          }),
        );
    }
    root.append(text(gx + (bins * bw) / 2, base + 16, ch.name, { 'text-anchor': 'middle', 'font-size': 12, 'font-weight': 700, fill: ch.color }));
    root.append(text(gx + 2, base + 30, 'dark', { 'font-size': 8.5, fill: 'currentColor', 'fill-opacity': 0.55 }));
    root.append(text(gx + bins * bw - 2, base + 30, 'bright', { 'font-size': 8.5, 'text-anchor': 'end', fill: 'currentColor', 'fill-opacity': 0.55 }));
  }
  return root;
}

/**
 * @param {number[]} values
 * @param {number} bins
 */
function describe(values, bins) {
  const parts = [];
  for (let g = 0; g * bins < values.length; g++) {
    const ch = CHANNELS[g] || CHANNELS[0];
    parts.push(
      `${ch.label} ${values
        .slice(g * bins, (g + 1) * bins)
        .map((v) => v.toFixed(2))
        .join(' ')}`,
    );
  }
  return parts.join('; ');
}

/** @param {number} v */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** @param {number} v */
export function fmtAxis(v) {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(v % 1e6 ? 1 : 0)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (Math.abs(v) >= 100) return String(Math.round(v));
  if (Math.abs(v) >= 1) return String(+v.toFixed(2));
  return String(+v.toPrecision(2));
}

/**
 * Recall@k (y, 0…1) against x = mean search time in ms or distances computed, one point per
 * nprobe, plus exact search as the grey reference point at recall 1.
 * @param {Sweep} sweep
 * @param {'time' | 'dist'} xKey
 */
export function sweepChart(sweep, xKey) {
  const W = 560,
    H = 300,
    L = 52,
    R = 18,
    T = 16,
    B = 44;
  const xs = sweep.points.map((p) => (xKey === 'time' ? p.p50_ms : p.distances_computed));
  const exactX = xKey === 'time' ? sweep.exact.p50_ms : sweep.exact.distances_computed;
  const xmax = niceMax(Math.max(exactX, ...xs) * 1.05);
  const sx = (/** @type {number} */ v) => L + (v / xmax) * (W - L - R);
  const sy = (/** @type {number} */ r) => T + (1 - r) * (H - T - B);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}` });
  // grid and axes
  for (let i = 0; i <= 4; i++) {
    const r = i / 4;
    const y = sy(r);
    root.append(svg('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'axis', 'stroke-dasharray': i === 0 ? '' : '2 4' }));
    root.append(text(L - 8, y + 4, r.toFixed(2), { 'text-anchor': 'end' }));
  }
  for (let i = 0; i <= 5; i++) {
    const v = (xmax * i) / 5;
    const x = sx(v);
    root.append(svg('line', { x1: x, x2: x, y1: H - B, y2: H - B + 4, class: 'axis' }));
    root.append(text(x, H - B + 17, fmtAxis(v), { 'text-anchor': 'middle' }));
  }
  root.append(text(L + (W - L - R) / 2, H - 6, xKey === 'time' ? 'median search time (ms)' : 'distances computed per query', { 'text-anchor': 'middle' }));
  root.append(text(14, T + (H - T - B) / 2, `recall@${sweep.k}`, { 'text-anchor': 'middle', transform: `rotate(-90 14 ${T + (H - T - B) / 2})` }));
  // curve
  const pts = sweep.points.map((p, i) => [sx(xs[i]), sy(p.recall_at_k)]);
  if (pts.length > 1) root.append(svg('polyline', { points: pts.map((p) => p.join(',')).join(' '), class: 'curve' }));
  let lastLabelX = -Infinity;
  sweep.points.forEach((p, i) => {
    const [x, y] = pts[i];
    const c = svg('circle', { cx: x, cy: y, r: 4.5, class: 'pt' });
    const t = svg('title');
    t.textContent = `nprobe ${p.nprobe}: recall@${sweep.k} ${p.recall_at_k.toFixed(3)}, ${p.p50_ms.toFixed(3)} ms (median), ${Math.round(p.distances_computed)} distances`;
    c.append(t);
    root.append(c);
    const last = i === sweep.points.length - 1;
    if (i === 0 || last || x - lastLabelX > 34) {
      root.append(text(x + 2, y + (p.recall_at_k > 0.93 ? 17 : -9), String(p.nprobe), { class: 'lbl', 'text-anchor': 'middle' }));
      lastLabelX = x;
    }
  });
  // exact reference
  const ex = sx(exactX),
    ey = sy(1);
  const e = svg('rect', { x: ex - 5, y: ey - 5, width: 10, height: 10, class: 'exact-pt', rx: 2 });
  const et = svg('title');
  et.textContent = `exact search: recall 1, ${sweep.exact.p50_ms.toFixed(3)} ms (median), ${Math.round(sweep.exact.distances_computed)} distances`;
  e.append(et);
  root.append(e);
  root.append(text(ex - 8, ey - 9, 'exact', { class: 'lbl', 'text-anchor': 'end' }));
  root.append(text(W - R, H - B - 8, 'point labels: nprobe', { 'text-anchor': 'end' }));
  return root;
}
