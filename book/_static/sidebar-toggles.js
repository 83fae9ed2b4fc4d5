// The menu and "on this page" buttons that readers see.
//
// pydata-sphinx-theme 0.17 binds its sidebar handlers (open the drawer below 992 px, and
// sphinx-book-theme's collapse of the sidebar above it) to the first .primary-toggle and
// .secondary-toggle of the page: buttons in the top navbar that sphinx-book-theme hides.
// The visible buttons in the article header get no handler, so tapping them only shows a
// tooltip. Pass each click on another toggle on to the first one, which does the work.
// Upstream: pydata/pydata-sphinx-theme#2451.
document.addEventListener(
  "click",
  (event) => {
    const toggle = event.target.closest(".primary-toggle, .secondary-toggle");
    if (!toggle) {
      return;
    }
    const kind = toggle.classList.contains("primary-toggle") ? ".primary-toggle" : ".secondary-toggle";
    const handled = document.querySelector(kind);
    if (handled === toggle) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    toggle.blur();
    handled.click();
  },
  true,
);
