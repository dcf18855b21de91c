// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // Forms that destroy something ask once more.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var msg = f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); return; }
    // A second click while the first submission is on its way would be a duplicate
    // (redemptions are idempotent anyway); disable the buttons.
    setTimeout(function () {
      f.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // Selecting a receipt's text in one click.
  document.querySelectorAll(".receipt textarea").forEach(function (t) {
    t.addEventListener("focus", function () { t.select(); });
  });
})();
