// Progressive enhancement of the upload form: a progress bar while the files travel.
// Without JavaScript the same form posts normally and the browser shows its own progress.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("[data-upload-form]");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var box = form.querySelector("[data-upload-progress]");
  var bar = box.querySelector("progress");
  var percent = box.querySelector("[data-upload-percent]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    // The box would refuse it at once: say so before the phone sends it all.
    var chosen = form.querySelector("input[type=file]").files;
    var total = 0;
    for (var index = 0; index < chosen.length; index += 1) { total += chosen[index].size; }
    if (total > Number(form.getAttribute("data-upload-max"))) {
      window.alert(form.getAttribute("data-upload-too-large"));
      return;
    }
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) { return; }
      var done = Math.round(100 * progress.loaded / progress.total);
      bar.value = done;
      percent.textContent = done + "\u202f%";
    });
    request.addEventListener("load", function () {
      var answer = null;
      try { answer = JSON.parse(request.responseText); } catch (ignored) { answer = null; }
      if (request.status < 400 && answer && answer.next) {
        window.location.assign(answer.next);
      } else {
        // A refusal is a whole page with the reason: show it as it is.
        document.open();
        document.write(request.responseText);
        document.close();
      }
    });
    request.addEventListener("error", function () {
      box.hidden = true;
      form.querySelector("button[type=submit]").disabled = false;
      window.alert(form.getAttribute("data-upload-failed"));
    });
    box.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    request.send(new FormData(form));
  });
});
