// toro monitor: closes the dialog (its close buttons, Escape, a click outside) and pauses the
// polls while the tab is hidden. Everything else is htmx. (The page's CSP forbids eval, so the
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
    var closer = target.closest ? target.closest("[data-close-modal]") : null;
    if (closer) {
      // in the dialog a closer closes it; on a page of its own a link goes where it points
      if (closer.closest("#modal")) { event.preventDefault(); closeModal(); }
      return;
    }
    if (target.id === "modal") { closeModal(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeModal(); }
  });
})();
