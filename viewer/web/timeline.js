// The timeline: one lane per thread, grouped by process, drawn on one canvas.
//
// Times inside the page are ns relative to the trace start (exact as doubles); the API's
// absolute CLOCK_MONOTONIC ns are converted when data arrives and when requests go out.
// Data for the visible range (plus a margin) is fetched at the canvas' resolution after the
// view settles; until it arrives the old data is drawn at the new scale.

import {
  COLORS, KINDS, KIND_LABELS, KIND_HELP, kindOf, stateLabel, fmtDur, fmtTime, fmtTick, fmtCursor, niceStep,
  hashHue, getJSON, el, fitCanvas, showTip, hideTip, tipContent, debounce,
} from './util.js';

const GUTTER = 210;     // the names column, CSS px
const AXIS = 30;        // the time axis, pinned at the top
const PROC_H = 26;      // a process header row
const LANE_H = 28;      // a thread lane
const SPAN_Y = 5;       // spans start this far below the lane top (log markers above)
const SPAN_H = 16;      // span height
const REGION_Y = 23;    // the region strip, 3 px high
const TASK_HEAD_H = 24; // the "Tasks" header row
const TASK_H = 18;      // a task row
const MAX_TASK_ROWS = 12;
const MIN_SPAN_NS = 100;
const FETCH_DEBOUNCE_MS = 120;
const MAX_ARROWS = 150;
const WAIT_INDEX = KINDS.length; // the colour slot of a wait without a reason split
const PAINT_KINDS = [...KINDS, 'wait'];
const DARK_TEXT = new Set(['user', 'sys', 'idle', 'sync', 'io', 'other', 'wait']);
const FONT = '11px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';
const FONT_BOLD = '600 11px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';

const THEME = {
  bg: '#0d1014',
  gutter: '#12161c',
  gutterLine: '#262d37',
  laneA: '#11151a',
  laneB: '#14191f',
  proc: '#1a212b',
  procText: '#e6edf3',
  text: '#c9d3de',
  muted: '#7d8896',
  axis: '#161b22',
  grid: 'rgba(255,255,255,0.055)',
  tick: '#8b96a5',
  hover: 'rgba(255,255,255,0.85)',
  select: '#ffffff',
  accent: '#58a6ff',
  life: 'rgba(255,255,255,0.035)',
};

function lowerBoundEnd(ends, t) { // first index with ends[i] > t
  let lo = 0, hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid] <= t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// Rectangles to fill, grouped by colour: one fillStyle change per colour per frame, and
// fillRect (a fast path) rather than one big Path2D, which rasterizes far slower.
class RectBatch {
  constructor() {
    this.buf = new Float32Array(4096);
    this.n = 0;
  }

  add(x, y, w, h) {
    if (this.n + 4 > this.buf.length) {
      const b = new Float32Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    const b = this.buf;
    b[this.n++] = x;
    b[this.n++] = y;
    b[this.n++] = w;
    b[this.n++] = h;
  }

  fill(ctx, style) {
    if (!this.n) return;
    ctx.fillStyle = style;
    const b = this.buf;
    for (let i = 0; i < this.n; i += 4) ctx.fillRect(b[i], b[i + 1], b[i + 2], b[i + 3]);
    this.n = 0;
  }
}

function basename(p) {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

function truncate(ctx, text, width) {
  if (width <= 0) return '';
  if (ctx.measureText(text).width <= width) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) { // the longest prefix that fits with an ellipsis
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, mid) + '…').width <= width) lo = mid; else hi = mid - 1;
  }
  return lo ? text.slice(0, lo) + '…' : '';
}

export class Timeline {
  constructor(app) {
    this.app = app;
    this.viewport = document.getElementById('tl-viewport');
    this.canvas = document.getElementById('tl-canvas');
    this.spacer = document.getElementById('tl-spacer');
    this.filterInput = document.getElementById('tl-filter');
    this.status = document.getElementById('tl-status');
    this.panel = document.getElementById('tl-details');
    this.panelBody = document.getElementById('tl-details-body');
    this.active = false;
    this.ready = false;
    this.start = 0; // absolute ns of the trace start
    this.dur = 1;
    this.t0 = 0;
    this.t1 = 1;
    this.rows = [];
    this.contentH = 0;
    this.laneOf = new Map(); // thread index -> row
    this.threads = [];
    this.byTid = new Map(); // tid -> threads that had it (the kernel may reuse a tid)
    this.procs = [];
    this.collapsed = new Set();
    this.tasksCollapsed = false;
    this.filter = '';
    this.loaded = null;
    this.seq = 0;
    this.answers = 0;
    this.inflight = null;
    this.taskRow = new Map(); // task id -> row, kept for good so rows do not jump
    this.taskRowSpans = [];   // per row: [begin, end] of the tasks placed in it
    this.taskRowCount = 0;
    this.tasksHidden = 0;
    this.selection = null;
    this.details = null;
    this.hover = null;
    this.mouse = null;
    this.drag = null;
    this.keys = new Map();
    this.raf = 0;
    this.animRaf = 0;
    this.selectSeq = 0;
    this.W = 0;
    this.estimated = new Set();
    this.fetchSoon = debounce(() => this.maybeFetch(), FETCH_DEBOUNCE_MS);
    this.hashSoon = debounce(() => this.app.replaceHash(), 300);
    this.unknownPattern = null;
    this.batches = PAINT_KINDS.map(() => new RectBatch());
    this.bindEvents();
    this.buildLegend();
  }

  // ---- setup ----

  setSummary(sum) {
    this.start = sum.trace.start_ns;
    this.dur = Math.max(1, sum.trace.end_ns - sum.trace.start_ns);
    this.threads = sum.threads.map((t, i) => ({
      i, pid: t.pid, tid: t.tid, name: t.name || '', start: t.start_ns - this.start, end: t.end_ns - this.start,
    }));
    this.byTid = new Map();
    for (const t of this.threads) {
      if (!this.byTid.has(t.tid)) this.byTid.set(t.tid, []);
      this.byTid.get(t.tid).push(t);
    }
    const procMap = new Map(sum.processes.map((p) => [p.pid, { ...p, threads: [] }]));
    for (const t of this.threads) {
      if (!procMap.has(t.pid)) procMap.set(t.pid, { pid: t.pid, ppid: 0, exe: '', threads: [] });
      procMap.get(t.pid).threads.push(t);
    }
    this.procs = [...procMap.values()].filter((p) => p.threads.length).sort((a, b) => a.pid - b.pid);
    for (const p of this.procs) {
      const main = p.threads.find((t) => t.tid === p.pid);
      p.label = p.exe ? basename(p.exe) : main && main.name ? main.name : `process ${p.pid}`;
    }
    this.t0 = 0;
    this.t1 = this.dur;
    this.ready = true;
    this.layout();
    this.requestDraw();
  }

  // The thread that had `tid` at time `t` (relative ns): tids are reused, lifetimes are not.
  threadAt(tid, t) {
    const list = this.byTid.get(tid);
    if (!list) return null;
    if (list.length === 1 || t === undefined) return list[0];
    let best = list[0], bd = Infinity;
    for (const th of list) {
      const d = t < th.start ? th.start - t : t > th.end ? t - th.end : 0;
      if (d < bd) { bd = d; best = th; }
    }
    return best;
  }

