// Strata's page: query (PromQL or InfluxQL, chart and table), explore (metrics, labels,
// cardinality, tiers), targets, rules and alerts. Plain JavaScript, no build step; the
// only library is uPlot (vendored). Every piece of state lives in the URL, so a page can
// be shared as it is.
"use strict";

const $ = (id) => document.getElementById(id);
const RANGES = { "5m": 300, "15m": 900, "1h": 3600, "3h": 10800, "6h": 21600, "12h": 43200, "1d": 86400, "2d": 172800, "7d": 604800, "30d": 2592000 };
const HISTORY_MAX = 50;

// ---- state in the URL ----------------------------------------------------------------
function readState() {
  const p = new URLSearchParams(location.search);
  return {
    tab: p.get("tab") || "query",
    lang: p.get("lang") === "influxql" ? "influxql" : "promql",
    q: p.get("q") || "",
    range: p.get("range") || "1h",
    start: p.get("start") || "",
    end: p.get("end") || "",
    step: p.get("step") || "",
    stacked: p.get("stacked") === "1",
    view: p.get("view") === "table" ? "table" : "chart",
  };
}

function writeState(s) {
  const p = new URLSearchParams();
  p.set("tab", s.tab);
  if (s.tab === "query") {
    p.set("lang", s.lang);
    if (s.q) p.set("q", s.q);
    p.set("range", s.range);
    if (s.range === "abs") { if (s.start) p.set("start", s.start); if (s.end) p.set("end", s.end); }
    if (s.step) p.set("step", s.step);
    if (s.stacked) p.set("stacked", "1");
    if (s.view !== "chart") p.set("view", s.view);
  }
  history.replaceState(null, "", location.pathname + "?" + p.toString());
}

// ---- HTTP ------------------------------------------------------------------------------
function authHeaders() {
  const t = sessionStorage.getItem("strata-token");
  return t ? { Authorization: "Bearer " + t } : {};
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, params) {
  const url = params ? path + "?" + new URLSearchParams(params).toString() : path;
  const r = await fetch(url, { headers: authHeaders() });
  const text = await r.text();
  let body = null;
  try { body = JSON.parse(text); } catch (_) { /* not JSON */ }
  if (r.status === 401) { $("auth").hidden = false; }
  if (!r.ok || (body && body.status === "error")) {
    const msg = (body && (body.error || (body.results && body.results[0] && body.results[0].error))) || text || r.statusText;
    throw new ApiError(r.status, msg);
  }
  return body;
}

// ---- durations and times --------------------------------------------------------------
function parseStep(s) {
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s);
  const units = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0, rest = s, m;
  const re = /^(\d+)(ms|s|m|h|d|w|y)/;
  while (rest && (m = re.exec(rest))) { total += parseInt(m[1], 10) * units[m[2]]; rest = rest.slice(m[0].length); }
  return rest ? null : total;
}

