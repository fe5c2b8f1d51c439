'use strict';
// Generated trace data for the mock server: a test double of what the C model knows about
// a trace (viewer/web/API.md). Deterministic (seeded), so tests can rely on the known
// interval below. Times are absolute CLOCK_MONOTONIC ns, like the real API's.

const TRACE_START = 86_400_123_456_789; // about a day of uptime: times are large numbers
const DURATION = 2_000_000_000;
const TRACE_END = TRACE_START + DURATION;

// The blocking interval the browser tests click: a 42 ms wait on a contended mutex in
// contend_on_lock (tests/workloads/mutex_contend.c), ended by another worker.
const KNOWN = {
  pid: 4251,
  tid: 4253,
  begin: TRACE_START + 1_200_000_000,
  end: TRACE_START + 1_242_000_000,
  waker: 4252,
  function: 'contend_on_lock',
  file: 'tests/workloads/mutex_contend.c',
};

const STATE = { user: 0, sys: 1, idle: 2, wait: 3, unknown: 4 };
const REASON = { none: 0, sync: 1, io: 2, sleep: 3, other: 4 };
const REASON_NAME = ['runqueue', 'sync', 'io', 'sleep', 'other'];

function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const PIPELINE = '/usr/local/bin/pipeline';
const CONTEND = '/work/main/build/tests/workloads/mutex_contend';
const SHIPPER = '/usr/local/bin/log-shipper';

function frame(fn, file, line, pc, mapping) {
  return { function: fn, file, line, pc: '0x' + pc.toString(16), mapping };
}
const threadTail = (m) => [
  frame('start_thread', '', 0, 0x7f3a1c28944b, LIBC),
  frame('clone3', '', 0, 0x7f3a1c30a85c, LIBC),
];
const mainTail = (m, base) => [
  frame('__libc_start_call_main', '', 0, 0x7f3a1c227249, LIBC),
  frame('__libc_start_main', '', 0, 0x7f3a1c227305, LIBC),
  frame('_start', '', 0, base + 0x1a1, m),
];

// Stacks, innermost frame first, as /api/interval sends them. Index 0: no stack.
const STACKS = [
  null,
  /* 1 */ [frame('cache_lookup', 'examples/pipeline.c', 77, 0x55d0c5a07f3b, PIPELINE),
    frame('worker', 'examples/pipeline.c', 113, 0x55d0c5a0818d, PIPELINE), ...threadTail()],
  /* 2 */ [frame('queue_pop', 'examples/pipeline.c', 52, 0x55d0c5a07c11, PIPELINE),
    frame('worker', 'examples/pipeline.c', 108, 0x55d0c5a08160, PIPELINE), ...threadTail()],
  /* 3 */ [frame('simulate_work', 'examples/pipeline.c', 90, 0x55d0c5a07e02, PIPELINE),
    frame('worker', 'examples/pipeline.c', 120, 0x55d0c5a081c4, PIPELINE), ...threadTail()],
  /* 4 */ [frame('read_request', 'examples/pipeline.c', 140, 0x55d0c5a08310, PIPELINE),
    frame('acceptor', 'examples/pipeline.c', 160, 0x55d0c5a08402, PIPELINE), ...threadTail()],
  /* 5 */ [frame('queue_push', 'examples/pipeline.c', 40, 0x55d0c5a07b40, PIPELINE),
    frame('acceptor', 'examples/pipeline.c', 165, 0x55d0c5a0842e, PIPELINE), ...threadTail()],
  /* 6 */ [frame('main', 'examples/pipeline.c', 190, 0x55d0c5a08590, PIPELINE),
    ...mainTail(PIPELINE, 0x55d0c5a06000)],
  /* 7 */ [frame('main', 'examples/pipeline.c', 198, 0x55d0c5a085f2, PIPELINE),
    ...mainTail(PIPELINE, 0x55d0c5a06000)],
  /* 8 */ [frame('contend_on_lock', 'tests/workloads/mutex_contend.c', 28, 0x5581a3a2b1c9, CONTEND),
    frame('worker', 'tests/workloads/mutex_contend.c', 37, 0x5581a3a2b221, CONTEND), ...threadTail()],
  /* 9 */ [frame('main', 'tests/workloads/mutex_contend.c', 51, 0x5581a3a2b2f8, CONTEND),
    ...mainTail(CONTEND, 0x5581a3a2a000)],
  /* 10 */ [frame('flush_batch', 'src/shipper.c', 88, 0x563e11c04a17, SHIPPER),
    frame('ship_loop', 'src/shipper.c', 120, 0x563e11c04c80, SHIPPER), ...threadTail()],
  /* 11 */ [frame('sync_segment', 'src/shipper.c', 97, 0x563e11c04ae0, SHIPPER),
    frame('flush_batch', 'src/shipper.c', 92, 0x563e11c04a52, SHIPPER),
    frame('ship_loop', 'src/shipper.c', 120, 0x563e11c04c80, SHIPPER), ...threadTail()],
  /* 12 */ [frame('flusher', 'src/shipper.c', 60, 0x563e11c04810, SHIPPER), ...threadTail()],
  /* 13 */ [frame('worker', 'examples/pipeline.c', 125, 0x55d0c5a081f0, PIPELINE), ...threadTail()],
];

