// Charts of the regional report, shared by the page (report.js) and the standalone HTML
// file (inlined there by `talentmap report region`). Needs Chart.js (window.Chart, from the
// vendor folder); without it, draws nothing: the tables next to each chart hold every value.
"use strict";

(function (root) {
  // Colour-blind-safe palette (Okabe-Ito); the region first, in the darkest colour.
  const COLOURS = ["#0b3c8c", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#555555"];

  function series(report, key) {
    return report.areas.map((area, i) => ({
      label: area.label,
      // A suppressed or missing figure is a gap, never a zero.
      data: area.values[key].map((c) => (c.status === "ok" ? c.value : null)),
      backgroundColor: COLOURS[i % COLOURS.length],
      borderColor: COLOURS[i % COLOURS.length],
    }));
  }

  function draw(container, report, key, labels) {
    if (typeof root.Chart !== "function") return null;
    const doc = container.ownerDocument;
    const canvas = doc.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", labels.alt[key]);
    container.textContent = "";
    container.appendChild(canvas);
    const number = new Intl.NumberFormat(labels.locale, { maximumFractionDigits: 1 });
    return new root.Chart(canvas, {
      type: "bar",
      data: { labels: report.years.map(String), datasets: series(report, key) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: labels.indicators[key] },
          tooltip: {
            callbacks: {
              label: (ctx) => `${ctx.dataset.label}: ${ctx.raw === null ? "—" : number.format(ctx.raw)}`,
            },
          },
        },
        scales: { y: { beginAtZero: true, ticks: { callback: (v) => number.format(v) } } },
      },
    });
  }

  function drawAll(scope, report, labels) {
    const charts = [];
    scope.querySelectorAll("[data-chart]").forEach((node) => {
      const chart = draw(node, report, node.getAttribute("data-chart"), labels);
      if (chart) charts.push(chart);
    });
    return charts;
  }

  root.TalentMapReportCharts = { draw, drawAll, available: () => typeof root.Chart === "function" };
})(typeof window !== "undefined" ? window : this);
