// smartspec explore: the page. Its state is window.smartspec (read by the browser tests):
// `values` the constants changed from the model's, `current`/`base` the runs drawn, `charts`
// the uPlot instances with the graphs they draw, `latencies` ms from a slider's input event
// to the redrawn graphs.
"use strict";

const S = window.smartspec = {
  info: null, values: {}, base: null, current: null, graphs: [], charts: [],
  scenarios: [], scenarioRuns: {}, runs: 0, pending: false, inflight: false,
  inputAt: 0, latencies: [], timings: [], mc: null, mcCharts: [], doc: null, sketch: null,
  busy() { return this.pending || this.inflight; },
};
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22"];
const DASHES = [[6, 3], [2, 3], [10, 3, 2, 3], [1, 2]];
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
// an axis tick: short (2.5e9, 0.001, 1,900)
const tick = (x) => (Math.abs(x) >= 1e5 || (Math.abs(x) < 1e-3 && x !== 0)) ?
  x.toExponential(1).replace("e+", "e").replace(".0e", "e") : x.toLocaleString("en", {maximumFractionDigits: 4});
const fmt = (x) => (x === null || x === undefined) ? "–" :
  (Math.abs(x) >= 1e5 || (Math.abs(x) < 1e-3 && x !== 0)) ? x.toExponential(3) : +x.toPrecision(5) + "";

