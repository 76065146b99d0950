// TalentMap web page: a tile-grid cartogram of the French regions and a filterable shortlist.
// Everything is local; data is rendered with textContent only (never as HTML), and the API key
// lives in sessionStorage (this tab only).
"use strict";

const KEY_STORAGE = "talentmap.apiKey";
const INTERNATIONAL = "International";
// [row, column] of each metropolitan region on a 4 x 6 grid, roughly where it lies.
const TILES = {
  "Hauts-de-France": [0, 2],
  "Normandie": [1, 1], "Île-de-France": [1, 2], "Grand Est": [1, 3],
  "Bretagne": [2, 0], "Pays de la Loire": [2, 1], "Centre-Val de Loire": [2, 2],
  "Bourgogne-Franche-Comté": [2, 3],
  "Nouvelle-Aquitaine": [3, 1], "Auvergne-Rhône-Alpes": [3, 2],
  "Occitanie": [4, 1], "Provence-Alpes-Côte d'Azur": [4, 2],
  "Corse": [5, 3],
};
const OVERSEAS = ["Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte", INTERNATIONAL];

const state = { key: null, candidates: [], regionCounts: {}, mapTotal: 0, filters: null };
const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

class AuthError extends Error {}

async function api(method, path, body) {
  const options = { method, headers: { Authorization: `Bearer ${state.key}` } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 401 || response.status === 403) {
    throw new AuthError(response.status === 401 ? "This key was refused." : "This key may not read shortlists.");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : "";
    throw new Error(`${response.status}: ${data.error || "request failed"} ${detail}`.trim());
  }
  return data;
}

function showKeyPanel(message) {
  $("app").hidden = true;
  $("key-panel").hidden = false;
  $("key-error").textContent = message || "";
  $("api-key").value = "";
  $("api-key").focus();
}

function forgetKey(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  showKeyPanel(message);
}

function readFilters() {
  const k = Math.max(1, Math.min(1000, parseInt($("f-k").value, 10) || 50));
  $("f-k").value = k;
  const floor = Math.max(0, Math.min(k, parseInt($("f-floor").value, 10) || 0));
  $("f-floor").value = floor;
  return { k, floor, region: $("f-region").value || null, sector: $("f-sector").value || null };
}

function shortlistBody(filters, withRegion) {
  const body = { k: filters.k, include_explanations: withRegion };
  if (filters.sector) body.sector = filters.sector;
  if (withRegion && filters.region) body.region = filters.region;
  if (filters.floor > 0) body.region_floor = filters.floor;
  return body;
}

function shade(count, max) {
  if (!count) return null;
  const t = 0.15 + 0.85 * (count / Math.max(1, max));
  const light = Math.round(92 - t * 52); // 92% -> 40% lightness
  return { color: `hsl(214, 62%, ${light}%)`, dark: light < 62 };
}

function tile(region, counts, total, max) {
  const node = el("div", null, "tile");
  node.dataset.region = region;
  node.tabIndex = 0;
  node.setAttribute("role", "button");
  const count = counts[region] || 0;
  const share = total ? (100 * count) / total : 0;
  node.append(el("span", region, "name"));
  node.append(el("span", `${count} · ${share.toFixed(share && share < 10 ? 1 : 0)}%`, "figures"));
  node.title = `${region}: ${count} of the top ${total} (${share.toFixed(1)}%)`;
  const colour = shade(count, max);
  if (colour) {
    node.style.background = colour.color;
    if (colour.dark) node.classList.add("dark");
  }
  if (state.filters && state.filters.region === region) node.classList.add("selected");
  const pick = () => {
    $("f-region").value = state.filters && state.filters.region === region ? "" : region;
    refresh();
  };
  node.addEventListener("click", pick);
  node.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
  return node;
}

function renderMap() {
  const counts = state.regionCounts;
  const total = state.mapTotal;
  const max = Math.max(0, ...Object.values(counts));
  const map = $("map");
  map.replaceChildren();
  for (const [region, [row, col]] of Object.entries(TILES)) {
    const node = tile(region, counts, total, max);
    node.style.gridRow = String(row + 1);
    node.style.gridColumn = String(col + 1);
    map.append(node);
  }
  $("overseas").replaceChildren(...OVERSEAS.map((r) => tile(r, counts, total, max)));
  const unplaced = total - Object.values(counts).reduce((a, b) => a + b, 0);
  const sector = state.filters && state.filters.sector ? ` in ${state.filters.sector}` : "";
  $("map-caption").textContent =
    `Number and share of the top ${total} candidates${sector} in each region` +
    (unplaced > 0 ? ` (${unplaced} with no region known).` : ".");
}

function reasonItem(reason) {
  const item = el("li", reason.text, reason.contribution > 0 ? "up" : "down");
  item.title = `${reason.feature}: contribution ${reason.contribution.toFixed(3)} (log-odds)`;
  return item;
}

