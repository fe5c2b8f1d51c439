// The timeline's interaction: hit testing and tooltips, the wheel, drags, clicks and keys,
// and the selected interval with its details panel.
// Methods of Timeline (timeline.js), which installs them on its prototype.

import {
  COLORS, KIND_LABELS, KIND_HELP, kindOf, stateLabel, fmtDur, fmtTime, basename, getJSON, el, showTip, hideTip,
  tipContent,
} from './util.js';
import { PAINT_KINDS, lowerBoundEnd } from './timeline_data.js';
import { GUTTER, AXIS, SPAN_Y, REGION_Y } from './timeline_draw.js';

export const inputMethods = {
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
  },

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
  },

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
  },

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
  },

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
  },

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
  },

  // One tap of a key (amount 1), or a frame's share of a held key's motion.
  keyStep(key, amount) {
    const span = this.t1 - this.t0;
    const m = this.mouse;
    const anchor = m && m.x > GUTTER ? this.tAt(m.x) : (this.t0 + this.t1) / 2;
    if (key === 'w') this.zoomAt(anchor, Math.pow(0.8, amount));
    else if (key === 's') this.zoomAt(anchor, Math.pow(1.25, amount));
    else if (key === 'a') this.pan(-0.1 * span * amount);
    else if (key === 'd') this.pan(0.1 * span * amount);
  },

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
  },

  stopKeys() {
    this.keys.clear();
    if (this.animRaf) cancelAnimationFrame(this.animRaf);
    this.animRaf = 0;
  },

  // ---- selection and details ----

  clearSelection() {
    this.selection = null;
    this.details = null;
    this.panel.hidden = true;
    this.requestDraw();
    this.layoutSoon();
  },

  layoutSoon() {
    // The panel changes the viewport's width: the ResizeObserver redraws and refetches.
    this.requestDraw();
  },

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
  },

  threadLabel(tid, at) {
    const t = this.threadAt(tid, at);
    return t ? `${t.name || '(no name)'} · ${tid}` : `tid ${tid}`;
  },

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
  },

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
  },

  scrollToLane(ti) {
    const r = this.laneOf.get(ti);
    if (!r) return;
    const vp = this.viewport;
    const top = r.y, bottom = r.y + r.h;
    const viewH = vp.clientHeight - AXIS;
    if (top < vp.scrollTop || bottom > vp.scrollTop + viewH) vp.scrollTop = Math.max(0, top - viewH / 3);
  },

  // From the threads table: show only this thread, over its lifetime.
  focusThread(tid) {
    const list = this.byTid.get(tid);
    if (!list) return;
    this.setFilter(String(tid));
    this.viewport.scrollTop = 0;
    const b = Math.min(...list.map((t) => t.start)), e = Math.max(...list.map((t) => t.end));
    this.setView(b - (e - b) * 0.02, e + (e - b) * 0.02);
  },
};
