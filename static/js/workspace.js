// Workspace charts and progress bars, fed from data-* attributes (the CSP forbids inline scripts).
(function () {
  "use strict";
  var TIER_COLORS = ["#b8860b", "#6c757d", "#b02a37"];
  var PALETTE = ["#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#d63384", "#0dcaf0", "#6c757d"];

  // Progress bars: the width comes from data-width (inline style attributes are not allowed).
  document.querySelectorAll(".progress-bar[data-width]").forEach(function (bar) {
    bar.style.width = Math.max(0, Math.min(100, parseFloat(bar.dataset.width) || 0)) + "%";
  });

  if (typeof Chart === "undefined") { return; }

  var percent = function (value) { return value === null ? "—" : (value * 100).toFixed(2) + "%"; };
  var builders = {
    doughnut: function (d) {
      return { type: "doughnut", data: { labels: d.labels, datasets: [{ data: d.values, backgroundColor: TIER_COLORS }] },
        options: { plugins: { legend: { position: "bottom" } } } };
    },
    trend: function (d) {
      return { type: "line", data: { labels: d.labels, datasets: d.series.map(function (values, i) {
        return { label: d.names[i], data: values, borderColor: TIER_COLORS[i], backgroundColor: TIER_COLORS[i], tension: 0.2 };
      }) }, options: { plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + percent(c.raw); } } } },
        scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return Math.round(v * 100) + "%"; } } } } } };
    },
    "bar-percent": function (d) {
      return { type: "bar", data: { labels: d.labels, datasets: [{ label: d.name, data: d.values, backgroundColor: TIER_COLORS }] },
        options: { plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) { return percent(c.raw); } } } },
          scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return Math.round(v * 100) + "%"; } } } } } };
    },
    weekly: function (d) {
      return { type: "bar", data: { labels: d.labels, datasets: d.series.map(function (s, i) {
        return { label: s.name, data: s.values, backgroundColor: PALETTE[i % PALETTE.length] };
      }) }, options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } };
    }
  };

  document.querySelectorAll("canvas.ws-chart").forEach(function (el) {
    var build = builders[el.dataset.kind];
    if (build) { new Chart(el, build(JSON.parse(el.dataset.chart))); }
  });
})();
