// Progress of a roster check or import: polls the progress route named by
// the section's data-progress-url every second, updates the bar and the
// text, and reloads the page (which then shows the report) when the work
// is done. Loaded only by the import page; no inline script anywhere.
(function () {
  "use strict";
  var box = document.getElementById("roster-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("roster-bar");
  var text = document.getElementById("roster-progress-text");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p || !p.running) { window.location.reload(); return; }
        bar.value = p.percent;
        bar.textContent = p.percent + "%";
        var s = p.percent + "% " + (p.phase === "importing" ? "imported" : "checked") + ", " + p.rows + " rows";
        if (p.written) { s += ", " + p.written + " providers written"; }
        text.textContent = s;
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
