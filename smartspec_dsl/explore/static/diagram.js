// smartspec explore: the stock-and-flow diagram, drawn as SVG from the .mdl's sketch
// (GET /api/sketch) with each variable's value at a chosen time of the current run.
// Loaded before explore.js, whose globals (S, $, el, fmt, api, ...) it uses when called.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function diagramView() { return S.sketch && S.sketch[S.diagramView || 0]; }
function diagramVariables() {
  const v = S.view === "diagram" && diagramView();
  return v ? v.nodes.filter((n) => n.kind === "variable" && n.plotted).map((n) => n.name) : [];
}

function wrap(text, width) {
  // a name in lines of at most `width` pixels (about 6.5 per character), as Vensim wraps it
  const per = Math.max(8, Math.floor(width / 6)), lines = [];
  let line = "";
  for (const w of text.split(/\s+/)) {
    if (line && (line + " " + w).length > per) { lines.push(line); line = w; } else line = line ? line + " " + w : w;
  }
  if (line) lines.push(line);
  return lines;
}

function boxEdge(n, p) {
  // is point p outside node n's box (with a margin)?
  return Math.abs(p[0] - n.x) > n.w + 2 || Math.abs(p[1] - n.y) > n.h + 2;
}

function arrowPath(a, from, to) {
  if (a.pipe) {
    // from the valve through the pipe's corners, on to the edge of the stock or cloud
    const pts = [[from.x, from.y], ...a.points];
    const L = pts[pts.length - 1];
    if (Math.abs(L[1] - to.y) <= Math.abs(L[0] - to.x)) pts.push([to.x - Math.sign(to.x - L[0]) * to.w, L[1]]);
    else pts.push([L[0], to.y - Math.sign(to.y - L[1]) * to.h]);
    return "M" + pts.map((p) => p.join(",")).join(" L");
  }
  // a causal link: the curve from centre to centre through its control point, cut at the boxes
  const A = [from.x, from.y], B = [to.x, to.y];
  const P = a.points.length ? a.points[0] : [(A[0] + B[0]) / 2, (A[1] + B[1]) / 2];
  const C = [2 * P[0] - (A[0] + B[0]) / 2, 2 * P[1] - (A[1] + B[1]) / 2];
  const pts = [];
  for (let i = 0; i <= 40; i++) {
    const t = i / 40, u = 1 - t;
    const q = [u * u * A[0] + 2 * u * t * C[0] + t * t * B[0], u * u * A[1] + 2 * u * t * C[1] + t * t * B[1]];
    if (boxEdge(from, q) && boxEdge(to, q)) pts.push(q);
  }
  if (pts.length < 2) return "";
  return "M" + pts.map((p) => p.map((x) => x.toFixed(1)).join(",")).join(" L");
}

