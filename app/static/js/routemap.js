/* Eclor: the field agent's round for today on the map (Leaflet, vendored; the same tiles as the
   operations centre). The page's ordered list is the source: each item carries its place and its
   number in the route, so the page stays a plain list without JavaScript. */
"use strict";
(function () {
  var el = document.getElementById("route-map");
  var list = document.getElementById("route-list");
  if (!el || !list || typeof L === "undefined") { return; }
  var stops = Array.prototype.slice.call(list.querySelectorAll("li[data-lat][data-lon]")).map(function (li) {
    var link = li.querySelector("a");
    return {
      lat: parseFloat(li.getAttribute("data-lat")),
      lon: parseFloat(li.getAttribute("data-lon")),
      n: li.getAttribute("data-n"),
      title: link ? link.textContent : "",
      href: link ? link.getAttribute("href") : ""
    };
  }).filter(function (s) { return isFinite(s.lat) && isFinite(s.lon); });
  if (!stops.length) { return; }
  el.hidden = false;
  var map = L.map(el, { zoomControl: true, scrollWheelZoom: false, tap: true });
  var url = el.getAttribute("data-tile-url");
  if (url) {
    var failures = 0;
    var tiles = L.tileLayer(url, { maxZoom: 19, attribution: el.getAttribute("data-attribution") || "" });
    tiles.on("tileerror", function () { failures += 1; if (failures >= 3) { el.classList.add("tiles-failed"); } });
    tiles.on("tileload", function () { failures = 0; el.classList.remove("tiles-failed"); });
    tiles.addTo(map);
  }
  var points = stops.map(function (s) { return [s.lat, s.lon]; });
  // the view first: Leaflet draws markers on a map that has one
  if (points.length === 1) { map.setView(points[0], 16); }
  else { map.fitBounds(L.latLngBounds(points), { padding: [28, 28], maxZoom: 17 }); }
  if (points.length > 1) {
    L.polyline(points, { color: "#1d5fa8", weight: 3, dashArray: "6 5", interactive: false, className: "route-line" }).addTo(map);
  }
  stops.forEach(function (s) {
    var icon = L.divIcon({ className: "route-pin", html: "<span></span>", iconSize: [30, 30], iconAnchor: [15, 15] });
    var marker = L.marker([s.lat, s.lon], { icon: icon, title: s.n + ". " + s.title, keyboard: true }).addTo(map);
    marker.getElement().querySelector("span").textContent = s.n;
    marker.getElement().setAttribute("data-n", s.n);
    marker.on("click", function () { if (s.href) { window.location.href = s.href; } });
  });
})();