// Allocation sites for the alloc profile: [stack frames innermost first, bytes per thread].
const ALLOC_SITES = [
  { tids: [4245, 4246, 4247, 4248], bytes: 6553600, stack: [
    frame('make_buffer', 'examples/pipeline.c', 66, 0x55d0c5a07d01, PIPELINE),
    frame('worker', 'examples/pipeline.c', 111, 0x55d0c5a08170, PIPELINE), ...threadTail()] },
  { tids: [4242], bytes: 5896, stack: [
    frame('main', 'examples/pipeline.c', 182, 0x55d0c5a08540, PIPELINE),
    ...mainTail(PIPELINE, 0x55d0c5a06000)] },
  { tids: [4264], bytes: 2097152, stack: [
    frame('grow_batch', 'src/shipper.c', 71, 0x563e11c04900, SHIPPER),
    frame('flush_batch', 'src/shipper.c', 84, 0x563e11c04a00, SHIPPER),
    frame('ship_loop', 'src/shipper.c', 120, 0x563e11c04c80, SHIPPER), ...threadTail()] },
];

const MS = 1e6, US = 1e3;

function buildThreads(extraThreads) {
  const at = (ms) => TRACE_START + Math.round(ms * MS);
  const procs = [
    { pid: 4242, ppid: 4200, exe: PIPELINE },
    { pid: 4251, ppid: 4242, exe: CONTEND },
    { pid: 4263, ppid: 4242, exe: SHIPPER },
  ];
  const th = [
    { pid: 4242, tid: 4242, name: 'pipeline', start: at(0), end: at(2000), role: 'main' },
    { pid: 4242, tid: 4244, name: 'acceptor', start: at(0), end: at(2000), role: 'acceptor',
      unknownUntil: at(3.2) },
    { pid: 4242, tid: 4245, name: 'worker-0', start: at(15.4), end: at(1990), role: 'worker' },
    { pid: 4242, tid: 4246, name: 'worker-1', start: at(15.5), end: at(1991), role: 'worker' },
    { pid: 4242, tid: 4247, name: 'worker-2', start: at(15.7), end: at(1992), role: 'worker' },
    { pid: 4242, tid: 4248, name: 'worker-3', start: at(15.9), end: at(1993), role: 'worker' },
    { pid: 4251, tid: 4251, name: 'mutex_contend', start: at(250), end: at(1900), role: 'cmain' },
    { pid: 4251, tid: 4252, name: 'mutex_contend', start: at(251), end: at(1880), role: 'contend' },
    { pid: 4251, tid: 4253, name: 'mutex_contend', start: at(251.2), end: at(1885), role: 'contend' },
    { pid: 4251, tid: 4254, name: 'mutex_contend', start: at(251.4), end: at(1870), role: 'contend' },
    { pid: 4251, tid: 4255, name: 'mutex_contend', start: at(251.6), end: at(1500), role: 'contend' },
    { pid: 4263, tid: 4263, name: 'log-shipper', start: at(300), end: at(2000), role: 'shipper',
      estimated: true },
    { pid: 4263, tid: 4264, name: 'flusher', start: at(300.5), end: at(2000), role: 'flusher',
      estimated: true },
    // The kernel reuses a tid: two threads of the trace have tid 4265, one after the other.
    { pid: 4263, tid: 4265, name: 'compactor', start: at(420), end: at(760), role: 'compactor',
      estimated: true },
    { pid: 4263, tid: 4265, name: 'compactor', start: at(1210), end: at(1530), role: 'compactor',
      estimated: true },
  ];
  for (let i = 0; i < extraThreads; i++) {
    const pid = 5000 + Math.floor(i / 16) * 100;
    if (i % 16 === 0) procs.push({ pid, ppid: 4242, exe: `/usr/local/bin/stress-${pid}` });
    th.push({ pid, tid: pid + (i % 16), name: `stress-${i}`, start: at(5 + (i % 7)),
      end: at(2000), role: i % 2 ? 'worker' : 'contend' });
  }
  return { procs, th };
}

