// Renders a CloudWatch dashboard body (the widget JSON Terraform generated) with GetMetricData
// results into ONE self-contained HTML page (Chart.js inlined), and takes its PNG in headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core). Run through scripts/dashboard.sh.
//
//   node dashboard.js render BODY.json DATA.json OUT.html
//   node dashboard.js png OUT.html OUT.png
//   node dashboard.js check OUT.html BODY.json BURST_METRIC BURST_FROM BURST_TO
//
// DATA.json is GetMetricData's answer, {"MetricDataResults": [{Id, Label, Timestamps, Values,
// StatusCode}]} (several calls' results concatenated), the query of widget i's metric row j
// having the Id "w<i>m<j>" (queryId below; scripts/demo_report.py asks with the same ids).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const ROW_PX = 44;

const queryId = (wi, mi) => `w${wi}m${mi}`;

// A metric row of a widget: [namespace, name, dim, value, ..., {options}?]. Rows of CloudWatch's
// "." shorthand or math expressions are not produced by terraform/ and are refused by name.
function metricRow(row, wi, mi) {
  if (!Array.isArray(row) || row.some((x) => x === ".")) throw new Error(`widget ${wi} metric ${mi}: not a plain metric row`);
  const opts = typeof row[row.length - 1] === "object" ? row[row.length - 1] : {};
  const parts = row.filter((x) => typeof x === "string");
  const [namespace, name, ...rest] = parts;
  const dimensions = [];
  for (let k = 0; k + 1 < rest.length; k += 2) dimensions.push({ Name: rest[k], Value: rest[k + 1] });
  return { id: queryId(wi, mi), namespace, name, dimensions, stat: opts.stat || "Average", label: opts.label || name, yAxis: opts.yAxis || "left" };
}

