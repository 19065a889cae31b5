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
  // A boosted swap replaces the body's content, not its attributes: the CSRF token htmx sends
  // (the body's hx-headers) is taken from the new page, since signing in or out changes it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var d = event.detail;
    if (!d.boosted || !d.serverResponse) return;
    var tag = /<body\b[^>]*>/i.exec(d.serverResponse);
    if (!tag) return;
    var body = new DOMParser().parseFromString(tag[0] + "</body>", "text/html").body;
    var headers = body && body.getAttribute("hx-headers");
    if (headers) document.body.setAttribute("hx-headers", headers);
  });
  // Errors where the eye is: the server puts an error summary (links to the fields) at the top of a
  // form that came back with errors; here the first field in error gets the focus and scrolls into
  // view. EclorForm.show() does the same for errors found on the phone (the report form).
  function fieldFor(root, key) {
    return root.querySelector("#" + CSS.escape(key)) || root.querySelector('[name="' + key.replace(/"/g, "") + '"]');
  }
  function reveal(el) {
    var box = el.closest("fieldset, label, .step") || el;
    if (el.type === "file" || el.offsetWidth < 2) { box = el.closest("fieldset") || el.parentElement || el; }
    box.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
  }
  function focusFirstError(root) {
    var summary = root.querySelector(".error-summary");
    if (!summary) return;
    var first = root.querySelector("[aria-invalid=true]");
    var link = summary.querySelector("a[href^='#']");
    var target = first || (link && fieldFor(document, link.getAttribute("href").slice(1)));
    if (target) { reveal(target); } else { summary.scrollIntoView({ block: "start" }); summary.focus({ preventScroll: true }); }
  }
  document.addEventListener("click", function (event) {
    var a = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    if (!a) return;
    var field = fieldFor(document, a.getAttribute("href").slice(1));
    if (field) { event.preventDefault(); reveal(field); }
  });
  function say(el, text) { el.textContent = text; return el; }
  window.EclorForm = {
    /* errors: {field name: message}; targets: {error key: field id}; intro: the summary's title. */
    show: function (form, errors, targets, intro) {
      targets = targets || {};
      var slot = document.getElementById("form-errors") || form;
      form.querySelectorAll("[aria-invalid=true]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
      form.querySelectorAll(".field-error[data-client]").forEach(function (el) { el.remove(); });
      form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
      var keys = Object.keys(errors);
      if (!keys.length) { slot.innerHTML = ""; return; }
      var box = document.createElement("div");
      box.className = "error-summary"; box.id = "error-summary"; box.tabIndex = -1;
      box.setAttribute("role", "alert");
      box.appendChild(say(document.createElement("h2"), intro || ""));
      var ul = document.createElement("ul");
      var first = null;
      keys.forEach(function (key) {
        var li = document.createElement("li");
        var id = targets[key] || key;
        var field = key === "__all__" ? null : fieldFor(form, id);
        if (field) {
          var a = say(document.createElement("a"), errors[key]);
          a.href = "#" + (field.id || id);
          li.appendChild(a);
          field.setAttribute("aria-invalid", "true");
          var existing = document.getElementById(key + "-error");
          if (existing) { existing.textContent = errors[key]; } else {
            var p = say(document.createElement("p"), errors[key]);
            p.className = "field-error"; p.id = key + "-error"; p.setAttribute("data-client", "");
            var anchor = field.closest("fieldset") ? field.closest("fieldset").querySelector("legend") : field;
            anchor.insertAdjacentElement("afterend", p);
          }
          if (!first) { first = field; }
        } else { say(li, errors[key]); }
        ul.appendChild(li);
      });
      box.appendChild(ul);
      slot.innerHTML = ""; slot.appendChild(box);
      if (first) { reveal(first); } else { box.scrollIntoView({ block: "start" }); box.focus({ preventScroll: true }); }
    },
  };
  document.addEventListener("DOMContentLoaded", function () { focusFirstError(document); });
  document.addEventListener("htmx:afterSettle", function (event) { focusFirstError(event.target || document); });
  // Online / offline banner.
  function setOnline() { document.documentElement.classList.toggle("is-offline", !navigator.onLine); }
  window.addEventListener("online", setOnline);
  window.addEventListener("offline", setOnline);
  setOnline();
})();