function renderTable() {
  const body = document.querySelector("#shortlist tbody");
  body.replaceChildren();
  for (const c of state.candidates) {
    const row = el("tr", null, "row");
    row.dataset.orgId = c.org_id;
    row.tabIndex = 0;
    const company = el("td");
    company.append(el("div", c.name), el("div", `${c.org_id}${c.city ? " · " + c.city : ""}`, "small"));
    if (c.promoted) row.title = "In the list by the regional floor";
    row.append(
      el("td", c.promoted ? `${c.rank} ↑` : c.rank),
      company,
      el("td", c.region || "—"),
      el("td", c.sector || "—"),
      el("td", c.score.toFixed(3)),
      el("td", c.percentile.toFixed(1)),
      el("td", c.founders.map((f) => `${f.name} (${f.role})`).join(", ") || "—"),
    );
    const details = el("tr", null, "reasons");
    details.hidden = true;
    const cell = el("td");
    cell.colSpan = 7;
    const list = el("ul");
    (c.reasons || []).forEach((r) => list.append(reasonItem(r)));
    if (!list.children.length) list.append(el("li", "No single feature stood out."));
    cell.append(list);
    details.append(cell);
    const toggle = () => { details.hidden = !details.hidden; };
    row.addEventListener("click", toggle);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
    body.append(row, details);
  }
  const f = state.filters;
  $("table-title").textContent =
    `Shortlist: top ${state.candidates.length} of ${state.matching} matching` +
    (f.region ? ` in ${f.region}` : "") + (f.sector ? ` · ${f.sector}` : "") +
    (f.floor ? ` · at least ${f.floor} per region` : "");
}

function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text; // no formulas in spreadsheets
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function exportCsv() {
  const header = ["rank", "org_id", "name", "region", "city", "sector", "score", "percentile",
    "founders", "reason_1", "reason_2", "reason_3"];
  const lines = [header.join(",")];
  for (const c of state.candidates) {
    const reasons = (c.reasons || []).map((r) => r.text);
    lines.push([c.rank, c.org_id, c.name, c.region, c.city, c.sector, c.score.toFixed(4),
      c.percentile, c.founders.map((f) => `${f.name} (${f.role})`).join("; "),
      reasons[0], reasons[1], reasons[2]].map(csvCell).join(","));
  }
  const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv;charset=utf-8" });
  const link = el("a");
  link.href = URL.createObjectURL(blob);
  link.download = "talentmap-shortlist.csv";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function refresh() {
  const filters = readFilters();
  state.filters = filters;
  $("status").textContent = "Loading…";
  try {
    const table = await api("POST", "/shortlist", shortlistBody(filters, true));
    // The map shows where the top k are, so it ignores the region filter.
    const map = filters.region ? await api("POST", "/shortlist", shortlistBody(filters, false)) : table;
    state.candidates = table.candidates;
    state.matching = table.matching;
    state.regionCounts = {};
    for (const c of map.candidates) {
      if (c.region) state.regionCounts[c.region] = (state.regionCounts[c.region] || 0) + 1;
    }
    state.mapTotal = map.candidates.length;
    renderMap();
    renderTable();
    const l = table.lineage;
    $("status").textContent = `${table.total_candidates} candidates ranked · model v${l.model_version}`;
  } catch (error) {
    if (error instanceof AuthError) return forgetKey(error.message);
    $("status").textContent = error.message;
  }
}

async function start() {
  try {
    const [model, filters] = await Promise.all([api("GET", "/model"), api("GET", "/filters")]);
    const region = $("f-region");
    region.replaceChildren(el("option", "All regions"));
    region.firstChild.value = "";
    for (const name of filters.regions) region.append(new Option(name, name));
    const sector = $("f-sector");
    sector.replaceChildren(el("option", "All sectors"));
    sector.firstChild.value = "";
    for (const name of filters.sectors) sector.append(new Option(name, name));
    const r = model.ranking;
    $("model-info").textContent =
      `${model.model_name} v${model.version} · run ${model.run_id || "?"} · ` +
      `as of ${r.as_of} · features ${r.feature_snapshot_id || "?"}` +
      (model.warning ? ` · ⚠ ${model.warning}` : "");
    $("key-panel").hidden = true;
    $("app").hidden = false;
    await refresh();
  } catch (error) {
    if (error instanceof AuthError) return forgetKey(error.message);
    showKeyPanel(`The service is not ready: ${error.message}`);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    state.key = key;
    sessionStorage.setItem(KEY_STORAGE, key);
    start();
  });
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  $("f-region").addEventListener("change", refresh);
  $("f-sector").addEventListener("change", refresh);
  $("export-csv").addEventListener("click", exportCsv);
  $("forget-key").addEventListener("click", () => forgetKey("Key forgotten."));
  state.key = sessionStorage.getItem(KEY_STORAGE);
  if (state.key) start(); else showKeyPanel();
});
