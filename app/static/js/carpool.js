/* Carpool forms: show the fields of the chosen frequency, and pick a point on a small map. No inline script. */
"use strict";
(function () {
  document.documentElement.classList.add("js");

  function syncFrequency(form) {
    var checked = form.querySelector("input[name=frequency]:checked");
    if (!checked) { return; }
    form.querySelectorAll("[data-frequency]").forEach(function (el) {
      el.hidden = el.getAttribute("data-frequency") !== checked.value;
    });
  }

  // Web Mercator helpers (OpenStreetMap tiles, 256 px).
  var Z = 11;
  function lon2x(lon) { return (lon + 180) / 360 * Math.pow(2, Z); }
  function lat2y(lat) { var r = lat * Math.PI / 180; return (1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * Math.pow(2, Z); }
  function x2lon(x) { return x / Math.pow(2, Z) * 360 - 180; }
  function y2lat(y) { var n = Math.PI - 2 * Math.PI * y / Math.pow(2, Z); return 180 / Math.PI * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n))); }

  function buildMap(box) {
    if (box.dataset.ready) { return; }
    var tiles = box.closest("form").getAttribute("data-tiles");
    if (!tiles) { return; }
    box.dataset.ready = "1";
    box.hidden = false;
    // The view: from Differdange to Dudelange and Kirchberg to Boulange, square, in tile units.
    var vx0 = lon2x(5.80), vx1 = lon2x(6.22), vy0 = lat2y(49.665), vy1 = lat2y(49.355);
    var size = Math.max(vx1 - vx0, vy1 - vy0);
    var cxm = (vx0 + vx1) / 2, cym = (vy0 + vy1) / 2;
    var x0 = cxm - size / 2, y0 = cym - size / 2, N = size;
    for (var i = Math.floor(x0); i < x0 + size; i++) {
      for (var j = Math.floor(y0); j < y0 + size; j++) {
        var img = document.createElement("img");
        img.alt = "";
        img.addEventListener("error", function () { this.style.visibility = "hidden"; });
        img.src = tiles.replace("{s}", "abc"[(i + j) % 3]).replace("{z}", Z).replace("{x}", i).replace("{y}", j);
        img.style.left = ((i - x0) / N * 100) + "%";
        img.style.top = ((j - y0) / N * 100) + "%";
        img.style.width = img.style.height = (100 / N) + "%";
        box.appendChild(img);
      }
    }
    // The listed places as dots (labels that would overlap are left out), so the map reads even offline.
    var placed = [];
    box.closest("[data-place-picker]").querySelectorAll("option[data-lat]").forEach(function (opt) {
      var left = (lon2x(parseFloat(opt.dataset.lon)) - x0) / N * 100;
      var top = (lat2y(parseFloat(opt.dataset.lat)) - y0) / N * 100;
      var label = opt.textContent.replace(/ \(.*\)$/, "").replace(/^Luxembourg /, "");
      var width = label.length * 1.55 + 4;
      var free = left + width < 100 && placed.every(function (r) {
        return left + width < r[0] || r[0] + r[2] < left || Math.abs(top - r[1]) > 3.2;
      });
      var dot = document.createElement("span");
      dot.className = "cp-dot";
      if (free) { dot.textContent = label; placed.push([left, top, width]); }
      dot.style.left = left + "%";
      dot.style.top = top + "%";
      box.appendChild(dot);
    });
    var end = box.getAttribute("data-map-for");
    var lat = document.getElementById(end + "_lat"), lon = document.getElementById(end + "_lon");
    var pin = document.createElement("span");
    pin.className = "cp-pin";
    pin.hidden = true;
    box.appendChild(pin);
    function place() {
      var la = parseFloat(lat.value), lo = parseFloat(lon.value);
      if (isNaN(la) || isNaN(lo)) { pin.hidden = true; return; }
      pin.hidden = false;
      pin.style.left = ((lon2x(lo) - x0) / N * 100) + "%";
      pin.style.top = ((lat2y(la) - y0) / N * 100) + "%";
    }
    box.addEventListener("click", function (ev) {
      var r = box.getBoundingClientRect();
      var fx = (ev.clientX - r.left) / r.width * N + x0, fy = (ev.clientY - r.top) / r.height * N + y0;
      lat.value = y2lat(fy).toFixed(5);
      lon.value = x2lon(fx).toFixed(5);
      place();
    });
    lat.addEventListener("change", place);
    lon.addEventListener("change", place);
    place();
  }

  function syncPlace(fieldset) {
    var select = fieldset.querySelector("select");
    var onMap = select.value === "map";
    fieldset.classList.toggle("is-map", onMap);
    if (onMap) { buildMap(fieldset.querySelector(".cp-map")); }
  }

  function init(root) {
    root.querySelectorAll("form.cp-form").forEach(function (form) { syncFrequency(form); });
    root.querySelectorAll("[data-place-picker]").forEach(syncPlace);
  }

  /* Regular trip: the days ticked carry the times of the first day ticked (usually Monday), except
     the times the person typed for that day themselves. */
  function carryTimes(form, changed) {
    var days = [];
    for (var d = 0; d < 7; d++) {
      var box = form.querySelector('[name="d' + d + '"]');
      if (box && box.checked) { days.push(d); }
    }
    if (!days.length) { return; }
    if (changed && /^(out|ret)\d$/.test(changed.name) && changed.name.slice(-1) !== String(days[0])) {
      changed.setAttribute("data-typed", "1");
    }
    ["out", "ret"].forEach(function (kind) {
      var source = form.querySelector('[name="' + kind + days[0] + '"]');
      if (!source || !source.value) { return; }
      days.slice(1).forEach(function (k) {
        var field = form.querySelector('[name="' + kind + k + '"]');
        if (field && field.getAttribute("data-typed") !== "1") { field.value = source.value; }
      });
    });
  }

  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (!el || !el.closest) { return; }
    if (el.name === "frequency" && el.form) { syncFrequency(el.form); }
    if (el.form && el.closest(".cp-week-table")) { carryTimes(el.form, el); }
    var picker = el.closest("[data-place-picker]");
    if (picker && el.tagName === "SELECT") { syncPlace(picker); }
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (ev) { init(ev.target); });

  // Trip confirmations: the phone's position joins the form when it gives one (the form works without).
  document.querySelectorAll("form[data-geolocate]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.located || !navigator.geolocation) { return; }
      event.preventDefault();
      var done = function () { form.dataset.located = "1"; form.submit(); };
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.querySelector("input[name=lat]").value = pos.coords.latitude.toFixed(6);
        form.querySelector("input[name=lon]").value = pos.coords.longitude.toFixed(6);
        done();
      }, done, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    });
  });
})();
