// An import job's page: the progress bar follows the job until it ends, then the page shows
// the outcome (the CSP forbids inline scripts).
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || (box.dataset.state !== "queued" && box.dataset.state !== "running")) { return; }
  var bar = document.getElementById("import-progress-bar");
  var poll = function () {
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        var step = Math.floor(s.progress / 25) * 25;
        bar.className = bar.className.replace(/\bw-\d+\b/, "w-" + step);
        bar.textContent = s.progress + "%";
        bar.parentNode.setAttribute("aria-valuenow", s.progress);
        var phase = document.getElementById("import-phase");
        if (phase && phase.dataset[s.phase]) { phase.textContent = phase.dataset[s.phase]; }
        if (s.state !== box.dataset.state && (s.state === "running" || s.state === "completed" || s.state === "failed")) {
          window.location.reload();
        } else { setTimeout(poll, 1500); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  };
  setTimeout(poll, 1000);
})();
