// The charts of the vector-search benchmarks (ann-bench.mjs, big-index-chart.mjs): recall
// against one-query q/s and against RAM, as standalone SVG. A series is
// { name, color, dash?, points: [{ recall, qps, mem (÷ raw), label }] }.

export const PALETTE = {
  'nitamono flat': '#862e9c',
  'nitamono IVF-Flat': '#d6336c',
  'nitamono IVF-SQ8': '#e8590c',
  'nitamono IVF-PQ': '#c2255c',
  'nitamono PQ': '#8f5b2e',
  'Faiss flat': '#1864ab',
  'Faiss IVF-Flat': '#1c7ed6',
  'Faiss IVF-SQ8': '#15aabf',
  'Faiss IVF-PQ': '#364fc7',
  'nitamono OPQ-IVF-PQ': '#a61e4d',
  'Faiss OPQ-IVF-PQ': '#5f3dc4',
  'hnswlib-node': '#2b8a3e',
  usearch: '#f59f00',
  'hnswlib (Python)': '#74b816',
};
/** Fast-scan series (…x4fs) in colours of their own: by prefix they would take their 8-bit kin's. */
const FAST_SCAN_PALETTE = { nitamono: '#f783ac', Faiss: '#748ffc' };
export const colorOf = (name) =>
  (name.includes('x4fs') ? FAST_SCAN_PALETTE[name.split(' ')[0]] : undefined) ??
  PALETTE[Object.keys(PALETTE).find((k) => name.startsWith(k)) ?? ''] ??
  '#495057';

/** Both charts' size and margins (left, right for the legend, top, bottom), in pixels. */
const PLOT = { W: 1000, H: 540, L: 70, R: 260, Tp: 40, B: 50 };

function svgFrame(W, H, title) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>\n`;
}

/** A point: filled, or hollow for re-ranked variants. */
const dot = (x, y, se, title) =>
  `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" ${se.dash ? `fill="white" stroke="${se.color}" stroke-width="1.5"` : `fill="${se.color}"`}><title>${title}</title></circle>\n`;

/** The legend, in a column right of the plot. */
function legend(series, x, yTop) {
  let s = '';
  series.forEach((se, i) => {
    const y = yTop + i * 18;
    s += `<line x1="${x}" x2="${x + 20}" y1="${y + 6}" y2="${y + 6}" stroke="${se.color}" stroke-width="2"${se.dash ? ` stroke-dasharray="${se.dash}"` : ''}/>${dot(x + 10, y + 6, se, se.name)}<text x="${x + 26}" y="${y + 10}">${se.name}</text>\n`;
  });
  return s;
}

/**
 * Recall (x) against one-query q/s (y, log), one line per index; a dashed line at the target
 * recall `marks.recall`. `marks.qpsLabel` names the y axis.
 */
export function svgRecallQps(title, series, marks) {
  const { W, H, L, R, Tp, B } = PLOT;
  const pts = series.flatMap((s) => s.points);
  const ymin = Math.log10(Math.min(...pts.map((p) => p.qps)) * 0.8),
    ymax = Math.log10(Math.max(...pts.map((p) => p.qps)) * 1.2);
  const xmin = Math.max(0, Math.floor(Math.min(...pts.map((p) => p.recall)) * 20) / 20 - 0.05),
    xmax = 1.005;
  const step = xmax - xmin > 0.3 ? 0.1 : 0.05;
  const X = (r) => L + ((r - xmin) / (xmax - xmin)) * (W - L - R);
  const Y = (q) => Tp + (1 - (Math.log10(q) - ymin) / (ymax - ymin)) * (H - Tp - B);
  let s = svgFrame(W, H, title);
  for (let e = Math.ceil(ymin); e <= Math.floor(ymax); e++)
    s += `<line x1="${L}" x2="${W - R}" y1="${Y(10 ** e)}" y2="${Y(10 ** e)}" stroke="#ddd"/><text x="${L - 6}" y="${Y(10 ** e) + 4}" text-anchor="end">${10 ** e}</text>\n`;
  for (let r = Math.ceil(xmin / step) * step; r <= 1.0001; r += step)
    s += `<line y1="${Tp}" y2="${H - B}" x1="${X(r)}" x2="${X(r)}" stroke="#eee"/><text x="${X(r)}" y="${H - B + 16}" text-anchor="middle">${r.toFixed(2)}</text>\n`;
  s += `<line y1="${Tp}" y2="${H - B}" x1="${X(marks.recall)}" x2="${X(marks.recall)}" stroke="#adb5bd" stroke-dasharray="3 3"/>\n`;
  s += `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">10-recall@10</text>`;
  s += `<text transform="translate(16 ${(Tp + H - B) / 2}) rotate(-90)" text-anchor="middle">${marks.qpsLabel ?? 'queries/s, one at a time, 1 thread (log)'}</text>\n`;
  for (const se of series) {
    const path = se.points.map((p, j) => `${j ? 'L' : 'M'}${X(p.recall).toFixed(1)},${Y(p.qps).toFixed(1)}`).join(' ');
    s += `<path d="${path}" fill="none" stroke="${se.color}" stroke-width="2"${se.dash ? ` stroke-dasharray="${se.dash}"` : ''}/>\n`;
    for (const p of se.points) s += dot(X(p.recall), Y(p.qps), se, `${se.name} ${p.label}: recall ${p.recall.toFixed(4)}, ${p.qps.toFixed(0)} q/s`);
  }
  return `${s + legend(series, W - R + 16, Tp + 6)}</svg>\n`;
}

