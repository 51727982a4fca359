// Benefit charts: data comes in data-* attributes (the CSP forbids inline scripts).
document.querySelectorAll("canvas.benefits-chart").forEach(function (canvas) {
  if (typeof Chart === "undefined") { return; }
  var payload = JSON.parse(canvas.dataset.payload);
  var names = canvas.dataset.seriesNames ? JSON.parse(canvas.dataset.seriesNames) : {};
  var colours = ["#0d6efd", "#198754", "#adb5bd", "#b8860b", "#b02a37"];
  var datasets = payload.series
    ? Object.keys(payload.series).map(function (key, i) {
        return { label: names[key] || key, data: payload.series[key], backgroundColor: colours[i % colours.length] };
      })
    : [{ data: payload.values, backgroundColor: colours }];
  new Chart(canvas, {
    type: canvas.dataset.chart,
    data: { labels: payload.labels, datasets: datasets },
    options: { responsive: true, animation: false, plugins: { legend: { position: "bottom" } } }
  });
});
