// toro monitor: closes the job modal (button, Escape, click outside). Everything else is htmx.
(function () {
  "use strict";
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
