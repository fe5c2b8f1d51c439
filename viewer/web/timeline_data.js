// The timeline's data: the answer of /api/timeline for the visible range (plus a margin) at
// the canvas' resolution, converted to relative ns in typed arrays per thread.
// Methods of Timeline (timeline.js), which installs them on its prototype.

import { KINDS, kindOf, getJSON } from './util.js';

export const FETCH_DEBOUNCE_MS = 120;
const WAIT_INDEX = KINDS.length; // the colour slot of a wait without a reason split
export const PAINT_KINDS = [...KINDS, 'wait'];

export function lowerBoundEnd(ends, t) { // first index with ends[i] > t
  let lo = 0, hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid] <= t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

export const dataMethods = {
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
  },

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
  },
};
