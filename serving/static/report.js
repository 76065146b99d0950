// The regional ecosystem report on the page (issue 11 §5): pick a region, see its figures
// against the foreign hubs as charts (Chart.js, vendored by `make install`) and tables, and
// download the standalone HTML report or its CSV. Without the vendored library the page
// shows the tables alone: they hold every value. Rendered with textContent only.
"use strict";

(function () {
  const { t } = I18N;
  const $ = (id) => document.getElementById(id);
  const GROUPS = [
    ["funding", ["seed_rounds", "seed_amount_eur"]],
    ["programmes", ["jei_companies", "program_companies"]],
    ["hiring", ["job_postings", "headcount_growth_pct"]],
    ["talent", ["founders_phd", "founders_engineer", "papers", "patents", "software"]],
  ];
  const report = { api: null, current: null, charts: [], regionsLoaded: false };

  function node(tag, text, className) {
    const element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    if (className) element.className = className;
    return element;
  }

  function label(key, data) {
    return t(`report.ind.${key}`, { k: I18N.number(data.top_k) });
  }

  function formatCell(cell, unit) {
    if (cell.status !== "ok") return t(`report.cell.${cell.status}`);
    if (unit === "eur") return I18N.money(cell.value, "EUR");
    if (unit === "percent") return I18N.percent(cell.value, 1);
    return I18N.number(cell.value);
  }

  function table(data, key, unit) {
    const element = node("table", null, "report-table");
    element.dataset.indicator = key;
    element.append(node("caption", t("report.table.caption", { indicator: label(key, data) })));
    const head = node("tr");
    const corner = node("th", t("report.area"));
    corner.scope = "col";
    head.append(corner);
    for (const year of data.years) {
      const th = node("th", year);
      th.scope = "col";
      head.append(th);
    }
    const thead = node("thead");
    thead.append(head);
    const tbody = node("tbody");
    for (const area of data.areas) {
      const row = node("tr");
      const th = node("th", area.label);
      th.scope = "row";
      row.append(th);
      for (const cell of area.values[key]) {
        const td = node("td", formatCell(cell, unit));
        td.dataset.status = cell.status;
        row.append(td);
      }
      tbody.append(row);
    }
    element.append(thead, tbody);
    return element;
  }

  function topKTable(data) {
    const element = node("table", null, "report-table");
    element.dataset.indicator = "top_k";
    element.append(node("caption", t("report.group.topk")));
    const head = node("tr");
    for (const text of [t("report.area"), label("top_k_national", data), label("top_k_overall", data)]) {
      const th = node("th", text);
      th.scope = "col";
      head.append(th);
    }
    const thead = node("thead");
    thead.append(head);
    const tbody = node("tbody");
    for (const area of data.areas) {
      const row = node("tr");
      const th = node("th", area.label);
      th.scope = "row";
      row.append(th);
      for (const scope of ["national", "overall"]) {
        const cell = area.top_k[scope] || { status: area.top_k.status };
        const text = cell.status === "ok" && cell.share_pct !== undefined
          ? t("report.topk.share", { n: I18N.number(cell.value), share: I18N.number(cell.share_pct, 1) })
          : formatCell(cell, "count");
        row.append(node("td", text));
      }
      tbody.append(row);
    }
    element.append(thead, tbody);
    return element;
  }

  function render(data) {
    const root = $("report");
    for (const chart of report.charts) chart.destroy();
    report.charts = [];
    root.replaceChildren();
    const units = Object.fromEntries(data.indicators.map((i) => [i.key, i.unit]));
    const when = I18N.date(data.as_of, "long");
    root.append(node("h3", t("report.title", { region: data.region })));
    root.append(node("p", t("report.subtitle", { date: when }), "muted"));
    const areas = node("ul", null, "report-areas");
    for (const area of data.areas) {
      areas.append(node("li", `${area.label} — ${t(`report.kind.${area.kind}`)} · ` +
        t("report.organisations", { n: formatCell(area.organisations, "count") })));
    }
    root.append(areas);
    const notes = [t("report.privacy", { n: I18N.number(data.min_group_size) }),
      data.partial_year ? t("report.dates", { date: when, year: data.partial_year }) : t("report.dates_full", { date: when })];
    if (!data.jei_in_data) notes.push(t("report.jei_missing"));
    const charts = window.TalentMapReportCharts && window.TalentMapReportCharts.available();
    if (!charts) notes.push(t("report.no_charts"));
    for (const text of notes) root.append(node("p", text, "muted report-note"));
    for (const [group, keys] of GROUPS) {
      const section = node("section", null, "report-group");
      section.append(node("h4", t(`report.group.${group}`)));
      for (const key of keys) {
        if (charts) {
          const holder = node("div", null, "report-chart");
          holder.dataset.chart = key;
          section.append(holder);
        }
        section.append(table(data, key, units[key]));
      }
      root.append(section);
    }
    const top = node("section", null, "report-group");
    top.append(node("h4", t("report.group.topk")), topKTable(data));
    root.append(top);
    if (charts) {
      const alt = {};
      const names = {};
      for (const i of data.indicators) {
        names[i.key] = label(i.key, data);
        alt[i.key] = t("report.chart.alt", { indicator: names[i.key] });
      }
      report.charts = window.TalentMapReportCharts.drawAll(root, data, { locale: I18N.locale, indicators: names, alt });
    }
  }

  function query(region) {
    return `region=${encodeURIComponent(region)}&lang=${I18N.lang}`;
  }

  async function show(event) {
    if (event) event.preventDefault();
    const region = $("report-region").value;
    $("report-status").textContent = t("report.loading");
    try {
      report.current = await report.api("GET", `/report/region?${query(region)}`);
      render(report.current);
      $("report-html").disabled = false;
      $("report-csv").disabled = false;
      $("report-status").textContent = "";
    } catch (error) {
      $("report-status").textContent = t("report.error", { message: error.message });
    }
  }

  async function download(kind) {
    const region = $("report-region").value;
    const key = sessionStorage.getItem("talentmap.apiKey");
    try {
      const response = await fetch(`/report/region.${kind}?${query(region)}`, {
        headers: { Authorization: `Bearer ${key}` },
      });
      if (!response.ok) throw new Error(String(response.status));
      const disposition = response.headers.get("content-disposition") || "";
      const match = /filename="([^"]+)"/.exec(disposition);
      const link = node("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = match ? match[1] : `talentmap-report.${kind}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    } catch (error) {
      $("report-status").textContent = t("report.error", { message: error.message });
    }
  }

  // Called by app.js after each shortlist refresh: the first call fills the region list.
  async function refresh(state, api) {
    report.api = api;
    if (report.regionsLoaded) return;
    report.regionsLoaded = true;
    try {
      const filters = await api("GET", "/filters");
      const select = $("report-region");
      select.replaceChildren();
      for (const name of filters.french_regions) select.append(new Option(name, name));
      const wanted = state && state.filters && state.filters.region;
      if (wanted && filters.french_regions.includes(wanted)) select.value = wanted;
      $("report-open").disabled = false;
    } catch (error) {
      report.regionsLoaded = false;
      $("report-status").textContent = t("report.error", { message: error.message });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("report-form").addEventListener("submit", show);
    $("report-html").addEventListener("click", () => download("html"));
    $("report-csv").addEventListener("click", () => download("csv"));
  });

  window.Report = { refresh, show, render };
})();
