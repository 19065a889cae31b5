/* Eclor notifications: subscribe this device to Web Push, only after a tap. No inline script. */
"use strict";
(function () {
  var box = document.getElementById("push-enable");
  var button = document.getElementById("push-enable-button");
  var status = document.getElementById("push-status");
  var form = document.getElementById("push-form");
  if (!box || !button || !form) return;
  var key = box.getAttribute("data-vapid-key");
  var supported = key && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window
    && window.isSecureContext;
  if (!supported) return;  // the page says what is needed; the form still works

  function say(text) { status.textContent = text; }
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; }
    catch (e) { return ""; }
  }
  function keyBytes(b64) {
    var padded = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function checked(name) {
    return Array.prototype.map.call(form.querySelectorAll('input[name="' + name + '"]:checked'),
      function (el) { return el.value; });
  }
  function markThisDevice(endpoint) {
    document.querySelectorAll(".device").forEach(function (li) {
      var mine = li.getAttribute("data-endpoint") === endpoint;
      var badge = li.querySelector(".this-device");
      if (badge) badge.hidden = !mine;
    });
  }

  navigator.serviceWorker.ready.then(function (reg) {
    return reg.pushManager.getSubscription();
  }).then(function (sub) {
    if (sub) markThisDevice(sub.endpoint);
  }).catch(function () {});

  if (Notification.permission === "denied") {
    say("Les notifications sont bloquées pour Eclor dans les réglages du navigateur : autorisez-les puis revenez ici.");
    return;
  }
  var registration = null;
  function send(sub) {
    var body = sub.toJSON();
    body.topics = checked("topics");
    body.communes = checked("communes");
    var qs = form.querySelector("#quiet_start"), qe = form.querySelector("#quiet_end");
    if (qs && qe && qs.value && qe.value) { body.quiet_start = qs.value; body.quiet_end = qe.value; }
    return fetch("/push/subscriptions", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": csrf() },
      body: JSON.stringify(body)
    });
  }

  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    say("Demande d’autorisation…");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error("permission");
      return navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
        return navigator.serviceWorker.ready;
      });
    }).then(function (reg) {
      registration = reg;
      return reg.pushManager.getSubscription().then(function (existing) {
        return existing || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      });
    }).then(send).then(function (response) {
      if (response.status !== 409) return response;
      // This device's subscription belongs to another account: it never moves, a fresh one is made.
      return registration.pushManager.getSubscription().then(function (old) {
        return old ? old.unsubscribe() : true;
      }).then(function () {
        return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      }).then(send);
    }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (problem) { throw new Error(problem.detail || "refus"); });
      }
      say("Notifications activées sur cet appareil.");
      window.location.assign("/me/push?saved=1");
    }).catch(function (error) {
      button.disabled = false;
      if (error && error.message === "permission") {
        say("Vous n’avez pas autorisé les notifications : rien n’a changé.");
      } else {
        say("L’activation n’a pas abouti (" + (error && error.message || "erreur") + "). Réessayez plus tard.");
      }
    });
  });
})();
