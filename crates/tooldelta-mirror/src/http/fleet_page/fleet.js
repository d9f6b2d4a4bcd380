// The fleet page: workstations x tools from GET api/v1/fleet. Report text is
// untrusted: it is only ever set as textContent, never parsed as HTML.
"use strict";

const REFRESH_MS = 30000;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + units[i];
}

function toolState(t) {
  if (t.last_result === "failed") return "failed";
  if (t.integrity === "modified") return "modified";
  return "ok";
}

function renderSummary(doc) {
  const ws = doc.workstations;
  const s = document.getElementById("summary");
  s.textContent = "";
  const parts = [
    ["workstations", ws.length],
    ["stale", ws.filter((w) => w.stale).length],
    ["failed", ws.filter((w) => w.failed).length],
    ["modified", ws.filter((w) => w.modified).length],
  ];
  for (const [name, n] of parts) {
    const span = el("span", name + " ");
    const b = el("b", n);
    b.id = "count-" + name;
    span.appendChild(b);
    s.appendChild(span);
  }
}

function renderRollouts(doc) {
  const body = document.querySelector("#rollouts tbody");
  body.textContent = "";
  for (const r of doc.rollouts) {
    const tr = el("tr");
    tr.dataset.tool = r.tool_id;
    tr.dataset.channel = r.channel;
    tr.appendChild(el("td", r.tool_id));
    tr.appendChild(el("td", r.channel));
    const v = r.rollout_percent === null ? r.version : r.version + " (" + r.rollout_percent + "%)";
    tr.appendChild(el("td", v, "version"));
    tr.appendChild(el("td", r.on_version + " / " + r.workstations, "progress"));
    const cell = el("td");
    const bar = el("span", null, "bar");
    const fill = el("div");
    fill.style.width = (r.workstations ? (100 * r.on_version) / r.workstations : 0) + "%";
    bar.appendChild(fill);
    cell.appendChild(bar);
    tr.appendChild(cell);
    body.appendChild(tr);
  }
}

function renderFleet(doc) {
  const tools = [...new Set(doc.workstations.flatMap((w) => w.tools.map((t) => t.tool_id)))].sort();
  const head = document.querySelector("#fleet thead");
  head.textContent = "";
  const hr = el("tr");
  for (const h of ["workstation", "host", "reported", "free disk"]) hr.appendChild(el("th", h));
  for (const t of tools) hr.appendChild(el("th", t));
  head.appendChild(hr);
  const body = document.querySelector("#fleet tbody");
  body.textContent = "";
  for (const w of doc.workstations) {
    const tr = el("tr", null, w.stale ? "stale" : "");
    tr.dataset.ws = w.workstation_id;
    tr.appendChild(el("td", w.workstation_id));
    tr.appendChild(el("td", w.hostname));
    tr.appendChild(el("td", w.reported_at));
    tr.appendChild(el("td", bytes(w.free_disk_bytes)));
    const byId = new Map(w.tools.map((t) => [t.tool_id, t]));
    for (const id of tools) {
      const t = byId.get(id);
      if (!t) { tr.appendChild(el("td")); continue; }
      const state = toolState(t);
      const td = el("td", t.version || "not active", "version " + (state === "ok" ? "" : state));
      td.dataset.tool = id;
      td.dataset.state = state;
      if (t.last_error) td.title = t.last_error;
      if (t.held) td.appendChild(el("span", "held", "tag"));
      if (t.pending_version) td.appendChild(el("span", "→ " + t.pending_version, "tag"));
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  const select = document.getElementById("filter-tool");
  const chosen = select.value;
  for (const t of tools) {
    if (![...select.options].some((o) => o.value === t)) select.appendChild(el("option", t));
  }
  select.value = chosen;
}

async function load() {
  const params = new URLSearchParams();
  const tool = document.getElementById("filter-tool").value;
  const state = document.getElementById("filter-state").value;
  if (tool) params.set("tool", tool);
  if (state) params.set("state", state);
  const error = document.getElementById("error");
  try {
    const response = await fetch("api/v1/fleet" + (params.size ? "?" + params : ""), { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const doc = await response.json();
    renderSummary(doc);
    renderRollouts(doc);
    renderFleet(doc);
    error.textContent = "";
    document.body.dataset.loaded = doc.generated_at;
  } catch (e) {
    error.textContent = "cannot load the fleet: " + e.message;
  }
}

document.getElementById("filter-tool").addEventListener("change", load);
document.getElementById("filter-state").addEventListener("change", load);
load();
setInterval(load, REFRESH_MS);
