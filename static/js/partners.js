// Merchant portal: ask before voiding a redemption (the message comes from data-confirm).
document.querySelectorAll("form.void-form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
});
