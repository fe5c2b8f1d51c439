// The threads table, the latency histograms and the profiles tab.

import {
  COLORS, fmtDur, fmtCount, fmtBytes, fmtPct, getJSON, el, fitCanvas, showTip, hideTip, tipContent,
} from './util.js';
import { FlameGraph } from './flame.js';

// The README's columns and order (README "ctrace stats"), then the rest.
const COLUMNS = [
  { key: 'pid', label: 'PID', type: 'id', help: 'process id' },
  { key: 'tid', label: 'TID', type: 'id', help: 'thread id' },
  { key: 'name', label: 'Name', type: 'text', help: 'the thread (its last name)' },
  { key: 'start_ns', label: 'Start', type: 'dur', help: "the thread's first moment inside the trace, from the trace start" },
  { key: 'duration_ns', label: 'Duration', type: 'dur', help: 'from Start to its end (or the end of its process in the trace)' },
  { key: 'idle_ns', label: 'Idle', type: 'dur', help: 'runnable, waiting for a CPU' },
  { key: 'sys_ns', label: 'Sys', type: 'dur', help: 'on CPU inside traced calls' },
  { key: 'blocks', label: 'Blocks', type: 'count', help: 'blocking episodes' },
  { key: 'wait_ns', label: 'Wait', type: 'dur', help: 'off CPU and not runnable' },
  { key: 'io_ns', label: 'IO', type: 'dur', help: 'Wait in I/O calls' },
  { key: 'user_ns', label: 'User', type: 'dur', help: 'on CPU outside traced calls' },
  { key: 'sync_ns', label: 'Sync', type: 'dur', help: 'Wait on synchronization' },
  { key: 'sleep_ns', label: 'Sleep', type: 'dur', help: 'Wait in sleeps' },
  { key: 'other_ns', label: 'Other', type: 'dur', help: 'Wait outside any traced call' },
  { key: 'unknown_ns', label: 'Unknown', type: 'dur', help: 'not attributable' },
  { key: 'syscalls', label: 'Syscalls', type: 'count', help: 'traced calls other than synchronization' },
  { key: 'err_ns', label: 'Err', type: 'dur', help: 'time in calls that failed' },
  { key: 'sched', label: 'Sched', type: 'count', help: 'involuntary context switches (preemptions)' },
  { key: 'allocs', label: 'Allocs', type: 'count', help: 'allocations' },
  { key: 'alloc_bytes', label: 'AllocBytes', type: 'bytes', help: 'bytes allocated' },
];
const BAR_PARTS = [['user_ns', 'user'], ['sys_ns', 'sys'], ['idle_ns', 'idle'], ['sync_ns', 'sync'], ['io_ns', 'io'],
  ['sleep_ns', 'sleep'], ['other_ns', 'other'], ['unknown_ns', 'unknown']];

function fmtCell(col, v) {
  if (v === undefined || v === null) return '';
  switch (col.type) {
    case 'dur': return fmtDur(v);
    case 'count': return fmtCount(v);
    case 'bytes': return fmtBytes(v);
    default: return String(v);
  }
}

export class ThreadsView {
  constructor(app) {
    this.app = app;
    this.table = document.getElementById('threads-table');
    this.rows = null;
    this.total = null;
    this.sortKey = null;
    this.sortDir = 1;
  }

  setData(j) {
    this.rows = j.threads;
    this.total = j.total;
    this.render();
  }

  sortBy(key) {
    const col = COLUMNS.find((c) => c.key === key);
    if (this.sortKey === key) this.sortDir = -this.sortDir;
    else {
      this.sortKey = key;
      this.sortDir = col.type === 'text' || col.type === 'id' ? 1 : -1; // amounts: biggest first
    }
    this.render();
    const btn = this.table.querySelector(`th[data-key="${key}"] button`);
    if (btn) btn.focus();
  }

  sorted() {
    const rows = this.rows.slice();
    if (!this.sortKey) return rows;
    const k = this.sortKey, d = this.sortDir;
    const text = COLUMNS.find((c) => c.key === k).type === 'text';
    rows.sort((a, b) => {
      const r = text ? String(a[k]).localeCompare(String(b[k])) : (a[k] || 0) - (b[k] || 0);
      return r * d || (a.pid - b.pid) || (a.tid - b.tid);
    });
    return rows;
  }