  setThreadStats(rows) {
    this.estimated = new Set(rows.filter((r) => r.estimated).map((r) => r.tid));
    this.requestDraw();
  }

  show() {
    this.active = true;
    this.layout();
    this.requestDraw();
    this.fetchSoon();
  }

  hide() {
    this.active = false;
    this.stopKeys();
    hideTip();
  }

  // ---- view state ----

  timeWidth() {
    return Math.max(1, this.viewport.clientWidth - GUTTER);
  }

  nsPerPx() {
    return (this.t1 - this.t0) / this.timeWidth();
  }

  tAt(x) {
    return this.t0 + ((x - GUTTER) * (this.t1 - this.t0)) / this.timeWidth();
  }

  // Every change of the view goes through here: clamp, redraw, fetch when it settles.
  setView(t0, t1) {
    const pad = this.dur * 0.05;
    const span = Math.min(Math.max(t1 - t0, MIN_SPAN_NS), this.dur + 2 * pad);
    let a = t0 + (t1 - t0 - span) / 2;
    if (a < -pad) a = -pad;
    if (a + span > this.dur + pad) a = this.dur + pad - span;
    this.t0 = a;
    this.t1 = a + span;
    this.requestDraw();
    this.fetchSoon();
    this.hashSoon();
  }

  zoomAt(t, factor) {
    this.setView(t - (t - this.t0) * factor, t + (this.t1 - t) * factor);
  }

  pan(dt) {
    this.setView(this.t0 + dt, this.t1 + dt);
  }

  fit() {
    this.setView(0, this.dur);
  }

  zoomTo(b, e) {
    const d = Math.max(e - b, MIN_SPAN_NS);
    this.setView(b - d * 0.25, e + d * 0.25);
  }

  // ---- rows ----

  matches(t) {
    if (!this.filter) return true;
    const terms = this.filter.toLowerCase().split(/[\s,]+/).filter(Boolean);
    return terms.some((q) => String(t.tid) === q || String(t.pid) === q || t.name.toLowerCase().includes(q));
  }

  setFilter(text, { fromInput = false } = {}) {
    this.filter = text.trim();
    if (!fromInput && this.filterInput.value !== text) this.filterInput.value = text;
    this.layout();
    this.requestDraw();
    this.hashSoon();
  }

  layout() {
    const rows = [];
    let y = 0;
    if (this.taskRowCount > 0) {
      rows.push({ kind: 'tasks', y, h: TASK_HEAD_H });
      y += TASK_HEAD_H;
      if (!this.tasksCollapsed) {
        for (let r = 0; r < this.taskRowCount; r++) {
          rows.push({ kind: 'task', row: r, y, h: TASK_H });
          y += TASK_H;
        }
      }
    }
    this.laneOf = new Map();
    let shown = 0;
    for (const p of this.procs) {
      const ths = p.threads.filter((t) => this.matches(t));
      if (!ths.length) continue;
      rows.push({ kind: 'proc', proc: p, count: ths.length, y, h: PROC_H });
      y += PROC_H;
      if (this.collapsed.has(p.pid)) continue;
      ths.forEach((t, i) => {
        const row = { kind: 'thread', thread: t, y, h: LANE_H, alt: i % 2 };
        rows.push(row);
        this.laneOf.set(t.i, row);
        y += LANE_H;
        shown++;
      });
    }
    this.rows = rows;
    this.contentH = y;
    this.shownThreads = shown;
    const vh = this.viewport.clientHeight;
    this.spacer.style.height = `${Math.max(0, AXIS + y + 8 - vh)}px`;
    this.updateStatus();
  }

