/* Eclor outbox: reports kept on the phone (IndexedDB) while there is no network, sent once when it is
   back. Loaded by every page (base.html) and by the service worker (importScripts), so a kept report
   leaves from whatever page is open, or from the background (Background Sync) where the browser has it.
   Each item carries its idempotency key: a replay is answered by the server, never created twice. */
"use strict";
(function (scope) {
  var DB_NAME = "eclor-reports";
  var STORE = "outbox";
  var NOTICES = "sent";  // reports sent in the background, to be told on the next page the person opens
  var SYNC_TAG = "eclor-outbox";

  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 2);
      req.onupgradeneeded = function () {
        var names = req.result.objectStoreNames;
        if (!names.contains(STORE)) { req.result.createObjectStore(STORE, { keyPath: "key" }); }
        if (!names.contains(NOTICES)) { req.result.createObjectStore(NOTICES, { keyPath: "url" }); }
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function store(mode, fn, name) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(name || STORE, mode);
        var req = fn(t.objectStore(name || STORE));
        t.oncomplete = function () { db.close(); resolve(req ? req.result : undefined); };
        t.onerror = function () { db.close(); reject(t.error); };
        t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }
  function formData(item) {
    var fd = new FormData();
    item.fields.forEach(function (pair) { fd.append(pair[0], pair[1]); });
    item.photos.forEach(function (p) { fd.append("photos", p.blob, p.name); });
    return fd;
  }
  function send(item, csrf) {
    return fetch("/reports/new", {
      method: "POST", body: formData(item), credentials: "same-origin",
      headers: { "x-csrftoken": csrf || item.csrf || "", "x-eclor-queue": "1", "accept": "application/json" },
    });
  }
  function errorsText(data) {
    var errs = (data && data.errors) || {};
    return Object.keys(errs).map(function (k) { return errs[k]; }).join(" ");
  }

  var flushing = null;
  /* Send every kept report, one at a time, oldest first. ``on`` gets the outcome of each:
     on.sent(data), on.refused(text), on.login(), on.later(). Resolves true when the outbox is empty. */
  function flush(csrf, on) {
    on = on || {};
    if (flushing) { return flushing; }
    if (!("indexedDB" in scope) || (scope.navigator && scope.navigator.onLine === false)) { return Promise.resolve(false); }
    flushing = store("readonly", function (s) { return s.getAll(); }).then(function (items) {
      items.sort(function (a, b) { return a.created - b.created; });
      var chain = Promise.resolve(true);
      items.forEach(function (item) {
        chain = chain.then(function (goOn) {
          if (!goOn) { return false; }
          return send(item, csrf).then(function (resp) {
            if (resp.ok) {
              return resp.json().then(function (data) {
                return remove(item.key).then(function () { if (on.sent) { on.sent(data); } return true; });
              });
            }
            if (resp.status === 400) {
              return resp.json().catch(function () { return {}; }).then(function (data) {
                return remove(item.key).then(function () { if (on.refused) { on.refused(errorsText(data)); } return true; });
              });
            }
            if (resp.status === 401 || resp.status === 403) { if (on.login) { on.login(); } return false; }
            if (on.later) { on.later(); }
            return false;
          }, function () { if (on.later) { on.later(); } return false; });
        });
      });
      return chain;
    }).catch(function () { return false; /* no IndexedDB (private mode): nothing kept */ })
      .then(function (done) { flushing = null; return done; });
    return flushing;
  }
  function remove(key) { return store("readwrite", function (s) { return s.delete(key); }); }
  function put(item) {
    return store("readwrite", function (s) { return s.put(item); }).then(function () { return requestSync(); });
  }
  function count() { return store("readonly", function (s) { return s.count(); }).catch(function () { return 0; }); }
  /* Ask the service worker to send the outbox in the background when the network is back. */
  function requestSync() {
    if (!scope.navigator || !scope.navigator.serviceWorker || !("SyncManager" in scope)) { return Promise.resolve(); }
    return scope.navigator.serviceWorker.ready.then(function (reg) { return reg.sync.register(SYNC_TAG); })
      .catch(function () { /* no Background Sync: the pages send it */ });
  }

  /* A report sent while no page was open is kept as a notice until a page has said it. */
  function keepNotice(data) { return store("readwrite", function (s) { return s.put(data); }, NOTICES); }
  function takeNotices() {
    return store("readonly", function (s) { return s.getAll(); }, NOTICES).then(function (all) {
      return store("readwrite", function (s) { return s.clear(); }, NOTICES).then(function () { return all || []; });
    }).catch(function () { return []; });
  }

  scope.EclorOutbox = { put: put, flush: flush, count: count, remove: remove, SYNC_TAG: SYNC_TAG,
                        keepNotice: keepNotice, takeNotices: takeNotices };

  if (typeof document === "undefined") { return; }  // the service worker: it calls flush() on "sync"

  /* ---------- every page: send what is kept, and say so ---------- */
  var en = document.documentElement.lang === "en";
  var T = en ? {
    sent: "Your report {n} was sent.", see: "See it",
    login: "Sign in again to send the report kept on this phone.",
    failed: "A report kept on this phone could not be sent: ",
  } : {
    sent: "Votre signalement {n} est envoyé.", see: "Le voir",
    login: "Reconnectez-vous pour envoyer le signalement gardé sur ce téléphone.",
    failed: "Un signalement gardé sur ce téléphone n’a pas pu être envoyé : ",
  };
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["x-csrftoken"]; }
    catch (e) { var i = document.querySelector("input[name=_csrf_token]"); return i ? i.value : ""; }
  }
  function say(text, link, ok) {
    var box = document.getElementById("queue-status");
    if (!box) {
      box = document.createElement("p");
      box.id = "queue-status"; box.className = "queue-status outbox-toast";
      box.setAttribute("role", "status");
      document.body.appendChild(box);
    }
    box.classList.toggle("is-sent", Boolean(ok));
    box.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link; a.textContent = T.see;
      box.appendChild(document.createTextNode(" ")); box.appendChild(a);
    }
  }
  var retryTimer = null;
  function later() {
    if (retryTimer) { return; }
    retryTimer = setTimeout(function () { retryTimer = null; run(); }, 20000);
  }
  var handlers = {
    sent: function (data) { say(T.sent.replace("{n}", data.number), data.url, true); },
    refused: function (text) { say(T.failed + text); },
    login: function () { say(T.login); },
    later: later,
  };
  function run() {
    return takeNotices().then(function (notices) {
      notices.forEach(function (data) { handlers.sent(data); });
      return flush(csrf(), handlers);
    });
  }
  scope.EclorOutbox.run = run;
  scope.EclorOutbox.later = later;
  scope.addEventListener("online", run);
  if (document.readyState === "complete") { run(); } else { scope.addEventListener("load", run); }
  if (scope.navigator.serviceWorker) {
    scope.navigator.serviceWorker.addEventListener("message", function (event) {
      var d = event.data || {};
      if (d.type === "eclor-outbox-sent") { takeNotices().then(function (notices) { notices.forEach(handlers.sent); }); }
    });
  }
})(self);