  render() {
    if (!this.rows) return;
    const head = el('tr', {}, COLUMNS.map((c) => {
      const sorted = this.sortKey === c.key;
      const th = el('th', { scope: 'col', 'data-key': c.key, class: c.type === 'text' ? 'text' : 'num',
        'aria-sort': sorted ? (this.sortDir > 0 ? 'ascending' : 'descending') : 'none' },
      el('button', { type: 'button', class: 'sort', title: `${c.label}: ${c.help}. Click to sort.`,
        onclick: () => this.sortBy(c.key) },
      c.label, el('span', { class: 'arrow', 'aria-hidden': 'true', text: sorted ? (this.sortDir > 0 ? '▲' : '▼') : '' })));
      return th;
    }), el('th', { scope: 'col', class: 'text' }, 'States'));
    const body = el('tbody');
    for (const r of this.sorted()) {
      const tr = el('tr', { 'data-tid': r.tid });
      for (const c of COLUMNS) {
        const v = r[c.key];
        const td = el('td', { class: c.type === 'text' ? 'text' : 'num', 'data-value': v,
          title: c.type === 'dur' ? `${fmtCount(v)} ns` : null }, fmtCell(c, v));
        if (c.key === 'name') {
          const box = el('div', { class: 'name-cell' }, el('span', { class: 'name' }, v || '(no name)'));
          td.replaceChildren(box);
          if (r.estimated) box.firstChild.append(el('span', { class: 'est', title: 'no context-switch records: split estimated from schedstat' }, '≈'));
          if (!r.ended) td.title = 'still running at the end of the trace';
          box.append(el('span', { class: 'row-links' },
            el('a', { href: `#timeline?q=${r.tid}`, title: `Show only thread ${r.tid} in the timeline`,
              onclick: (e) => { e.preventDefault(); this.app.openTimelineThread(r.tid); } }, 'timeline'),
            el('a', { href: `#latency?tid=${r.tid}`, title: `Latency histograms of thread ${r.tid}` }, 'latency')));
        }
        tr.append(td);
      }
      tr.append(el('td', { class: 'text' }, this.stateBar(r)));
      body.append(tr);
    }
    const foot = el('tfoot', {}, el('tr', {}, COLUMNS.map((c) => {
      if (c.key === 'pid') return el('th', { scope: 'row', class: 'text', colspan: 3 }, `Total (${this.rows.length} threads)`);
      if (c.key === 'tid' || c.key === 'name') return null;
      if (c.key === 'start_ns') return el('td', {});
      const v = this.total ? this.total[c.key] : undefined;
      return el('td', { class: 'num', title: c.type === 'dur' && v !== undefined ? `${fmtCount(v)} ns` : null }, fmtCell(c, v));
    }), el('td', {}, this.total ? this.stateBar(this.total) : '')));
    this.table.replaceChildren(el('thead', {}, head), body, foot);
  }

  stateBar(r) {
    const d = r.duration_ns || 1;
    const stops = [];
    let acc = 0;
    const title = [];
    for (const [key, kind] of BAR_PARTS) {
      const v = r[key] || 0;
      if (!v) continue;
      const a = (100 * acc) / d, b = (100 * (acc + v)) / d;
      stops.push(`${COLORS[kind]} ${a.toFixed(2)}% ${b.toFixed(2)}%`);
      acc += v;
      title.push(`${kind} ${fmtPct(v, d)}`);
    }
    return el('span', { class: 'statebar', title: title.join(', '),
      style: { background: stops.length ? `linear-gradient(90deg, ${stops.join(', ')})` : 'transparent' } });
  }
}

// ---- latency ----

const REASON_COLORS = { runqueue: COLORS.idle, sync: COLORS.sync, io: COLORS.io, sleep: '#8b96a5', other: COLORS.other };
const REASON_TITLES = { runqueue: 'Run queue (Idle)', sync: 'Sync', io: 'IO', sleep: 'Sleep', other: 'Other' };
const BINS_PER_DECADE = 10;

// Re-bin log-linear buckets into BINS_PER_DECADE bins per power of ten.
function rebin(buckets) {
  const bins = new Map();
  for (const [upper, count] of buckets) {
    const v = Math.max(1, upper - 1);
    const b = Math.floor(Math.log10(v) * BINS_PER_DECADE + 1e-9);
    bins.set(b, (bins.get(b) || 0) + count);
  }
  return bins;
}

