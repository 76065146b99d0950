// TalentMap web page: a tile-grid cartogram of the French regions and a filterable shortlist.
// Everything is local; data is rendered with textContent only (never as HTML), and the API key
// lives in sessionStorage (this tab only). Every text comes from the catalogue of the page's
// language (i18n.js: I18N.t, and I18N.number / percent / date for fr-FR or en-GB formats).
"use strict";

const { t } = I18N;

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
class ApiError extends Error {} // already in the page's language

async function api(method, path, body) {
  const options = { method, headers: { Authorization: `Bearer ${state.key}` } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 401 || response.status === 403) {
    throw new AuthError(response.status === 401 ? t("error.key_refused") : t("error.key_forbidden"));
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(errorMessage(response.status, data));
  return data;
}

// The server's messages are English (the API keeps English); the page says what happened in
// its own language, and keeps the server's words as the technical detail.
function errorMessage(status, data) {
  const known = {
    400: "error.bad_request", 404: "error.not_found", 413: "error.too_large",
    429: "error.rate_limited", 503: "error.not_ready",
  };
  const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : "";
  const server = `${data.error || ""} ${detail}`.trim();
  const text = t(known[status] || "error.request_failed", { status });
  return server ? t("error.with_detail", { message: text, detail: server }) : text;
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
  const name = regionName(region);
  node.append(el("span", name, "name"));
  node.append(el("span", `${I18N.number(count)} · ${I18N.percent(share, share && share < 10 ? 1 : 0)}`, "figures"));
  node.title = t("map.tile_title", { region: name, count: I18N.number(count), total: I18N.number(total), share: I18N.percent(share, 1) });
  node.setAttribute("aria-pressed", String(Boolean(state.filters && state.filters.region === region)));
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
  const sector = state.filters && state.filters.sector;
  const caption = sector
    ? t("map.caption_sector", { total: I18N.number(total), sector })
    : t("map.caption", { total: I18N.number(total) });
  $("map-caption").textContent =
    caption + (unplaced > 0 ? " " + t("map.unplaced", { count: I18N.number(unplaced) }) : "");
}

// A founder's title is the source's own words ("CEO", "Président"); only the default role
// the data layer gives a founder without a title is ours to translate.
function founderRole(role) {
  return role === "founder" ? t("page.founder_role") : role;
}

// Region names are proper names, the same in both languages; only "International" is not.
function regionName(region) {
  return region === INTERNATIONAL ? t("region.international") : region;
}

function reasonItem(reason) {
  const { text, lang } = I18N.reason(reason); // the page's language; English marked as such
  const item = el("li", text, reason.contribution > 0 ? "up" : "down");
  if (lang) item.lang = lang;
  item.title = t("table.reason_title", { feature: reason.feature, contribution: I18N.number(reason.contribution, 3) });
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
    const link = el("a", c.name, "company-link");
    link.href = I18N.href(`/company/${encodeURIComponent(c.org_id)}`);
    link.addEventListener("click", (e) => e.stopPropagation()); // follow the link, not the toggle
    link.addEventListener("keydown", (e) => e.stopPropagation());
    company.append(el("div", null, "name"), el("div", `${c.org_id}${c.city ? " · " + c.city : ""}`, "small"));
    company.firstChild.append(link);
    if (c.promoted) row.title = t("table.promoted");
    row.append(
      el("td", c.promoted ? `${I18N.number(c.rank)} ↑` : I18N.number(c.rank)),
      company,
      el("td", c.region ? regionName(c.region) : "—"),
      el("td", c.sector || "—"),
      el("td", I18N.number(c.score, 3)),
      el("td", I18N.number(c.percentile, 1)),
      el("td", c.founders.map((f) => `${f.name} (${founderRole(f.role)})`).join(", ") || "—"),
    );
    const details = el("tr", null, "reasons");
    details.hidden = true;
    const cell = el("td");
    cell.colSpan = 7;
    const list = el("ul");
    (c.reasons || []).forEach((r) => list.append(reasonItem(r)));
    if (!list.children.length) list.append(el("li", t("table.no_reason")));
    cell.append(list);
    details.append(cell);
    const toggle = () => { details.hidden = !details.hidden; };
    row.addEventListener("click", toggle);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
    body.append(row, details);
  }
  const f = state.filters;
  $("table-title").textContent =
    t("table.title_counts", { shown: I18N.number(state.candidates.length), matching: I18N.number(state.matching) }) +
    (f.region ? " " + t("table.in_region", { region: regionName(f.region) }) : "") +
    (f.sector ? ` · ${f.sector}` : "") +
    (f.floor ? " · " + t("table.floor", { floor: I18N.number(f.floor) }) : "");
}

function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text; // no formulas in spreadsheets
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function exportCsv() {
  // Headers in the page's language; values stay machine-readable (dot decimals, ids).
  const header = ["csv.rank", "csv.org_id", "csv.name", "csv.region", "csv.city", "csv.sector",
    "csv.score", "csv.percentile", "csv.founders", "csv.reason_1", "csv.reason_2", "csv.reason_3"].map((key) => t(key));
  const lines = [header.map(csvCell).join(",")];
  for (const c of state.candidates) {
    const reasons = (c.reasons || []).map((r) => I18N.reason(r).text);
    lines.push([c.rank, c.org_id, c.name, c.region, c.city, c.sector, c.score.toFixed(4),
      c.percentile, c.founders.map((f) => `${f.name} (${f.role})`).join("; "),
      reasons[0], reasons[1], reasons[2]].map(csvCell).join(","));
  }
  const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv;charset=utf-8" });
  const link = el("a");
  link.href = URL.createObjectURL(blob);
  link.download = t("csv.filename");
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function refresh() {
  const filters = readFilters();
  state.filters = filters;
  $("status").textContent = t("status.loading");
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
    $("status").textContent = t("status.ranked", { count: I18N.number(table.total_candidates), version: l.model_version });
    if (window.Changes) window.Changes.refresh(state);
    if (window.Report) window.Report.refresh(state, api);
  } catch (error) {
    if (error instanceof AuthError) return forgetKey(error.message);
    $("status").textContent = error.message;
  }
}

async function start() {
  try {
    const [model, filters] = await Promise.all([api("GET", "/model"), api("GET", "/filters")]);
    const region = $("f-region");
    region.replaceChildren(el("option", t("page.filters.all_regions")));
    region.firstChild.value = "";
    for (const name of filters.regions) region.append(new Option(regionName(name), name));
    const sector = $("f-sector");
    sector.replaceChildren(el("option", t("page.filters.all_sectors")));
    sector.firstChild.value = "";
    for (const name of filters.sectors) sector.append(new Option(name, name));
    const r = model.ranking;
    $("model-info").textContent =
      t("model.info", {
        name: model.model_name, version: model.version, run: model.run_id || "?",
        as_of: I18N.date(r.as_of), features: r.feature_snapshot_id || "?",
      }) + (model.warning ? ` · ⚠ ${t("model.warning")} (${model.warning})` : "");
    $("key-panel").hidden = true;
    $("app").hidden = false;
    await refresh();
  } catch (error) {
    if (error instanceof AuthError) return forgetKey(error.message);
    showKeyPanel(error instanceof ApiError ? error.message : t("error.service_not_ready", { message: error.message }));
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
  $("forget-key").addEventListener("click", () => forgetKey(t("page.key.forgotten")));
  state.key = sessionStorage.getItem(KEY_STORAGE);
  I18N.ready.then(() => { if (state.key) start(); else showKeyPanel(); });
});
