/* Eclor work orders in the field: a photo or a closure made with no network is kept on the phone
   (IndexedDB) and sent, in the order it was made, as soon as the network is back. Forms marked
   data-outbox="work-order" are sent with fetch; the page says what is kept and what has left. */
"use strict";
(function () {
  var DB_NAME = "eclor-work-orders";
  var STORE = "outbox";

  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "key" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function store(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var req = fn(t.objectStore(STORE));
        t.oncomplete = function () { db.close(); resolve(req ? req.result : undefined); };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }
  function status(text) {
    var box = document.getElementById("order-queue");
    if (box) { box.hidden = false; box.textContent = text; }
  }
  function entries(form) {
    var out = [];
    new FormData(form).forEach(function (value, name) {
      if (value instanceof File) {
        if (value.size) { out.push([name, value, value.name]); }
      } else { out.push([name, value]); }
    });
    return out;
  }
  function body(item) {
    var fd = new FormData();
    item.fields.forEach(function (f) { if (f.length === 3) { fd.append(f[0], f[1], f[2]); } else { fd.append(f[0], f[1]); } });
    return fd;
  }

  var sending = null;
  function flush() {
    if (sending) { return sending; }
    if (navigator.onLine === false) { return Promise.resolve(false); }
    sending = store("readonly", function (s) { return s.getAll(); }).then(function (items) {
      items.sort(function (a, b) { return a.created - b.created; });
      var chain = Promise.resolve(0);
      items.forEach(function (item) {
        chain = chain.then(function (sent) {
          return fetch(item.action, { method: "POST", body: body(item), credentials: "same-origin" })
            .then(function (response) {
              // 2xx (after the redirect) is done; 4xx is refused for good: either way it leaves the phone
              if (response.ok || (response.status >= 400 && response.status < 500)) {
                return store("readwrite", function (s) { return s.delete(item.key); }).then(function () {
                  return response.ok ? sent + 1 : sent;
                });
              }
              throw new Error("server " + response.status);
            });
        });
      });
      return chain;
    }).then(function (sent) {
      sending = null;
      if (sent) {
        var box = document.getElementById("order-queue");
        status((box && box.dataset.sent) || "");
        window.setTimeout(function () { window.location.reload(); }, 600);
      }
      return true;
    }, function () { sending = null; return false; });
    return sending;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.dataset.outbox !== "work-order" || !("indexedDB" in window)) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    var item = { key: String(Date.now()) + Math.random().toString(16).slice(2), created: Date.now(), action: form.action, fields: entries(form) };
    store("readwrite", function (s) { return s.put(item); }).then(function () {
      if (navigator.onLine === false) {
        status(form.dataset.kept || "");
        form.reset();
        return;
      }
      return flush().then(function (ok) {
        if (!ok) { status(form.dataset.kept || ""); }
      });
    });
  }, true);
  window.addEventListener("online", function () { flush(); });
  if (document.readyState !== "loading") { flush(); } else { document.addEventListener("DOMContentLoaded", flush); }
})();