// One thread's state timeline: contiguous intervals from its start to its end.
function generateIntervals(t, rng, threadsOfPid) {
  const out = [];
  let now = t.start;
  let limit = t.end;
  const exp = (mean) => -Math.log(1 - rng()) * mean;
  const between = (lo, hi) => lo + rng() * (hi - lo);
  const peers = threadsOfPid.filter((p) => p.tid !== t.tid && p.role === t.role);
  const peer = () => (peers.length ? peers[Math.floor(rng() * peers.length)].tid : 0);
  const push = (dur, st, rs = 0, call = null, extra = {}) => {
    const end = Math.min(now + Math.max(1, Math.round(dur)), limit);
    if (end <= now) return;
    out.push({ b: now, e: end, st, rs, call, object: 0, fd: -1, fdKind: null, stack: 0,
      wakerTid: 0, wakeNs: 0, ...extra });
    now = end;
  };
  const wake = (tid, lat) => ({ wakerTid: tid, wakeNs: 0, wakeLat: lat });
  const burst = (n, call, fd, fdKind, stack) => {
    // Many tiny intervals: what summaries are for.
    for (let i = 0; i < n; i++) {
      push(between(1, 6) * US, STATE.sys, 0, call, { fd, fdKind, stack });
      push(between(2, 12) * US, STATE.user);
    }
  };
  if (t.unknownUntil) push(t.unknownUntil - now, STATE.unknown);

  const roles = {
    main() {
      push(exp(40) * US, STATE.user);
      push(between(3, 9) * US, STATE.sys, 0, 'usleep', { stack: 6 });
      push(between(7.9, 8.2) * MS, STATE.wait, REASON.sleep, 'usleep', { stack: 6 });
      if (rng() < 0.3) push(between(5, 60) * US, STATE.idle);
    },
    acceptor() {
      push(exp(30) * US, STATE.user);
      push(between(2, 8) * US, STATE.sys, 0, 'read', { fd: 5, fdKind: 'socket', stack: 4 });
      if (rng() < 0.7) push(exp(2.5) * MS, STATE.wait, REASON.io, 'read', { fd: 5, fdKind: 'socket', stack: 4 });
      if (rng() < 0.4) push(between(5, 250) * US, STATE.idle);
      push(exp(20) * US, STATE.user);
      push(between(1, 6) * US, STATE.sys, 0, 'write', { fd: 7, fdKind: 'pipe', stack: 5 });
      if (rng() < 0.1) burst(12, 'write', 7, 'pipe', 5);
    },
    worker() {
      push(exp(220) * US, STATE.user);
      const r = rng();
      if (r < 0.3) {
        push(between(2, 15) * US, STATE.sys, 0, 'pthread_mutex_lock', { object: 0x55d0c5a0c0c0, stack: 1 });
        push(between(0.05, 3) * MS, STATE.wait, REASON.sync, 'pthread_mutex_lock',
          { object: 0x55d0c5a0c0c0, stack: 1, ...wake(peer(), between(3, 30) * US) });
        push(between(4, 60) * US, STATE.idle);
      } else if (r < 0.55) {
        push(between(2, 10) * US, STATE.sys, 0, 'pthread_cond_wait', { object: 0x55d0c5a0c100, stack: 2 });
        push(between(1, 7) * MS, STATE.wait, REASON.sync, 'pthread_cond_wait',
          { object: 0x55d0c5a0c100, stack: 2, ...wake(4244, between(5, 40) * US) });
        push(between(5, 250) * US, STATE.idle);
      } else if (r < 0.75) {
        push(between(520, 900) * US, STATE.wait, REASON.sleep, 'usleep', { stack: 3 });
      } else if (r < 0.8) {
        push(between(20, 200) * US, STATE.wait, REASON.other, null);
      } else if (r < 0.85) {
        push(between(50, 300) * US, STATE.idle);
      } else if (r < 0.9) {
        burst(20 + Math.floor(rng() * 30), 'write', 9, 'pipe', 13);
      } else {
        push(between(2, 8) * US, STATE.sys, 0, 'malloc', { stack: 13 });
      }
    },
    cmain() {
      push(between(200, 400) * US, STATE.user);
      push(5 * US, STATE.sys, 0, 'pthread_join', { stack: 9 });
      push(limit - now, STATE.wait, REASON.sync, 'pthread_join', { stack: 9 });
    },
    contend() {
      push(between(150, 700) * US, STATE.user);
      push(between(1, 4) * US, STATE.sys, 0, 'pthread_mutex_lock', { object: 0x5581a3c4e0a0, stack: 8 });
      push(between(0.1, 2) * MS, STATE.wait, REASON.sync, 'pthread_mutex_lock',
        { object: 0x5581a3c4e0a0, stack: 8, ...wake(peer(), between(3, 25) * US) });
      push(between(3, 40) * US, STATE.idle);
    },
    shipper() {
      push(exp(300) * US, STATE.user);
      push(between(30, 400) * US, STATE.wait, REASON.io, 'write', { fd: 3, fdKind: 'file', stack: 10 });
      if (rng() < 0.15) push(between(0.5, 6) * MS, STATE.wait, REASON.io, 'fsync', { fd: 3, fdKind: 'file', stack: 11 });
      if (rng() < 0.1) burst(15, 'write', 3, 'file', 10);
      if (rng() < 0.3) push(between(0.2, 2) * MS, STATE.wait, REASON.other, null);
    },
    compactor() {
      push(exp(400) * US, STATE.user);
      push(between(0.3, 3) * MS, STATE.wait, REASON.io, 'pwrite', { fd: 11, fdKind: 'file', stack: 10 });
      if (rng() < 0.3) push(between(1, 4) * MS, STATE.wait, REASON.sleep, 'nanosleep', { stack: 12 });
    },
    flusher() {
      push(exp(80) * US, STATE.user);
      push(between(2, 6) * US, STATE.sys, 0, 'nanosleep', { stack: 12 });
      push(between(4, 6) * MS, STATE.wait, REASON.sleep, 'nanosleep', { stack: 12 });
    },
  };

  const step = roles[t.role];
  if (t.tid === KNOWN.tid) {
    limit = KNOWN.begin;
    while (now < limit) step();
    limit = t.end;
    push(KNOWN.end - KNOWN.begin, STATE.wait, REASON.sync, 'pthread_mutex_lock',
      { object: 0x5581a3c4e0a0, stack: 8, wakerTid: KNOWN.waker, wakeNs: KNOWN.end - 15 * US });
  }
  while (now < limit) step();
  for (const iv of out) {
    if (iv.wakerTid && !iv.wakeNs) iv.wakeNs = iv.e - Math.round(iv.wakeLat);
    delete iv.wakeLat;
  }
  return out;
}