function widgetSeries(widget, wi) {
  if (widget.type !== "metric") return [];
  return (widget.properties.metrics || []).map((row, mi) => metricRow(row, wi, mi));
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function render(bodyFile, dataFile, outFile) {
  const body = JSON.parse(fs.readFileSync(bodyFile, "utf8"));
  const data = JSON.parse(fs.readFileSync(dataFile, "utf8"));
  const results = new Map((data.MetricDataResults || []).map((r) => [r.Id, r]));
  const charts = [];
  const cells = body.widgets.map((w, wi) => {
    const grid = `grid-column:${w.x + 1}/span ${w.width};grid-row:${w.y + 1}/span ${w.height}`;
    const p = w.properties || {};
    if (w.type === "text") return `<div class="w text" style="${grid}">${esc(p.markdown || "").replace(/^#+\s*/, "")}</div>`;
    if (w.type === "alarm") {
      const names = (p.alarms || []).map((a) => `<li>${esc(a.split(":alarm:").pop())}</li>`).join("");
      return `<div class="w alarm" style="${grid}"><h3>${esc(p.title || "Alarms")}</h3><ul>${names}</ul></div>`;
    }
    if (w.type !== "metric") return `<div class="w" style="${grid}">unsupported widget type ${esc(w.type)}</div>`;
    const series = widgetSeries(w, wi).map((s) => {
      const r = results.get(s.id) || { Timestamps: [], Values: [] };
      const points = r.Timestamps.map((t, k) => ({ x: Date.parse(t), y: r.Values[k] })).sort((a, b) => a.x - b.x);
      return { id: s.id, label: `${s.label} (${s.stat})`, metric: s.name, stat: s.stat, yAxis: s.yAxis === "right" ? "y1" : "y", points };
    });
    charts.push({ canvas: `c${wi}`, title: p.title || "", series, yLabel: p.yAxis && p.yAxis.left && p.yAxis.left.label });
    return `<div class="w metric" style="${grid}" data-widget="${wi}"><canvas id="c${wi}"></canvas></div>`;
  });
  const chartJs = fs.readFileSync(path.join(__dirname, "node_modules/chart.js/dist/chart.umd.min.js"), "utf8");
  const rows = Math.max(...body.widgets.map((w) => w.y + w.height));
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>CloudWatch dashboard (rendered locally)</title>
<style>
body{font-family:sans-serif;margin:12px;background:#fafafa}
.grid{display:grid;grid-template-columns:repeat(24,1fr);grid-auto-rows:${ROW_PX}px;gap:6px}
.w{background:#fff;border:1px solid #ddd;padding:4px;overflow:hidden;position:relative}
.text{font-weight:bold;background:transparent;border:none}
.alarm ul{columns:4;font-size:12px;margin:0}.alarm h3{margin:2px 0;font-size:14px}
canvas{width:100%!important;height:100%!important}
</style>
<script>${chartJs.replace(/<\/script/gi, "<\\/script")}</script></head>
<body><h2>${esc(path.basename(bodyFile))}: ${body.widgets.length} widgets, ${rows} rows</h2>
<div class="grid">${cells.join("\n")}</div>
<script>
const CHARTS = ${JSON.stringify(charts).replace(/</g, "\\u003c")};
const COLORS = ["#1f77b4","#d62728","#2ca02c","#ff7f0e","#9467bd","#8c564b"];
const hhmm = (ms) => new Date(ms).toISOString().slice(11, 19);
window.dashboardCharts = CHARTS.map((c) => {
  const el = document.getElementById(c.canvas);
  const right = c.series.some((s) => s.yAxis === "y1");
  const chart = new Chart(el, {
    type: "line",
    data: { datasets: c.series.map((s, k) => ({ label: s.label, data: s.points, yAxisID: s.yAxis,
      borderColor: COLORS[k % COLORS.length], backgroundColor: COLORS[k % COLORS.length], pointRadius: 1, borderWidth: 2 })) },
    options: { animation: false, responsive: true, maintainAspectRatio: false, parsing: true,
      plugins: { title: { display: true, text: c.title }, legend: { labels: { boxWidth: 10 } } },
      scales: { x: { type: "linear", ticks: { callback: hhmm, maxTicksLimit: 6 } },
        y: { beginAtZero: true, title: { display: !!c.yLabel, text: c.yLabel || "" } },
        ...(right ? { y1: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } } : {}) } },
  });
  // What was drawn, for scripts/test-dashboard.sh: series and points the chart holds.
  const cell = el.parentElement;
  cell.dataset.series = String(chart.data.datasets.length);
  cell.dataset.points = chart.data.datasets.map((d) => d.data.length).join(",");
  return chart;
});
document.body.dataset.rendered = "1";
</script></body></html>
`;
  fs.writeFileSync(outFile, html);
  console.log(`rendered ${body.widgets.length} widgets (${charts.length} charts, ${charts.reduce((n, c) => n + c.series.length, 0)} series) into ${outFile}`);
}

async function openPage(htmlFile, fn) {
  const { chromium } = require("playwright-core");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "cw-dashboard-chromium."));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1600, height: 1000 }, timeout: 60000,
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto("file://" + path.resolve(htmlFile));
    await page.waitForSelector("body[data-rendered='1']", { timeout: 20000 }).catch(() => {
      throw new Error(`the page did not finish rendering: ${errors.join("; ") || "no script error reported"}`);
    });
    return await fn(page);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function png(htmlFile, pngFile) {
  await openPage(htmlFile, (page) => page.screenshot({ path: pngFile, fullPage: true }));
  console.log(`screenshot (headless ${CHROMIUM}) saved to ${pngFile}`);
}

// In the page: per metric widget, what it holds and how many of its canvas's pixels are painted.
function inspect() {
  return [...document.querySelectorAll(".metric")].map((cell) => {
    const canvas = cell.querySelector("canvas");
    const chart = Chart.getChart(canvas);
    const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    // Painted pixels, and those in the first series' colour (#1f77b4): its line, not only axes.
    let painted = 0, firstSeries = 0;
    for (let k = 0; k < px.length; k += 4) {
      if (px[k + 3] > 0) painted++;
      if (px[k + 3] > 200 && Math.abs(px[k] - 31) < 12 && Math.abs(px[k + 1] - 119) < 12 && Math.abs(px[k + 2] - 180) < 12) firstSeries++;
    }
    return { widget: Number(cell.dataset.widget), series: Number(cell.dataset.series), pointsAttr: cell.dataset.points || "",
      painted, firstSeries, total: canvas.width * canvas.height,
      datasets: chart ? chart.data.datasets.map((d) => ({ label: d.label, points: d.data.map((p) => [p.x, p.y]) })) : [] };
  });
}

async function check(htmlFile, bodyFile, burstMetric, burstFrom, burstTo) {
  const body = JSON.parse(fs.readFileSync(bodyFile, "utf8"));
  const from = Date.parse(burstFrom), to = Date.parse(burstTo);
  const drawn = await openPage(htmlFile, (page) => page.evaluate(inspect));
  const failures = [];
  const expected = body.widgets.map((w, wi) => [wi, widgetSeries(w, wi)]).filter(([, s]) => s.length > 0);
  if (drawn.length !== expected.length) failures.push(`${drawn.length} chart widgets in the page, the widget JSON has ${expected.length}`);
  let burstSeries = 0;
  for (const [wi, series] of expected) {
    const title = body.widgets[wi].properties.title;
    const d = drawn.find((x) => x.widget === wi);
    if (!d) { failures.push(`widget ${wi} "${title}": not in the page`); continue; }
    if (d.series !== series.length || d.datasets.length !== series.length)
      failures.push(`widget ${wi} "${title}": ${d.series} series drawn (${d.datasets.length} in the chart), the widget JSON has ${series.length}`);
    const counts = d.pointsAttr.split(",").map(Number);
    d.datasets.forEach((ds, k) => {
      if (!(ds.points.length > 0) || counts[k] !== ds.points.length) failures.push(`widget ${wi} "${title}" series "${ds.label}": ${ds.points.length} points (attribute ${counts[k]})`);
    });
    // Axes, labels and lines: a drawn chart paints well over 2% of its canvas.
    if (d.painted < d.total * 0.02) failures.push(`widget ${wi} "${title}": canvas blank (${d.painted} of ${d.total} pixels painted)`);
    // The legend's colour box alone is about 120 pixels; a line across the chart is several hundred.
    if (d.firstSeries < 300) failures.push(`widget ${wi} "${title}": the first series' line is not drawn (${d.firstSeries} pixels of its colour)`);
    console.log(`  widget ${wi} "${title}": ${d.datasets.length}/${series.length} series, points ${d.pointsAttr}, ${(100 * d.painted / d.total).toFixed(1)}% of the canvas painted, ${d.firstSeries} pixels of the first series' colour`);
    series.forEach((s, k) => {
      if (s.name !== burstMetric || !d.datasets[k]) return;
      burstSeries++;
      const pts = d.datasets[k].points;
      const before = pts.filter(([x]) => x < from).map(([, y]) => y);
      const during = pts.filter(([x]) => x >= from && x < to).map(([, y]) => y);
      const maxBefore = Math.max(...before), minDuring = Math.min(...during);
      const meanDuring = during.reduce((a, b) => a + b, 0) / during.length;
      console.log(`  burst ${burstMetric} (${s.stat}) in widget ${wi}: before ${before.length} points max ${maxBefore}, during ${during.length} points min ${minDuring} mean ${meanDuring.toFixed(3)}`);
      if (before.length === 0 || during.length === 0) failures.push(`widget ${wi} ${burstMetric} ${s.stat}: no points before (${before.length}) or during (${during.length}) the burst`);
      else if (!(minDuring > 0 && minDuring > 5 * maxBefore + 1e-9)) failures.push(`widget ${wi} ${burstMetric} ${s.stat}: the burst is not visible (max before ${maxBefore}, min during ${minDuring})`);
    });
  }
  if (burstSeries === 0) failures.push(`no series of ${burstMetric} in the page`);
  if (failures.length) {
    console.error("FAILED:\n  " + failures.join("\n  "));
    process.exit(1);
  }
  console.log(`ok: ${expected.length} chart widgets drew every series; ${burstSeries} ${burstMetric} series show the burst`);
}

const [cmd, ...args] = process.argv.slice(2);
const commands = { render: [render, 3], png: [png, 2], check: [check, 5] };
if (!commands[cmd] || args.length !== commands[cmd][1]) {
  console.error(fs.readFileSync(__filename, "utf8").split("\n").slice(0, 10).join("\n"));
  process.exit(2);
}
Promise.resolve(commands[cmd][0](...args)).catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