function drawHistogram(canvas, dist, color, { width, height, mini = false }) {
  const ctx = fitCanvas(canvas, width, height);
  ctx.clearRect(0, 0, width, height);
  const bins = rebin(dist.buckets || []);
  if (!bins.size) return null;
  const keys = [...bins.keys()];
  let lo = Math.floor(Math.min(...keys) / BINS_PER_DECADE) * BINS_PER_DECADE;
  let hi = Math.ceil((Math.max(...keys) + 1) / BINS_PER_DECADE) * BINS_PER_DECADE;
  if (hi - lo < BINS_PER_DECADE * 2 && !mini) hi = lo + BINS_PER_DECADE * 2;
  const padL = mini ? 0 : 36, padR = mini ? 0 : 26, padT = mini ? 1 : 18, padB = mini ? 1 : 20;
  const pw = width - padL - padR, ph = height - padT - padB;
  const bw = pw / (hi - lo);
  const max = Math.max(...bins.values());
  const xOfLog = (l) => padL + (l * BINS_PER_DECADE - lo) * bw;
  ctx.font = '10px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';
  ctx.textBaseline = 'middle';
  if (!mini) {
    ctx.strokeStyle = 'rgba(255,255,255,0.07)';
    ctx.fillStyle = '#7d8896';
    // Gridlines at whole counts, drawn where those counts are.
    for (const v of new Set([Math.round(max / 2), max])) {
      if (!v) continue;
      const y = Math.round(padT + ph - (v / max) * ph) + 0.5;
      ctx.beginPath(); ctx.moveTo(padL, y); ctx.lineTo(width - padR, y); ctx.stroke();
      ctx.textAlign = 'right';
      ctx.fillText(fmtCount(v), padL - 5, y);
    }
    ctx.textAlign = 'center';
    for (let d = lo / BINS_PER_DECADE; d <= hi / BINS_PER_DECADE; d++) {
      const x = Math.round(xOfLog(d)) + 0.5;
      ctx.strokeStyle = 'rgba(255,255,255,0.12)';
      ctx.beginPath(); ctx.moveTo(x, padT); ctx.lineTo(x, padT + ph + 4); ctx.stroke();
      ctx.fillText(fmtDur(10 ** d), x, height - padB / 2 + 2);
    }
  }
  ctx.fillStyle = color;
  const rects = [];
  for (const [b, c] of bins) {
    const h = Math.max(1, (c / max) * ph);
    const x = padL + (b - lo) * bw;
    ctx.fillRect(x + (bw > 4 ? 0.5 : 0), padT + ph - h, Math.max(1, bw - (bw > 4 ? 1 : 0)), h);
    rects.push({ x, w: bw, b, c });
  }
  if (!mini) {
    ctx.textAlign = 'center';
    const marks = [['p50', dist.p50_ns], ['p90', dist.p90_ns], ['p99', dist.p99_ns]];
    let lastX = -100;
    for (const [name, v] of marks) {
      if (!(v > 0)) continue;
      const x = Math.round(xOfLog(Math.log10(v))) + 0.5;
      ctx.strokeStyle = '#e6edf3';
      ctx.setLineDash([3, 3]);
      ctx.beginPath(); ctx.moveTo(x, padT - 2); ctx.lineTo(x, padT + ph); ctx.stroke();
      ctx.setLineDash([]);
      if (x - lastX > 26) {
        ctx.fillStyle = '#e6edf3';
        ctx.fillText(name, x, padT - 9);
        lastX = x;
      }
    }
  }
  return { rects, padL, lo };
}

function binRange(b) {
  return [10 ** (b / BINS_PER_DECADE), 10 ** ((b + 1) / BINS_PER_DECADE)];
}

function attachHistTip(canvas, info) {
  if (!info) return;
  canvas.addEventListener('pointermove', (e) => {
    const r = canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const hit = info.rects.find((q) => x >= q.x && x < q.x + q.w);
    if (!hit) { hideTip(); return; }
    const [a, b] = binRange(hit.b);
    showTip(e.clientX, e.clientY, tipContent(`${fmtDur(a)} – ${fmtDur(b)}`, [['episodes', fmtCount(hit.c)]]));
  });
  canvas.addEventListener('pointerleave', hideTip);
}

