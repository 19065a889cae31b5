/* Operations centre: the live map built on /staff/ops/layers/{name}.geojson, /staff/ops/kpis.json and
   the /staff/ops/stream Server-Sent Events. Every layer is drawn on one canvas (20,000 lights stay smooth). */
(function () {
  "use strict";
  var root = document.getElementById("ops");
  if (!root || !window.L) { return; }

  var COLOURS = {
    on: "#f2b705", dimmed: "#c98a00", off: "#4a4e69", fault: "#d62828", offline: "#8d99ae", unknown: "#c0c6cc",
    "new": "#d62828", confirmed: "#f77f00", scheduled: "#fcbf49", in_progress: "#2a9d8f", resolved: "#2b9348",
    rejected: "#6c757d", duplicate: "#adb5bd", good: "#2b9348", fair: "#f4a261", poor: "#d62828",
    fluid: "#2b9348", dense: "#f77f00", congested: "#d62828", "short": "#2b9348", "long": "#d62828",
    full: "#d62828", ok: "#2a6f97", open: "#d62828", acknowledged: "#f77f00", active: "#e76f51",
    light: "#457b9d", busy: "#1d3557"
  };
  var RADIUS = { lights: 3, reports: 6, sensors: 8, waste_centre: 11, crossings: 10, cabinets: 7, alarms: 9 };
  var text = function (name) { return root.getAttribute("data-text-" + name) || ""; };
  var layersMeta = JSON.parse(root.getAttribute("data-layers"));
  var centre = JSON.parse(root.getAttribute("data-centre"));
  var status = document.getElementById("ops-status");
  var panel = document.getElementById("ops-panel");
  var panelBody = document.getElementById("ops-panel-body");
  var feed = document.getElementById("ops-feed");
  var live = document.getElementById("ops-live");
  var csrf = (document.querySelector("input[name=_csrf_token]") || {}).value || "";

  var renderer = L.canvas({ padding: 0.3, tolerance: 4 });
  var map = L.map("ops-map", { preferCanvas: true, renderer: renderer, zoomControl: true }).setView(centre, 12);
  var tileUrl = root.getAttribute("data-tile-url");
  var mapEl = document.getElementById("ops-map");
  if (tileUrl) {
    var failures = 0;
    var tiles = L.tileLayer(tileUrl, { maxZoom: 19, attribution: root.getAttribute("data-attribution") || "" });
    tiles.on("tileerror", function () { failures += 1; if (failures >= 3) { mapEl.classList.add("tiles-failed"); } });
    tiles.on("tileload", function () { failures = 0; mapEl.classList.remove("tiles-failed"); });
    tiles.addTo(map);
  } else {
    mapEl.classList.add("tiles-failed");
  }

  var state = { layers: {}, features: {}, groups: {}, counts: {} };
  state.map = map;
  window.eclorOps = state;  /* read by the browser tests and by curious staff in the console */

  function colour(s) { return COLOURS[s] || "#2a6f97"; }

  function styleFor(name, feature) {
    var p = feature.properties;
    if (name === "carpool") {
      return { renderer: renderer, color: colour(p.state), weight: Math.min(12, 2 + (p.trips || 1)), opacity: 0.7 };
    }
    if (feature.geometry.type !== "Point") {
      return { renderer: renderer, color: colour(p.state), weight: 2, fillOpacity: 0.12 };
    }
    var level = typeof p.level === "number" ? p.level : null;
    return {
      renderer: renderer, radius: RADIUS[name] || 6, color: "#1b1f1d", weight: name === "lights" ? 0.4 : 1,
      fillColor: colour(p.state), fillOpacity: name === "lights" && level !== null ? 0.35 + 0.65 * level / 100 : 0.9
    };
  }

  function tooltip(meta, feature) {
    var p = feature.properties;
    var parts = [p.label, (meta.states && meta.states[p.state]) || p.state];
    if (typeof p.level === "number") { parts.push(p.level + " %"); }
    if (p.value !== undefined && p.value !== null) { parts.push(p.value + " " + (p.unit || "")); }
    if (p.trips) { parts.push(p.trips); }
    return parts.join(" · ");
  }

  function groupOf(meta) {
    var group = state.groups[meta.name];
    if (!group) {
      group = state.groups[meta.name] = L.featureGroup();
      group.addTo(map);
      control.addOverlay(group, meta.title);
    }
    return group;
  }

  /* A server-side cluster of a tiled layer: a disc sized by its count, coloured by its commonest state;
     a click zooms into its cell. */
  function shortCount(n) {
    if (n < 1000) { return String(n); }
    return (n < 10000 ? (n / 1000).toFixed(1).replace(".", ",") : Math.round(n / 1000)) + " k";
  }
  function clusterMarker(meta, feature, latlng) {
    var p = feature.properties;
    var size = Math.round(Math.min(48, 22 + 7 * Math.log(p.count) / Math.LN10));
    var faulty = (p.states.fault || 0) + (p.states.offline || 0);
    var badge = document.createElement("span");
    badge.textContent = shortCount(p.count);
    badge.style.background = colour(p.state);  /* through the CSSOM: the page's CSP has no inline styles */
    var marker = L.marker(latlng, {
      icon: L.divIcon({ className: "ops-cluster" + (faulty ? " has-fault" : ""), html: badge, iconSize: [size, size] }),
      keyboard: false
    });
    marker.bindTooltip(function () {
      var parts = Object.keys(p.states).map(function (s) { return ((meta.states && meta.states[s]) || s) + " " + p.states[s]; });
      return "<strong>" + escapeHtml(p.label) + "</strong><br>" + escapeHtml(parts.join(" · "));
    }, { sticky: true });
    marker.on("click", function () {
      var b = p.bbox;
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { maxZoom: map.getZoom() + 3 });
    });
    return marker;
  }

  /* Features (and clusters) into ``group``, remembered by id for the live events and the panel. */
  function addFeatures(meta, data, group) {
    var name = meta.name;
    var clusters = 0;
    L.geoJSON(data, {
      pointToLayer: function (feature, latlng) {
        if (feature.properties.kind === "cluster") { clusters += 1; return clusterMarker(meta, feature, latlng); }
        return L.circleMarker(latlng, styleFor(name, feature));
      },
      style: function (feature) { return styleFor(name, feature); },
      onEachFeature: function (feature, layer) {
        group.addLayer(layer);
        if (feature.properties.kind === "cluster") { return; }
        state.layers[name][feature.id] = layer;
        state.features[name][feature.id] = feature;
        layer.bindTooltip(function () { return escapeHtml(tooltip(meta, feature)); }, { sticky: true });
        layer.on("click", function () { openPanel(name, feature.id); });
        if (feature.geometry.type !== "Point" && layer.bringToBack) { layer.bringToBack(); }  /* areas and lines under the points */
      }
    });
    return clusters;
  }

  function draw(meta, data) {
    var name = meta.name;
    var group = groupOf(meta);
    group.clearLayers();
    state.layers[name] = {};
    state.features[name] = {};
    addFeatures(meta, data, group);
    state.counts[name] = data.features.length;
    showCounts();
  }

  /* A layer too big to send whole (meta.tiles): drawn from its tiles, features where few, clusters where
     many. Each map tile's features live in their own group, dropped when Leaflet unloads the tile. */
  var tiled = {};
  state.tiled = tiled;
  function forget(name, tileGroup) {
    tileGroup.eachLayer(function (layer) {
      var id = layer.feature && layer.feature.id;
      if (id !== undefined && state.layers[name][id] === layer) {
        delete state.layers[name][id];
        delete state.features[name][id];
      }
    });
  }
  function fetchTile(meta, coords) {
    var url = meta.tiles.replace("{z}", coords.z).replace("{x}", coords.x).replace("{y}", coords.y);
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }
  function loadTiled(meta) {
    var name = meta.name;
    var group = groupOf(meta);
    state.layers[name] = {};
    state.features[name] = {};
    state.counts[name] = meta.count;
    showCounts();
    var entry = tiled[name] = { tiles: {}, clusters: {} };
    var grid = L.gridLayer({ tileSize: 256, maxZoom: 19, keepBuffer: 1, updateWhenZooming: false });
    grid.createTile = function (coords, done) {
      var key = coords.z + "/" + coords.x + "/" + coords.y;
      var tile = document.createElement("div");
      fetchTile(meta, coords).then(function (data) {
        var tileGroup = L.featureGroup();
        entry.clusters[key] = addFeatures(meta, data, tileGroup);
        if (entry.tiles[key]) { forget(name, entry.tiles[key]); group.removeLayer(entry.tiles[key]); }
        entry.tiles[key] = tileGroup;
        group.addLayer(tileGroup);
        done(null, tile);
      }).catch(function (error) { done(error, tile); });
      return tile;
    };
    grid.on("tileunload", function (event) {
      var c = event.coords, key = c.z + "/" + c.x + "/" + c.y;
      if (entry.tiles[key]) { forget(name, entry.tiles[key]); group.removeLayer(entry.tiles[key]); }
      delete entry.tiles[key];
      delete entry.clusters[key];
    });
    entry.grid = grid;
    group.addLayer(grid);
    return new Promise(function (resolve) { grid.once("load", resolve); });
  }
  /* The counts of the clusters in view follow the changes: their tiles are fetched again. */
  function refreshTiles(name) {
    var entry = tiled[name];
    var meta = layersMeta.filter(function (m) { return m.name === name; })[0];
    Object.keys(entry.tiles).forEach(function (key) {
      if (!entry.clusters[key]) { return; }
      var parts = key.split("/");
      fetchTile(meta, { z: parts[0], x: parts[1], y: parts[2] }).then(function (data) {
        var old = entry.tiles[key];
        if (!old) { return; }  /* unloaded meanwhile */
        var tileGroup = L.featureGroup();
        forget(name, old);
        state.groups[name].removeLayer(old);
        entry.clusters[key] = addFeatures(meta, data, tileGroup);
        entry.tiles[key] = tileGroup;
        state.groups[name].addLayer(tileGroup);
      }).catch(function () { /* kept as it was; the next change tries again */ });
    });
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function showCounts() {
    var parts = layersMeta.filter(function (m) { return state.counts[m.name] !== undefined; })
      .map(function (m) { return m.title + " " + state.counts[m.name]; });
    status.textContent = parts.join(" · ");
  }

  var control = L.control.layers(null, null, { collapsed: window.innerWidth < 760 }).addTo(map);

  function load(meta) {
    if (meta.tiles) { return loadTiled(meta); }
    return fetch("/staff/ops/layers/" + meta.name + ".geojson", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) { draw(meta, data); })
      .catch(function () { status.textContent = text("error"); });
  }

  var reloads = {};
  function reloadSoon(name) {
    if (reloads[name]) { return; }
    reloads[name] = setTimeout(function () {
      delete reloads[name];
      if (tiled[name]) { refreshTiles(name); return; }
      var meta = layersMeta.filter(function (m) { return m.name === name; })[0];
      if (meta) { load(meta); }
    }, tiled[name] ? 3000 : 1500);
  }

  /* --- side panel ------------------------------------------------------------------------- */
  var current = null;
  function openPanel(layer, id) {
    if (!current || current.layer !== layer || current.id !== String(id)) {
      document.getElementById("ops-panel-note").textContent = "";
    }
    current = { layer: layer, id: String(id) };
    panel.hidden = false;
    panelBody.innerHTML = "<p>" + escapeHtml(text("loading")) + "</p>";
    fetch("/staff/ops/panel/" + encodeURIComponent(layer) + "/" + encodeURIComponent(id),
          { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) { panelBody.innerHTML = html; })
      .catch(function () { panelBody.innerHTML = "<p>" + escapeHtml(text("error")) + "</p>"; });
  }
  document.getElementById("ops-close").addEventListener("click", function () { panel.hidden = true; current = null; });

  panelBody.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-range]");
    if (!button) { return; }
    var card = button.closest(".ops-card");
    var query = "?id=" + encodeURIComponent(button.getAttribute("data-entity")) + "&range=" + button.getAttribute("data-range");
    card.querySelector(".ops-chart").src = "/staff/ops/history.svg" + query;
    card.querySelector(".ops-csv").href = "/staff/ops/history.csv" + query;
    card.querySelectorAll("button[data-range]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
  });

  panelBody.addEventListener("submit", function (event) {
    var form = event.target.closest("form.ops-action");
    if (!form) { return; }
    event.preventDefault();
    var result = document.getElementById("ops-panel-note");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
                         headers: { "x-csrftoken": csrf } })
      .then(function (r) {
        button.disabled = false;
        if (r.ok) {  /* the domain's page after its redirect; a refused form comes back as a 4xx */
          result.classList.remove("is-error");
          result.textContent = form.getAttribute("data-done") || "OK";
          return;
        }
        return r.text().then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var message = doc.querySelector(".field-error, .error, .errors, .alert-error, [role=alert], main p");
          result.classList.add("is-error");
          result.textContent = message ? message.textContent.trim() : text("error");
        });
      })
      .catch(function () { button.disabled = false; result.classList.add("is-error"); result.textContent = text("error"); });
  });

  /* --- KPI tiles -------------------------------------------------------------------------- */
  function kpiValue(value, unit) {
    if (value === null || value === undefined) { return "—"; }
    if (typeof value === "object") { return Object.keys(value).map(function (k) { return value[k]; }).join(" / "); }
    return value + (unit ? " " + unit : "");
  }
  function loadKpis() {
    return fetch("/staff/ops/kpis.json", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      var box = document.getElementById("ops-kpis");
      box.innerHTML = "";
      Object.keys(data.communes).forEach(function (insee) {
        var commune = data.communes[insee];
        var tile = document.createElement("button");
        tile.type = "button";
        tile.className = "ops-kpi";
        tile.setAttribute("data-insee", insee);
        var html = "<strong>" + escapeHtml(commune.name) + "</strong>";
        data.kpis.forEach(function (k) {
          html += "<span>" + escapeHtml(k.title) + " : <b>" + escapeHtml(kpiValue(commune.kpis[k.name], k.unit)) + "</b></span>";
        });
        tile.innerHTML = html;
        tile.addEventListener("click", function () {
          map.setView([commune.lat, commune.lon], 14);
          openPanel("communes", insee);
        });
        box.appendChild(tile);
      });
    }).catch(function () { /* the tiles keep their last figures; the next event reloads them */ });
  }

  /* --- live events ------------------------------------------------------------------------ */
  // An event names the layer of its object; one that is shown on another layer (a sensor that went
  // offline, named "sensors") is found there by its id.
  function layerOf(event) {
    if ((state.features[event.layer] || {})[event.feature_id]) { return event.layer; }
    for (var name in state.features) {
      if (state.features[name][event.feature_id]) { return name; }
    }
    return event.layer;
  }
  function applyEvent(event) {
    event = Object.assign({}, event, { layer: layerOf(event) });
    var feature = (state.features[event.layer] || {})[event.feature_id];
    var payload = event.payload || {};
    if (feature && payload.state) {
      feature.properties.state = payload.state;
      if (payload.level !== undefined && payload.level !== null) { feature.properties.level = payload.level; }
      var layer = state.layers[event.layer][event.feature_id];
      layer.setStyle(styleFor(event.layer, feature));
      if (tiled[event.layer]) { reloadSoon(event.layer); }  /* the clusters in view count it too */
    } else if (state.groups[event.layer]) {
      reloadSoon(event.layer);
    }
    if (current && current.layer === event.layer && current.id === String(event.feature_id)) {
      openPanel(current.layer, current.id);
    }
  }
  var feedTimer = null;
  function addToFeed(event) {
    var item = document.createElement("li");
    var when = new Date(event.at);
    var meta = layersMeta.filter(function (m) { return m.name === event.layer; })[0];
    item.innerHTML = "<time>" + when.toLocaleTimeString() + "</time><span>" +
      escapeHtml((meta ? meta.title : event.layer) + " · " + event.feature_id + " · " + event.kind) + "</span>";
    item.addEventListener("click", function () { openPanel(event.layer, event.feature_id); });
    feed.insertBefore(item, feed.firstChild);
    while (feed.children.length > 100) { feed.removeChild(feed.lastChild); }
    if (!feedTimer) { feedTimer = setTimeout(function () { feedTimer = null; loadKpis(); }, 5000); }
  }
  function connect() {
    var source = new EventSource("/staff/ops/stream");
    source.onopen = function () { live.textContent = "● " + text("live"); };
    source.onerror = function () { live.textContent = text("reconnecting"); };
    source.onmessage = function (message) {
      var event = JSON.parse(message.data);
      applyEvent(event);
      if (event.kind !== "reading" && !(event.layer === "lights" && event.kind === "state")) {
        addToFeed(event);
      }
    };
  }

  // The page is ready once every layer and the commune tiles are drawn.
  Promise.all(layersMeta.map(load).concat([loadKpis()])).then(function () {
    connect();
    var open = root.getAttribute("data-open");
    if (open && open.indexOf("/") > 0) { openPanel(open.split("/")[0], open.split("/").slice(1).join("/")); }
    root.setAttribute("data-ready", "true");
  });
}());
