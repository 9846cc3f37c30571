// The dashboard's logic: once a second, GET /api/status (the JSON of
// `uni status --json`) and /api/history (tasks finished per second), and
// redraw the tiles, tables and chart. Plain DOM and a canvas: no library.
"use strict";

const $ = (id) => document.getElementById(id);
let updates = 0;

function duration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderWorkers(workers) {
  const body = $("workers").tBodies[0];
  body.replaceChildren();
  for (const w of workers) {
    const row = body.insertRow();
    row.className = "worker";
    cell(row, w.id);
    cell(row, w.host);
    cell(row, w.pid);
    cell(row, w.slots);
    const busy = cell(row, w.busy + "/" + w.slots);
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = Math.round(40 * (w.slots ? w.busy / w.slots : 0)) + "px";
    busy.appendChild(bar);
    cell(row, w.completed ?? 0);
    cell(row, w.failed ?? 0);
    cell(row, duration(w.heartbeat_age_ms ?? w.last_seen_ms) + " ago");
    cell(row, duration(w.uptime_ms ?? 0));
    cell(row, w.isolation);
    // A worker that takes no tasks says why (its module cache cannot be written).
    if (w.note) {
      row.title = w.note;
      row.cells[0].textContent = w.id + " (takes no tasks)";
    }
  }
}

function renderServices(services) {
  const body = $("services").tBodies[0];
  body.replaceChildren();
  for (const s of services) {
    const row = body.insertRow();
    cell(row, s.id);
    cell(row, s.state);
    cell(row, s.worker || "-");
    cell(row, s.function);
    cell(row, s.module ? s.module.substring(0, 12) : "-");
    cell(row, s.becomes ?? 0);
    cell(row, s.uptime_ms ? duration(s.uptime_ms) : "-");
  }
}

function renderFailures(failures) {
  const list = $("failures");
  list.replaceChildren();
  if (!failures.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = "none";
    list.appendChild(li);
    return;
  }
  for (const f of failures) {
    const li = document.createElement("li");
    li.className = "failure";
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = f.function + " \u00b7 " + f.status + " \u00b7 task " + f.id +
        (f.worker ? " on " + f.worker : "") + " \u00b7 " + duration(f.age_ms) + " ago";
    const error = document.createElement("div");
    error.className = "error";
    error.textContent = f.error;
    li.append(meta, error);
    list.appendChild(li);
  }
}

// A bar per second, the newest on the right, scaled to the largest.
function renderChart(perSecond) {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  const slots = 300;
  const data = perSecond.slice(-slots);
  const max = Math.max(1, ...data);
  ctx.strokeStyle = "#e1e5eb";
  ctx.fillStyle = "#6b7585";
  ctx.font = "11px system-ui, sans-serif";
  for (const f of [0, 0.5, 1]) {
    const y = h - pad - f * (h - 2 * pad);
    ctx.beginPath();
    ctx.moveTo(pad + 30, y);
    ctx.lineTo(w, y);
    ctx.stroke();
    ctx.fillText(String(Math.round(max * f)), 0, y + 4);
  }
  const bw = (w - pad - 30) / slots;
  ctx.fillStyle = "#2f6fde";
  data.forEach((v, i) => {
    const x = pad + 30 + (slots - data.length + i) * bw;
    const bh = (v / max) * (h - 2 * pad);
    ctx.fillRect(x, h - pad - bh, Math.max(1, bw - 1), bh);
  });
  ctx.fillStyle = "#6b7585";
  ctx.fillText("-5 min", pad + 30, h - 8);
  ctx.fillText("now", w - 24, h - 8);
  canvas.dataset.points = data.length;
  canvas.dataset.total = data.reduce((a, b) => a + b, 0);
  canvas.dataset.max = max;
}

function render(status, history) {
  let slots = 0, busy = 0;
  for (const w of status.workers) { slots += w.slots; busy += w.busy; }
  $("manager").textContent = "manager " + status.manager + " at " + status.endpoint +
      " \u00b7 uni " + status.version + " \u00b7 up " + duration(status.uptime_ms ?? 0);
  $("workers-count").textContent = status.workers.length;
  $("busy-slots").textContent = busy + "/" + slots;
  $("queue").textContent = status.queue;
  $("rate").textContent = (status.tasks_per_s ?? 0).toFixed(1);
  $("completed").textContent = status.totals.completed;
  $("failed").textContent = status.totals.failed;
  $("failed").classList.toggle("nonzero", status.totals.failed > 0);
  $("services-count").textContent = status.services.length;
  $("bosses").textContent = status.bosses;
  renderWorkers(status.workers);
  renderServices(status.services);
  renderFailures(status.recent_failures ?? []);
  renderChart(history.tasks_per_second);
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.updates = ++updates;
}

async function poll() {
  try {
    const [status, history] = await Promise.all(
        ["/api/status", "/api/history"].map((u) => fetch(u, {cache: "no-store"}).then((r) => {
          if (!r.ok) throw new Error(u + ": HTTP " + r.status);
          return r.json();
        })));
    render(status, history);
    $("connection").hidden = true;
  } catch (e) {
    $("connection").hidden = false;
    $("connection").title = String(e);
  }
  setTimeout(poll, 1000);
}

poll();