export class LatencyView {
  constructor(app) {
    this.app = app;
    this.select = document.getElementById('lat-thread');
    this.body = document.getElementById('lat-body');
    this.title = document.getElementById('lat-title');
    this.tid = null;
    this.cache = new Map();
    this.seq = 0;
    this.select.addEventListener('change', () => {
      const v = this.select.value;
      this.app.go('latency', v ? { tid: v } : {});
    });
  }

  setThreads(threads) {
    this.select.replaceChildren(el('option', { value: '' }, 'All threads'),
      ...threads.map((t) => el('option', { value: String(t.tid) }, `${t.name || '(no name)'} · ${t.tid} (pid ${t.pid})`)));
    this.threads = new Map(threads.map((t) => [t.tid, t]));
  }

  async show(tid) {
    this.tid = tid;
    this.select.value = tid === null ? '' : String(tid);
    const key = tid === null ? 'all' : String(tid);
    const seq = ++this.seq;
    let j = this.cache.get(key);
    if (!j) {
      this.body.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
      try {
        j = await getJSON(tid === null ? 'api/latency' : `api/latency?tid=${tid}`);
      } catch (e) {
        if (seq === this.seq) this.body.replaceChildren(el('p', { class: 'error-text' }, e.message));
        return;
      }
      this.cache.set(key, j);
    }
    if (seq !== this.seq) return;
    this.render(j);
  }

  render(j) {
    const t = j.tid === null ? null : this.threads.get(j.tid);
    this.title.textContent = t ? `${t.name || '(no name)'} · tid ${t.tid}` : 'All threads';
    const cards = el('div', { class: 'lat-cards' });
    for (const r of j.reasons) {
      const canvas = el('canvas', { class: 'hist', role: 'img',
        'aria-label': `${REASON_TITLES[r.reason] || r.reason} latency histogram: ${r.count} episodes, median ${fmtDur(r.p50_ns)}` });
      const card = el('section', { class: 'card lat-card', 'data-reason': r.reason },
        el('header', {},
          el('h3', {}, el('span', { class: 'swatch', style: { background: REASON_COLORS[r.reason] || COLORS.other } }),
            REASON_TITLES[r.reason] || r.reason),
          el('span', { class: 'muted' }, `${fmtCount(r.count)} episodes · ${fmtDur(r.total_ns)} total`)),
        el('dl', { class: 'quantiles' },
          ...[['min', r.min_ns], ['p50', r.p50_ns], ['p90', r.p90_ns], ['p99', r.p99_ns], ['max', r.max_ns]]
            .map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, fmtDur(v))))),
        canvas);
      cards.append(card);
      requestAnimationFrame(() => {
        const w = Math.max(240, canvas.parentElement.clientWidth - 32);
        attachHistTip(canvas, drawHistogram(canvas, r, REASON_COLORS[r.reason] || COLORS.other, { width: w, height: 150 }));
      });
    }
    if (!j.reasons.length) cards.append(el('p', { class: 'muted' }, 'No blocking episodes and no run-queue delays.'));

    const scope = j.calls_scope === 'all' && j.tid !== null ? ' (all threads)' : '';
    const table = el('table', { class: 'data calls' },
      el('thead', {}, el('tr', {}, ['Call', 'Reason', 'Count', 'Total', 'Min', 'p50', 'p90', 'p99', 'Max', 'Distribution']
        .map((h, i) => el('th', { scope: 'col', class: i < 2 || i === 9 ? 'text' : 'num' }, h)))),
      el('tbody', {}, j.calls.map((c) => {
        const canvas = el('canvas', { class: 'mini-hist', role: 'img', 'aria-label': `distribution of ${c.name}` });
        requestAnimationFrame(() => attachHistTip(canvas,
          drawHistogram(canvas, c, REASON_COLORS[c.reason] || COLORS.other, { width: 180, height: 26, mini: true })));
        return el('tr', {},
          el('td', { class: 'text mono' }, c.name), el('td', { class: 'text' }, c.reason),
          el('td', { class: 'num' }, fmtCount(c.count)), el('td', { class: 'num' }, fmtDur(c.total_ns)),
          el('td', { class: 'num' }, fmtDur(c.min_ns)), el('td', { class: 'num' }, fmtDur(c.p50_ns)),
          el('td', { class: 'num' }, fmtDur(c.p90_ns)), el('td', { class: 'num' }, fmtDur(c.p99_ns)),
          el('td', { class: 'num' }, fmtDur(c.max_ns)), el('td', { class: 'text' }, canvas));
      })));
    this.body.replaceChildren(cards,
      el('h2', { class: 'section-title' }, `By call${scope}`),
      j.calls.length ? el('div', { class: 'table-wrap' }, table) : el('p', { class: 'muted' }, 'No traced calls blocked.'));
  }
}

