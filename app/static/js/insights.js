/* Eclor: the month's carpool flows on a map (Leaflet, vendored; the operations centre's tiles).
   The lines come from the page (only the pairs whose trips are shown, 11 or more); the table
   below the map says the same without JavaScript. */
"use strict";
(function () {
  var el = document.getElementById("od-map");
  if (!el || typeof L === "undefined") { return; }
  var flows = [];
  try { flows = JSON.parse(el.getAttribute("data-flows") || "[]"); } catch (e) { flows = []; }
  var map = L.map(el, { zoomControl: true, scrollWheelZoom: false });
  var url = el.getAttribute("data-tile-url");
  if (url) {
    L.tileLayer(url, { maxZoom: 18, attribution: el.getAttribute("data-attribution") || "" }).addTo(map);
  }
  if (!flows.length) { map.setView([49.5, 6.0], 10); return; }
  var peak = Math.max.apply(null, flows.map(function (f) { return f.trips; }));
  var points = [];
  flows.forEach(function (f) {
    var weight = 2 + 10 * f.trips / peak;
    var line = L.polyline([f.from, f.to], { color: "#1d5fa8", weight: weight, opacity: 0.7, className: "od-line" });
    line.bindTooltip(f.label + " : " + f.trips);
    line.addTo(map);
    L.circleMarker(f.to, { radius: 4, color: "#0d5a2c", fillOpacity: 1 }).addTo(map);
    points.push(f.from, f.to);
  });
  map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 12 });
}());