function toLocalInput(sec) {
  const d = new Date(sec * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function timeRange(s) {
  if (s.range === "abs") {
    const start = s.start ? Date.parse(s.start) / 1000 : NaN;
    const end = s.end ? Date.parse(s.end) / 1000 : Date.now() / 1000;
    if (!isFinite(start) || !isFinite(end) || end <= start) throw new Error("The absolute range needs a start before its end.");
    return [start, end];
  }
  const end = Date.now() / 1000;
  return [end - (RANGES[s.range] || 3600), end];
}

function autoStep(start, end) {
  return Math.max(1, Math.round((end - start) / 240));
}

// ---- history ---------------------------------------------------------------------------
function historyKey(lang) { return "strata-history-" + lang; }
function loadHistory(lang) {
  try { return JSON.parse(localStorage.getItem(historyKey(lang)) || "[]"); } catch (_) { return []; }
}
function remember(lang, q) {
  const h = loadHistory(lang).filter((x) => x !== q);
  h.unshift(q);
  localStorage.setItem(historyKey(lang), JSON.stringify(h.slice(0, HISTORY_MAX)));
  fillHistory(lang);
}
function fillHistory(lang) {
  const sel = $("history");
  sel.innerHTML = '<option value="">—</option>';
  for (const q of loadHistory(lang)) {
    const o = document.createElement("option");
    o.value = q; o.textContent = q.length > 80 ? q.slice(0, 77) + "…" : q;
    sel.appendChild(o);
  }
}

// ---- completion ------------------------------------------------------------------------
const names = { promql: null, influxql: null };
async function completionWords(lang) {
  if (names[lang]) return names[lang];
  const words = new Set();
  try {
    if (lang === "promql") {
      const [m, l] = await Promise.all([api("/api/v1/label/__name__/values"), api("/api/v1/labels")]);
      m.data.forEach((x) => words.add(x)); l.data.forEach((x) => words.add(x));
      ["sum", "avg", "min", "max", "count", "rate", "irate", "increase", "by", "without", "histogram_quantile", "topk", "quantile_over_time", "avg_over_time", "max_over_time", "offset"].forEach((x) => words.add(x));
    } else {
      for (const q of ["SHOW MEASUREMENTS", "SHOW TAG KEYS", "SHOW FIELD KEYS"]) {
        const r = await api("/query", { q, db: "strata" });
        for (const s of (r.results[0].series || [])) for (const v of s.values) words.add(String(v[0]));
      }
      ["SELECT", "FROM", "WHERE", "GROUP BY", "time", "mean", "max", "min", "sum", "count", "$timeFilter", "$interval"].forEach((x) => words.add(x));
    }
  } catch (_) { /* completion is a help, not a need */ }
  names[lang] = [...words].sort();
  return names[lang];
}

let completionIndex = -1;
function currentWord(ta) {
  const upto = ta.value.slice(0, ta.selectionStart);
  const m = /[A-Za-z_:$][A-Za-z0-9_:]*$/.exec(upto);
  return m ? m[0] : "";
}
async function showCompletions() {
  const ta = $("expr"), list = $("completions");
  const word = currentWord(ta);
  if (word.length < 2) { hideCompletions(); return; }
  const words = await completionWords(currentState().lang);
  // The text may have moved on while the names loaded.
  if (currentWord(ta) !== word || document.activeElement !== ta) return;
  const found = words.filter((w) => w.startsWith(word) && w !== word).slice(0, 12);
  if (!found.length) { hideCompletions(); return; }
  list.innerHTML = "";
  found.forEach((w, i) => {
    const li = document.createElement("li");
    li.textContent = w; li.setAttribute("role", "option"); li.id = "completion-" + i;
    li.addEventListener("mousedown", (e) => { e.preventDefault(); accept(w); });
    list.appendChild(li);
  });
  // Nothing is chosen until the arrows move: Enter still runs the query, Tab takes the
  // first suggestion.
  completionIndex = -1; markCompletion();
  list.hidden = false; ta.setAttribute("aria-expanded", "true");
}
function markCompletion() {
  const items = $("completions").children;
  for (let i = 0; i < items.length; i++) items[i].setAttribute("aria-selected", i === completionIndex ? "true" : "false");
  $("expr").setAttribute("aria-activedescendant", completionIndex >= 0 ? "completion-" + completionIndex : "");
}
function hideCompletions() {
  $("completions").hidden = true; completionIndex = -1; $("expr").setAttribute("aria-expanded", "false");
}
function accept(w) {
  const ta = $("expr");
  const word = currentWord(ta);
  const at = ta.selectionStart;
  ta.value = ta.value.slice(0, at - word.length) + w + ta.value.slice(at);
  ta.selectionStart = ta.selectionEnd = at - word.length + w.length;
  hideCompletions(); ta.focus();
}

// ---- the query page --------------------------------------------------------------------
function currentState() {
  const s = readState();
  s.lang = document.querySelector('input[name="lang"]:checked').value;
  s.q = $("expr").value;
  s.range = $("range").value;
  s.start = $("start").value; s.end = $("end").value;
  s.step = $("step").value.trim();
  s.stacked = $("stacked").checked;
  s.view = document.querySelector('input[name="view"]:checked').value;
  s.tab = "query";
  return s;
}

function labelsText(metric) {
  const name = metric.__name__ || "";
  const rest = Object.keys(metric).filter((k) => k !== "__name__").sort().map((k) => `${k}="${metric[k]}"`);
  return name + (rest.length || !name ? "{" + rest.join(", ") + "}" : "");
}

// Runs the query; resolves to {series: [{name, times, values}], rows, columns, stats}.
async function runPromQL(s, start, end, step) {
  const range = await api("/api/v1/query_range", { query: s.q, start: start.toFixed(3), end: end.toFixed(3), step: String(step), stats: "all" });
  const series = range.data.result.map((r) => ({
    name: labelsText(r.metric),
    times: r.values.map((v) => v[0]),
    values: r.values.map((v) => parseValue(v[1])),
  }));
  let rows = [], columns = ["series", "value"];
  if (s.view === "table") {
    const inst = await api("/api/v1/query", { query: s.q, time: end.toFixed(3) });
    const d = inst.data;
    if (d.resultType === "vector") rows = d.result.map((r) => [labelsText(r.metric), r.value[1]]);
    else if (d.resultType === "scalar" || d.resultType === "string") rows = [["", d.result[1]]];
  }
  return { series, rows, columns, samples: range.data.stats ? range.data.stats.samples.totalQueryableSamples : null };
}

function parseValue(v) {
  if (v === "NaN") return NaN;
  if (v === "+Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  return parseFloat(v);
}

async function runInfluxQL(s, start, end, step) {
  const q = s.q
    .replace(/\$timeFilter/g, `time >= ${Math.floor(start * 1000)}ms AND time <= ${Math.floor(end * 1000)}ms`)
    .replace(/\$interval/g, `${Math.max(1, Math.round(step))}s`);
  const r = await api("/query", { q, db: "strata", epoch: "ms" });
  const series = [], rows = [];
  let columns = [];
  for (const res of r.results) {
    if (res.error) throw new ApiError(400, res.error);
    for (const sr of (res.series || [])) {
      const tags = sr.tags ? Object.keys(sr.tags).sort().map((k) => `${k}="${sr.tags[k]}"`).join(", ") : "";
      const base = sr.name + (tags ? "{" + tags + "}" : "");
      const ti = sr.columns.indexOf("time");
      columns = ["series"].concat(sr.columns);
      sr.values.forEach((v) => rows.push([base].concat(v)));
      sr.columns.forEach((c, ci) => {
        if (ci === ti) return;
        const nums = sr.values.map((v) => (typeof v[ci] === "number" ? v[ci] : null));
        if (ti < 0 || nums.every((x) => x === null)) return;
        series.push({ name: base + " " + c, times: sr.values.map((v) => v[ti] / 1000), values: nums });
      });
    }
  }
  return { series, rows, columns, samples: null };
}

const COLOURS = (i) => `hsl(${Math.round((i * 137.508) % 360)}, 70%, 38%)`;
let plot = null;
window.__strata = { renders: 0, lastRender: null };

function drawChart(result, stacked) {
  const el = $("chart");
  if (plot) { plot.destroy(); plot = null; }
  el.innerHTML = "";
  const series = result.series;
  if (!series.length) { el.innerHTML = '<p class="hint">No data in this range.</p>'; window.__strata.lastRender = { series: 0, points: 0, ms: 0 }; return; }
  // One x axis: the union of every series' times.
  const all = new Set();
  series.forEach((s) => s.times.forEach((t) => all.add(t)));
  const xs = [...all].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  let points = 0;
  let ys = series.map((s) => {
    const y = new Array(xs.length).fill(null);
    s.times.forEach((t, i) => { const v = s.values[i]; if (isFinite(v)) { y[index.get(t)] = v; points++; } });
    return y;
  });
  if (stacked) {
    const acc = new Array(xs.length).fill(0);
    ys = ys.map((y) => y.map((v, i) => (v === null ? null : (acc[i] += v))));
  }
  const t0 = performance.now();
  const opts = {
    width: Math.max(320, el.clientWidth || 900),
    height: 360,
    scales: { x: { time: true } },
    series: [{ label: "time" }].concat(series.map((s, i) => ({ label: s.name, stroke: COLOURS(i), width: 1.25, points: { show: false } }))),
    axes: [{}, { size: 70 }],
    cursor: { drag: { x: true, y: false } },
    legend: { show: true, live: true },
    hooks: {
      draw: [() => {
        if (window.__strata.pending) {
          window.__strata.lastRender = { series: series.length, points, ms: performance.now() - t0 };
          window.__strata.renders += 1;
          window.__strata.pending = false;
        }
      }],
    },
  };
  window.__strata.pending = true;
  plot = new uPlot(opts, [xs].concat(ys), el);
}

function drawTable(result) {
  const wrap = $("table");
  wrap.innerHTML = "";
  const t = document.createElement("table");
  const head = document.createElement("tr");
  result.columns.forEach((c) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = c; head.appendChild(th); });
  const thead = document.createElement("thead"); thead.appendChild(head); t.appendChild(thead);
  const body = document.createElement("tbody");
  result.rows.forEach((r) => {
    const tr = document.createElement("tr");
    r.forEach((v, i) => { const td = document.createElement("td"); if (i > 0) td.className = "num"; td.textContent = v === null ? "" : String(v); tr.appendChild(td); });
    body.appendChild(tr);
  });
  t.appendChild(body);
  wrap.appendChild(t);
}

async function run() {
  const s = currentState();
  writeState(s);
  hideCompletions();
  $("error").hidden = true; $("error").textContent = "";
  if (!s.q.trim()) { $("status").textContent = "Type a query."; return; }
  let start, end;
  try { [start, end] = timeRange(s); } catch (e) { showError(e.message); return; }
  const step = parseStep(s.step) || autoStep(start, end);
  $("status").textContent = "Running…";
  const t0 = performance.now();
  try {
    const result = s.lang === "promql" ? await runPromQL(s, start, end, step) : await runInfluxQL(s, start, end, step);
    const took = performance.now() - t0;
    remember(s.lang, s.q);
    const pts = result.series.reduce((n, x) => n + x.values.length, 0);
    $("status").textContent = `${result.series.length} series, ${pts} points, step ${step}s, took ${took.toFixed(0)} ms` +
      (result.samples !== null ? `, ${result.samples} samples read` : "");
    $("chart").hidden = s.view !== "chart";
    $("table").hidden = s.view !== "table";
    if (s.view === "chart") drawChart(result, s.stacked); else drawTable(result);
  } catch (e) {
    $("status").textContent = "";
    showError(e.message);
  }
}

function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = false;
}

function setupQueryPage(s) {
  document.querySelector(`input[name="lang"][value="${s.lang}"]`).checked = true;
  document.querySelector(`input[name="view"][value="${s.view}"]`).checked = true;
  $("expr").value = s.q;
  $("range").value = RANGES[s.range] || s.range === "abs" ? s.range : "1h";
  $("start").value = s.start; $("end").value = s.end;
  $("abs-range").hidden = $("range").value !== "abs";
  $("step").value = s.step;
  $("stacked").checked = s.stacked;
  fillHistory(s.lang);
  $("query-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  $("range").addEventListener("change", () => {
    const abs = $("range").value === "abs";
    $("abs-range").hidden = !abs;
    if (abs && !$("start").value) {
      const now = Date.now() / 1000;
      $("start").value = toLocalInput(now - 3600); $("end").value = toLocalInput(now);
    }
  });
  document.querySelectorAll('input[name="lang"]').forEach((r) => r.addEventListener("change", () => fillHistory(currentState().lang)));
  document.querySelectorAll('input[name="view"], #stacked').forEach((r) => r.addEventListener("change", () => { if ($("expr").value.trim()) run(); }));
  $("history").addEventListener("change", () => { if ($("history").value) { $("expr").value = $("history").value; run(); } });
  let walk = -1;
  $("expr").addEventListener("input", () => { walk = -1; showCompletions(); });
  $("expr").addEventListener("keydown", (e) => {
    const list = $("completions");
    if (!list.hidden) {
      const n = list.children.length;
      if (e.key === "ArrowDown") { completionIndex = (completionIndex + 1) % n; markCompletion(); e.preventDefault(); return; }
      if (e.key === "ArrowUp") { completionIndex = (completionIndex - 1 + n) % n; markCompletion(); e.preventDefault(); return; }
      if (e.key === "Tab" || (e.key === "Enter" && completionIndex >= 0 && !e.ctrlKey)) {
        accept(list.children[Math.max(0, completionIndex)].textContent); e.preventDefault(); return;
      }
      if (e.key === "Escape") { hideCompletions(); e.preventDefault(); return; }
    }
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); run(); return; }
    if (e.ctrlKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
      const h = loadHistory(currentState().lang);
      if (!h.length) return;
      walk = e.key === "ArrowUp" ? Math.min(walk + 1, h.length - 1) : Math.max(walk - 1, -1);
      $("expr").value = walk >= 0 ? h[walk] : "";
      e.preventDefault();
    }
  });
  $("expr").addEventListener("blur", () => setTimeout(hideCompletions, 150));
  if (s.q) run();
}

