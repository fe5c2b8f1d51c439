// Shared helpers of the ctrace viewer: formatting, colours, fetching, small DOM helpers.

export const STATE_NAMES = ['User', 'Sys', 'Idle', 'Wait', 'Unknown'];
export const REASON_NAMES = ['', 'Sync', 'IO', 'Sleep', 'Other'];

// Colour keys, in the order summaries are stacked (bottom to top).
export const KINDS = ['user', 'sys', 'idle', 'sync', 'io', 'sleep', 'other', 'unknown'];

export const COLORS = {
  user: '#3fb950',
  sys: '#4c8dff',
  idle: '#e3b341',
  sync: '#f0524f',
  io: '#b083f0',
  sleep: '#56606e',
  other: '#d96ba6',
  wait: '#d96ba6',
  unknown: '#39404a',
};

export const KIND_LABELS = {
  user: 'User', sys: 'Sys', idle: 'Idle (run queue)', sync: 'Wait: sync', io: 'Wait: IO',
  sleep: 'Wait: sleep', other: 'Wait: other', unknown: 'Unknown',
};

export const KIND_HELP = {
  user: 'on CPU, outside any traced call',
  sys: 'on CPU inside a syscall or traced call',
  idle: 'runnable, waiting for a CPU',
  sync: 'blocked on a mutex, rwlock, condvar, semaphore, barrier or join',
  io: 'blocked in read/write/recv/send/accept/connect/poll or file I/O',
  sleep: 'sleeping (nanosleep, usleep, ...)',
  other: 'blocked outside any traced call (page faults, untraced syscalls)',
  unknown: 'no source says',
};

// The colour key of a state and wait reason (API.md enumerations).
export function kindOf(state, reason) {
  switch (state) {
    case 0: return 'user';
    case 1: return 'sys';
    case 2: return 'idle';
    case 3: return reason === 1 ? 'sync' : reason === 2 ? 'io' : reason === 3 ? 'sleep' : 'other';
    default: return 'unknown';
  }
}

export function stateLabel(state, reason) {
  if (state === 3) return `Wait · ${REASON_NAMES[reason] || 'Other'}`;
  return STATE_NAMES[state] || 'Unknown';
}

// Durations as `ctrace stats` prints them: three significant digits, "1.23s", "456µs".
export function fmtDur(ns) {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '–';
  const neg = ns < 0 ? '-' : '';
  let v = Math.abs(ns);
  if (v < 1000) return `${neg}${Math.round(v)}ns`;
  const units = [['µs', 1e3], ['ms', 1e6], ['s', 1e9]];
  let u = units[0];
  for (const cand of units) if (v >= cand[1]) u = cand;
  v /= u[1];
  if (u[0] !== 's' && v >= 999.5) { // rounds up into the next unit
    u = units[units.indexOf(u) + 1];
    v = Math.abs(ns) / u[1];
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${neg}${v.toFixed(digits)}${u[0]}`;
}

// A moment relative to the trace start, precise to the ns: "1.200 000 123 s".
export function fmtTime(ns) {
  const neg = ns < 0;
  const v = Math.round(Math.abs(ns));
  const s = Math.floor(v / 1e9);
  const frac = String(v % 1e9).padStart(9, '0');
  return `${neg ? '-' : ''}${s}.${frac.slice(0, 3)} ${frac.slice(3, 6)} ${frac.slice(6)} s`;
}

export function fmtCount(n) {
  if (n === null || n === undefined) return '–';
  return Number(n).toLocaleString('en-US');
}

export function fmtBytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export function fmtPct(part, whole) {
  if (!whole) return '0%';
  const p = (100 * part) / whole;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toFixed(2)}%`;
}

// Tick steps of 1, 2 and 5 times a power of ten, at least `min` ns.
export function niceStep(min) {
  const p = 10 ** Math.floor(Math.log10(Math.max(min, 1)));
  for (const m of [1, 2, 5, 10]) if (m * p >= min) return m * p;
  return 10 * p;
}

const TIME_UNITS = [['s', 1e9], ['ms', 1e6], ['µs', 1e3], ['ns', 1]];

// The unit for times up to `ref` ns: the largest one that keeps the value at least 1.
function unitFor(ref) {
  return TIME_UNITS.find(([, f]) => Math.abs(ref) >= f) || TIME_UNITS[3];
}

// An axis label: `ns` in the unit of `ref` (the biggest time on the axis), with the
// decimals a tick `step` apart needs: "1.25 s", "0.5 ms", "1.241980 s".
export function fmtTick(ns, step, ref = ns) {
  const u = unitFor(Math.max(Math.abs(ref), step));
  const decimals = Math.max(0, Math.ceil(-Math.log10(step / u[1]) - 1e-9));
  return `${(ns / u[1]).toFixed(Math.min(decimals, 9))} ${u[0]}`;
}

// The time under the cursor: like an axis label, to about a pixel's precision.
export function fmtCursor(ns, nsPerPx, ref = ns) {
  const u = unitFor(Math.max(Math.abs(ref), nsPerPx));
  const decimals = Math.min(9, Math.max(0, Math.ceil(-Math.log10(nsPerPx / u[1]))));
  return `${(ns / u[1]).toFixed(decimals)} ${u[0]}`;
}

// A stable hue for a name: the same function or task has the same colour everywhere.
export function hashHue(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % 360;
}

export function basename(p) {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

export class ApiError extends Error {}

// GET a JSON endpoint; errors become ApiError with the server's one-line reason. Aborted
// requests reject with the AbortError, which callers ignore.
export async function getJSON(url, signal) {
  let res;
  try {
    res = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`${url}: the server does not answer (${e.message})`);
  }
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`${url}: not JSON (HTTP ${res.status})`);
  }
  if (!res.ok) throw new ApiError(`${url}: ${body && body.error ? body.error : `HTTP ${res.status}`}`);
  return body;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(e.style, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A canvas sized to CSS width x height at the device pixel ratio; returns its context,
// scaled so that drawing happens in CSS pixels.
export function fitCanvas(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(width * dpr));
  const h = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

// One floating tooltip for the whole page.
let tipEl = null;
export function showTip(x, y, content) {
  if (!tipEl) tipEl = document.getElementById('tooltip');
  if (!tipEl) return;
  tipEl.replaceChildren(...(Array.isArray(content) ? content : [content]));
  tipEl.hidden = false;
  const pad = 14;
  const r = tipEl.getBoundingClientRect();
  let left = x + pad, top = y + pad;
  if (left + r.width > window.innerWidth - 4) left = Math.max(4, x - pad - r.width);
  if (top + r.height > window.innerHeight - 4) top = Math.max(4, y - pad - r.height);
  tipEl.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
}

export function hideTip() {
  if (!tipEl) tipEl = document.getElementById('tooltip');
  if (tipEl) tipEl.hidden = true;
}

// Tooltip content: a title line and key/value rows.
export function tipContent(title, rows, swatch) {
  const head = el('div', { class: 'tip-title' });
  if (swatch) head.append(el('span', { class: 'swatch', style: { background: swatch } }));
  head.append(title);
  const body = el('dl', { class: 'tip-rows' });
  for (const [k, v] of rows) {
    if (v === null || v === undefined || v === '') continue;
    body.append(el('dt', { text: k }), el('dd', { text: v }));
  }
  return [head, body];
}

export function debounce(fn, ms) {
  let t = 0;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => {
      t = 0;
      fn(...args);
    }, ms);
  };
  d.cancel = () => {
    clearTimeout(t);
    t = 0;
  };
  d.pending = () => t !== 0;
  return d;
}
