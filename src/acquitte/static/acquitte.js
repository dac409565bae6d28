// The little behaviour the pages have, without inline script or event handlers (the CSP forbids
// both). Loaded with `defer` by base.html; every hook is a data- attribute.
(function () {
  "use strict";

  // <select data-autosubmit>: choosing sends its form (the language menu).
  document.addEventListener("change", function (e) {
    var field = e.target.closest && e.target.closest("[data-autosubmit]");
    if (field && field.form) { field.form.submit(); }
  });

  // <input data-select-on-focus>: focusing selects the whole value (links to copy).
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("[data-select-on-focus]")) { e.target.select(); }
  });

  // <button data-print>: prints the page.
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-print]")) { window.print(); }
  });

  // <details class="submenu">: a click elsewhere or Escape closes an open sub-menu, as menus do.
  function closeMenus(except) {
    document.querySelectorAll("details.submenu[open]").forEach(function (menu) {
      if (menu !== except) { menu.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (e) {
    closeMenus(e.target.closest && e.target.closest("details.submenu"));
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { closeMenus(null); }
  });

  // data-confirm on a form or its submit button: asks before sending.
  document.addEventListener("submit", function (e) {
    var holder = (e.submitter && e.submitter.dataset.confirm) ? e.submitter : e.target.closest("[data-confirm]");
    if (holder && !window.confirm(holder.dataset.confirm)) { e.preventDefault(); e.stopImmediatePropagation(); }
  }, true);

  // <input type="checkbox" data-check-all="NAME">: checks or unchecks every NAME box of its form.
  document.addEventListener("change", function (e) {
    var all = e.target.closest && e.target.closest("[data-check-all]");
    if (!all || !all.form) { return; }
    all.form.querySelectorAll('input[type="checkbox"][name="' + all.dataset.checkAll + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // htmx requests carry the CSRF token of <meta name="csrf-token">.
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { e.detail.headers["X-CSRFToken"] = meta.content; }
  });
})();

// Back office (issue 18): a refused htmx form (400) still shows its errors in place, as a full
// page does; htmx leaves 4xx answers unswapped by default.
document.addEventListener("htmx:beforeSwap", function (e) {
  if (e.detail.xhr.status === 400) { e.detail.shouldSwap = true; e.detail.isError = false; }
});
