/* Eclor service worker: the app shell offline, push notifications, the report outbox in the background. */
"use strict";
const CACHE = "eclor-shell-__CACHE_VERSION__";
importScripts(__OUTBOX__);  // self.EclorOutbox: reports kept offline (IndexedDB)
const PRECACHE = __PRECACHE__;
const OFFLINE_URL = "/offline";
const ICON = __ICON__;  // precached above: a notification is shown without a network request
// CAP severities for which the notification stays until the person acts on it.
const GRAVE = ["Extreme", "Severe"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith("eclor-shell-") && k !== CACHE).map((k) => caches.delete(k))
      ))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    // Pages: always fresh from the network; the offline page when there is none.
    event.respondWith(
      fetch(request).catch(() => caches.match(OFFLINE_URL, { ignoreSearch: true }))
    );
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    // Static files carry a content hash: cache first.
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      }))
    );
  }
});

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data && event.data.text() }; }
  const title = data.title || "Eclor";
  const options = {
    body: data.body || "",
    tag: data.tag || undefined,
    renotify: Boolean(data.tag),
    icon: data.icon || ICON,
    badge: ICON,
    lang: data.lang || "fr",
    data: { url: data.url || "/" },
    requireInteraction: data.urgency === "high" || GRAVE.includes(data.severity),
  };
  // Every push shows a notification (required on iOS and by the browsers' push contract).
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (target.origin !== self.location.origin) return;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const w of windows) {
        if (w.url === target.href && "focus" in w) return w.focus();
      }
      return self.clients.openWindow(target.href);
    })
  );
});

// Background Sync: the browser wakes the worker when the network is back, even with no Eclor page
// open, and the kept reports leave. Open pages are told, so they can say it.
self.addEventListener("sync", (event) => {
  if (event.tag !== self.EclorOutbox.SYNC_TAG) return;
  event.waitUntil(self.EclorOutbox.flush("", {
    // Kept as a notice first: the page that says it (now, or the next one opened) takes it away.
    sent: (data) => self.EclorOutbox.keepNotice(data)
      .then(() => self.clients.matchAll({ type: "window" }))
      .then((windows) => { windows.forEach((w) => w.postMessage({ type: "eclor-outbox-sent" })); }),
  }).then((empty) => { if (!empty) throw new Error("outbox not empty: try again later"); }));
});