// ---- explore -----------------------------------------------------------------------------
function table(columns, rows, numeric) {
  const t = document.createElement("table");
  const tr = document.createElement("tr");
  columns.forEach((c, i) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = c; if (numeric && numeric[i]) th.className = "num"; tr.appendChild(th); });
  const thead = document.createElement("thead"); thead.appendChild(tr); t.appendChild(thead);
  const body = document.createElement("tbody");
  rows.forEach((r) => {
    const row = document.createElement("tr");
    r.forEach((v, i) => {
      const td = document.createElement("td");
      if (v instanceof Node) td.appendChild(v); else td.textContent = v === null || v === undefined ? "" : String(v);
      if (numeric && numeric[i]) td.className = "num";
      row.appendChild(td);
    });
    body.appendChild(row);
  });
  t.appendChild(body);
  return t;
}

function fmtBytes(n) {
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB", "TiB"]; let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(1) + " " + u[i];
}

async function showLabels(metric) {
  $("labels-title").textContent = "Labels of " + metric;
  const box = $("labels");
  box.innerHTML = '<p class="hint">Loading…</p>';
  try {
    const m = { "match[]": metric };
    const names = (await api("/api/v1/labels", m)).data.filter((n) => n !== "__name__");
    const rows = [];
    for (const n of names) {
      const vals = (await api(`/api/v1/label/${encodeURIComponent(n)}/values`, m)).data;
      rows.push([n, vals.length, vals.slice(0, 12).join(", ") + (vals.length > 12 ? ", …" : "")]);
    }
    box.innerHTML = "";
    box.appendChild(table(["label", "values", "some values"], rows, [false, true, false]));
    const go = document.createElement("a");
    go.href = "/ui/?" + new URLSearchParams({ tab: "query", lang: "promql", q: metric }).toString();
    go.textContent = "Query " + metric;
    box.appendChild(go);
  } catch (e) { box.innerHTML = ""; const p = document.createElement("p"); p.className = "error"; p.textContent = e.message; box.appendChild(p); }
}

