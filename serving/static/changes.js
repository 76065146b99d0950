// "What changed" on the main page: the served ranking against the previous one, per region
// (GET /api/changes, with the page's region and sector filters and this section's own k).
// Loaded after app.js; app.js calls Changes.refresh(state) after each shortlist refresh.
"use strict";

window.Changes = (() => {
  const KEY_STORAGE = "talentmap.apiKey";
  const { t } = I18N;
  const $ = (id) => document.getElementById(id);
  const SOURCES = { published: "changes.source.published", mlflow: "changes.source.mlflow" };
  const GROUPS = [
    ["entrants", "changes.entrants"], ["leavers", "changes.leavers"],
    ["up", "changes.up"], ["down", "changes.down"],
  ];
  let last = null;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function item(change, group) {
    const li = el("li", null, `change change-${group}`);
    const a = el("a", change.name || change.org_id, "company-link");
    a.href = I18N.href(`/company/${encodeURIComponent(change.org_id)}`);
    const before = change.rank_before === null ? t("changes.was_unranked") : t("changes.was", { rank: I18N.number(change.rank_before) });
    const after = change.rank_after === null ? t("changes.now_unranked") : t("changes.now", { rank: I18N.number(change.rank_after) });
    let places = "";
    if (change.places > 0) places = ` (${t("changes.places_up", { places: I18N.number(change.places) })})`;
    if (change.places < 0) places = ` (${t("changes.places_down", { places: I18N.number(-change.places) })})`;
    li.append(a, el("span", ` — ${before}, ${after}${places}`, "small"));
    return li;
  }

  function scopeBlock(name, scope, k) {
    const block = el("section", null, "changes-scope");
    const count = GROUPS.reduce((n, [g]) => n + scope[g].length, 0);
    const title = el("h3", name);
    block.append(title);
    block.dataset.scope = name;
    if (!count) {
      block.append(el("p", t("changes.unchanged", { k: I18N.number(k) }), "muted"));
      return block;
    }
    title.append(el("span", ` · ${I18N.plural(count, "changes.region_count_one", "changes.region_count")}`, "small"));
    for (const [group, key] of GROUPS) {
      if (!scope[group].length) continue;
      block.append(el("h4", t(key, { k: I18N.number(k) })));
      const list = el("ul", null, `changes-${group}`);
      scope[group].forEach((c) => list.append(item(c, group)));
      block.append(list);
    }
    return block;
  }

  function render(data) {
    const box = $("changes");
    box.replaceChildren();
    if (!data.previous) {
      $("changes-caption").textContent = t("changes.none");
      return;
    }
    const cur = data.current;
    const prev = data.previous;
    $("changes-caption").textContent = t("changes.caption", {
      k: I18N.number(data.k), current: cur.model_version, current_as_of: I18N.date(cur.as_of),
      previous: prev.model_version || "?", previous_as_of: prev.as_of ? I18N.date(prev.as_of) : "?",
      source: SOURCES[prev.source] ? t(SOURCES[prev.source]) : prev.source,
    });
    const regions = Object.entries(data.regions);
    // Regions with changes first (most changes first), then the unchanged ones.
    const size = (s) => GROUPS.reduce((n, [g]) => n + s[g].length, 0);
    regions.sort((a, b) => size(b[1]) - size(a[1]) || a[0].localeCompare(b[0]));
    if (!data.filters.region) box.append(scopeBlock(t("changes.overall"), data.overall, data.k));
    for (const [name, scope] of regions) box.append(scopeBlock(name, scope, data.k));
  }

  async function refresh(state) {
    if (state) last = state;
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key || !last || !last.filters) return;
    const params = new URLSearchParams({ k: String(Math.max(1, Math.min(1000, parseInt($("changes-k").value, 10) || 10))) });
    if (last.filters.region) params.set("region", last.filters.region);
    if (last.filters.sector) params.set("sector", last.filters.sector);
    $("changes-caption").textContent = t("changes.loading");
    try {
      const response = await fetch(`/api/changes?${params}`, { headers: { Authorization: `Bearer ${key}` } });
      if (!response.ok) {
        $("changes-caption").textContent = t(response.status === 503 ? "error.not_ready" : "error.request_failed", { status: response.status });
        return;
      }
      render(await response.json());
    } catch (error) {
      $("changes-caption").textContent = t("error.service_not_ready", { message: error.message });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("changes-form").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  });

  return { refresh };
})();
