// Progressive enhancement: send the phone's exact time with the clock form.
// Without JavaScript the mediator types the time instead; both work.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("[data-clock-form]");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    form.querySelector("[name=epoch_ms]").value = String(Date.now());
  });
});
