// Tier pages: run progress, and charts fed from data-* attributes (the CSP forbids inline scripts).
(function () {
  "use strict";
  var COLORS = { vip: "#b8860b", standard: "#6c757d", watchlist: "#b02a37" };

  var progress = document.getElementById("run-progress");
  if (progress && (progress.dataset.state === "queued" || progress.dataset.state === "running")) {
    var bar = document.getElementById("run-progress-bar");
    var poll = function () {
      fetch(progress.dataset.statusUrl, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          var step = Math.floor(s.progress / 25) * 25;
          bar.className = bar.className.replace(/\bw-\d+\b/, "w-" + step);
          bar.textContent = s.progress + "%";
          if (s.state === "completed" || s.state === "failed") { window.location.reload(); }
          else { setTimeout(poll, 1500); }
        })
        .catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 1000);
  }

  if (typeof Chart === "undefined") { return; }

  document.querySelectorAll(".runs-trend-chart").forEach(function (el) {
    var data = JSON.parse(el.dataset.chart), names = JSON.parse(el.dataset.names);
    var tiers = ["vip", "standard", "watchlist"];
    new Chart(el, { type: "line", data: { labels: data.labels, datasets: tiers.map(function (t, i) {
      return { label: names[i], data: data.series[t], borderColor: COLORS[t], backgroundColor: COLORS[t] };
    }) }, options: { animation: false } });
  });

  document.querySelectorAll(".tier-history-chart").forEach(function (el) {
    var data = JSON.parse(el.dataset.chart), names = JSON.parse(el.dataset.tierLabels);
    new Chart(el, { type: "line", data: { labels: data.labels, datasets: [{
      label: "", data: data.levels, stepped: true, borderColor: "#0d6efd", pointRadius: 3 }] },
      options: { animation: false, plugins: { legend: { display: false } },
        scales: { y: { min: 0, max: 2, ticks: { stepSize: 1, callback: function (v) { return names[v]; } } } } } });
  });

  document.querySelectorAll(".decile-chart").forEach(function (el) {
    var data = JSON.parse(el.dataset.chart), names = JSON.parse(el.dataset.names);
    new Chart(el, { type: "bar", data: { labels: data.labels, datasets: [
      { label: names[0], data: data.predicted, backgroundColor: "#6ea8fe" },
      { label: names[1], data: data.actual, backgroundColor: "#0d6efd" }] }, options: { animation: false } });
  });
})();

// Ask before a step that cannot be taken back (publishing a run): the question is the button's
// data-confirm (a click on another button of the same form, a preview, asks nothing).
document.querySelectorAll("button[data-confirm]").forEach(function (button) {
  button.addEventListener("click", function (event) {
    if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
  });
});