// ---- profiles ----

export const PROFILE_TYPES = [
  ['sync', 'Sync', 'blocked time on synchronization, by stack'],
  ['io', 'IO', 'time in I/O calls, by stack'],
  ['syscall', 'Syscalls', 'time in other traced calls (sleeps included), by stack'],
  ['sched', 'Sched', 'run-queue delay, by the stack of the call the thread was in'],
  ['alloc', 'Alloc', 'sampled allocations: estimated bytes, by stack'],
];

export class ProfilesView {
  constructor(app) {
    this.app = app;
    this.type = 'sync';
    this.cache = new Map();
    this.seq = 0;
    this.buttons = document.getElementById('prof-types');
    this.download = document.getElementById('prof-download');
    this.info = document.getElementById('prof-info');
    this.crumbs = document.getElementById('prof-crumbs');
    this.empty = document.getElementById('prof-empty');
    this.search = document.getElementById('prof-search');
    this.flame = new FlameGraph(document.getElementById('prof-canvas'), { onZoom: (n) => this.renderCrumbs(n) });
    for (const [type, label, help] of PROFILE_TYPES) {
      this.buttons.append(el('button', { type: 'button', class: 'seg', 'data-type': type, title: help,
        'aria-pressed': 'false', onclick: () => this.app.go('profiles', { type }) }, label));
    }
    this.search.addEventListener('input', () => this.updateInfo());
    document.getElementById('prof-reset').addEventListener('click', () => this.flame.root && this.flame.setZoom(this.flame.root));
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.app.tab === 'profiles' && this.flame.root && e.target.tagName !== 'INPUT') {
        this.flame.setZoom(this.flame.root);
      }
    });
  }

  async show(type) {
    if (!PROFILE_TYPES.some(([t]) => t === type)) type = 'sync';
    this.type = type;
    for (const b of this.buttons.children) b.setAttribute('aria-pressed', String(b.dataset.type === type));
    this.download.href = `api/pprof?type=${type}`;
    this.download.setAttribute('download', `ctrace-${type}.pb.gz`);
    const seq = ++this.seq;
    let j = this.cache.get(type);
    if (!j) {
      this.info.textContent = 'Loading…';
      try {
        j = await getJSON(`api/profile?type=${type}`);
      } catch (e) {
        if (seq === this.seq) this.info.textContent = e.message;
        return;
      }
      this.cache.set(type, j);
    }
    if (seq !== this.seq) return;
    const emptyTree = !j.value || !(j.children && j.children.length);
    this.empty.hidden = !emptyTree;
    this.flame.canvas.hidden = emptyTree;
    this.flame.setData(j, type, j.unit || (type === 'alloc' ? 'bytes' : 'ns'));
    this.renderCrumbs(this.flame.root);
    this.updateInfo();
  }

  updateInfo() {
    const f = this.flame;
    if (!f.root) return;
    const total = f.fmt(f.root.value);
    const help = PROFILE_TYPES.find(([t]) => t === this.type)[2];
    const matched = f.setSearch(this.search.value);
    this.info.textContent = `${total} in all: ${help}.` +
      (this.search.value.trim() ? ` Matching “${this.search.value.trim()}”: ${f.fmt(matched)} (${fmtPct(matched, f.root.value)}).` : '');
  }

  renderCrumbs(n) {
    const path = [];
    for (let a = n; a; a = a.parent) path.unshift(a);
    this.crumbs.replaceChildren(...path.flatMap((a, i) => {
      const label = a.parent ? a.name.replace(/ \(.*\)$/, '') : 'all';
      const item = i === path.length - 1
        ? el('span', { class: 'crumb current', 'aria-current': 'true' }, label)
        : el('button', { type: 'button', class: 'crumb', onclick: () => this.flame.setZoom(a) }, label);
      return i ? [el('span', { class: 'sep', 'aria-hidden': 'true' }, '›'), item] : [item];
    }));
  }
}