async function setupExplore() {
  try {
    const list = (await api("/api/v1/status/metrics")).data;
    const total = list.reduce((n, m) => n + m.series, 0);
    $("metrics-summary").textContent = `${list.length} metrics, ${total} series`;
    const render = () => {
      const f = $("metric-filter").value.trim();
      const rows = list.filter((m) => !f || m.name.includes(f)).map((m) => {
        const b = document.createElement("button");
        b.type = "button"; b.className = "link"; b.textContent = m.name;
        b.addEventListener("click", () => showLabels(m.name));
        return [b, m.series];
      });
      const box = $("metrics"); box.innerHTML = "";
      box.appendChild(table(["metric", "series"], rows, [false, true]));
    };
    $("metric-filter").addEventListener("input", render);
    render();
  } catch (e) { $("metrics").textContent = e.message; }
  try {
    const d = (await api("/api/v1/status/tsdb")).data;
    const box = $("cardinality"); box.innerHTML = "";
    for (const [title, key] of [["Series per metric", "seriesCountByMetricName"], ["Values per label", "labelValueCountByLabelName"], ["Series per label pair", "seriesCountByLabelValuePair"]]) {
      const div = document.createElement("div");
      const h = document.createElement("h3"); h.textContent = title; div.appendChild(h);
      div.appendChild(table(["name", "count"], d[key].map((x) => [x.name, x.value]), [false, true]));
      box.appendChild(div);
    }
  } catch (e) { $("cardinality").textContent = e.message; }
  try {
    const st = await api("/api/v1/status");
    const rows = ["hot", "warm", "cold"].map((t) => {
      const x = st.tiers[t];
      return [t, x.files, x.series, x.points, fmtBytes(x.bytes), x.points ? (x.bytes / x.points).toFixed(3) : ""];
    });
    const box = $("tiers"); box.innerHTML = "";
    box.appendChild(table(["tier", "files", "series", "points", "bytes", "bytes/point"], rows, [false, true, true, true, true, true]));
  } catch (e) { $("tiers").textContent = e.message; }
}

