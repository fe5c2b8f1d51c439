// The ctrace viewer: tabs, routing through the URL fragment, the trace header and warnings.
// API: API.md in this folder.

import { getJSON, el, fmtDur, fmtCount, hideTip } from './util.js';
import { Timeline } from './timeline.js';
import { ThreadsView, LatencyView, ProfilesView } from './views.js';

const TABS = ['timeline', 'threads', 'latency', 'profiles'];
const WARNINGS_SHOWN = 3;

class App {
  constructor() {
    this.tab = null;
    this.summary = null;
    this.timeline = new Timeline(this);
    this.threads = new ThreadsView(this);
    this.latency = new LatencyView(this);
    this.profiles = new ProfilesView(this);
    this.tabButtons = [...document.querySelectorAll('[role="tab"]')];
    for (const b of this.tabButtons) {
      b.addEventListener('click', () => this.go(b.dataset.tab));
      b.addEventListener('keydown', (e) => this.tabKey(e, b));
    }
    window.addEventListener('hashchange', () => this.route());
    this.watchPixelRatio();
    // The keys popover closes like a menu: a click elsewhere or Escape.
    const keys = document.querySelector('details.keys');
    document.addEventListener('pointerdown', (e) => { if (keys.open && !keys.contains(e.target)) keys.open = false; });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && keys.open) {
        keys.open = false;
        keys.querySelector('summary').focus();
      }
    });
    const app = this;
    Object.defineProperty(window, '__ctraceView', {
      configurable: false,
      get() { return app.snapshot(); },
    });
  }

  async start() {
    try {
      this.summary = await getJSON('api/summary');
    } catch (e) {
      this.fatal(`Cannot load the trace: ${e.message}`);
      return;
    }
    const s = this.summary;
    this.renderHeader(s);
    this.renderWarnings(s.warnings || []);
    this.timeline.setSummary(s);
    this.latency.setThreads(s.threads);
    this.route();
    getJSON('api/threads').then((j) => {
      this.threads.setData(j);
      this.timeline.setThreadStats(j.threads);
    }).catch((e) => this.showError(e.message));
  }

  // Canvases are sized in device pixels: redraw when the ratio changes (browser zoom, or
  // the window moving to another screen), which no resize event reports.
  watchPixelRatio() {
    const mq = matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`);
    mq.addEventListener('change', () => {
      this.timeline.requestDraw();
      this.profiles.flame.requestDraw();
      this.watchPixelRatio();
    }, { once: true });
  }

  // ---- routing: #tab?params ----

  parseHash() {
    const h = decodeURIComponent(location.hash.replace(/^#/, ''));
    const i = h.indexOf('?');
    const name = i >= 0 ? h.slice(0, i) : h;
    return { name: TABS.includes(name) ? name : 'timeline', params: new URLSearchParams(i >= 0 ? h.slice(i + 1) : '') };
  }

  route() {
    if (!this.summary) return;
    const { name, params } = this.parseHash();
    this.showTab(name);
    if (name === 'timeline') this.timeline.applyParams(params);
    else if (name === 'latency') {
      const tid = params.get('tid');
      this.latency.show(tid && /^\d+$/.test(tid) ? Number(tid) : null);
    } else if (name === 'profiles') this.profiles.show(params.get('type') || 'sync');
  }

  go(tab, params = {}) {
    const q = new URLSearchParams(params).toString();
    const hash = `#${tab}${q ? `?${q}` : ''}`;
    if (tab === 'timeline' && !q && this.tab !== 'timeline') {
      // Back to the timeline as it was left.
      history.pushState(null, '', `#timeline?${this.timeline.hashParams()}`);
      this.showTab('timeline');
      return;
    }
    if (location.hash === hash) this.route();
    else location.hash = hash;
  }

  replaceHash() {
    if (this.tab !== 'timeline') return;
    history.replaceState(null, '', `#timeline?${this.timeline.hashParams()}`);
  }

  showTab(name) {
    if (this.tab === name) return;
    this.tab = name;
    hideTip();
    for (const b of this.tabButtons) {
      const on = b.dataset.tab === name;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      document.getElementById(b.getAttribute('aria-controls')).hidden = !on;
    }
    if (name === 'timeline') this.timeline.show(); else this.timeline.hide();
  }

  tabKey(e, b) {
    const i = this.tabButtons.indexOf(b);
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % this.tabButtons.length;
    else if (e.key === 'ArrowLeft') j = (i + this.tabButtons.length - 1) % this.tabButtons.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = this.tabButtons.length - 1;
    if (j < 0) return;
    e.preventDefault();
    this.tabButtons[j].focus();
    this.go(this.tabButtons[j].dataset.tab);
  }

  openTimelineThread(tid) {
    history.pushState(null, '', `#timeline?q=${tid}`);
    this.showTab('timeline');
    this.timeline.focusThread(tid);
  }

  openLatency(tid) {
    this.go('latency', { tid });
  }

  // ---- header, warnings, errors ----

  renderHeader(s) {
    const t = s.trace;
    const chip = (label, value, cls = '', title = null) =>
      el('span', { class: `chip ${cls}`, title }, el('span', { class: 'chip-label' }, label), value);
    const file = t.file || 'trace';
    document.title = `${file.split('/').pop()} · ctrace view`;
    document.getElementById('trace-info').replaceChildren(
      el('span', { class: 'file', title: file }, file.split('/').pop()),
      chip('duration', fmtDur(t.end_ns - t.start_ns)),
      chip('processes', fmtCount(s.processes.length)),
      chip('threads', fmtCount(s.threads.length)),
      chip('events', fmtCount(t.events)),
      chip('lost', fmtCount(t.lost), t.lost ? 'bad' : '', t.lost ? 'events the recorder dropped (buffers full)' : null),
      chip('generations', fmtCount(t.generations)));
  }

  renderWarnings(list) {
    const box = document.getElementById('warnings');
    if (!list.length) { box.hidden = true; return; }
    const ul = el('ul');
    const more = list.length - WARNINGS_SHOWN;
    list.forEach((w, i) => ul.append(el('li', { hidden: i >= WARNINGS_SHOWN && more > 0 ? true : null }, w)));
    const toggle = more > 0 ? el('button', { type: 'button', class: 'btn small', 'aria-expanded': 'false', onclick: (e) => {
      const open = e.currentTarget.getAttribute('aria-expanded') !== 'true';
      e.currentTarget.setAttribute('aria-expanded', String(open));
      e.currentTarget.textContent = open ? 'Show fewer' : `Show ${more} more`;
      [...ul.children].forEach((li, i) => { li.hidden = !open && i >= WARNINGS_SHOWN; });
    } }, `Show ${more} more`) : null;
    box.replaceChildren(
      el('span', { class: 'warn-icon', 'aria-hidden': 'true' }, '!'),
      el('div', { class: 'warn-text' },
        el('strong', {}, list.length === 1 ? '1 warning about this trace' : `${list.length} warnings about this trace`),
        ul),
      el('div', { class: 'warn-actions' }, toggle,
        el('button', { type: 'button', class: 'btn small', onclick: () => { box.hidden = true; } }, 'Dismiss')));
    box.hidden = false;
  }

  showError(message) {
    const box = document.getElementById('toasts');
    const t = el('div', { class: 'toast' }, el('span', {}, message),
      el('button', { type: 'button', class: 'btn icon small', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
    box.append(t);
    while (box.children.length > 3) box.firstChild.remove();
    setTimeout(() => t.remove(), 10000);
  }

  fatal(message) {
    const f = document.getElementById('fatal');
    f.textContent = message;
    f.hidden = false;
    for (const p of document.querySelectorAll('.tab-panel')) p.hidden = true;
    document.getElementById('trace-info').replaceChildren(el('span', { class: 'muted' }, 'No trace'));
  }

  snapshot() {
    const s = this.summary;
    const tl = s ? this.timeline.snapshot() : null;
    return Object.freeze({
      ready: !!s && this.timeline.ready,
      tab: this.tab,
      traceStart: s ? s.trace.start_ns : null,
      traceEnd: s ? s.trace.end_ns : null,
      ...(tl || { visible: null, canvas: null, lanes: [], loaded: null, pending: false, selection: null }),
      flame: this.profiles.flame.snapshot(),
    });
  }
}

const app = new App();
app.start();
