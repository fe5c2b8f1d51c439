// A flame graph (icicle: the root on top) on a canvas. Click a frame to zoom into it, click
// an ancestor (drawn grey above the zoomed frame) or press Escape to zoom back out.

import { hashHue, fitCanvas, showTip, hideTip, tipContent, fmtDur, fmtBytes, fmtPct } from './util.js';

const ROW_H = 20;
const FONT = '11px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';
const HUES = { sync: [350, 45], io: [225, 290], syscall: [95, 165], sched: [30, 62], alloc: [170, 205] };

function funcOf(name) {
  const i = name.indexOf(' (');
  return i > 0 ? name.slice(0, i) : name;
}

export class FlameGraph {
  constructor(canvas, { onZoom } = {}) {
    this.canvas = canvas;
    this.onZoom = onZoom || (() => {});
    this.root = null;
    this.zoom = null;
    this.hover = null;
    this.search = '';
    this.drawn = 0;
    this.raf = 0;
    canvas.addEventListener('pointermove', (e) => this.onMove(e));
    canvas.addEventListener('pointerleave', () => { this.hover = null; hideTip(); this.requestDraw(); });
    canvas.addEventListener('click', (e) => {
      const n = this.hit(e);
      if (n) this.setZoom(n === this.zoom && n.parent ? n.parent : n);
    });
    new ResizeObserver(() => this.requestDraw()).observe(canvas.parentElement);
  }

  setData(tree, type, unit) {
    this.type = type;
    this.unit = unit;
    let maxDepth = 0;
    const build = (n, parent, depth, x) => {
      const node = { name: n.name, value: n.value || 0, parent, depth, x, children: [], self: n.value || 0 };
      maxDepth = Math.max(maxDepth, depth);
      let cx = x;
      const kids = (n.children || []).slice().sort((a, b) => b.value - a.value);
      for (const c of kids) {
        if (!(c.value > 0)) continue;
        const child = build(c, node, depth + 1, cx);
        node.children.push(child);
        node.self -= child.value;
        cx += child.value;
      }
      return node;
    };
    this.root = build(tree, null, 0, 0);
    this.maxDepth = maxDepth;
    this.zoom = this.root;
    this.hover = null;
    this.requestDraw();
  }

  setZoom(n) {
    this.zoom = n;
    this.onZoom(n);
    this.requestDraw();
  }

  setSearch(text) {
    this.search = text.trim().toLowerCase();
    this.requestDraw();
    return this.matchedValue();
  }

  // The value under frames that match the search (without counting nested matches twice).
  matchedValue() {
    if (!this.search || !this.root) return 0;
    let sum = 0;
    const walk = (n) => {
      if (n.parent && n.name.toLowerCase().includes(this.search)) { sum += n.value; return; }
      n.children.forEach(walk);
    };
    walk(this.root);
    return sum;
  }

  fmt(v) {
    return this.unit === 'bytes' ? fmtBytes(v) : fmtDur(v);
  }

  requestDraw() {
    if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.draw(); });
  }

  color(n) {
    const [lo, hi] = HUES[this.type] || HUES.sync;
    const f = funcOf(n.name);
    const u = (hashHue(f) % 1000) / 1000;
    const hue = (lo + u * (((hi - lo) + 360) % 360)) % 360;
    // Light enough for dark text whatever the hue (blues need more than reds).
    const light = (hue > 200 && hue < 300 ? 68 : 58) + (hashHue(f + '.') % 12);
    return `hsl(${hue} 58% ${light}%)`;
  }

  draw() {
    const c = this.canvas;
    const W = c.parentElement.clientWidth;
    if (!W || !this.root) return;
    const H = (this.maxDepth + 1) * ROW_H + 2;
    const ctx = fitCanvas(c, W, H);
    ctx.clearRect(0, 0, W, H);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    const z = this.zoom;
    const zx = z.x, zv = z.value || 1;
    const k = W / zv;
    let drawn = 0;
    const boxes = [];
    // Ancestors of the zoomed frame span the whole width, greyed.
    for (let a = z.parent; a; a = a.parent) boxes.push([a, 0, W, true]);
    const walk = (n) => {
      const x = (n.x - zx) * k, w = n.value * k;
      if (w < 0.4 || x > W || x + w < 0) return;
      boxes.push([n, x, w, false]);
      for (const ch of n.children) walk(ch);
    };
    walk(z);
    for (const [n, x, w, grey] of boxes) {
      const y = n.depth * ROW_H;
      const match = this.search && n.parent && n.name.toLowerCase().includes(this.search);
      const dim = this.search && !match;
      ctx.fillStyle = grey ? '#2d343e' : n.parent ? this.color(n) : '#4a5462';
      ctx.globalAlpha = dim ? 0.4 : 1;
      ctx.fillRect(x, y + 1, Math.max(0.5, w - 1), ROW_H - 2);
      ctx.globalAlpha = 1;
      if (match) {
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = 1.5;
        ctx.strokeRect(x + 0.75, y + 1.75, Math.max(0.5, w - 2.5), ROW_H - 3.5);
      }
      if (w > 28) {
        const label = n.parent ? n.name : `all (${this.fmt(n.value)})`;
        let text = label;
        const room = w - 8;
        if (ctx.measureText(text).width > room) {
          text = funcOf(label);
          while (text.length > 1 && ctx.measureText(text + '…').width > room) text = text.slice(0, -1);
          text = ctx.measureText(funcOf(label)).width <= room ? funcOf(label) : text + '…';
        }
        ctx.fillStyle = grey || !n.parent || dim ? '#e6edf3' : '#0b0f14';
        ctx.globalAlpha = dim ? 0.6 : 1;
        ctx.fillText(text, x + 4, y + ROW_H / 2 + 0.5);
        ctx.globalAlpha = 1;
      }
      drawn++;
    }
    if (this.hover) {
      const b = boxes.find(([n]) => n === this.hover);
      if (b) {
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = 1;
        ctx.strokeRect(b[1] + 0.5, b[0].depth * ROW_H + 0.5, Math.max(1, b[2] - 1), ROW_H - 1);
      }
    }
    this.boxes = boxes;
    this.drawn = drawn;
  }

  hit(e) {
    if (!this.boxes) return null;
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    const depth = Math.floor(y / ROW_H);
    for (const [n, bx, w] of this.boxes) if (n.depth === depth && x >= bx && x < bx + Math.max(w, 1)) return n;
    return null;
  }

  onMove(e) {
    const n = this.hit(e);
    if (n !== this.hover) { this.hover = n; this.requestDraw(); }
    this.canvas.style.cursor = n ? 'pointer' : 'default';
    if (!n) { hideTip(); return; }
    const total = this.root.value;
    const rows = [
      ['value', `${this.fmt(n.value)} (${fmtPct(n.value, total)} of all)`],
      ['self', n.self > 0 ? `${this.fmt(n.self)} (${fmtPct(n.self, total)})` : null],
      ['of zoomed', this.zoom !== this.root && n.depth >= this.zoom.depth ? fmtPct(n.value, this.zoom.value) : null],
      ['', n.depth < this.zoom.depth || (n === this.zoom && n.parent) ? 'click to zoom out' : 'click to zoom in'],
    ];
    showTip(e.clientX, e.clientY, tipContent(n.parent ? n.name : 'all', rows));
  }

  snapshot() {
    return this.root ? { type: this.type, frames: this.drawn, total: this.root.value, zoom: this.zoom.name } : null;
  }
}
