// Small progressive enhancements; no inline scripts (the CSP forbids them).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var bar = form.querySelector(".progress");
  var button = form.querySelector("[data-busy-text]");
  if (bar) { bar.classList.remove("d-none"); }
  if (button) { button.disabled = true; button.textContent = button.dataset.busyText; }
});
