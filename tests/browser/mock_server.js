'use strict';
// A test double of the `ctrace view` server (viewer/web/API.md): serves viewer/web/ and
// the JSON API from generated data (mock_data.js). Node's built-in modules only.
//
//   node mock_server.js [--port N] [--extra-threads N] [--delay MS]
//
// --extra-threads adds synthetic threads (a stress test of the page), --delay slows every
// API answer down (to watch the page keep drawing old data while it waits).

const http = require('http');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const mock = require('./mock_data.js');

const WEB_DIR = path.resolve(__dirname, '../../viewer/web');
const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};
const PROFILE_TYPES = ['sync', 'io', 'syscall', 'sched', 'alloc'];
const SYNC_CALL = /^pthread_|^sem_/;

class BadRequest extends Error {}

// ---- the model's numbers, computed from the generated intervals ----

function lowerBound(ivs, t) { // first interval with e > t
  let lo = 0, hi = ivs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ivs[mid].e <= t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// Log-linear histogram, 32 buckets per power of two: format/hist.c.
const SUB = 32;
function bucketOf(v) {
  if (v < SUB) return v;
  let e = Math.floor(Math.log2(v));
  if (2 ** e > v) e--;
  if (2 ** (e + 1) <= v) e++;
  const sub = Math.floor(v / 2 ** (e - 5)) - SUB;
  return (e - 5 + 1) * SUB + sub;
}
function bucketRange(b) { // [lo, upper)
  if (b < SUB) return [b, b + 1];
  const e = Math.floor(b / SUB) + 5 - 1;
  const sub = b % SUB;
  const width = 2 ** (e - 5);
  const lo = 2 ** e + sub * width;
  return [lo, lo + width];
}
class Hist {
  constructor() { this.count = 0; this.total = 0; this.min = 0; this.max = 0; this.buckets = new Map(); }
  add(v) {
    if (this.count === 0 || v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.count++;
    this.total += v;
    const b = bucketOf(v);
    this.buckets.set(b, (this.buckets.get(b) || 0) + 1);
  }
  quantile(q) {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    let rank = Math.floor(q * this.count);
    if (rank >= this.count) rank = this.count - 1;
    let seen = 0;
    for (const k of keys) {
      seen += this.buckets.get(k);
      if (seen > rank) {
        const [lo, up] = bucketRange(k);
        const mid = lo + Math.floor((up - lo) / 2);
        return Math.min(Math.max(mid, this.min), this.max);
      }
    }
    return this.max;
  }
  json() {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    return {
      count: this.count, total_ns: this.total, min_ns: this.min,
      p50_ns: this.quantile(0.5), p90_ns: this.quantile(0.9), p99_ns: this.quantile(0.99),
      max_ns: this.max, buckets: keys.map((k) => [bucketRange(k)[1], this.buckets.get(k)]),
    };
  }
}

function callKind(iv) {
  return iv.fdKind ? `${iv.call} on ${iv.fdKind}` : iv.call;
}

function createApi(data) {
  // A tid may belong to several threads of a trace, one after the other.
  const byTid = new Map();
  for (const t of data.threads) {
    if (!byTid.has(t.tid)) byTid.set(t.tid, []);
    byTid.get(t.tid).push(t);
  }
  const threadAt = (tid, at) => {
    const list = byTid.get(tid);
    if (!list) return null;
    const dist = (t) => (at < t.start ? t.start - at : at > t.end ? at - t.end : 0);
    return list.reduce((best, t) => (dist(t) < dist(best) ? t : best));
  };
  const { start_ns: T0, end_ns: T1 } = data.trace;

  function threadStats(t) {
    const s = { pid: t.pid, tid: t.tid, name: t.name, start_ns: t.start - T0, duration_ns: t.end - t.start,
      idle_ns: 0, sys_ns: 0, blocks: 0, wait_ns: 0, io_ns: 0, user_ns: 0, sync_ns: 0, sleep_ns: 0,
      other_ns: 0, unknown_ns: 0, syscalls: 0, err_ns: 0, sched: 0, allocs: 0, alloc_bytes: 0,
      ended: t.end < T1, estimated: !!t.estimated };
    const stateKey = ['user_ns', 'sys_ns', 'idle_ns', 'wait_ns', 'unknown_ns'];
    const reasonKey = [null, 'sync_ns', 'io_ns', 'sleep_ns', 'other_ns'];
    t.intervals.forEach((iv, i) => {
      const d = iv.e - iv.b;
      s[stateKey[iv.st]] += d;
      if (iv.st === mock.STATE.wait) {
        s[reasonKey[iv.rs]] += d;
        s.blocks++;
        if (iv.fd === 5 && i % 37 === 0) s.err_ns += d;
      }
      if (iv.st === mock.STATE.sys && iv.call && !SYNC_CALL.test(iv.call)) s.syscalls++;
      if (iv.st === mock.STATE.idle && i > 0 && t.intervals[i - 1].st === mock.STATE.user) s.sched++;
    });
    for (const site of mock.ALLOC_SITES) {
      if (site.tids.includes(t.tid)) { s.alloc_bytes += site.bytes; s.allocs += Math.round(site.bytes / 65536); }
    }
    return s;
  }

  function threads() {
    const rows = data.threads.map(threadStats);
    const total = {};
    for (const r of rows) {
      for (const [k, v] of Object.entries(r)) {
        if (['pid', 'tid', 'name', 'start_ns', 'ended', 'estimated'].includes(k)) continue;
        total[k] = (total[k] || 0) + v;
      }
    }
    return { threads: rows, total };
  }

  function summary() {
    return {
      trace: { ...data.trace, file: 'pipeline.trace' },
      processes: data.processes,
      threads: data.threads.map((t) => ({ pid: t.pid, tid: t.tid, name: t.name, start_ns: t.start, end_ns: t.end })),
      warnings: data.warnings,
    };
  }

  function timeline(start, end, width) {
    if (!(start < end)) throw new BadRequest('start must be less than end');
    if (width < 1 || width > 16384) throw new BadRequest('width must be between 1 and 16384');
    const P = (end - start) / width;
    const calls = [], callIndex = new Map();
    const callOf = (name) => {
      if (!name) return -1;
      let i = callIndex.get(name);
      if (i === undefined) { i = calls.length; calls.push(name); callIndex.set(name, i); }
      return i;
    };
    const out = [], wakes = [];
    for (const t of data.threads) {
      const ivs = t.intervals;
      const spans = [], summaries = [];
      let cur = null;
      const flush = () => { if (cur) { summaries.push(cur); cur = null; } };
      for (let i = lowerBound(ivs, start); i < ivs.length && ivs[i].b < end; i++) {
        const iv = ivs[i], d = iv.e - iv.b;
        if (d >= P) {
          flush();
          spans.push([iv.b, iv.e, iv.st, iv.rs, callOf(iv.call), iv.id]);
          if (iv.wakerTid) wakes.push([iv.wakerTid, iv.wakeNs, t.tid, iv.e]);
          continue;
        }
        if (!cur) cur = [iv.b, iv.e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        cur[1] = iv.e;
        cur[2 + iv.st] += d;
        cur[7]++;
        if (iv.st === mock.STATE.wait) cur[7 + iv.rs] += d;
        if (cur[1] - cur[0] >= P) flush();
      }
      flush();
      if (spans.length || summaries.length) out.push({ thread: t.index, pid: t.pid, tid: t.tid, spans, summaries });
    }
    wakes.sort((a, b) => a[1] - b[1]);
    const omitted = { tasks: 0, regions: 0, logs: 0 };
    const inRange = (x) => x.begin_ns < end && x.end_ns > start;
    const tasks = data.tasks.filter(inRange).filter((x) => (x.end_ns - x.begin_ns >= P) || (omitted.tasks++, false));
    const regions = data.regions.filter(inRange).filter((x) => (x.end_ns - x.begin_ns >= P) || (omitted.regions++, false));
    const seen = new Set();
    const logs = data.logs.filter((l) => l.ns >= start && l.ns < end).filter((l) => {
      const key = `${l.tid}:${Math.floor((l.ns - start) / P)}`;
      if (seen.has(key)) { omitted.logs++; return false; }
      seen.add(key);
      return true;
    });
    return { start, end, width, threads: out, calls, wakes, tasks, regions, logs, omitted };
  }

  function interval(tid, at, id) {
    const t = threadAt(tid, at);
    if (!t || !t.intervals.length) throw new BadRequest(`no thread ${tid} in the trace`);
    const ivs = t.intervals;
    let iv = null;
    if (id !== null) iv = ivs.find((x) => x.id === id && x.b <= at + 1000 && x.e >= at - 1000) || null;
    if (!iv) {
      const i = lowerBound(ivs, at);
      iv = i >= ivs.length ? ivs[ivs.length - 1] : ivs[i];
    }
    return {
      pid: t.pid, tid: t.tid, id: iv.id, begin_ns: iv.b, end_ns: iv.e, state: iv.st, reason: iv.rs,
      call: iv.call, object: iv.object ? '0x' + iv.object.toString(16) : null,
      fd: iv.fd, fd_kind: iv.fd >= 0 ? iv.fdKind : null,
      stack: iv.stack ? mock.STACKS[iv.stack] : [],
      waker: iv.wakerTid ? { tid: iv.wakerTid, ns: iv.wakeNs } : null,
    };
  }

  function latency(tid) {
    let ths = data.threads;
    if (tid !== null) {
      ths = byTid.get(tid);
      if (!ths) throw new BadRequest(`no thread ${tid} in the trace`);
    }
    const reasons = mock.REASON_NAME.map(() => new Hist());
    const calls = new Map();
    for (const t of ths) {
      for (const iv of t.intervals) {
        const d = iv.e - iv.b;
        if (iv.st === mock.STATE.idle) reasons[0].add(d);
        if (iv.st !== mock.STATE.wait) continue;
        reasons[iv.rs].add(d);
        if (!iv.call) continue;
        const k = callKind(iv);
        if (!calls.has(k)) calls.set(k, { reason: mock.REASON_NAME[iv.rs], h: new Hist() });
        calls.get(k).h.add(d);
      }
    }
    return {
      tid,
      calls_scope: 'thread',
      reasons: reasons.map((h, i) => ({ reason: mock.REASON_NAME[i], h })).filter((r) => r.h.count)
        .map((r) => ({ reason: r.reason, ...r.h.json() })),
      calls: [...calls.entries()].map(([name, c]) => ({ name, reason: c.reason, ...c.h.json() }))
        .sort((a, b) => b.total_ns - a.total_ns),
    };
  }

  function frameName(f) {
    if (f.function) return f.file ? `${f.function} (${f.file}:${f.line})` : f.function;
    return `${f.pc} (${path.basename(f.mapping || '?')})`;
  }

  function profile(type) {
    if (!PROFILE_TYPES.includes(type)) throw new BadRequest(`type must be one of ${PROFILE_TYPES.join(', ')}`);
    const root = { name: 'root', value: 0, kids: new Map() };
    const add = (frames, value) => {
      root.value += value;
      let node = root;
      for (const name of frames) {
        let k = node.kids.get(name);
        if (!k) { k = { name, value: 0, kids: new Map() }; node.kids.set(name, k); }
        k.value += value;
        node = k;
      }
    };
    const pathOf = (stack, t) => (stack ? mock.STACKS[stack].slice().reverse().map(frameName) : [`[thread ${t.name}]`]);
    if (type === 'alloc') {
      for (const site of mock.ALLOC_SITES) {
        for (const tid of site.tids) if (byTid.has(tid)) add(site.stack.slice().reverse().map(frameName), site.bytes);
      }
    } else {
      for (const t of data.threads) {
        let lastStack = 0;
        for (const iv of t.intervals) {
          const d = iv.e - iv.b;
          const io = iv.fdKind !== null;
          let take = false;
          if (type === 'sync') take = iv.st === mock.STATE.wait && iv.rs === mock.REASON.sync;
          else if (type === 'io') take = (iv.st === mock.STATE.wait || iv.st === mock.STATE.sys) && io;
          else if (type === 'syscall') take = (iv.st === mock.STATE.wait || iv.st === mock.STATE.sys) && !io && iv.call && !SYNC_CALL.test(iv.call);
          else if (type === 'sched') take = iv.st === mock.STATE.idle;
          if (take) add(pathOf(type === 'sched' ? lastStack : iv.stack, t), d);
          if (iv.stack) lastStack = iv.stack;
        }
      }
    }
    const out = (n) => ({ name: n.name, value: n.value,
      children: [...n.kids.values()].sort((a, b) => b.value - a.value).map(out) });
    return { type, unit: type === 'alloc' ? 'bytes' : 'ns', ...out(root) };
  }

  return { summary, threads, timeline, interval, latency, profile };
}

// ---- HTTP ----

function intParam(u, name, { required = true } = {}) {
  const v = u.searchParams.get(name);
  if (v === null || v === '') {
    if (required) throw new BadRequest(`missing parameter ${name}`);
    return null;
  }
  if (!/^-?[0-9]+$/.test(v)) throw new BadRequest(`${name} must be an integer`);
  return Number(v);
}

function handler(api, { delayMs = 0 } = {}) {
  const send = (res, status, type, body, extra = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const json = (res, status, obj) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(obj));
  return (req, res) => {
    const u = new URL(req.url, 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'only GET is supported' });
    if (u.pathname.startsWith('/api/')) {
      const run = () => {
        try {
          switch (u.pathname) {
            case '/api/summary': return json(res, 200, api.summary());
            case '/api/threads': return json(res, 200, api.threads());
            case '/api/timeline':
              return json(res, 200, api.timeline(intParam(u, 'start'), intParam(u, 'end'), intParam(u, 'width')));
            case '/api/interval':
              return json(res, 200, api.interval(intParam(u, 'tid'), intParam(u, 'at'), intParam(u, 'id', { required: false })));
            case '/api/latency': return json(res, 200, api.latency(intParam(u, 'tid', { required: false })));
            case '/api/profile': return json(res, 200, api.profile(u.searchParams.get('type')));
            case '/api/pprof': {
              const type = u.searchParams.get('type');
              if (!PROFILE_TYPES.includes(type)) throw new BadRequest(`type must be one of ${PROFILE_TYPES.join(', ')}`);
              // Not a real profile.proto: the page only links to it.
              const body = zlib.gzipSync(Buffer.from(`mock profile ${type}\n`));
              res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length,
                'Content-Disposition': `attachment; filename="ctrace-${type}.pb.gz"` });
              return res.end(req.method === 'HEAD' ? undefined : body);
            }
            default: return json(res, 404, { error: `no such endpoint: ${u.pathname}` });
          }
        } catch (e) {
          if (e instanceof BadRequest) return json(res, 400, { error: e.message });
          return json(res, 500, { error: String(e && e.message) });
        }
      };
      return delayMs ? setTimeout(run, delayMs) : run();
    }
    const name = u.pathname === '/' ? 'index.html' : u.pathname.slice(1);
    const type = CONTENT_TYPES[path.extname(name)];
    if (!type || name.includes('/') || name.startsWith('.')) return json(res, 404, { error: 'not found' });
    fs.readFile(path.join(WEB_DIR, name), (err, body) => {
      if (err) return json(res, 404, { error: 'not found' });
      send(res, 200, type, body, { 'Cache-Control': 'no-cache' });
    });
  };
}

// Start a server; resolves to {url, close(), data, api}.
function start({ port = 0, host = '127.0.0.1', extraThreads = 0, delayMs = 0 } = {}) {
  const data = mock.generate({ extraThreads });
  const api = createApi(data);
  const server = http.createServer(handler(api, { delayMs }));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: p } = server.address();
      resolve({ url: `http://${host}:${p}/`, data, api,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    });
  });
}

module.exports = { start, createApi };

if (require.main === module) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  start({ port: opt('--port', 8080), extraThreads: opt('--extra-threads', 0), delayMs: opt('--delay', 0) })
    .then((s) => console.log(`mock ctrace view server: ${s.url}`))
    .catch((e) => { console.error(`mock server: ${e.message}`); process.exit(1); });
}
