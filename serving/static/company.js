// The company page (/company/<org_id>): profile, founders, current score and reasons, score
// and rank history across rankings with links to their MLflow runs, and the timeline of dated
// signals. Data from GET /api/company/<org_id> with the key this tab holds (sessionStorage,
// as on the main page); rendered with textContent only, every text from the catalogue.
"use strict";

(() => {
  const KEY_STORAGE = "talentmap.apiKey";
  const { t } = I18N;
  const $ = (id) => document.getElementById(id);
  const orgId = decodeURIComponent(window.location.pathname.replace(/^\/company\//, "").replace(/\/$/, ""));

  // Enumerations of the data contract -> catalogue keys (explicit, so the unit test can
  // check each key exists in both languages).
  const EVENTS = {
    founded: "company.event.founded", round: "company.event.round", programme: "company.event.programme",
    job_posting: "company.event.job_posting", headcount: "company.event.headcount",
    publication: "company.event.publication", exit: "company.event.exit",
  };
  const ROUNDS = {
    pre_seed: "company.round.pre_seed", seed: "company.round.seed", angel: "company.round.angel",
    series_a: "company.round.series_a", series_b: "company.round.series_b",
    series_c_plus: "company.round.series_c_plus", venture_unknown: "company.round.venture_unknown",
    grant: "company.round.grant", debt: "company.round.debt", crowdfunding: "company.round.crowdfunding",
    other: "company.round.other",
  };
  const PROGRAMS = {
    incubator: "company.program.incubator", accelerator: "company.program.accelerator",
    public_program: "company.program.public_program", competition: "company.program.competition",
  };
  const PUBLICATIONS = {
    paper: "company.pub.paper", preprint: "company.pub.preprint", patent: "company.pub.patent",
    software: "company.pub.software",
  };
  const EXITS = { acquired: "company.exit.acquired", ipo: "company.exit.ipo" };
  const SOURCES = { published: "company.source.published", mlflow: "company.source.mlflow" };

  const label = (map, value) => (value && map[value] ? t(map[value]) : value || "");

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function link(text, href) {
    const a = el("a", text);
    a.href = href;
    a.rel = "noopener noreferrer";
    return a;
  }

  function fact(list, key, value) {
    list.append(el("dt", t(key)), el("dd", value === null || value === undefined || value === "" ? "—" : value));
  }

  function detail(event) {
    const d = event.detail || {};
    const parts = [];
    if (event.kind === "round") {
      parts.push(label(ROUNDS, d.round_type));
      if (d.amount_eur !== null && d.amount_eur !== undefined) parts.push(t("company.detail.amount", { amount: I18N.money(d.amount_eur, "EUR") }));
      if (d.n_investors) parts.push(I18N.plural(d.n_investors, "company.detail.investor", "company.detail.investors"));
    } else if (event.kind === "programme") {
      parts.push(d.program_name || "", label(PROGRAMS, d.program_kind));
      if (d.ended_on) parts.push(t("company.detail.until", { date: I18N.date(d.ended_on) }));
    } else if (event.kind === "job_posting") {
      parts.push(d.category || "");
    } else if (event.kind === "headcount") {
      parts.push(I18N.plural(d.headcount, "company.detail.employee", "company.detail.employees"));
    } else if (event.kind === "publication") {
      parts.push(label(PUBLICATIONS, d.kind), d.venue || "");
    } else if (event.kind === "exit") {
      parts.push(label(EXITS, d.exit_kind));
      if (d.amount_eur !== null && d.amount_eur !== undefined) parts.push(I18N.money(d.amount_eur, "EUR"));
    }
    return parts.filter((p) => p).join(" · ");
  }

  function render(data) {
    const p = data.profile;
    document.title = `${p.name} · ${t("company.doc_title")}`;
    $("company-title").textContent = p.name;
    const profile = $("profile");
    profile.replaceChildren();
    fact(profile, "company.org_id", p.org_id);
    fact(profile, "company.country", p.country);
    fact(profile, "company.region", p.region);
    fact(profile, "company.city", p.city);
    fact(profile, "company.sector", p.sector);
    fact(profile, "company.founded_on", p.founded_on ? I18N.date(p.founded_on, "long") : null);

    const founders = $("founders");
    const role = (r) => (r === "founder" ? t("page.founder_role") : r); // the data layer's default
    founders.replaceChildren(...data.founders.map((f) => el("li", `${f.name} (${role(f.role)})`)));
    if (!data.founders.length) founders.append(el("li", t("company.no_founders"), "muted"));

    const c = data.current;
    const current = $("current");
    current.replaceChildren();
    const reasons = $("reasons");
    reasons.replaceChildren();
    if (c.ranked) {
      fact(current, "company.score", I18N.number(c.score, 3));
      fact(current, "company.rank", t("company.rank_of", { rank: I18N.number(c.rank), total: I18N.number(c.candidates) }));
      fact(current, "company.percentile", I18N.number(c.percentile, 1));
      for (const r of c.reasons || []) {
        const { text, lang } = I18N.reason(r); // the page's language; English marked as such
        const li = el("li", text, r.contribution > 0 ? "up" : "down");
        if (lang) li.lang = lang;
        reasons.append(li);
      }
      if (!reasons.children.length) reasons.append(el("li", t("table.no_reason")));
    } else {
      fact(current, "company.rank", t("company.not_ranked"));
    }
    const l = data.lineage;
    const lineage = $("lineage");
    lineage.replaceChildren(el("span", t("company.lineage", {
      version: l.model_version, run: l.run_id || "?", as_of: I18N.date(l.as_of), features: l.feature_snapshot_id || "?",
    })));
    if (l.mlflow_run_url) lineage.append(" · ", link(t("company.run_link"), l.mlflow_run_url));
    if (l.lineage_url) lineage.append(" · ", link(t("company.lineage_link"), l.lineage_url));

    const history = document.querySelector("#history tbody");
    history.replaceChildren();
    for (const h of data.history) {
      const row = el("tr");
      const links = el("td");
      if (h.mlflow_run_url) links.append(link(t("company.run_link"), h.mlflow_run_url));
      if (h.lineage_url) links.append(" · ", link(t("company.lineage_link"), h.lineage_url));
      const current = h.ranking_id && l.ranking_id && l.ranking_id.split("-")[0] === h.ranking_id;
      row.append(
        el("td", h.as_of ? I18N.date(h.as_of) : "—"),
        el("td", h.model_version ? `v${h.model_version}` : "—"),
        el("td", h.rank ? t("company.rank_of", { rank: I18N.number(h.rank), total: I18N.number(h.candidates) }) : t("company.not_candidate")),
        el("td", h.score === null ? "—" : I18N.number(h.score, 3)),
        el("td", h.percentile === null || h.percentile === undefined ? "—" : I18N.number(h.percentile, 1)),
        el("td", label(SOURCES, h.source) + (current ? ` · ${t("company.current_marker")}` : "")),
        links,
      );
      history.append(row);
    }
    if (!data.history.length) {
      const row = el("tr");
      const cell = el("td", t("company.history_empty"), "muted");
      cell.colSpan = 7;
      row.append(cell);
      history.append(row);
    }

    const timeline = document.querySelector("#timeline tbody");
    timeline.replaceChildren();
    for (const e of data.timeline) {
      const row = el("tr", null, `event event-${e.kind}`);
      row.append(el("td", I18N.date(e.date)), el("td", label(EVENTS, e.kind)), el("td", detail(e) || "—"));
      timeline.append(row);
    }
    if (!data.timeline.length) {
      const row = el("tr");
      const cell = el("td", t("company.timeline_empty"), "muted");
      cell.colSpan = 3;
      row.append(cell);
      timeline.append(row);
    }
    $("company").hidden = false;
    $("company-status").textContent = "";
  }

  function askKey(message) {
    $("company").hidden = true;
    $("key-panel").hidden = false;
    $("key-error").textContent = message || "";
    $("api-key").focus();
  }

  async function load(key) {
    $("company-status").textContent = t("company.loading");
    let response;
    try {
      response = await fetch(`/api/company/${encodeURIComponent(orgId)}`, { headers: { Authorization: `Bearer ${key}` } });
    } catch (error) {
      $("company-status").textContent = t("error.service_not_ready", { message: error.message });
      return;
    }
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY_STORAGE);
      askKey(t(response.status === 401 ? "error.key_refused" : "error.key_forbidden"));
      $("company-status").textContent = "";
      return;
    }
    if (response.status === 404) {
      $("company-status").textContent = t("company.not_found");
      return;
    }
    if (!response.ok) {
      $("company-status").textContent = t(response.status === 503 ? "error.not_ready" : "error.request_failed", { status: response.status });
      return;
    }
    $("key-panel").hidden = true;
    render(await response.json());
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("back-link").href = I18N.href("/");
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      load(key);
    });
    I18N.ready.then(() => {
      const key = sessionStorage.getItem(KEY_STORAGE);
      if (key) load(key); else askKey();
    });
  });
})();