// ---- the server ------------------------------------------------------------------
async function api(what, body) {
  const r = await fetch("/api/" + what, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const json = (r.headers.get("Content-Type") || "").includes("json");
  const out = json ? await r.json() : await r.text();
  if (!r.ok) throw new Error((json && out.error) || out || r.statusText);
  return out;
}

function showMessage(text) {
  const m = $("#message");
  m.textContent = text;
  m.hidden = false;
}

function showWarnings(list) {
  // the run's simulation warnings (a lookup input outside its table, ...), folded
  const w = $("#warnings");
  w.hidden = !list.length;
  w.querySelector("summary").textContent = `${list.length} simulation warning${list.length > 1 ? "s" : ""}`;
  w.querySelector("pre").textContent = list.join("\n");
}
function clearMessage() { $("#message").hidden = true; $("#message").textContent = ""; }

// ---- runs ------------------------------------------------------------------------
function unpack(b64) {
  // float64 little-endian values in base64 (api.pack) -> numbers, null for NaN and infinities
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return Array.from(new Float64Array(bytes.buffer), (x) => Number.isFinite(x) ? x : null);
}

function requestedVariables() { return [...new Set([...graphVariables(), ...diagramVariables()])]; }

async function runOf(values) {
  const res = await api("run", {values, variables: requestedVariables()});
  res.time = unpack(res.time);
  for (const k of Object.keys(res.series)) res.series[k] = unpack(res.series[k]);
  return res;
}

function graphVariables() { return [...new Set(S.graphs.flatMap((g) => g.variables))]; }

function requestRun() {
  S.pending = true;
  if (!S.inflight) pump();
}

async function pump() {
  while (S.pending) {
    S.pending = false;
    S.inflight = true;
    const started = S.inputAt;
    S.inputAt = 0;
    const values = {...S.values};
    try {
      const asked = performance.now();
      const res = await runOf(values);
      const answered = performance.now();
      S.current = res;
      S.currentValues = values;
      S.runs++;
      markInputs(null);
      clearMessage();
      showWarnings(res.warnings);
      redraw();
      $("#status").textContent = `run ${S.runs}: ${(res.seconds * 1000).toFixed(1)} ms on the server`;
      const drawn = performance.now();
      if (started) {
        // input event -> the frame that shows the new graphs; and its parts (ms)
        requestAnimationFrame(() => {
          S.latencies.push(performance.now() - started);
          S.timings.push({wait: asked - started, request: answered - asked, server: res.seconds * 1000,
                          draw: drawn - answered, frame: performance.now() - drawn});
        });
      }
    } catch (err) {
      markInputs(err.message);
      showMessage(err.message);
    }
    S.inflight = false;
  }
}

async function refetchAll() {
  // a graph's variables changed: the base run and the shown scenarios again, then the current run
  try {
    S.base = await runOf({});
    for (const sc of S.scenarios.filter((s) => s.shown)) {
      S.scenarioRuns[sc.name] = await runOf(sc.values);
    }
  } catch (err) { showMessage(err.message); }
  buildCharts();
  requestRun();
}

// ---- sliders ---------------------------------------------------------------------
const rows = {};   // constant name -> its slider's elements

function setValue(name, value, fromRange) {
  const c = rows[name].constant;
  if (typeof value === "number" && value === c.default) delete S.values[name];
  else S.values[name] = value;
  const r = rows[name];
  if (fromRange) r.num.value = fmt(value);
  else if (typeof value === "number") r.range.value = value;
  r.row.classList.toggle("changed", name in S.values);
}

function markInputs(error) {
  for (const r of Object.values(rows)) {
    const bad = !!error && error.includes(`'${r.constant.name}'`);
    r.num.classList.toggle("bad", bad);
  }
}

function buildSliders() {
  const box = $("#sliders");
  box.textContent = "";
  const groups = new Map();
  for (const c of S.info.constants) {
    const g = c.group || "Constants";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(c);
  }
  for (const [g, list] of groups) {
    const det = el("details", {class: "group", open: ""}, el("summary", {text: `${g} (${list.length})`}));
    for (const c of list) {
      const range = el("input", {type: "range", min: c.min, max: c.max, step: c.step, value: c.default,
                                 "aria-label": c.name, "data-name": c.name});
      const num = el("input", {class: "num", type: "text", inputmode: "decimal", value: fmt(c.default),
                               "aria-label": c.name + " value", "data-name": c.name});
      const reset = el("button", {class: "reset", title: `reset to ${c.default}`, text: "↺"});
      const label = el("span", {class: "name", text: c.name,
                                title: `${c.units}${c.comment ? "\n" + c.comment : ""}\ndefault ${c.default}; ` +
                                       `slider ${c.min} to ${c.max} step ${c.step}` +
                                       (c.declared ? " (the model's range)" : "") +
                                       (c.note ? "\nwarning: " + c.note : "")});
      if (c.note) label.classList.add("noted");
      const row = el("div", {class: "slider", "data-name": c.name}, label, el("div", {class: "row"}, range, num, reset));
      rows[c.name] = {constant: c, range, num, row, group: det};
      range.addEventListener("input", () => {
        S.inputAt = performance.now();
        setValue(c.name, parseFloat(range.value), true);
        requestRun();
      });
      num.addEventListener("change", () => {
        const text = num.value.trim();
        const x = Number(text);
        setValue(c.name, text !== "" && Number.isFinite(x) ? x : text, false);
        requestRun();
      });
      reset.addEventListener("click", () => { setValue(c.name, c.default, true); requestRun(); });
      det.append(row);
    }
    box.append(det);
  }
  $("#search").addEventListener("input", () => {
    const q = $("#search").value.trim().toLowerCase();
    for (const det of box.children) {
      let any = false;
      for (const row of det.querySelectorAll(".slider")) {
        const hit = !q || row.dataset.name.toLowerCase().includes(q);
        row.hidden = !hit;
        any = any || hit;
      }
      det.hidden = !any;
      if (q && any) det.open = true;
    }
  });
  $("#reset-all").addEventListener("click", () => {
    for (const name of Object.keys(S.values)) setValue(name, rows[name].constant.default, true);
    requestRun();
  });
}

// ---- graphs ----------------------------------------------------------------------
function faint(color, alpha) {
  const n = parseInt(color.slice(1), 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}

function chartSeries(g) {
  // per variable: the base run (faint), the current run, then each shown scenario (dashed)
  const series = [{label: "Time"}];
  const shown = S.scenarios.filter((s) => s.shown);
  g.variables.forEach((v, i) => {
    const color = COLORS[i % COLORS.length];
    series.push({label: `${v} (base)`, stroke: faint(color, 0.35), width: 1.5, variable: v, run: "base"});
    series.push({label: v, stroke: color, width: 2, variable: v, run: "current"});
    shown.forEach((sc, k) => series.push({label: `${v} (${sc.name})`, stroke: color, width: 1.5,
                                         dash: DASHES[k % DASHES.length], variable: v, run: sc.name}));
  });
  return series;
}

function chartData(u) {
  const runOf = (name) => name === "base" ? S.base : name === "current" ? S.current : S.scenarioRuns[name];
  const time = (S.current || S.base).time;
  return [time, ...u.series.slice(1).map((s) => {
    const run = runOf(s.run);
    return run && run.series[s.variable] ? run.series[s.variable] : time.map(() => null);
  })];
}

function chartSize() {
  const w = Math.max(320, $("main").clientWidth - 44);
  return {width: w, height: Math.max(180, Math.min(300, Math.round(w * 0.32)))};
}

function buildCharts() {
  for (const c of S.charts) c.u.destroy();
  S.charts = [];
  const box = $("#charts");
  box.textContent = "";
  if (!S.base && !S.current) return;
  S.graphs.forEach((g, gi) => {
    const add = el("input", {list: "outputs", placeholder: "add variable", size: 16});
    add.addEventListener("change", () => addVariable(gi, add.value));
    const head = el("div", {class: "head"}, el("span", {class: "title", text: g.title}),
      ...g.variables.map((v) => el("span", {class: "chip"}, v,
        el("button", {title: "remove", text: "×", onclick: () => removeVariable(gi, v)}))),
      add, el("button", {class: "remove", title: "remove this graph", text: "✕", onclick: () => removeGraph(gi)}));
    const plot = el("div");
    box.append(el("div", {class: "chart-card"}, head, plot));
    const series = chartSeries(g);
    const opts = {...chartSize(), series, legend: {live: true}, scales: {x: {time: false}},
                  axes: [{values: (u, ticks) => ticks.map((t) => String(t))}, {size: 60, values: (u, ticks) => ticks.map(tick)}], cursor: {drag: {x: true, y: false}}};
    const u = new uPlot(opts, [[]], plot);
    u.setData(chartData(u));
    S.charts.push({graph: g, u});
  });
}

function redraw() {
  if (S.view === "diagram") diagramValues();
  if (!S.charts.length || S.charts.length !== S.graphs.length) { buildCharts(); return; }
  for (const c of S.charts) c.u.setData(chartData(c.u));
}

function validOutput(name) {
  const key = name.trim().toLowerCase().replace(/[\s_]+/g, " ");
  const o = S.info.outputs.find((x) => x.name.toLowerCase().replace(/[\s_]+/g, " ") === key);
  if (!o) showMessage(`'${name}' is not a variable of the model`);
  return o && o.name;
}
function addVariable(gi, name) {
  const v = validOutput(name);
  if (v && !S.graphs[gi].variables.includes(v)) { S.graphs[gi].variables.push(v); refetchAll(); }
}
function removeVariable(gi, v) {
  const g = S.graphs[gi];
  g.variables = g.variables.filter((x) => x !== v);
  if (!g.variables.length) S.graphs.splice(gi, 1);
  buildCharts();
}
function removeGraph(gi) { S.graphs.splice(gi, 1); buildCharts(); }

// ---- scenarios -------------------------------------------------------------------
function download(name, text, type) {
  const a = el("a", {href: URL.createObjectURL(new Blob([text], {type})), download: name});
  document.body.append(a);
  a.click();
  a.remove();
}
const fileName = (name) => name.replace(/[^\w.-]+/g, "_") || "scenario";

function saveScenarios() {
  try { localStorage.setItem("smartspec:" + S.info.path, JSON.stringify(S.scenarios)); } catch (e) { /* private mode */ }
}

async function addScenario() {
  const name = $("#scenario-name").value.trim() || `scenario ${S.scenarios.length + 1}`;
  if (S.scenarios.some((s) => s.name === name)) { showMessage(`a scenario named '${name}' exists`); return; }
  const values = {...S.values};
  try {
    S.scenarioRuns[name] = await runOf(values);
  } catch (err) { showMessage(err.message); return; }
  S.scenarios.push({name, values, shown: true});
  $("#scenario-name").value = "";
  saveScenarios();
  listScenarios();
  buildCharts();
}

function listScenarios() {
  const t = $("#scenario-list");
  t.textContent = "";
  for (const sc of S.scenarios) {
    const show = el("input", {type: "checkbox", title: "show on the graphs"});
    show.checked = sc.shown;
    show.addEventListener("change", async () => { sc.shown = show.checked; saveScenarios(); await refetchAll(); });
    const changed = Object.entries(sc.values).map(([k, v]) => `${k} = ${v}`).join("\n") || "the model's values";
    t.append(el("tr", {"data-scenario": sc.name},
      el("td", {}, show), el("td", {text: sc.name, title: changed}),
      el("td", {text: `${Object.keys(sc.values).length} changed`}),
      el("td", {}, el("button", {text: "Load", onclick: () => loadScenario(sc)})),
      el("td", {}, el("button", {text: ".cin", title: "download as a Vensim changes file",
        onclick: async () => {
          try { download(fileName(sc.name) + ".cin", await api("changes", {values: sc.values}), "text/plain"); }
          catch (err) { showMessage(err.message); }
        }})),
      el("td", {}, el("button", {text: "Delete", onclick: () => {
        S.scenarios = S.scenarios.filter((s) => s !== sc); saveScenarios(); listScenarios(); buildCharts(); }}))));
  }
}

function loadScenario(sc) {
  for (const name of Object.keys(S.values)) setValue(name, rows[name].constant.default, true);
  for (const [name, v] of Object.entries(sc.values)) if (rows[name]) setValue(name, v, true);
  requestRun();
}

async function downloadCsv() {
  const scenarios = [{name: "current", values: S.values}, ...S.scenarios.filter((s) => s.shown)];
  try { download("scenarios.csv", await api("csv", {scenarios, variables: graphVariables()}), "text/csv"); }
  catch (err) { showMessage(err.message); }
}

// ---- uncertainty -----------------------------------------------------------------
function buildMonteCarlo() {
  const box = $("#mc-constants");
  for (const c of S.info.constants) {
    const pick = el("input", {type: "checkbox", "data-name": c.name});
    const lo = el("input", {type: "text", value: c.min, "aria-label": c.name + " low"});
    const hi = el("input", {type: "text", value: c.max, "aria-label": c.name + " high"});
    box.append(el("label", {class: "mc-row", "data-name": c.name}, pick, el("span", {text: c.name}), lo, hi));
  }
  $("#mc-search").addEventListener("input", () => {
    const q = $("#mc-search").value.trim().toLowerCase();
    for (const r of box.children) r.hidden = !!q && !r.dataset.name.toLowerCase().includes(q);
  });
  $("#mc-run").addEventListener("click", runMonteCarlo);
}

async function runMonteCarlo() {
  const ranges = {};
  for (const r of $("#mc-constants").children) {
    const [pick, , lo, hi] = r.children;
    if (pick.checked) ranges[r.dataset.name] = [lo.value.trim(), hi.value.trim()];
  }
  const body = {values: S.values, ranges, runs: parseInt($("#mc-runs").value, 10),
                seed: parseInt($("#mc-seed").value, 10), variables: graphVariables()};
  $("#mc-status").textContent = "running… (the first one also compiles the batch kernel)";
  try {
    S.mc = await api("montecarlo", body);
    $("#mc-status").textContent = `${S.mc.runs} runs in ${S.mc.seconds.toFixed(2)} s (seed ${S.mc.seed})`;
    clearMessage();
    drawBands();
  } catch (err) {
    $("#mc-status").textContent = "";
    showMessage(err.message);
  }
}

function drawBands() {
  for (const c of S.mcCharts) c.u.destroy();
  S.mcCharts = [];
  const box = $("#mc-charts");
  box.textContent = "";
  if (!S.mc) return;
  Object.entries(S.mc.bands).forEach(([v, b], i) => {
    const color = COLORS[i % COLORS.length];
    const plot = el("div");
    box.append(el("div", {class: "chart-card"}, el("div", {class: "head"}, el("span", {class: "title", text: v})), plot));
    const none = "rgba(0,0,0,0)";
    const series = [{label: "Time"}, {label: "p5", stroke: none}, {label: "p25", stroke: none},
      {label: "median", stroke: color, width: 2}, {label: "p75", stroke: none}, {label: "p95", stroke: none},
      {label: "current", stroke: "#222", width: 1, dash: [4, 3]}];
    const current = S.current && S.current.series[v] ? S.current.series[v] : S.mc.time.map(() => null);
    const data = [S.mc.time, b.p5, b.p25, b.p50, b.p75, b.p95, current];
    const u = new uPlot({...chartSize(), series, scales: {x: {time: false}},
      axes: [{values: (u, ticks) => ticks.map((t) => String(t))}, {size: 60, values: (u, ticks) => ticks.map(tick)}],
      bands: [{series: [5, 1], fill: faint(color, 0.15)}, {series: [4, 2], fill: faint(color, 0.3)}]}, data, plot);
    S.mcCharts.push({variable: v, u});
  });
}

// ---- documentation ---------------------------------------------------------------
async function showDoc() {
  if (!S.doc) {
    try { S.doc = await api("doc"); } catch (err) { showMessage(err.message); return; }
    const list = $("#doc-list");
    const link = (name) => el("a", {text: name, onclick: () => {
      const t = document.getElementById("doc:" + name);
      if (t) { t.hidden = false; t.scrollIntoView(); }
    }});
    const names = (title, xs) => el("div", {}, el("b", {text: title + ": "}),
      ...xs.flatMap((x, i) => i ? [", ", link(x)] : [link(x)]), xs.length ? "" : "none");
    for (const v of S.doc) {
      list.append(el("div", {class: "var", id: "doc:" + v.name, "data-name": v.name},
        el("h3", {}, v.name, " ", el("span", {class: "kind", text: `${v.kind}${v.group ? " · " + v.group : ""}`})),
        el("pre", {text: v.equation || "(no equation text)"}),
        el("div", {text: "Units: " + (v.units || "(none)")}),
        v.comment ? el("div", {text: v.comment}) : "",
        names("Causes", v.causes), names("Uses", v.uses)));
    }
    $("#doc-search").addEventListener("input", () => {
      const q = $("#doc-search").value.trim().toLowerCase();
      for (const d of list.children) d.hidden = !!q && !d.dataset.name.toLowerCase().includes(q);
    });
  }
}

// ---- views -----------------------------------------------------------------------
function showView(view) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.view === view);
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== "view-" + view;
  $("#graphs-area").hidden = !(view === "explore" || view === "scenarios");
  S.view = view;
  if (view === "doc") showDoc();
  if (view === "diagram") showDiagram();
  if (view === "explore" || view === "scenarios") buildCharts();
  if (view === "uncertainty") drawBands();
}

async function start() {
  try { S.info = await api("model"); } catch (err) { showMessage(err.message); return; }
  document.title = S.info.name + " · smartspec explore";
  $("#model-name").textContent = S.info.name;
  const dl = $("#outputs");
  for (const o of S.info.outputs) dl.append(el("option", {value: o.name}));
  S.graphs = S.info.graphs.map((g) => ({title: g.title, variables: [...g.variables]}));
  try { S.scenarios = JSON.parse(localStorage.getItem("smartspec:" + S.info.path) || "[]"); } catch (e) { S.scenarios = []; }
  buildSliders();
  buildMonteCarlo();
  listScenarios();
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showView(b.dataset.view));
  $("#scenario-save").addEventListener("click", addScenario);
  $("#scenario-csv").addEventListener("click", downloadCsv);
  $("#new-graph").addEventListener("change", () => {
    const v = validOutput($("#new-graph").value);
    if (v) { S.graphs.push({title: v, variables: [v]}); $("#new-graph").value = ""; refetchAll(); }
  });
  window.addEventListener("resize", () => { for (const c of [...S.charts, ...S.mcCharts]) c.u.setSize(chartSize()); });
  await refetchAll();
  S.ready = true;
}

start();