  rowAt(contentY) {
    let lo = 0, hi = this.rows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.rows[mid];
      if (contentY < r.y) hi = mid - 1;
      else if (contentY >= r.y + r.h) lo = mid + 1;
      else return r;
    }
    return null;
  }

  // Rows of tasks: each task keeps the first row where it fits, below its parent's.
  placeTasks(tasks) {
    let changed = false;
    for (const t of tasks) {
      if (this.taskRow.has(t.id)) continue;
      const min = t.parent && this.taskRow.has(t.parent) ? this.taskRow.get(t.parent) + 1 : 0;
      let row = -1;
      for (let r = min; r < MAX_TASK_ROWS; r++) {
        const spans = this.taskRowSpans[r] || (this.taskRowSpans[r] = []);
        if (!spans.some(([b, e]) => t.b < e && t.e > b)) { row = r; break; }
      }
      this.taskRow.set(t.id, row);
      if (row < 0) { this.tasksHidden++; continue; }
      this.taskRowSpans[row].push([t.b, t.e]);
      if (row + 1 > this.taskRowCount) { this.taskRowCount = row + 1; changed = true; }
    }
    if (changed) this.layout();
  }

  // ---- data ----

  maybeFetch() {
    if (!this.ready || !this.active) return;
    const span = this.t1 - this.t0;
    const P = span / this.timeWidth();
    const L = this.loaded;
    if (L) {
      const covers = L.t0 <= Math.max(this.t0, 0) + 1 && L.t1 >= Math.min(this.t1, this.dur) - 1;
      const ratio = L.P / P;
      if (covers && ratio < 1.6 && ratio > 0.55) {
        this.updateStatus();
        return;
      }
    }
    let f0 = Math.max(0, Math.floor(this.t0 - span / 2));
    let f1 = Math.min(this.dur, Math.ceil(this.t1 + span / 2));
    if (f1 <= f0) { f0 = 0; f1 = this.dur; }
    const width = Math.max(1, Math.min(16384, Math.round((f1 - f0) / P)));
    if (this.inflight) this.inflight.abort();
    const ctrl = new AbortController();
    this.inflight = ctrl;
    const seq = ++this.seq;
    const url = `api/timeline?start=${Math.round(this.start + f0)}&end=${Math.round(this.start + f1)}&width=${width}`;
    this.updateStatus();
    getJSON(url, ctrl.signal).then((j) => {
      if (seq !== this.seq) return;
      this.inflight = null;
      this.ingest(j, f0, f1, width);
      this.answers++;
      this.updateStatus();
      this.requestDraw();
      this.fetchSoon(); // the view may have moved on while this was in flight
    }).catch((e) => {
      if (e.name === 'AbortError') return;
      if (seq === this.seq) this.inflight = null;
      this.app.showError(e.message);
      this.updateStatus();
    });
  }

  ingest(j, f0, f1, width) {
    const S = this.start;
    const threads = new Map();
    const calls = j.calls || [];
    for (const th of j.threads || []) {
      const n = th.spans.length;
      const sp = { b: new Float64Array(n), e: new Float64Array(n), st: new Uint8Array(n), rs: new Uint8Array(n),
        kind: new Uint8Array(n), call: new Int32Array(n), id: new Float64Array(n) };
      th.spans.forEach((s, i) => {
        sp.b[i] = s[0] - S;
        sp.e[i] = s[1] - S;
        sp.st[i] = s[2];
        sp.rs[i] = s[3];
        sp.kind[i] = PAINT_KINDS.indexOf(kindOf(s[2], s[3]));
        sp.call[i] = s[4];
        sp.id[i] = s[5] || 0;
      });
      const m = th.summaries.length;
      const K = PAINT_KINDS.length;
      const su = { b: new Float64Array(m), e: new Float64Array(m), mix: new Float64Array(m * K),
        total: new Float64Array(m), count: new Uint32Array(m) };
      th.summaries.forEach((s, i) => {
        su.b[i] = s[0] - S;
        su.e[i] = s[1] - S;
        const o = i * K;
        su.mix[o + 0] = s[2];
        su.mix[o + 1] = s[3];
        su.mix[o + 2] = s[4];
        if (s.length >= 12) {
          su.mix[o + 3] = s[8];
          su.mix[o + 4] = s[9];
          su.mix[o + 5] = s[10];
          su.mix[o + 6] = s[11];
        } else {
          su.mix[o + WAIT_INDEX] = s[5];
        }
        su.mix[o + 7] = s[6];
        su.total[i] = s[2] + s[3] + s[4] + s[5] + s[6];
        su.count[i] = s[7];
      });
      const first = n ? sp.b[0] : m ? su.b[0] : undefined;
      const owner = Number.isInteger(th.thread) && this.threads[th.thread] && this.threads[th.thread].tid === th.tid
        ? this.threads[th.thread] : this.threadAt(th.tid, first);
      if (owner) threads.set(owner.i, { spans: sp, sums: su });
    }
    const tasks = (j.tasks || []).map((t) => ({ id: t.id, parent: t.parent, name: t.name, b: t.begin_ns - S, e: t.end_ns - S }));
    this.placeTasks(tasks);
    const regions = new Map();
    for (const r of j.regions || []) {
      const owner = this.threadAt(r.tid, r.begin_ns - S);
      if (!owner) continue;
      if (!regions.has(owner.i)) regions.set(owner.i, []);
      regions.get(owner.i).push({ task: r.task, name: r.name, b: r.begin_ns - S, e: r.end_ns - S });
    }
    const logs = new Map();
    for (const l of j.logs || []) {
      const owner = this.threadAt(l.tid, l.ns - S);
      if (!owner) continue;
      if (!logs.has(owner.i)) logs.set(owner.i, []);
      logs.get(owner.i).push({ task: l.task, t: l.ns - S, category: l.category, message: l.message });
    }
    const wakes = [];
    for (const w of j.wakes || []) {
      const from = this.threadAt(w[0], w[1] - S), to = this.threadAt(w[2], w[3] - S);
      if (from && to) wakes.push({ from: from.i, w: w[1] - S, to: to.i, e: w[3] - S });
    }
    this.loaded = { t0: f0, t1: f1, width, P: (f1 - f0) / width, threads, calls, tasks, regions, logs, wakes,
      omitted: j.omitted || { tasks: 0, regions: 0, logs: 0 } };
  }

  // ---- drawing ----

  requestDraw() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.raf = 0;
    if (!this.active || !this.ready) return;
    const began = performance.now();
    this.drawnSpans = 0;
    this.drawnSummaries = 0;
    this.paint();
    this.drawMs = performance.now() - began;
  }

  paint() {
    const W = this.viewport.clientWidth, H = this.viewport.clientHeight;
    if (W <= GUTTER || H <= AXIS) return;
    const ctx = fitCanvas(this.canvas, W, H);
    this.W = W;
    const scroll = this.viewport.scrollTop;
    const tw = W - GUTTER;
    const k = tw / (this.t1 - this.t0);
    const t0 = this.t0, t1 = this.t1;
    const X = (t) => GUTTER + (t - t0) * k;
    ctx.fillStyle = THEME.bg;
    ctx.fillRect(0, 0, W, H);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';

    const visible = [];
    for (const r of this.rows) {
      const y = AXIS + r.y - scroll;
      if (y + r.h < AXIS || y > H) continue;
      visible.push([r, y]);
    }

    // Row backgrounds across the whole width.
    for (const [r, y] of visible) {
      ctx.fillStyle = r.kind === 'proc' || r.kind === 'tasks' ? THEME.proc : r.kind === 'thread' && r.alt ? THEME.laneB : THEME.laneA;
      ctx.fillRect(0, y, W, r.h);
    }

    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, AXIS, tw, H - AXIS);
    ctx.clip();

    const step = niceStep(90 * (t1 - t0) / tw);
    ctx.fillStyle = THEME.grid;
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ctx.fillRect(Math.round(X(t)), AXIS, 1, H - AXIS);

    const paths = this.batches;
    this.dpr = window.devicePixelRatio || 1;
    const labels = [];
    const L = this.loaded;
    for (const [r, y] of visible) {
      if (r.kind === 'thread') this.drawLane(ctx, r.thread, y, X, k, paths, labels);
      else if (r.kind === 'task' && L) this.drawTaskRow(ctx, r.row, y, X, W);
    }
    PAINT_KINDS.forEach((kind, i) => paths[i].fill(ctx, kind === 'unknown' ? this.hatch(ctx) : COLORS[kind]));
    ctx.font = FONT;
    for (const [text, x, y, kind] of labels) {
      ctx.fillStyle = DARK_TEXT.has(kind) ? '#0b0f14' : '#e6edf3';
      ctx.fillText(text, x, y);
    }
    if (L) {
      for (const [r, y] of visible) if (r.kind === 'thread') this.drawMarks(ctx, r.thread, y, X, W);
      this.drawWakes(ctx, X, scroll, W, H);
    }
    this.drawSelection(ctx, X, scroll);
    this.drawHover(ctx, X, scroll);
    ctx.restore();

    this.drawGutter(ctx, visible, H);
    this.drawAxis(ctx, W, step, X);
    if (this.mouse && this.mouse.x > GUTTER && !this.drag?.moved) {
      ctx.fillStyle = 'rgba(255,255,255,0.35)';
      ctx.fillRect(Math.round(this.mouse.x), AXIS, 1, H - AXIS);
    }
    if (this.arrowsHidden !== this.shownArrowsHidden) {
      this.shownArrowsHidden = this.arrowsHidden;
      this.updateStatus();
    }
  }

  hatch(ctx) {
    if (!this.unknownPattern) {
      const c = document.createElement('canvas');
      c.width = c.height = 8;
      const g = c.getContext('2d');
      g.fillStyle = COLORS.unknown;
      g.fillRect(0, 0, 8, 8);
      g.strokeStyle = '#59616d';
      g.lineWidth = 1.5;
      g.beginPath();
      g.moveTo(-2, 10); g.lineTo(10, -2);
      g.moveTo(6, 10); g.lineTo(10, 6);
      g.moveTo(-2, 2); g.lineTo(2, -2);
      g.stroke();
      this.unknownPattern = ctx.createPattern(c, 'repeat');
    }
    return this.unknownPattern;
  }

  drawLane(ctx, th, y, X, k, paths, labels) {
    const t0 = this.t0, t1 = this.t1;
    // The thread's lifetime, faintly, so a lane without data still shows where it lives.
    const lb = Math.max(th.start, t0), le = Math.min(th.end, t1);
    if (le > lb) {
      ctx.fillStyle = THEME.life;
      ctx.fillRect(X(lb), y + SPAN_Y, Math.max(1, (le - lb) * k), SPAN_H);
    }
    const d = this.loaded && this.loaded.threads.get(th.i);
    if (!d) return;
    const sy = y + SPAN_Y;
    const sp = d.spans;
    // Edges snap to device pixels: crisp, and no antialiasing work.
    const dpr = this.dpr, snap = (v) => Math.round(v * dpr) / dpr, px = 1 / dpr;
    let lastX = -1e9, lastKind = -1;
    for (let i = lowerBoundEnd(sp.e, t0), n = sp.b.length; i < n && sp.b[i] < t1; i++) {
      let x0 = X(sp.b[i]);
      let x1 = X(sp.e[i]);
      if (x0 < GUTTER - 2) x0 = GUTTER - 2;
      if (x1 > GUTTER + 1e5) x1 = GUTTER + 1e5;
      const kind = sp.kind[i];
      const sx0 = snap(x0);
      const w = Math.max(px, snap(x1) - sx0);
      // Spans of old, finer data that land in the same pixel add nothing.
      if (sx0 + w <= lastX && kind === lastKind) continue;
      paths[kind].add(sx0, sy, w, SPAN_H);
      this.drawnSpans++;
      lastX = sx0 + w;
      lastKind = kind;
      if (w > 44 && labels.length < 400) {
        const c = sp.call[i];
        const name = c >= 0 && this.loaded.calls[c] ? this.loaded.calls[c] : KIND_LABELS[PAINT_KINDS[kind]];
        const vx0 = Math.max(x0, GUTTER) + 4, vw = Math.min(x1, this.W) - vx0 - 4;
        const full = `${name} ${fmtDur(sp.e[i] - sp.b[i])}`;
        const text = truncate(ctx, vw > ctx.measureText(full).width ? full : name, vw);
        if (text) labels.push([text, vx0, sy + SPAN_H / 2 + 0.5, PAINT_KINDS[kind]]);
      }
    }
    const su = d.sums;
    const K = PAINT_KINDS.length;
    const bottom = sy + SPAN_H;
    // A summary is a bar stacked by state, bottom up, heights in whole device pixels.
    const hpx = Math.round(SPAN_H * dpr);
    let lastEnd = -1e9;
    for (let i = lowerBoundEnd(su.e, t0), n = su.b.length; i < n && su.b[i] < t1; i++) {
      const tot = su.total[i];
      if (!tot) continue;
      let x0 = snap(Math.max(X(su.b[i]), GUTTER - 2));
      if (x0 < lastEnd) x0 = lastEnd; // old data zoomed out: several per pixel; keep the first
      const w = snap(X(su.e[i])) - x0;
      if (w < px * 0.5) continue;
      lastEnd = x0 + w;
      this.drawnSummaries++;
      let acc = 0, accPx = 0;
      const o = i * K;
      for (let kk = 0; kk < K; kk++) {
        const v = su.mix[o + kk];
        if (!v) continue;
        acc += v;
        const top = Math.round((acc / tot) * hpx);
        if (top > accPx) {
          paths[kk].add(x0, bottom - top / dpr, w, (top - accPx) / dpr);
          accPx = top;
        }
      }
    }
  }

  drawMarks(ctx, th, y, X, W) {
    const L = this.loaded;
    const regs = L.regions.get(th.i);
    if (regs) {
      for (const r of regs) {
        if (r.e < this.t0 || r.b > this.t1) continue;
        const x0 = Math.max(X(r.b), GUTTER - 1), x1 = Math.min(X(r.e), W + 1);
        ctx.fillStyle = `hsl(${hashHue(r.name)} 70% 66%)`;
        ctx.fillRect(x0, y + REGION_Y, Math.max(1, x1 - x0), 3);
      }
    }
    const logs = L.logs.get(th.i);
    if (logs) {
      ctx.fillStyle = '#f0f3f6';
      ctx.beginPath();
      for (const l of logs) {
        if (l.t < this.t0 || l.t > this.t1) continue;
        const x = Math.round(X(l.t)) + 0.5;
        ctx.moveTo(x - 3.5, y + 0.5);
        ctx.lineTo(x + 3.5, y + 0.5);
        ctx.lineTo(x, y + 5);
        ctx.closePath();
      }
      ctx.fill();
    }
  }

  drawTaskRow(ctx, row, y, X, W) {
    ctx.font = FONT;
    for (const t of this.loaded.tasks) {
      if (this.taskRow.get(t.id) !== row || t.e < this.t0 || t.b > this.t1) continue;
      const x0 = Math.max(X(t.b), GUTTER - 2), x1 = Math.min(X(t.e), W + 2);
      const w = Math.max(1, x1 - x0);
      const hue = hashHue(t.name.replace(/[#\d\s]+$/, ''));
      ctx.fillStyle = `hsl(${hue} 38% 34%)`;
      ctx.fillRect(x0, y + 2, w, TASK_H - 4);
      ctx.fillStyle = `hsl(${hue} 60% 62%)`;
      ctx.fillRect(x0, y + 2, Math.min(w, 2), TASK_H - 4);
      if (w > 30) {
        const text = truncate(ctx, t.name, w - 10);
        ctx.fillStyle = '#e6edf3';
        ctx.fillText(text, x0 + 6, y + TASK_H / 2 + 0.5);
      }
    }
  }

  laneMid(ti, scroll) {
    const r = this.laneOf.get(ti);
    return r ? AXIS + r.y - scroll + SPAN_Y + SPAN_H / 2 : null;
  }

  drawWakes(ctx, X, scroll, W, H) {
    const list = [];
    const sel = this.selection;
    for (const w of this.loaded.wakes) {
      if (w.e < this.t0 || w.w > this.t1) continue;
      const y0 = this.laneMid(w.from, scroll), y1 = this.laneMid(w.to, scroll);
      if (y0 === null || y1 === null) continue;
      if ((y0 < AXIS && y1 < AXIS) || (y0 > H && y1 > H)) continue;
      list.push([w, y0, y1]);
    }
    this.arrowsHidden = list.length > MAX_ARROWS ? list.length : 0;
    ctx.lineWidth = 1;
    const faint = list.length > 40 ? 'rgba(230,237,243,0.35)' : 'rgba(230,237,243,0.6)';
    const chosen = [];
    for (const [w, y0, y1] of list) {
      const selected = sel && ((sel.ti === w.to && Math.abs(sel.end - w.e) < 2) ||
        (sel.ti === w.from && w.w >= sel.begin - 1 && w.w <= sel.end + 1));
      if (selected) chosen.push([w, y0, y1]);
      else if (!this.arrowsHidden) this.arrow(ctx, X(w.w), y0, X(w.e), y1, faint, 1);
    }
    for (const [w, y0, y1] of chosen) this.arrow(ctx, X(w.w), y0, X(w.e), y1, THEME.accent, 2);
  }

  arrow(ctx, x0, y0, x1, y1, color, width) {
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    const a = Math.atan2(y1 - y0, x1 - x0);
    const s = 6 + width;
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - s * Math.cos(a - 0.45), y1 - s * Math.sin(a - 0.45));
    ctx.lineTo(x1 - s * Math.cos(a + 0.45), y1 - s * Math.sin(a + 0.45));
    ctx.closePath();
    ctx.fill();
    ctx.beginPath();
    ctx.arc(x0, y0, 2 + width / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  drawSelection(ctx, X, scroll) {
    const s = this.selection;
    if (!s) return;
    const r = this.laneOf.get(s.ti);
    if (!r) return;
    const y = AXIS + r.y - scroll + SPAN_Y;
    const x0 = X(s.begin), x1 = X(s.end);
    ctx.strokeStyle = THEME.select;
    ctx.lineWidth = 2;
    ctx.strokeRect(Math.max(x0, GUTTER - 4) - 1, y - 1, Math.max(2, Math.min(x1, 1e6) - Math.max(x0, GUTTER - 4)) + 2, SPAN_H + 2);
    if (this.details && this.details.waker && this.details.tid === s.tid) {
      const wt = this.details.waker.ns - this.start;
      const waker = this.threadAt(this.details.waker.tid, wt);
      const wy = waker ? this.laneMid(waker.i, scroll) : null;
      if (wy !== null) this.arrow(ctx, X(wt), wy, x1, y + SPAN_H / 2, THEME.accent, 2);
    }
  }

  drawHover(ctx, X, scroll) {
    const h = this.hover;
    if (!h || (h.kind !== 'span' && h.kind !== 'summary')) return;
    const r = this.laneOf.get(h.ti);
    if (!r) return;
    const y = AXIS + r.y - scroll + SPAN_Y;
    const x0 = Math.max(X(h.b), GUTTER - 2), x1 = X(h.e);
    ctx.strokeStyle = THEME.hover;
    ctx.lineWidth = 1;
    ctx.strokeRect(Math.round(x0) - 0.5, y - 0.5, Math.max(1, Math.round(x1 - x0)) + 1, SPAN_H + 1);
  }

  drawGutter(ctx, visible, H) {
    ctx.fillStyle = THEME.gutter;
    for (const [r, y] of visible) {
      if (r.kind === 'thread' || r.kind === 'task') ctx.fillRect(0, y, GUTTER, r.h);
    }
    ctx.fillStyle = THEME.gutterLine;
    ctx.fillRect(GUTTER - 1, AXIS, 1, H - AXIS);
    for (const [r, y] of visible) {
      const mid = y + r.h / 2 + 0.5;
      if (r.kind === 'proc') {
        ctx.fillStyle = THEME.muted;
        ctx.fillText(this.collapsed.has(r.proc.pid) ? '▸' : '▾', 8, mid);
        ctx.font = FONT_BOLD;
        ctx.fillStyle = THEME.procText;
        const pidText = `pid ${r.proc.pid}`;
        const name = truncate(ctx, r.proc.label, GUTTER - 40 - ctx.measureText(pidText).width);
        ctx.fillText(name, 22, mid);
        const nw = ctx.measureText(name).width;
        ctx.font = FONT;
        ctx.fillStyle = THEME.muted;
        ctx.fillText(pidText, 22 + nw + 8, mid);
        ctx.fillStyle = THEME.gutterLine;
        ctx.fillRect(0, y + r.h - 1, ctx.canvas.width, 1);
      } else if (r.kind === 'tasks') {
        ctx.fillStyle = THEME.muted;
        ctx.fillText(this.tasksCollapsed ? '▸' : '▾', 8, mid);
        ctx.font = FONT_BOLD;
        ctx.fillStyle = THEME.procText;
        ctx.fillText('Tasks', 22, mid);
        ctx.font = FONT;
        if (this.tasksHidden) {
          ctx.fillStyle = THEME.muted;
          ctx.fillText(`${this.tasksHidden} not shown`, 70, mid);
        }
        ctx.fillStyle = THEME.gutterLine;
        ctx.fillRect(0, y + r.h - 1, ctx.canvas.width, 1);
      } else if (r.kind === 'thread') {
        const t = r.thread;
        const tidText = String(t.tid);
        ctx.font = FONT;
        const tw = ctx.measureText(tidText).width;
        ctx.fillStyle = THEME.muted;
        ctx.fillText(tidText, GUTTER - 10 - tw, mid);
        const est = this.estimated.has(t.tid) ? ' ≈' : '';
        ctx.fillStyle = THEME.text;
        ctx.fillText(truncate(ctx, (t.name || '(no name)') + est, GUTTER - 46 - tw), 22, mid);
      }
    }
  }

  drawAxis(ctx, W, step, X) {
    ctx.fillStyle = THEME.axis;
    ctx.fillRect(0, 0, W, AXIS);
    ctx.fillStyle = THEME.gutterLine;
    ctx.fillRect(0, AXIS - 1, W, 1);
    ctx.fillRect(GUTTER - 1, 0, 1, AXIS);
    const t0 = this.t0, t1 = this.t1;
    // Long labels (deep zoom far into the trace) become offsets from a base.
    const ref = Math.max(Math.abs(t0), Math.abs(t1));
    let base = 0;
    if (fmtTick(t1, step, ref).length > 12) base = Math.floor(t0 / (step * 100)) * step * 100;
    const bref = base ? step * 100 : ref;
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, 0, W - GUTTER, AXIS);
    ctx.clip();
    for (let t = Math.ceil(t0 / step) * step; t <= t1 + step; t += step) {
      const x = Math.round(X(t));
      ctx.fillStyle = THEME.gutterLine;
      ctx.fillRect(x, AXIS - 7, 1, 6);
      ctx.fillStyle = THEME.tick;
      const label = base ? `+${fmtTick(t - base, step, bref)}` : fmtTick(t, step, ref);
      if (x + 4 + ctx.measureText(label).width <= W - 2) ctx.fillText(label, x + 4, AXIS / 2);
    }
    if (this.mouse && this.mouse.x > GUTTER) {
      const t = this.tAt(this.mouse.x);
      const P = (t1 - t0) / (W - GUTTER);
      const label = base ? `+${fmtCursor(t - base, P, bref)}` : fmtCursor(t, P, ref);
      const w = ctx.measureText(label).width + 10;
      const x = Math.min(Math.max(this.mouse.x - w / 2, GUTTER), W - w);
      ctx.fillStyle = '#2b3440';
      ctx.fillRect(x, 4, w, AXIS - 9);
      ctx.fillStyle = '#f0f3f6';
      ctx.fillText(label, x + 5, AXIS / 2 - 1);
    }
    ctx.restore();
    ctx.fillStyle = THEME.muted;
    ctx.fillText(base ? `${fmtTime(base)} +` : `window ${fmtDur(t1 - t0)}`, 10, AXIS / 2);
  }

  // ---- hit testing ----

  hitTest(x, y) {
    if (y < AXIS) return { kind: 'axis' };
    const scroll = this.viewport.scrollTop;
    const r = this.rowAt(y - AXIS + scroll);
    if (!r) return null;
    if (x < GUTTER) return { kind: 'gutter', row: r };
    const t = this.tAt(x);
    const P = this.nsPerPx();
    const L = this.loaded;
    if (r.kind === 'task' && L) {
      for (const task of L.tasks) {
        if (this.taskRow.get(task.id) === r.row && task.b <= t + P && task.e >= t - P) return { kind: 'task', task };
      }
      return null;
    }
    if (r.kind !== 'thread' || !L) return r.kind === 'thread' ? { kind: 'lane', tid: r.thread.tid, ti: r.thread.i, t } : null;
    const tid = r.thread.tid, ti = r.thread.i;
    const yIn = y - AXIS + scroll - r.y;
    if (yIn < SPAN_Y + 2) {
      const logs = L.logs.get(ti);
      if (logs) {
        let best = null, bd = 5 * P;
        for (const l of logs) {
          const dd = Math.abs(l.t - t);
          if (dd <= bd) { best = l; bd = dd; }
        }
        if (best) return { kind: 'log', tid, ti, log: best };
      }
    }
    if (yIn >= REGION_Y - 2) {
      const regs = L.regions.get(ti);
      const reg = regs && regs.find((g) => g.b <= t + P && g.e >= t - P);
      if (reg) return { kind: 'region', tid, ti, region: reg };
    }
    const d = L.threads.get(ti);
    if (!d) return { kind: 'lane', tid, ti, t };
    const find = (arr) => {
      const i = lowerBoundEnd(arr.e, t - 2 * P);
      let best = -1, bd = Infinity;
      for (let j = i; j < arr.b.length && arr.b[j] <= t + 2 * P; j++) {
        const dd = t < arr.b[j] ? arr.b[j] - t : t >= arr.e[j] ? t - arr.e[j] : 0;
        if (dd < bd) { bd = dd; best = j; }
      }
      return [best, bd];
    };
    const [si, sd] = find(d.spans);
    const [mi, md] = find(d.sums);
    if (si >= 0 && sd <= md) {
      const sp = d.spans;
      return { kind: 'span', tid, ti, t, i: si, b: sp.b[si], e: sp.e[si], st: sp.st[si], rs: sp.rs[si], id: sp.id[si],
        call: sp.call[si] >= 0 ? L.calls[sp.call[si]] : null };
    }
    if (mi >= 0) return { kind: 'summary', tid, ti, t, i: mi, b: d.sums.b[mi], e: d.sums.e[mi], sums: d.sums };
    return { kind: 'lane', tid, ti, t };
  }

  tooltipFor(h) {
    const th = h.ti !== undefined ? this.threads[h.ti] : null;
    const who = th ? `${th.name || '(no name)'} (${th.tid})` : '';
    switch (h.kind) {
      case 'span': {
        const kind = kindOf(h.st, h.rs);
        return tipContent(stateLabel(h.st, h.rs), [
          ['call', h.call], ['duration', fmtDur(h.e - h.b)], ['start', fmtTime(h.b)], ['thread', who],
        ], COLORS[kind]);
      }
      case 'summary': {
        const K = PAINT_KINDS.length, o = h.i * K, s = h.sums;
        const rows = [['intervals', String(s.count[h.i])], ['span', `${fmtDur(h.e - h.b)} from ${fmtTime(h.b)}`]];
        PAINT_KINDS.forEach((k, i) => {
          const v = s.mix[o + i];
          if (v) rows.push([KIND_LABELS[k] || 'Wait', `${fmtDur(v)} (${Math.round((100 * v) / s.total[h.i])}%)`]);
        });
        return tipContent('Merged intervals (zoom in for detail)', rows);
      }
      case 'log':
        return tipContent(h.log.message, [['category', h.log.category], ['at', fmtTime(h.log.t)], ['thread', who],
          ['task', h.log.task ? String(h.log.task) : null]]);
      case 'region':
        return tipContent(`Region: ${h.region.name}`, [['duration', fmtDur(h.region.e - h.region.b)],
          ['start', fmtTime(h.region.b)], ['task', h.region.task ? String(h.region.task) : null], ['thread', who]]);
      case 'task':
        return tipContent(`Task: ${h.task.name}`, [['duration', fmtDur(h.task.e - h.task.b)], ['start', fmtTime(h.task.b)],
          ['id', String(h.task.id)], ['parent', h.task.parent ? String(h.task.parent) : null]]);
      case 'gutter':
        if (h.row.kind === 'thread') {
          const t = h.row.thread;
          return tipContent(t.name || '(no name)', [['tid', String(t.tid)], ['pid', String(t.pid)],
            ['lifetime', `${fmtTime(t.start)} – ${fmtTime(t.end)}`],
            ['note', this.estimated.has(t.tid) ? 'states estimated from schedstat (≈)' : null]]);
        }
        if (h.row.kind === 'proc') {
          const p = h.row.proc;
          return tipContent(p.label, [['pid', String(p.pid)], ['parent', p.ppid ? String(p.ppid) : null],
            ['exe', p.exe || null], ['threads', String(p.threads.length)], ['', 'click to fold or unfold']]);
        }
        return null;
      default:
        return null;
    }
  }

  // ---- interaction ----

  bindEvents() {
    const vp = this.viewport;
    const local = (e) => {
      const r = this.canvas.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    vp.addEventListener('wheel', (e) => {
      const { x, y } = local(e);
      if (x < GUTTER || y < 0) return; // the names column scrolls the lanes natively
      e.preventDefault();
      let dx = e.deltaX, dy = e.deltaY;
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? vp.clientHeight : 1;
      dx *= unit; dy *= unit;
      if (e.shiftKey && !dx) { dx = dy; dy = 0; }
      if (Math.abs(dx) > Math.abs(dy)) this.pan(dx * this.nsPerPx());
      else this.zoomAt(this.tAt(x), Math.exp(Math.max(-1, Math.min(1, dy * 0.0015))));
    }, { passive: false });
    vp.addEventListener('scroll', () => this.requestDraw());
    vp.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      const { x, y } = local(e);
      this.drag = { x, y, t0: this.t0, t1: this.t1, scroll: vp.scrollTop, moved: false, id: e.pointerId };
    });
    vp.addEventListener('pointermove', (e) => {
      const { x, y } = local(e);
      this.mouse = { x, y, cx: e.clientX, cy: e.clientY };
      const d = this.drag;
      if (d && (e.buttons & 1)) {
        if (!d.moved && Math.hypot(x - d.x, y - d.y) > 3) {
          d.moved = true;
          vp.setPointerCapture(d.id);
          vp.classList.add('dragging');
          hideTip();
          this.hover = null;
        }
        if (d.moved) {
          const dt = ((x - d.x) * (d.t1 - d.t0)) / this.timeWidth();
          this.setView(d.t0 - dt, d.t1 - dt);
          vp.scrollTop = d.scroll - (y - d.y);
          return;
        }
      }
      this.updateHover(e);
    });
    const end = (e) => {
      const d = this.drag;
      this.drag = null;
      vp.classList.remove('dragging');
      if (d && d.moved && vp.hasPointerCapture(d.id)) vp.releasePointerCapture(d.id);
      if (d && !d.moved && e.type === 'pointerup') {
        const { x, y } = local(e);
        this.click(x, y);
      }
    };
    vp.addEventListener('pointerup', end);
    vp.addEventListener('pointercancel', end);
    vp.addEventListener('pointerleave', () => {
      if (this.drag) return;
      this.mouse = null;
      this.hover = null;
      hideTip();
      this.requestDraw();
    });
    new ResizeObserver(() => {
      if (!this.active) return;
      this.layout();
      this.requestDraw();
      this.fetchSoon();
    }).observe(vp);

    this.filterInput.addEventListener('input', () => this.setFilter(this.filterInput.value, { fromInput: true }));
    document.getElementById('tl-zoom-in').addEventListener('click', () => this.zoomAt((this.t0 + this.t1) / 2, 0.5));
    document.getElementById('tl-zoom-out').addEventListener('click', () => this.zoomAt((this.t0 + this.t1) / 2, 2));
    document.getElementById('tl-fit').addEventListener('click', () => this.fit());
    document.getElementById('tl-details-close').addEventListener('click', () => this.clearSelection());

    document.addEventListener('keydown', (e) => this.onKey(e, true));
    document.addEventListener('keyup', (e) => this.onKey(e, false));
    window.addEventListener('blur', () => this.stopKeys());
  }

  updateHover(e) {
    if (!this.mouse) return;
    const h = this.hitTest(this.mouse.x, this.mouse.y);
    const prev = this.hover;
    this.hover = h;
    const tip = h ? this.tooltipFor(h) : null;
    if (tip) showTip(e.clientX, e.clientY, tip); else hideTip();
    this.viewport.classList.toggle('pointer', !!h && ['span', 'summary', 'task', 'gutter'].includes(h.kind) &&
      !(h.kind === 'gutter' && h.row.kind === 'thread'));
    if (h || prev) this.requestDraw();
    else if (this.mouse.x > GUTTER) this.requestDraw();
  }

  click(x, y) {
    const h = this.hitTest(x, y);
    if (!h) return;
    if (h.kind === 'gutter') {
      if (h.row.kind === 'proc') {
        const pid = h.row.proc.pid;
        if (this.collapsed.has(pid)) this.collapsed.delete(pid); else this.collapsed.add(pid);
      } else if (h.row.kind === 'tasks') {
        this.tasksCollapsed = !this.tasksCollapsed;
      }
      this.layout();
      this.requestDraw();
      return;
    }
    if (h.kind === 'span') this.select(h.tid, h.b + (h.e - h.b) / 2, { id: h.id, b: h.b, e: h.e });
    else if (h.kind === 'summary' || h.kind === 'lane') this.select(h.tid, h.t);
    else if (h.kind === 'task') this.zoomTo(h.task.b, h.task.e);
    else if (h.kind === 'region') this.zoomTo(h.region.b, h.region.e);
  }

  onKey(e, down) {
    if (!this.active) return;
    const tgt = e.target;
    const typing = tgt && (tgt.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(tgt.tagName));
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (!down) {
      if (this.keys.has(key)) this.keys.delete(key);
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if ('wasd'.includes(key) && key.length === 1) {
      e.preventDefault();
      if (e.repeat || this.keys.has(key)) return;
      this.keys.set(key, performance.now());
      this.keyStep(key, 1);
      this.animateKeys();
    } else if (key === 'Escape') {
      this.clearSelection();
    } else if (key === 'f' && this.selection) {
      this.zoomTo(this.selection.begin, this.selection.end);
    } else if (key === '0') {
      this.fit();
    } else if (key === '/') {
      e.preventDefault();
      this.filterInput.focus();
      this.filterInput.select();
    }
  }

  // One tap of a key (amount 1), or a frame's share of a held key's motion.
  keyStep(key, amount) {
    const span = this.t1 - this.t0;
    const m = this.mouse;
    const anchor = m && m.x > GUTTER ? this.tAt(m.x) : (this.t0 + this.t1) / 2;
    if (key === 'w') this.zoomAt(anchor, Math.pow(0.8, amount));
    else if (key === 's') this.zoomAt(anchor, Math.pow(1.25, amount));
    else if (key === 'a') this.pan(-0.1 * span * amount);
    else if (key === 'd') this.pan(0.1 * span * amount);
  }

  animateKeys() {
    if (this.animRaf) return;
    let last = performance.now();
    const tick = (now) => {
      this.animRaf = 0;
      if (!this.keys.size || !this.active) return;
      const dt = Math.min(200, now - last);
      last = now;
      for (const [key, since] of this.keys) {
        // After a short hold, move smoothly: a tap every 90 ms.
        if (now - since > 180) this.keyStep(key, dt / 90);
      }
      this.animRaf = requestAnimationFrame(tick);
    };
    this.animRaf = requestAnimationFrame(tick);
  }

  stopKeys() {
    this.keys.clear();
    if (this.animRaf) cancelAnimationFrame(this.animRaf);
    this.animRaf = 0;
  }

  // ---- selection and details ----

  clearSelection() {
    this.selection = null;
    this.details = null;
    this.panel.hidden = true;
    this.requestDraw();
    this.layoutSoon();
  }

  layoutSoon() {
    // The panel changes the viewport's width: the ResizeObserver redraws and refetches.
    this.requestDraw();
  }

  async select(tid, at, hint = {}) {
    const req = ++this.selectSeq;
    const owner = this.threadAt(tid, at);
    const ti = owner ? owner.i : -1;
    if (hint.b !== undefined) this.selection = { tid, ti, begin: hint.b, end: hint.e, id: hint.id };
    this.requestDraw();
    let url = `api/interval?tid=${tid}&at=${Math.round(this.start + at)}`;
    if (hint.id) url += `&id=${hint.id}`;
    try {
      const d = await getJSON(url);
      if (req !== this.selectSeq) return;
      this.selection = { tid, ti, begin: d.begin_ns - this.start, end: d.end_ns - this.start, id: d.id || 0 };
      this.details = d;
      this.renderDetails(d);
      this.requestDraw();
    } catch (e) {
      if (e.name !== 'AbortError') this.app.showError(e.message);
    }
  }

  threadLabel(tid, at) {
    const t = this.threadAt(tid, at);
    return t ? `${t.name || '(no name)'} · ${tid}` : `tid ${tid}`;
  }

  renderDetails(d) {
    const b = d.begin_ns - this.start, e = d.end_ns - this.start;
    const kind = kindOf(d.state, d.reason);
    const rows = [
      ['Thread', `${this.threadLabel(d.tid, b)} (pid ${d.pid})`],
      ['Call', d.call],
      ['Object', d.object],
      ['fd', d.fd >= 0 ? `${d.fd}${d.fd_kind ? ` (${d.fd_kind})` : ''}` : null],
      ['Start', fmtTime(b)],
      ['End', fmtTime(e)],
      ['Duration', fmtDur(e - b)],
    ];
    const dl = el('dl', { class: 'kv' });
    for (const [k, v] of rows) if (v !== null && v !== undefined) dl.append(el('dt', { text: k }), el('dd', { text: v }));
    const parts = [
      el('div', { class: 'detail-state' },
        el('span', { class: `swatch${kind === 'unknown' ? ' hatched' : ''}`, style: { background: COLORS[kind] } }),
        el('strong', { text: stateLabel(d.state, d.reason) }),
        el('span', { class: 'muted', text: ` ${fmtDur(e - b)}` })),
      el('p', { class: 'muted small', text: KIND_HELP[kind] }),
      dl,
    ];
    if (d.waker) {
      const wt = d.waker.ns - this.start;
      parts.push(el('div', { class: 'waker' },
        el('div', {}, el('span', { class: 'muted', text: 'Woken by ' }), el('strong', { text: this.threadLabel(d.waker.tid, wt) })),
        el('div', { class: 'muted small', text: `at ${fmtTime(wt)}, ${fmtDur(e - wt)} before the wait ended` }),
        el('button', { type: 'button', class: 'btn', id: 'tl-jump-waker', onclick: () => this.jumpTo(d.waker.tid, wt) }, 'Jump to waker')));
    }
    const self = this.threadAt(d.tid, b);
    const sent = this.loaded && self ? this.loaded.wakes.filter((w) => w.from === self.i && w.w >= b - 1 && w.w <= e + 1) : [];
    if (sent.length) {
      const list = el('ul', { class: 'woke' });
      for (const w of sent.slice(0, 8)) {
        list.append(el('li', {},
          el('button', { type: 'button', class: 'btn small', onclick: () => this.jumpTo(this.threads[w.to].tid, w.e - 1) },
            this.threadLabel(this.threads[w.to].tid, w.e)),
          el('span', { class: 'muted small', text: ` at ${fmtTime(w.w)}` })));
      }
      parts.push(el('div', { class: 'waker' }, el('div', { class: 'muted' }, sent.length === 1 ? 'Woke up' : `Woke up ${sent.length} threads`), list));
    }
    const actions = el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'btn', onclick: () => this.zoomTo(b, e) }, 'Zoom to interval'),
      el('button', { type: 'button', class: 'btn', onclick: () => this.app.openLatency(d.tid) }, 'Thread latency'));
    parts.push(actions);
    parts.push(el('h3', { text: 'Stack' }));
    if (d.stack && d.stack.length) {
      const ol = el('ol', { class: 'stack' });
      for (const f of d.stack) {
        const loc = f.file ? `${f.file}:${f.line}` : f.mapping ? basename(f.mapping) : '';
        ol.append(el('li', { title: `${f.pc}  ${f.mapping || ''}` },
          el('span', { class: 'fn', text: f.function || f.pc }),
          el('span', { class: 'loc', text: loc })));
      }
      parts.push(ol);
    } else {
      parts.push(el('p', { class: 'muted small', text: d.state === 3 || d.state === 1
        ? 'No stack: the call was faster than CTRACE_STACK_MIN, or stacks were off.' : 'No stack for this state.' }));
    }
    this.panelBody.replaceChildren(...parts);
    const wasHidden = this.panel.hidden;
    this.panel.hidden = false;
    if (wasHidden) this.layoutSoon();
  }

  // Show thread `tid` at `t` (relative ns) and select what it was doing then.
  jumpTo(tid, t) {
    const th = this.threadAt(tid, t);
    if (!th) return;
    if (!this.matches(th)) this.setFilter('');
    if (this.collapsed.has(th.pid)) { this.collapsed.delete(th.pid); this.layout(); }
    this.scrollToLane(th.i);
    const span = this.t1 - this.t0;
    this.setView(t - span / 2, t + span / 2);
    this.select(tid, t);
  }

  scrollToLane(ti) {
    const r = this.laneOf.get(ti);
    if (!r) return;
    const vp = this.viewport;
    const top = r.y, bottom = r.y + r.h;
    const viewH = vp.clientHeight - AXIS;
    if (top < vp.scrollTop || bottom > vp.scrollTop + viewH) vp.scrollTop = Math.max(0, top - viewH / 3);
  }

  // From the threads table: show only this thread, over its lifetime.
  focusThread(tid) {
    const list = this.byTid.get(tid);
    if (!list) return;
    this.setFilter(String(tid));
    this.viewport.scrollTop = 0;
    const b = Math.min(...list.map((t) => t.start)), e = Math.max(...list.map((t) => t.end));
    this.setView(b - (e - b) * 0.02, e + (e - b) * 0.02);
  }

  // ---- status, legend, hash, debug ----

  setStatus(text) {
    this.status.textContent = text;
  }

  updateStatus() {
    const parts = [];
    if (this.inflight || this.fetchSoon.pending()) parts.push('Loading…');
    const o = this.loaded && this.loaded.omitted;
    if (o && o.logs) parts.push(`${o.logs} logs merged`);
    if (this.arrowsHidden) parts.push('wake-ups: zoom in');
    if (this.filter && !this.shownThreads) parts.push(`No thread matches “${this.filter}”`);
    else if (this.filter) parts.push(`${this.shownThreads} of ${this.threads.length} threads`);
    this.setStatus(parts.join(' · '));
  }

  buildLegend() {
    const ul = document.getElementById('tl-legend');
    const short = { user: 'User', sys: 'Sys', idle: 'Idle', sync: 'Sync', io: 'IO', sleep: 'Sleep', other: 'Other', unknown: 'Unknown' };
    for (const k of KINDS) {
      if (k === 'sync') ul.append(el('li', { class: 'legend-group', 'aria-hidden': 'true' }, 'Wait:'));
      ul.append(el('li', { title: `${KIND_LABELS[k]}: ${KIND_HELP[k]}` },
        el('span', { class: `swatch${k === 'unknown' ? ' hatched' : ''}`, style: { background: COLORS[k] } }),
        k === 'sync' || k === 'io' || k === 'sleep' || k === 'other' ? el('span', {}, el('span', { class: 'sr-only' }, 'Wait: '), short[k]) : short[k]));
      if (k === 'other' || k === 'idle') ul.append(el('li', { class: 'legend-sep', 'aria-hidden': 'true' }));
    }
    ul.append(el('li', { class: 'legend-sep', 'aria-hidden': 'true' }));
    ul.append(
      el('li', { title: 'Intervals shorter than a pixel, merged: a bar stacked by state' },
        el('span', { class: 'swatch mixed' }), 'Merged'),
      el('li', { title: 'Regions (ctrace_region_begin/end) on the thread that ran them' },
        el('span', { class: 'swatch region' }), 'Region'),
      el('li', { title: 'Log messages (ctrace_log): hover for the text' }, el('span', { class: 'swatch log' }), 'Log'),
      el('li', { title: 'Wake-ups: from the waking thread to the end of the wait' }, el('span', { class: 'swatch wake' }), 'Wake-up'));
  }

  hashParams() {
    const p = new URLSearchParams();
    if (this.ready) {
      p.set('start', String(Math.round(this.t0)));
      p.set('end', String(Math.round(this.t1)));
    }
    if (this.filter) p.set('q', this.filter);
    return p;
  }

  applyParams(p) {
    if (p.has('q') || this.filter) this.setFilter(p.get('q') || '');
    const s = Number(p.get('start')), e = Number(p.get('end'));
    if (p.has('start') && p.has('end') && Number.isFinite(s) && Number.isFinite(e) && e > s) this.setView(s, e);
  }

  snapshot() {
    const r = this.canvas.getBoundingClientRect();
    const scroll = this.viewport.scrollTop;
    const H = this.viewport.clientHeight;
    const L = this.loaded;
    return {
      visible: { start: this.t0, end: this.t1 },
      canvas: { x: r.left, y: r.top, width: r.width, height: r.height, gutter: GUTTER, axis: AXIS },
      lanes: this.rows.filter((x) => x.kind === 'thread').map((x) => {
        const y = AXIS + x.y - scroll;
        return { kind: 'thread', pid: x.thread.pid, tid: x.thread.tid, name: x.thread.name, y, height: x.h,
          visible: y >= AXIS && y + x.h <= H };
      }),
      loaded: L ? { start: L.t0, end: L.t1, width: L.width, seq: this.answers } : null,
      pending: !!this.inflight || this.fetchSoon.pending(),
      drawMs: this.drawMs || 0,
      drawn: { spans: this.drawnSpans || 0, summaries: this.drawnSummaries || 0 },
      selection: this.selection ? { tid: this.selection.tid, begin: this.selection.begin, end: this.selection.end } : null,
    };
  }
}
