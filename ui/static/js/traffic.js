// Traffic charts in plain SVG: an app's requests/s, p99 latency and error
// rate over the last hour on one time axis, with its deploys and canaries marked, and
// a sparkline of requests/s for the cluster view. Figures come from
// GET /apps/:app/traffic (10 s points), deploy and canary times from its history.

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const fmt = (v, unit) => {
  if (unit === '%') return `${(v * 100).toFixed(v * 100 < 10 ? 1 : 0)}%`;
  if (unit === 'ms') return v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
  return v < 10 ? v.toFixed(1) : String(Math.round(v));
};

// The chart's panels: what each draws from a point.
const PANELS = [
  { key: 'rps', title: 'Requests/s', unit: '/s', cls: 'c-rps' },
  { key: 'p99', title: 'p99 latency', unit: 'ms', cls: 'c-p99' },
  { key: 'error_rate', title: 'Error rate', unit: '%', cls: 'c-err' },
];

// marks turns history entries ({revision, timestamp, status, canary,
// finished}) into the chart's marks: a deploy at each revision's time; for
// a canary revision (canary: its percent) its start, and its promote or
// abort when it finished, of kind canary.
export function marks(history = []) {
  const out = [];
  for (const e of history) {
    if (!e.canary) {
      out.push(e);
      continue;
    }
    out.push({ ...e, kind: 'canary', what: `canary start (${e.canary}%)` });
    if (e.finished && e.status !== 'canary') {
      out.push({ ...e, kind: 'canary', timestamp: e.finished, what: e.status === 'succeeded' ? 'canary promote' : 'canary abort' });
    }
  }
  return out;
}

// chart returns the SVG of figures' points, with a mark at each deploy and
// canary start, promote or abort (see marks) within their span.
export function chart(figures, history = []) {
  const deploys = marks(history);
  const pts = figures.points || [];
  const W = 720; const PH = 90; const GAP = 28; const L = 64; const R = 12; const T = 18;
  const H = T + PANELS.length * (PH + GAP);
  const t0 = pts.length ? Date.parse(pts[0].time) : Date.now() - 3600e3;
  const t1 = pts.length ? Date.parse(pts[pts.length - 1].time) + 10e3 : Date.now();
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'traffic-chart', role: 'img', id: 'traffic-chart',
    'aria-label': `Requests per second, p99 latency and error rate over the last hour: ${figures.requests} requests, ${fmt(figures.error_rate, '%')} errors, p99 ${fmt(figures.p99, 'ms')}`,
  });
  PANELS.forEach((p, i) => {
    const top = T + i * (PH + GAP);
    const max = Math.max(...pts.map((q) => q[p.key] || 0), p.unit === '%' ? 0.01 : 1);
    const y = (v) => top + PH - (v / max) * PH;
    svg.append(
      s('text', { x: L, y: top - 5, class: 'c-title' }, p.title),
      s('text', { x: L - 6, y: top + 10, class: 'c-axis', 'text-anchor': 'end' }, fmt(max, p.unit)),
      s('text', { x: L - 6, y: top + PH, class: 'c-axis', 'text-anchor': 'end' }, '0'),
      s('line', { x1: L, y1: top + PH, x2: W - R, y2: top + PH, class: 'c-base' }),
      s('line', { x1: L, y1: top, x2: W - R, y2: top, class: 'c-grid' }));
    const line = pts.map((q) => `${x(Date.parse(q.time) + 5e3).toFixed(1)},${y(q[p.key] || 0).toFixed(1)}`).join(' ');
    if (line) svg.append(s('polyline', { points: line, class: `c-line ${p.cls}`, 'data-panel': p.key }));
  });
  const bottom = T + PANELS.length * (PH + GAP) - GAP;
  for (const d of deploys) {
    const t = d.timestamp * 1000;
    if (t < t0 || t > t1) continue;
    const mx = x(t).toFixed(1);
    svg.append(s('g', { class: `c-mark c-${d.kind || 'deploy'}`, 'data-revision': d.revision },
      s('title', {}, `${d.what || d.kind || 'deploy'} of revision ${d.revision} (${d.status}) at ${new Date(t).toLocaleTimeString()}`),
      s('line', { x1: mx, y1: T - 4, x2: mx, y2: bottom }),
      s('text', { x: Number(mx) + 3, y: T + 6 }, `r${d.revision}`)));
  }
  const tick = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  for (let k = 0; k <= 4; k++) {
    const t = t0 + (k / 4) * (t1 - t0);
    svg.append(s('text', { x: x(t), y: bottom + 16, class: 'c-axis', 'text-anchor': k === 0 ? 'start' : k === 4 ? 'end' : 'middle' }, tick(t)));
  }
  return svg;
}

// sparkline returns a small SVG of the points' requests/s.
export function sparkline(figures) {
  const pts = figures.points || [];
  const W = 120; const H = 24;
  const max = Math.max(...pts.map((q) => q.rps), 1);
  const line = pts.map((q, i) => `${((i / Math.max(pts.length - 1, 1)) * W).toFixed(1)},${(H - 1 - (q.rps / max) * (H - 2)).toFixed(1)}`).join(' ');
  return s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'sparkline', role: 'img', 'aria-label': `${fmt(figures.rps, '/s')} requests/s over the last hour, at most ${fmt(max, '/s')}` },
    s('polyline', { points: line, class: 'c-line c-rps' }));
}
