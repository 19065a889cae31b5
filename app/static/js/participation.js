/* Eclor participation: the map of a consultation's place question (touch to place the point;
   without it the commune list answers) and the map of the places given, on the results page.
   Enhances plain HTML that works without it. No inline script. */
"use strict";
(function () {
  var CENTRE = [49.45, 5.95];
  function num(x) { var f = parseFloat(String(x || "").replace(",", ".")); return isFinite(f) ? f : null; }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }
  function baseMap(el) {
    var map = L.map(el, { attributionControl: true, scrollWheelZoom: false, tap: true });
    map.attributionControl.setPrefix(false);
    var url = el.getAttribute("data-tile-url");
    if (url) { L.tileLayer(url, { maxZoom: 19, attribution: esc(el.getAttribute("data-attribution") || "") }).addTo(map); }
    return map;
  }
  function pick(el) {
    var box = el.closest("fieldset");
    var latIn = box.querySelector("input[name$=_lat]"), lonIn = box.querySelector("input[name$=_lon]");
    var map = baseMap(el), marker = null;
    function place(a, b) {
      latIn.value = a.toFixed(6); lonIn.value = b.toFixed(6);
      if (!marker) {
        marker = L.circleMarker([a, b], { radius: 10, color: "#fff", weight: 3, fillColor: "#1d4f91", fillOpacity: 1 }).addTo(map);
      } else { marker.setLatLng([a, b]); }
    }
    var a = num(latIn.value), b = num(lonIn.value);
    map.setView(a !== null && b !== null ? [a, b] : CENTRE, 12);
    if (a !== null && b !== null) { place(a, b); }
    map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng); });
  }
  function places(el) {
    var points = [];
    try { points = JSON.parse(el.getAttribute("data-points") || "[]"); } catch (e) { return; }
    var map = baseMap(el), bounds = [];
    points.forEach(function (p) {
      L.circleMarker(p, { radius: 7, color: "#fff", weight: 2, fillColor: "#1d4f91", fillOpacity: 0.85 }).addTo(map);
      bounds.push(p);
    });
    if (bounds.length) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 }); } else { map.setView(CENTRE, 11); }
  }
  function init() {
    if (!window.L) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("[data-map=pick-place]"), function (el) {
      if (!el.classList.contains("leaflet-container")) { pick(el); }
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-map=places]"), function (el) {
      if (!el.classList.contains("leaflet-container")) { places(el); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
  document.addEventListener("htmx:afterSettle", init);
})();