// ---- targets, rules, alerts ------------------------------------------------------------
function notConfigured(box, what) {
  box.innerHTML = `<p class="hint">No ${what}: start <code>strata serve --config.file prometheus.yml</code> with scrape configs and rule files.</p>`;
}

function badge(text, cls) { const s = document.createElement("span"); s.className = "badge " + cls; s.textContent = text; return s; }

async function setupTargets() {
  const box = $("targets");
  try {
    const d = (await api("/api/v1/targets")).data;
    if (!d.activeTargets.length) { notConfigured(box, "targets"); return; }
    const rows = d.activeTargets.map((t) => [t.scrapePool, t.scrapeUrl, badge(t.health, t.health), labelsText(t.labels), t.lastScrape, (t.lastScrapeDuration * 1000).toFixed(1) + " ms", t.lastError]);
    box.innerHTML = "";
    box.appendChild(table(["job", "endpoint", "state", "labels", "last scrape", "duration", "error"], rows));
  } catch (e) { if (e.status === 404) notConfigured(box, "targets"); else box.textContent = e.message; }
}

async function setupRules() {
  const box = $("rules");
  try {
    const d = (await api("/api/v1/rules")).data;
    if (!d.groups.length) { notConfigured(box, "rules"); return; }
    box.innerHTML = "";
    for (const g of d.groups) {
      const h = document.createElement("h2"); h.textContent = `${g.name} (${g.file}, every ${g.interval}s)`; box.appendChild(h);
      box.appendChild(table(["rule", "type", "query", "health", "last evaluation", "error"], g.rules.map((r) => [r.name, r.type, r.query, badge(r.health, r.health === "ok" ? "ok" : r.health === "err" ? "err" : "unknown"), r.lastEvaluation, r.lastError || ""])));
    }
  } catch (e) { if (e.status === 404) notConfigured(box, "rules"); else box.textContent = e.message; }
}

