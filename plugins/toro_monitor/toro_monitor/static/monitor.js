// toro monitor: closes the job modal (button, Escape, click outside) and pauses the polls
// while the tab is hidden. Everything else is htmx. (The page's CSP forbids eval, so the
// pause is here rather than in an hx-trigger filter, which htmx would evaluate.)
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.visibilityState === "visible") { return; }
    var elt = event.detail && event.detail.elt;
    var trigger = elt && elt.getAttribute ? elt.getAttribute("hx-trigger") || "" : "";
    if (trigger.indexOf("every ") === 0) { event.preventDefault(); }
  });
  function closeModal() {
    var modal = document.getElementById("modal");
    if (modal) { modal.innerHTML = ""; }
  }
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest && target.closest("[data-close-modal]")) { closeModal(); return; }
    if (target.id === "modal") { closeModal(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeModal(); }
  });
})();