function buildAnnotations(rng, threads) {
  const tasks = [], regions = [], logs = [];
  const workers = threads.filter((t) => t.role === 'worker' && t.pid === 4242);
  let id = 1;
  for (let n = 1; n <= 40; n++) {
    const b = TRACE_START + Math.round((40 + rng() * 1830) * MS);
    const d = Math.round((5 + rng() * 110) * MS);
    const task = { id: id++, parent: 0, name: `request #${n}`, begin_ns: b, end_ns: b + d };
    tasks.push(task);
    const w = workers[n % workers.length];
    const parts = [['decode', 0.2], ['cache_lookup', 0.45], ['encode', 0.25]];
    let t = b + Math.round(d * 0.05);
    for (const [name, frac] of parts) {
      const rd = Math.round(d * frac);
      regions.push({ task: task.id, tid: w.tid, name, begin_ns: t, end_ns: t + rd });
      t += rd;
    }
    logs.push({ tid: 4244, task: task.id, ns: b, category: 'http',
      message: `GET /item/${1000 + n} accepted` });
    logs.push({ tid: w.tid, task: task.id, ns: b + d - 2000, category: 'http',
      message: `request #${n} done in ${(d / MS).toFixed(1)} ms` });
    if (n % 3 === 0) {
      const child = { id: id++, parent: task.id, name: `lookup #${n}`,
        begin_ns: b + Math.round(d * 0.25), end_ns: b + Math.round(d * 0.7) };
      tasks.push(child);
      logs.push({ tid: w.tid, task: child.id, ns: child.begin_ns + 1000, category: 'cache',
        message: `cache miss for key item:${1000 + n}` });
    }
  }
  const contend = { id: id++, parent: 0, name: 'contend', begin_ns: TRACE_START + 250 * MS,
    end_ns: TRACE_START + 1900 * MS };
  tasks.push(contend);
  for (const t of threads.filter((x) => x.role === 'contend' && x.pid === 4251)) {
    regions.push({ task: contend.id, tid: t.tid, name: 'contend_on_lock', begin_ns: t.start + 20 * US,
      end_ns: t.end - 10 * US });
  }
  for (let i = 0; i < 80; i++) {
    const ns = TRACE_START + Math.round((310 + i * 21 + rng() * 5) * MS);
    logs.push({ tid: 4263, task: 0, ns, category: 'ship',
      message: `flushed ${256 + Math.floor(rng() * 512)} lines to segment ${i}` });
  }
  // A burst of logs close together: the server keeps one per pixel column.
  for (let i = 0; i < 30; i++) {
    logs.push({ tid: 4264, task: 0, ns: TRACE_START + 1600 * MS + i * 20 * US, category: 'flush',
      message: `fsync batch ${i} <ok> & "done"` });
  }
  tasks.sort((a, b) => a.begin_ns - b.begin_ns);
  regions.sort((a, b) => a.begin_ns - b.begin_ns);
  logs.sort((a, b) => a.ns - b.ns);
  return { tasks, regions, logs };
}

