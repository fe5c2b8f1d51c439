// The timeline: one lane per thread, grouped by process, drawn on one canvas.
//
// Times inside the page are ns relative to the trace start (exact as doubles); the API's
// absolute CLOCK_MONOTONIC ns are converted when data arrives and when requests go out.
// Data for the visible range (plus a margin) is fetched at the canvas' resolution after the
// view settles; until it arrives the old data is drawn at the new scale.
//
// One class, its methods split by subsystem: timeline_data.js fetches and converts the data,
// timeline_draw.js draws the canvas, timeline_input.js handles the mouse, the keys and the
// selection; this file holds the state, the view range, the rows and the page's API.

import { COLORS, KINDS, KIND_LABELS, KIND_HELP, basename, el, hideTip, debounce } from './util.js';
import { FETCH_DEBOUNCE_MS, PAINT_KINDS, dataMethods } from './timeline_data.js';
import { GUTTER, AXIS, PROC_H, LANE_H, TASK_HEAD_H, TASK_H, RectBatch, drawMethods } from './timeline_draw.js';
import { inputMethods } from './timeline_input.js';

const MAX_TASK_ROWS = 12;
const MIN_SPAN_NS = 100;

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

Object.assign(Timeline.prototype, dataMethods, drawMethods, inputMethods);
