// TalentMap page: the watchlists section (create, list, delete; follow a company from a
// shortlist row; each list's events and its Atom feed link).
//
// Self-contained, like the rest of the page: it builds its own section inside #app, reads
// the key the page keeps in sessionStorage, renders with textContent only, and speaks the
// page's language through I18N (i18n.js). It adds a "Follow" cell to each shortlist row
// as app.js renders them (a MutationObserver), so app.js needs no change. Wrapped in a
// function: app.js's top-level names (t, $, el) stay its own.
"use strict";

(() => {
  const KEY_STORAGE = "talentmap.apiKey";
  const { t } = I18N;
  const state = { lists: [], loaded: false, busy: false };

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  async function call(method, path, body) {
    const key = sessionStorage.getItem(KEY_STORAGE);
    const options = { method, headers: { Authorization: `Bearer ${key}` } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(t("watchlists.error", { message: data.error || String(response.status) }));
    }
    return data;
  }

  function say(text, isError) {
    const status = byId("wl-status");
    status.textContent = text;
    status.className = isError ? "error" : "muted";
  }

  // ------------------------------------------------------------------ the section
  function label(forId, key) {
    const node = el("label", t(key));
    node.htmlFor = forId;
    return node;
  }

  function buildSection() {
    const section = el("section", null, "panel");
    section.id = "watchlists-panel";
    section.setAttribute("aria-labelledby", "watchlists-title");
    const title = el("h2", t("watchlists.title"));
    title.id = "watchlists-title";
    const intro = el("p", t("watchlists.intro"), "muted");

    const form = el("form", null, "watchlist-form");
    form.id = "watchlist-form";
    form.autocomplete = "off";
    const name = el("input");
    Object.assign(name, { id: "wl-name", type: "text", required: true, maxLength: 100 });
    const age = el("input");
    Object.assign(age, { id: "wl-age", type: "number", min: 1, max: 100 });
    const useFilters = el("input");
    Object.assign(useFilters, { id: "wl-filters", type: "checkbox", checked: true });
    const create = el("button", t("watchlists.create"));
    create.type = "submit";
    create.id = "wl-create";
    const status = el("p", "", "muted");
    status.id = "wl-status";
    status.setAttribute("role", "status");
    const filtersLabel = label("wl-filters", "watchlists.save_filters");
    filtersLabel.prepend(useFilters);
    const nameLabel = label("wl-name", "watchlists.name");
    nameLabel.append(name);
    const ageLabel = label("wl-age", "watchlists.max_age");
    ageLabel.append(age);
    form.append(nameLabel, ageLabel, filtersLabel, create);

    const targetLabel = label("wl-target", "watchlists.choose_list");
    const target = el("select");
    target.id = "wl-target";
    const followRow = el("p", null, "watchlist-target");
    followRow.append(targetLabel, target);

    const help = el("p", t("watchlists.feed_help"), "muted");
    const list = el("ul", null, "watchlists");
    list.id = "watchlists";
    section.append(title, intro, form, status, followRow, help, list);
    form.addEventListener("submit", (event) => { event.preventDefault(); createList(); });
    return section;
  }

  function currentFilters() {
    const body = {};
    if (!byId("wl-filters").checked) return body;
    const region = byId("f-region") && byId("f-region").value;
    const sector = byId("f-sector") && byId("f-sector").value;
    const k = byId("f-k") && parseInt(byId("f-k").value, 10);
    if (region) body.region = region;
    if (sector) body.sector = sector;
    body.k = Math.max(1, Math.min(1000, k || 50));
    const age = parseInt(byId("wl-age").value, 10);
    if (age > 0) body.max_age_years = age;
    return body;
  }

  function summary(filters) {
    if (!filters.k) return t("watchlists.filters_none");
    return t("watchlists.filters_summary", {
      k: I18N.number(filters.k),
      region: filters.region || t("watchlists.any_region"),
      sector: filters.sector || t("watchlists.any_sector"),
      age: filters.max_age_years
        ? t("watchlists.age_years", { years: I18N.number(filters.max_age_years) })
        : t("watchlists.any_age"),
    });
  }

  function eventText(event) {
    const params = {
      name: event.name || event.org_id,
      rank: event.rank === null || event.rank === undefined ? "—" : I18N.number(event.rank),
      previous: event.previous_rank === null || event.previous_rank === undefined
        ? "—" : I18N.number(event.previous_rank),
      where: [event.region, event.sector].filter(Boolean).join(", "),
      round: event.round_type ? t(`watchlists.round_type.${event.round_type}`) : "",
      date: I18N.date(event.announced_on),
    };
    return t(`watchlists.feed.${event.kind}.${event.scope || "shortlist"}.title`, params);
  }

  function feedHref(list) {
    return `${list.feed}?lang=${I18N.lang}`;
  }

  function renderEvents(holder, events) {
    holder.replaceChildren();
    if (!events.length) {
      holder.append(el("p", t("watchlists.no_events"), "muted"));
      return;
    }
    const items = el("ul", null, "watchlist-events");
    for (const event of events) {
      const item = el("li");
      item.dataset.kind = event.kind;
      const link = el("a", eventText(event));
      link.href = I18N.href(`/company/${encodeURIComponent(event.org_id)}`);
      item.append(el("span", I18N.date(event.at), "muted"), " ", link);
      items.append(item);
    }
    holder.append(items);
  }

  function renderLists() {
    const list = byId("watchlists");
    list.replaceChildren();
    const target = byId("wl-target");
    const chosen = target.value;
    target.replaceChildren();
    if (!state.lists.length) list.append(el("li", t("watchlists.empty"), "muted"));
    for (const item of state.lists) {
      const option = el("option", item.name);
      option.value = item.id;
      target.append(option);

      const node = el("li", null, "watchlist");
      node.id = `watchlist-${item.id}`;
      node.dataset.watchlistId = item.id;
      const head = el("h3", item.name);
      const facts = el("p",
        `${summary(item.filters)} · ${I18N.plural(item.companies.length, "watchlists.companies.one",
          "watchlists.companies.other")}`,
        "muted");
      const feed = el("a", t("watchlists.feed"), "feed-link");
      feed.href = feedHref(item);
      feed.type = "application/atom+xml";
      feed.setAttribute("aria-label", t("watchlists.feed_named", { name: item.name }));
      const events = el("button", t("watchlists.events"), "secondary");
      events.type = "button";
      events.setAttribute("aria-expanded", "false");
      const holder = el("div", null, "watchlist-events-holder");
      holder.id = `wl-events-${item.id}`;
      holder.hidden = true;
      events.setAttribute("aria-controls", holder.id);
      events.addEventListener("click", async () => {
        const open = events.getAttribute("aria-expanded") === "true";
        events.setAttribute("aria-expanded", String(!open));
        holder.hidden = open;
        if (open) return;
        try {
          const data = await call("GET", `/watchlists/${encodeURIComponent(item.id)}`);
          renderEvents(holder, data.events || []);
        } catch (error) {
          say(error.message, true);
        }
      });
      const remove = el("button", t("watchlists.delete"), "secondary");
      remove.type = "button";
      remove.setAttribute("aria-label", t("watchlists.delete_named", { name: item.name }));
      remove.addEventListener("click", () => deleteList(item));
      const actions = el("p", null, "watchlist-actions");
      actions.append(feed, " ", events, " ", remove);
      node.append(head, facts, actions, holder);
      list.append(node);
    }
    if (state.lists.some((l) => l.id === chosen)) target.value = chosen;
  }

  // ------------------------------------------------------------------ actions
  async function load() {
    try {
      const data = await call("GET", "/watchlists");
      state.lists = data.watchlists || [];
      state.loaded = true;
      renderLists();
    } catch (error) {
      say(error.message, true);
    }
  }

  async function createList() {
    const name = byId("wl-name").value.trim();
    if (!name) return;
    try {
      const made = await call("POST", "/watchlists", { name, ...currentFilters() });
      byId("wl-name").value = "";
      await load();
      byId("wl-target").value = made.id;
      say(t("watchlists.created", { name: made.name }));
    } catch (error) {
      say(error.message, true);
    }
  }

  async function deleteList(item) {
    try {
      await call("DELETE", `/watchlists/${encodeURIComponent(item.id)}`);
      await load();
      say(t("watchlists.deleted", { name: item.name }));
    } catch (error) {
      say(error.message, true);
    }
  }

  async function follow(orgId, name) {
    const target = byId("wl-target").value;
    const list = state.lists.find((l) => l.id === target);
    if (!list) {
      say(t("watchlists.need_list"), true);
      byId("wl-name").focus();
      return;
    }
    try {
      await call("POST", `/watchlists/${encodeURIComponent(list.id)}/companies`, { org_id: orgId });
      await load();
      say(t("watchlists.followed", { name, list: list.name }));
    } catch (error) {
      say(error.message, true);
    }
  }

  // ------------------------------------------------------------------ shortlist rows
  function decorate(table) {
    const head = table.querySelector("thead tr");
    if (head && !head.querySelector(".follow-col")) {
      const th = el("th", t("watchlists.follow"), "follow-col");
      th.scope = "col";
      head.append(th);
    }
    for (const row of table.querySelectorAll("tbody tr.row")) {
      if (row.querySelector(".follow-cell")) continue;
      const name = (row.querySelector("a") || row).textContent.trim();
      const cell = el("td", null, "follow-cell");
      const button = el("button", t("watchlists.follow"), "secondary follow");
      button.type = "button";
      button.setAttribute("aria-label", t("watchlists.follow_in", { name }));
      // the row toggles its reasons on click and Enter: the button must not
      for (const kind of ["click", "keydown"]) {
        button.addEventListener(kind, (event) => event.stopPropagation());
      }
      button.addEventListener("click", () => follow(row.dataset.orgId, name));
      cell.append(button);
      row.append(cell);
    }
    // the reasons rows span the whole table
    for (const cell of table.querySelectorAll("tbody tr:not(.row) > td[colspan]")) {
      cell.colSpan = table.querySelectorAll("thead th").length;
    }
  }

  function start() {
    const app = byId("app");
    const table = byId("shortlist");
    if (!app || !table) return;
    const sheet = el("link");
    Object.assign(sheet, { rel: "stylesheet", href: "/static/watchlists.css" });
    document.head.append(sheet);
    app.append(buildSection());
    const body = table.querySelector("tbody");
    new MutationObserver(() => {
      decorate(table);
      if (!state.loaded && body.querySelector("tr.row")) load();
    }).observe(body, { childList: true });
  }

  I18N.ready.then(() => {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  });
})();