function drawDiagram() {
  const box = $("#diagram");
  box.textContent = "";
  const view = diagramView();
  if (!view) { box.textContent = "This model has no sketch (a .mdl file's stock-and-flow diagram) to draw."; return; }
  const byId = Object.fromEntries(view.nodes.map((n) => [n.id, n]));
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const n of view.nodes) {
    x0 = Math.min(x0, n.x - n.w); y0 = Math.min(y0, n.y - n.h); x1 = Math.max(x1, n.x + n.w); y1 = Math.max(y1, n.y + n.h + 14);
  }
  const w = x1 - x0 + 40, h = y1 - y0 + 40;
  const root = svg("svg", {viewBox: `${x0 - 20} ${y0 - 20} ${w} ${h}`, width: Math.min(w * 1.6, $("main").clientWidth - 30),
                           "font-family": "system-ui, sans-serif", "font-size": 11});
  const defs = svg("defs");
  const marker = svg("marker", {id: "head", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8,
                                 markerUnits: "userSpaceOnUse", orient: "auto-start-reverse"});
  marker.append(svg("path", {d: "M0,0 L10,5 L0,10 z", fill: "#555"}));
  const pipeHead = svg("marker", {id: "pipehead", viewBox: "0 0 10 10", refX: 6, refY: 5, markerWidth: 16,
                                   markerHeight: 16, markerUnits: "userSpaceOnUse", orient: "auto"});
  pipeHead.append(svg("path", {d: "M0,0 L10,5 L0,10 z", fill: "#555"}));
  defs.append(marker, pipeHead);
  root.append(defs);
  for (const a of view.arrows) {
    const d = arrowPath(a, byId[a.from], byId[a.to]);
    if (!d) continue;
    if (a.pipe) {
      root.append(svg("path", {d, fill: "none", stroke: "#555", "stroke-width": 6, ...(a.head ? {"marker-end": "url(#pipehead)"} : {})}));
      root.append(svg("path", {d, fill: "none", stroke: "#fff", "stroke-width": 3}));
    } else {
      root.append(svg("path", {d, fill: "none", stroke: "#8a9bb8", "stroke-width": 1.2, "marker-end": "url(#head)"}));
    }
  }
  S.diagramLabels = [];
  for (const n of view.nodes) {
    const g = svg("g", {"data-id": n.id});
    if (n.kind === "valve") g.append(svg("circle", {cx: n.x, cy: n.y, r: Math.max(n.w, n.h) * 0.8, fill: "#fff", stroke: "#555", "stroke-width": 1.5}));
    else if (n.kind === "cloud") g.append(svg("ellipse", {cx: n.x, cy: n.y, rx: n.w * 1.3, ry: n.h * 1.2, fill: "#f4f4f4", stroke: "#999"}));
    else {
      if (n.box) g.append(svg("rect", {x: n.x - n.w, y: n.y - n.h, width: 2 * n.w, height: 2 * n.h, fill: "#eef3fb", stroke: "#23395d", "stroke-width": 1.5}));
      const lines = wrap(n.shadow ? `<${n.name}>` : n.name, 2 * n.w + 16);
      const top = n.y - (lines.length - 1) * 6.5 - (n.box && n.plotted ? 6 : 0);
      const t = svg("text", {x: n.x, y: top, "text-anchor": "middle", "dominant-baseline": "middle", fill: n.shadow ? "#888" : "#222"});
      lines.forEach((line, i) => t.append(svg("tspan", {x: n.x, dy: i ? 13 : 0}, line)));
      g.append(t);
      if (n.plotted) {
        const v = svg("text", {x: n.x, y: top + lines.length * 13, "text-anchor": "middle", "dominant-baseline": "middle", class: "value"}, "");
        g.append(v);
        S.diagramLabels.push({name: n.name, el: v});
      }
      g.append(svg("title", {}, n.name + (n.type ? ` (${n.type})` : "")));
    }
    root.append(g);
  }
  box.append(root);
  diagramValues();
}

function diagramValues() {
  // each variable's value at the diagram's time, from the current run
  const run = S.current;
  if (!run || !S.diagramLabels) return;
  const slider = $("#diagram-time");
  const last = run.time.length - 1;
  if (+slider.max !== last) { slider.max = last; slider.value = last; }
  const k = Math.min(+slider.value, last);
  $("#diagram-time-label").textContent = `t = ${fmt(run.time[k])}`;
  for (const l of S.diagramLabels) {
    const s = run.series[l.name];
    l.el.textContent = s ? fmt(s[k]) : "";
  }
}

async function showDiagram() {
  if (!S.sketch) {
    try { S.sketch = await api("sketch"); } catch (err) { showMessage(err.message); return; }
    const sel = $("#diagram-view");
    S.sketch.forEach((v, i) => sel.append(el("option", {value: i, text: v.name})));
    sel.addEventListener("change", () => { S.diagramView = +sel.value; drawDiagram(); requestRun(); });
    $("#diagram-time").addEventListener("input", diagramValues);
  }
  drawDiagram();
  requestRun();     // the values of the view's variables
}

