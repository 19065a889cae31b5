/* Eclor reports: the map (Leaflet), the place from the device or the photo, nearby reports,
   and keeping a report in the offline outbox (js/outbox.js, which every page loads and sends from).
   Everything here enhances plain HTML forms that work without it. No inline script. */
"use strict";
(function () {
  var DB_NAME = "eclor-reports";
  var STORE = "outbox";
  var CENTRE = [49.45, 5.95];
  var T = document.documentElement.lang === "en" ? {
    queued: "No network: your report is kept on this phone and will be sent as soon as the network is back.",
    sending: "Sending your report…",
    sent: "Your report {n} was sent.",
    see: "See it",
    login: "Sign in again to send the report kept on this phone.",
    failed: "A report kept on this phone could not be sent: ",
    retry: "The server did not answer: your report is kept and will be sent again shortly.",
    tooMany: "At most {n} photos.",
    needPhoto: "Add at least one photo of the dump.",
    needCategory: "Choose the type of waste.",
    notSent: "The report was not sent: correct what follows.",
    fromPhoto: "Place taken from the photo: check it on the map.",
    fromDevice: "Place taken from your position: check it on the map.",
    noPosition: "Your position is not available: place the marker on the map or choose the commune.",
    remove: "Remove this photo",
    noMap: "The map is not available; the place from your position, the photo or the commune is enough.",
  } : {
    queued: "Pas de réseau : votre signalement est gardé sur ce téléphone et partira dès le retour du réseau.",
    sending: "Envoi de votre signalement…",
    sent: "Votre signalement {n} est envoyé.",
    see: "Le voir",
    login: "Reconnectez-vous pour envoyer le signalement gardé sur ce téléphone.",
    failed: "Un signalement gardé sur ce téléphone n’a pas pu être envoyé : ",
    retry: "Le serveur n’a pas répondu : votre signalement est gardé et repartira dans un instant.",
    tooMany: "{n} photos au maximum.",
    needPhoto: "Ajoutez au moins une photo du dépôt.",
    needCategory: "Choisissez le type de déchets.",
    notSent: "Le signalement n’a pas été envoyé : corrigez ce qui suit.",
    fromPhoto: "Lieu tiré de la photo : vérifiez-le sur la carte.",
    fromDevice: "Lieu tiré de votre position : vérifiez-le sur la carte.",
    noPosition: "Votre position n’est pas disponible : placez le repère sur la carte ou choisissez la commune.",
    remove: "Retirer cette photo",
    noMap: "La carte n’est pas disponible ; la position, la photo ou la commune suffisent.",
  };

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["x-csrftoken"]; }
    catch (e) { var i = document.querySelector("input[name=_csrf_token]"); return i ? i.value : ""; }
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function status(html, ok) {
    var box = document.getElementById("queue-status");
    if (!box) { return; }
    box.classList.toggle("is-sent", Boolean(ok));
    box.innerHTML = html;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }

  /* The outbox itself (IndexedDB, sending, Background Sync) is js/outbox.js, loaded by every page. */
  var outbox = window.EclorOutbox;
  function send(item) {
    var fd = new FormData();
    item.fields.forEach(function (pair) { fd.append(pair[0], pair[1]); });
    item.photos.forEach(function (p) { fd.append("photos", p.blob, p.name); });
    return fetch("/reports/new", {
      method: "POST", body: fd, credentials: "same-origin",
      headers: { "x-csrftoken": csrf(), "x-eclor-queue": "1", "accept": "application/json" },
    });
  }
  function errorsText(data) {
    var errs = (data && data.errors) || {};
    return Object.keys(errs).map(function (k) { return errs[k]; }).join(" ");
  }
  function scheduleRetry() { if (outbox && outbox.later) { outbox.later(); } }

  /* ---------- EXIF GPS of a JPEG, read on the phone ---------- */
  function exifGps(buf) {
    var v = new DataView(buf);
    if (v.byteLength < 4 || v.getUint16(0) !== 0xFFD8) { return null; }
    var off = 2;
    while (off + 4 < v.byteLength) {
      var marker = v.getUint16(off);
      var size = v.getUint16(off + 2);
      if (marker === 0xFFE1 && v.getUint32(off + 4) === 0x45786966) { return tiffGps(v, off + 10); }
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return null; }
      off += 2 + size;
    }
    return null;
  }
  function tiffGps(v, t) {
    try {
      var le = v.getUint16(t) === 0x4949;
      var u16 = function (o) { return v.getUint16(t + o, le); };
      var u32 = function (o) { return v.getUint32(t + o, le); };
      var ifd = u32(4), n = u16(ifd), gpsAt = 0, i;
      for (i = 0; i < n; i++) { if (u16(ifd + 2 + i * 12) === 0x8825) { gpsAt = u32(ifd + 2 + i * 12 + 8); } }
      if (!gpsAt) { return null; }
      var tags = {}, m = u16(gpsAt);
      for (i = 0; i < m; i++) {
        var e = gpsAt + 2 + i * 12, tag = u16(e), type = u16(e + 2), count = u32(e + 4);
        if (type === 2) { tags[tag] = String.fromCharCode(v.getUint8(t + e + 8)); }
        else if (type === 5 && count === 3) {
          var at = u32(e + 8), vals = [];
          for (var k = 0; k < 3; k++) { var d = u32(at + k * 8 + 4); vals.push(d ? u32(at + k * 8) / d : 0); }
          tags[tag] = vals[0] + vals[1] / 60 + vals[2] / 3600;
        }
      }
      if (tags[2] === undefined || tags[4] === undefined) { return null; }
      var lat = tags[1] === "S" ? -tags[2] : tags[2];
      var lon = tags[3] === "W" ? -tags[4] : tags[4];
      if (!isFinite(lat) || !isFinite(lon) || (lat === 0 && lon === 0)) { return null; }
      return [lat, lon];
    } catch (e) { return null; }
  }

  /* ---------- maps ---------- */
  function tiles(el, map) {
    var url = el.getAttribute("data-tile-url");
    if (url) {
      L.tileLayer(url, { maxZoom: 19, attribution: esc(el.getAttribute("data-attribution") || "") }).addTo(map);
    }
  }
  function baseMap(el, opts) {
    var map = L.map(el, Object.assign({ attributionControl: true, scrollWheelZoom: false, tap: true }, opts || {}));
    map.attributionControl.setPrefix(false);
    tiles(el, map);
    return map;
  }
  function num(x) { var f = parseFloat(String(x || "").replace(",", ".")); return isFinite(f) ? f : null; }

  function pickMap(el) {
    var form = el.closest("form");
    var latIn = form.querySelector("[name=lat]"), lonIn = form.querySelector("[name=lon]");
    var lat = num(latIn.value), lon = num(lonIn.value);
    var map = null, marker = null;
    if (window.L) {
      map = baseMap(el);
      map.setView(lat !== null && lon !== null ? [lat, lon] : CENTRE, lat !== null ? 17 : 12);
      map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, ""); });
    } else {
      el.classList.add("map-fallback"); el.textContent = T.noMap;
    }
    function place(a, b, source) {
      latIn.value = a.toFixed(6); lonIn.value = b.toFixed(6);
      if (map) {
        if (!marker) {
          // A drawn pin, not Leaflet's image icon: nothing to download, so it shows offline too.
          var pin = L.divIcon({ className: "report-pin", html: '<span class="report-pin-shape"></span>',
                                iconSize: [26, 26], iconAnchor: [13, 30] });
          marker = L.marker([a, b], { draggable: true, autoPan: true, icon: pin, keyboard: true }).addTo(map);
          marker.on("dragend", function () { var p = marker.getLatLng(); place(p.lat, p.lng, ""); });
        } else { marker.setLatLng([a, b]); }
        map.setView([a, b], Math.max(map.getZoom(), 17));
      }
      var src = document.getElementById("place-source");
      if (src && source) { src.textContent = source; }
      form.dispatchEvent(new CustomEvent("eclor:place"));
    }
    if (lat !== null && lon !== null) { place(lat, lon, ""); }
    [latIn, lonIn].forEach(function (input) {
      input.addEventListener("change", function () {
        var a = num(latIn.value), b = num(lonIn.value);
        if (a !== null && b !== null) { place(a, b, ""); }
      });
    });
    return { place: place, hasPlace: function () { return num(latIn.value) !== null && num(lonIn.value) !== null; } };
  }

  function listMap(el) {
    if (!window.L) { return; }
    if (el.classList.contains("leaflet-container")) { return; }
    var scope = el.closest("#results") || el.closest("section") || document;
    var rows = scope.querySelectorAll(".report-marker");
    var map = baseMap(el);
    var bounds = [];
    var colours = { new: "#1d4ed8", confirmed: "#b45309", scheduled: "#b45309", in_progress: "#b45309",
                    resolved: "#15803d", rejected: "#6b7280", duplicate: "#6b7280", hidden: "#6b7280" };
    Array.prototype.forEach.call(rows, function (row) {
      var a = num(row.getAttribute("data-lat")), b = num(row.getAttribute("data-lon"));
      if (a === null || b === null) { return; }
      var c = colours[row.getAttribute("data-status")] || "#0b5d3b";
      var m = L.circleMarker([a, b], { radius: 8, color: "#fff", weight: 2, fillColor: c, fillOpacity: 0.95 }).addTo(map);
      m.bindPopup('<a href="' + esc(row.getAttribute("data-href")) + '">' + esc(row.getAttribute("data-label")) + "</a>");
      bounds.push([a, b]);
    });
    if (bounds.length) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 }); } else { map.setView(CENTRE, 12); }
  }

  function viewMap(el) {
    if (!window.L || el.classList.contains("leaflet-container")) { return; }
    var a = num(el.getAttribute("data-lat")), b = num(el.getAttribute("data-lon"));
    if (a === null || b === null) { return; }
    var map = baseMap(el, { dragging: !L.Browser.mobile });
    map.setView([a, b], 16);
    L.circle([a, b], { radius: 60, color: "#0b5d3b", fillOpacity: 0.2 }).addTo(map);
  }

  /* ---------- the report form ---------- */
  function reportForm(form) {
    var key = form.querySelector("[name=idempotency_key]");
    key.value = uuid();  // made on the phone: a replay of this report is recognised by the server
    var maxPhotos = parseInt(form.getAttribute("data-max-photos"), 10) || 3;
    var input = form.querySelector("#photos");
    var previews = form.querySelector("#photo-previews");
    var nearbyBox = form.querySelector("#nearby");
    var chosen = [];
    var picker = null;
    var mapEl = form.querySelector("[data-map=pick]");
    if (mapEl) { picker = pickMap(mapEl); }
    form.classList.add("js-photos");

    function renderPreviews() {
      previews.innerHTML = "";
      chosen.forEach(function (file, index) {
        var li = document.createElement("li");
        var img = document.createElement("img");
        img.alt = ""; img.src = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        var btn = document.createElement("button");
        btn.type = "button"; btn.textContent = "×"; btn.setAttribute("aria-label", T.remove);
        btn.addEventListener("click", function () { chosen.splice(index, 1); renderPreviews(); });
        li.appendChild(img); li.appendChild(btn); previews.appendChild(li);
      });
    }
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      files.forEach(function (f) { if (chosen.length < maxPhotos) { chosen.push(f); } });
      if (files.length && chosen.length >= maxPhotos && files.length + chosen.length > maxPhotos) {
        status(esc(T.tooMany.replace("{n}", maxPhotos)));
      }
      input.value = "";
      renderPreviews();
      if (picker && !picker.hasPlace()) {
        files.forEach(function (f) {
          if (!/jpe?g$/i.test(f.type) && !/\.jpe?g$/i.test(f.name)) { return; }
          f.slice(0, 262144).arrayBuffer().then(function (buf) {
            var pos = exifGps(buf);
            if (pos && !picker.hasPlace()) { picker.place(pos[0], pos[1], T.fromPhoto); }
          });
        });
      }
    });

    var locate = form.querySelector("#use-position");
    if (locate && navigator.geolocation) {
      locate.hidden = false;
      locate.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (p) {
          if (picker) { picker.place(p.coords.latitude, p.coords.longitude, T.fromDevice); }
        }, function () {
          var src = document.getElementById("place-source"); if (src) { src.textContent = T.noPosition; }
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }

    function lookNearby() {
      var lat = num(form.querySelector("[name=lat]").value), lon = num(form.querySelector("[name=lon]").value);
      var cat = form.querySelector("[name=category]:checked");
      if (lat === null || lon === null || !nearbyBox || !navigator.onLine) { return; }
      var url = "/reports/nearby?lat=" + lat + "&lon=" + lon + (cat ? "&category=" + encodeURIComponent(cat.value) : "");
      fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) { nearbyBox.innerHTML = html; })
        .catch(function () { /* offline: no suggestions */ });
    }
    form.addEventListener("eclor:place", lookNearby);
    form.addEventListener("change", function (e) { if (e.target.name === "category") { lookNearby(); } });

    /* Errors go where the eye is: a summary at the top, the first field in error focused (js/eclor.js). */
    function showErrors(errs) {
      if (window.EclorForm) { window.EclorForm.show(form, errs, { place: "lat", category: "category-first" }, T.notSent); }
      else { status(esc(errorsText({ errors: errs }))); }
    }
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      var missing = {};
      if (!chosen.length) { missing.photos = T.needPhoto; }
      if (!form.querySelector("[name=category]:checked")) { missing.category = T.needCategory; }
      if (Object.keys(missing).length) { showErrors(missing); return; }
      showErrors({});
      busy = true;
      var button = form.querySelector("[type=submit]");
      button.disabled = true;
      var fields = [];
      new FormData(form).forEach(function (value, name) {
        if (typeof value === "string" && name !== "photos") { fields.push([name, value]); }
      });
      Promise.all(chosen.map(function (f) {
        return f.arrayBuffer().then(function (buf) {
          return { name: f.name || "photo.jpg", blob: new Blob([buf], { type: f.type || "application/octet-stream" }) };
        });
      })).then(function (photos) {
        var item = { key: key.value, created: Date.now(), fields: fields, photos: photos, csrf: csrf() };
        function keep(message) {
          return outbox.put(item).then(function () {
            status(esc(message));
            chosen = []; renderPreviews(); form.reset(); key.value = uuid();
            if (nearbyBox) { nearbyBox.innerHTML = ""; }
            scheduleRetry();
          });
        }
        if (!navigator.onLine) { return keep(T.queued); }
        status(esc(T.sending), true);
        return send(item).then(function (resp) {
          if (resp.ok) {
            return resp.json().then(function (data) {
              window.location.assign(data.url + (data.existing ? "" : "?sent=1"));
            });
          }
          if (resp.status === 400) {
            return resp.json().catch(function () { return {}; }).then(function (data) {
              showErrors((data && data.errors) || { __all__: T.retry });
            });
          }
          if (resp.status === 401) { status(esc(T.login)); return; }
          return keep(T.retry);
        }, function () { return keep(T.queued); });
      }).catch(function () { status(esc(T.retry)); })
        .then(function () { busy = false; button.disabled = false; });
    });
  }

  function maps(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-map=list]"), listMap);
    Array.prototype.forEach.call(root.querySelectorAll("[data-map=view]"), viewMap);
  }
  function init() {
    document.documentElement.classList.add("js");
    maps(document);
    // The public list's filters swap #results with htmx: draw its map again.
    document.body.addEventListener("htmx:afterSettle", function () {
      maps(document);  // maps already drawn are skipped
    });
    var form = document.getElementById("report-form");
    if (form) { reportForm(form); }
    Array.prototype.forEach.call(document.querySelectorAll("form:not(#report-form) [data-map=pick]"), pickMap);
    document.addEventListener("change", function (e) {
      var sel = e.target;
      if (sel.matches && sel.matches("select[data-fill]") && sel.value) {
        var target = document.querySelector(sel.getAttribute("data-fill"));
        var body = sel.options[sel.selectedIndex].getAttribute("data-body");
        if (target && body) { target.value = body; }
      }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
