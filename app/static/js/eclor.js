/* Eclor page script: service worker registration and small enhancements. No inline script. */
"use strict";
(function () {
  if ("serviceWorker" in navigator && window.isSecureContext) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* stays a website */ });
    });
  }
  // Language switcher: submit on change (the button stays for no-JS use).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("select[data-autosubmit]")) { el.form.requestSubmit(); }
  });
  // Boosted navigation swaps only the body: when the next page needs a stylesheet
  // or a script this page has not loaded, load that page in full instead (the
  // CSP nonce of this page would not let its scripts run after a swap).
  function assetsOf(root) {
    var found = [];
    root.querySelectorAll("link[rel=stylesheet][href], script[src]").forEach(function (el) {
      found.push(el.getAttribute("href") || el.getAttribute("src"));
    });
    return found;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var d = event.detail;
    if (!d.boosted || !d.xhr || d.xhr.status >= 300 || !d.serverResponse) return;
    var cfg = d.requestConfig || {};
    var verb = String(cfg.verb || "get").toLowerCase();
    var finalUrl = d.xhr.responseURL || "";
    var redirected = finalUrl && cfg.path && new URL(finalUrl, location.href).pathname !== new URL(cfg.path, location.href).pathname;
    if (verb !== "get" && !redirected) return; // a form answered in place (e.g. with its errors)
    var have = assetsOf(document);
    var next = assetsOf(new DOMParser().parseFromString(d.serverResponse, "text/html"));
    var missing = next.some(function (url) { return have.indexOf(url) === -1; });
    if (missing) {
      d.shouldSwap = false;
      window.location.assign(finalUrl || cfg.path);
    }
  });
  // Online / offline banner.
  function setOnline() { document.documentElement.classList.toggle("is-offline", !navigator.onLine); }
  window.addEventListener("online", setOnline);
  window.addEventListener("offline", setOnline);
  setOnline();
})();