/**
 * RAM of each index as a fraction of the raw vectors (x, log) against the recall its settings
 * reach (y); dashed lines at `marks.recall` and `marks.ram`.
 */
export function svgRecallMemory(title, series, marks) {
  const { W, H, L, R, Tp, B } = PLOT;
  const pts = series.flatMap((s) => s.points);
  const xmin = Math.log10(Math.min(marks.ram, ...pts.map((p) => p.mem)) * 0.7),
    xmax = Math.log10(Math.max(...pts.map((p) => p.mem)) * 1.4);
  const ymin = Math.max(0, Math.floor(Math.min(...pts.map((p) => p.recall)) * 20) / 20 - 0.05),
    ymax = 1.005;
  const step = ymax - ymin > 0.3 ? 0.1 : 0.05;
  const X = (m) => L + ((Math.log10(m) - xmin) / (xmax - xmin)) * (W - L - R);
  const Y = (r) => Tp + (1 - (r - ymin) / (ymax - ymin)) * (H - Tp - B);
  let s = svgFrame(W, H, title);
  for (const m of [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10])
    if (Math.log10(m) >= xmin && Math.log10(m) <= xmax)
      s += `<line y1="${Tp}" y2="${H - B}" x1="${X(m)}" x2="${X(m)}" stroke="${m === marks.ram ? '#adb5bd' : '#eee'}"${m === marks.ram ? ' stroke-dasharray="3 3"' : ''}/><text x="${X(m)}" y="${H - B + 16}" text-anchor="middle">${m}×</text>\n`;
  for (let r = Math.ceil(ymin / step) * step; r <= 1.0001; r += step)
    s += `<line x1="${L}" x2="${W - R}" y1="${Y(r)}" y2="${Y(r)}" stroke="#eee"/><text x="${L - 6}" y="${Y(r) + 4}" text-anchor="end">${r.toFixed(2)}</text>\n`;
  s += `<line x1="${L}" x2="${W - R}" y1="${Y(marks.recall)}" y2="${Y(marks.recall)}" stroke="#adb5bd" stroke-dasharray="3 3"/>\n`;
  s += `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">RAM of the index ÷ raw float32 vectors (log); re-rank vectors counted when in RAM, not on disk</text>`;
  s += `<text transform="translate(16 ${(Tp + H - B) / 2}) rotate(-90)" text-anchor="middle">10-recall@10 over the sweep</text>\n`;
  series.forEach((se, i) => {
    const jitter = ((i % 7) - 3) * 3;
    for (const p of se.points)
      s += dot(
        X(p.mem) + jitter,
        Y(p.recall),
        se,
        `${se.name} ${p.label}: recall ${p.recall.toFixed(4)}, ${p.qps.toFixed(0)} q/s, RAM ${p.mem.toFixed(3)}× raw`,
      );
  });
  return `${s + legend(series, W - R + 16, Tp + 6)}</svg>\n`;
}
