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
  // Online / offline banner.
  function setOnline() { document.documentElement.classList.toggle("is-offline", !navigator.onLine); }
  window.addEventListener("online", setOnline);
  window.addEventListener("offline", setOnline);
  setOnline();
})();
