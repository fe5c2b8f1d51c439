// The timeline's canvas: the axis, the names column, each lane's spans and merged
// summaries, tasks, regions, logs, wake-up arrows, the selection and the hover.
// Methods of Timeline (timeline.js), which installs them on its prototype.

import { COLORS, KIND_LABELS, fmtDur, fmtTime, fmtTick, fmtCursor, niceStep, hashHue, fitCanvas } from './util.js';
import { PAINT_KINDS, lowerBoundEnd } from './timeline_data.js';

export const GUTTER = 210;     // the names column, CSS px
export const AXIS = 30;        // the time axis, pinned at the top
export const PROC_H = 26;      // a process header row
export const LANE_H = 28;      // a thread lane
export const SPAN_Y = 5;       // spans start this far below the lane top (log markers above)
export const SPAN_H = 16;      // span height
export const REGION_Y = 23;    // the region strip, 3 px high
export const TASK_HEAD_H = 24; // the "Tasks" header row
export const TASK_H = 18;      // a task row

const MAX_ARROWS = 150;
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

// Rectangles to fill, grouped by colour: one fillStyle change per colour per frame, and
// fillRect (a fast path) rather than one big Path2D, which rasterizes far slower.
export class RectBatch {
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

export const drawMethods = {
  // ---- drawing ----

  requestDraw() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.draw());
  },

  draw() {
    this.raf = 0;
    if (!this.active || !this.ready) return;
    const began = performance.now();
    this.drawnSpans = 0;
    this.drawnSummaries = 0;
    this.paint();
    this.drawMs = performance.now() - began;
  },

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
  },

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
  },

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
  },

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
  },

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
  },

  laneMid(ti, scroll) {
    const r = this.laneOf.get(ti);
    return r ? AXIS + r.y - scroll + SPAN_Y + SPAN_H / 2 : null;
  },

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
  },

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
  },

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
  },

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
  },

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
  },

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
  },
};