function generate({ extraThreads = 0 } = {}) {
  const rng = mulberry32(0xc7ace);
  const { procs, th } = buildThreads(extraThreads);
  const threads = th.map((t, ti) => {
    const intervals = generateIntervals(t, mulberry32(1000 + ti), th.filter((p) => p.pid === t.pid));
    intervals.forEach((iv, i) => { iv.id = (ti + 1) * 1_000_000 + i + 1; });
    return { ...t, index: ti, intervals };
  });
  const ann = buildAnnotations(rng, threads);
  let events = 0;
  for (const t of threads) events += t.intervals.length * 2;
  events += ann.tasks.length * 2 + ann.regions.length * 2 + ann.logs.length;
  const warnings = [
    'lost 37 events in generation 4 (buffer full): some intervals of tid 4246 are Unknown',
    'pid 4263: no context-switch records (perf_event_open: Permission denied); threads 4263, 4264, 4265 are estimated from schedstat',
  ];
  return {
    trace: { start_ns: TRACE_START, end_ns: TRACE_END, events, lost: 37, generations: 9 },
    processes: procs,
    threads,
    warnings,
    ...ann,
  };
}

module.exports = { generate, KNOWN, STACKS, ALLOC_SITES, STATE, REASON, REASON_NAME,
  TRACE_START, TRACE_END, DURATION };