async function setupAlerts() {
  const box = $("alerts");
  try {
    const d = (await api("/api/v1/alerts")).data;
    if (!d.alerts.length) { box.innerHTML = '<p class="hint">No alert is pending or firing.</p>'; return; }
    box.innerHTML = "";
    box.appendChild(table(["alert", "state", "labels", "active since", "value", "annotations"], d.alerts.map((a) => [a.labels.alertname, badge(a.state, a.state), labelsText(a.labels), a.activeAt, a.value, Object.entries(a.annotations || {}).map(([k, v]) => `${k}: ${v}`).join("\n")])));
  } catch (e) { if (e.status === 404) notConfigured(box, "alerts"); else box.textContent = e.message; }
}

// ---- start -------------------------------------------------------------------------------
function start() {
  const s = readState();
  document.querySelectorAll("nav a").forEach((a) => { if (a.dataset.tab === s.tab) a.setAttribute("aria-current", "page"); });
  const page = $("page-" + s.tab) ? s.tab : "query";
  $("page-" + page).hidden = false;
  $("auth").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem("strata-token", $("token").value); location.reload(); });
  if (page === "query") setupQueryPage(s);
  else if (page === "explore") setupExplore();
  else if (page === "targets") setupTargets();
  else if (page === "rules") setupRules();
  else setupAlerts();
}

start();
