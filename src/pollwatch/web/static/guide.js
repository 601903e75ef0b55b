/* The voter guide in the browser: "near me" measured on the phone, the map on request, and
 * "measured N min ago" kept current. Everything works without this file; it only adds.
 * No request leaves our origin: the stations come from /guide/{election}/stations.json,
 * the map is the vendored Leaflet, tiles (when configured) from /tiles/. */
(function () {
  "use strict";

  function km(lat1, lon1, lat2, lon2) { // haversine, mean Earth radius
    var r = Math.PI / 180, dp = (lat2 - lat1) * r, dl = (lon2 - lon1) * r;
    var a = Math.sin(dp / 2) * Math.sin(dp / 2) +
      Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(dl / 2) * Math.sin(dl / 2);
    return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  var lang = new URLSearchParams(location.search).get("lang");
  var suffix = lang ? "?lang=" + encodeURIComponent(lang) : "";
  var stationsCache = null;

  function loadStations(url) {
    if (!stationsCache) {
      stationsCache = fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) { throw new Error("stations " + r.status); }
        return r.json();
      });
    }
    return stationsCache;
  }

  // --- near me ------------------------------------------------------------------------
  var near = document.getElementById("near-me");
  if (near && "geolocation" in navigator) {
    near.hidden = false;
    var status = document.getElementById("near-status");
    var list = document.getElementById("near-results");
    near.addEventListener("click", function () {
      status.textContent = near.dataset.looking;
      document.getElementById("near-note").hidden = false;
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lat = pos.coords.latitude, lon = pos.coords.longitude;
        loadStations(near.dataset.stations).then(function (data) {
          var rows = data.stations.map(function (s) {
            return { s: s, d: km(lat, lon, s[4], s[5]) };
          }).sort(function (a, b) { return a.d - b.d; }).slice(0, 10);
          list.textContent = "";
          if (!rows.length) { status.textContent = near.dataset.none; return; }
          status.textContent = "";
          rows.forEach(function (row) {
            var li = document.createElement("li"), a = document.createElement("a");
            a.href = near.dataset.base + encodeURIComponent(row.s[0]) + suffix;
            a.textContent = row.s[1] || row.s[0];
            var info = document.createElement("span");
            info.className = "muted";
            info.textContent = " · " + [row.s[3], row.s[2]].filter(Boolean).join(", ") +
              " · " + row.d.toFixed(1) + " " + near.dataset.km;
            li.appendChild(a); li.appendChild(info); list.appendChild(li);
          });
        }).catch(function () { status.textContent = near.dataset.none; });
      }, function () { status.textContent = near.dataset.denied; },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 });
    });
  }

  // --- the map, loaded only when asked for (Leaflet is 150 KB) -------------------------
  var show = document.getElementById("show-map");
  var box = document.getElementById("map-box");
  if (box) { box.hidden = false; }
  if (show) {
    show.hidden = false;
    show.addEventListener("click", function () {
      show.disabled = true;
      var css = document.createElement("link");
      css.rel = "stylesheet"; css.href = "/static/vendor/leaflet/leaflet.css";
      document.head.appendChild(css);
      var js = document.createElement("script");
      js.src = "/static/vendor/leaflet/leaflet.js";
      js.onload = function () { drawMap(show); };
      document.head.appendChild(js);
    });
  }

  function points(button) {
    if (button.dataset.lat) {
      return Promise.resolve([[+button.dataset.lat, +button.dataset.lon, button.dataset.name, null]]);
    }
    var found = Array.prototype.slice.call(document.querySelectorAll("#result-groups li[data-lat]"));
    if (found.length) {
      return Promise.resolve(found.map(function (li) {
        return [+li.dataset.lat, +li.dataset.lon, li.dataset.name, li.querySelector("a").href];
      }));
    }
    return loadStations(button.dataset.stations).then(function (data) {
      return data.stations.slice(0, 5000).map(function (s) {
        return [s[4], s[5], s[1] || s[0], button.dataset.base + encodeURIComponent(s[0]) + suffix];
      });
    });
  }

  function drawMap(button) {
    var el = document.getElementById("map");
    el.hidden = false;
    button.hidden = true;
    var map = L.map(el, { zoomControl: true, attributionControl: !!button.dataset.tiles });
    if (button.dataset.tiles) {
      L.tileLayer("/tiles/{z}/{x}/{y}.png", {
        maxZoom: 19, attribution: "© OpenStreetMap"
      }).addTo(map);
    }
    points(button).then(function (pts) {
      var bounds = [];
      pts.forEach(function (p) {
        var m = L.circleMarker([p[0], p[1]], { radius: 7, color: "#1f5fa8", weight: 2, fillOpacity: 0.7 });
        var label = document.createElement(p[3] ? "a" : "span");
        label.textContent = p[2];
        if (p[3]) { label.href = p[3]; }
        m.bindPopup(label).addTo(map);
        bounds.push([p[0], p[1]]);
      });
      if (bounds.length === 1) { map.setView(bounds[0], 15); }
      else if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15 }); }
      else { map.setView([20, 0], 1); }
    });
  }

  // --- a new public status reloads the page (checked every two minutes while visible) ---
  var live = document.getElementById("status");
  if (live && live.dataset.json) {
    setInterval(function () {
      if (document.hidden) { return; }
      fetch(live.dataset.json, { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (data) {
        if (!data) { return; }
        var s = data.status;
        if ((s.updated_at || "") !== live.dataset.updated || s.as_of !== live.dataset.asOf) {
          location.reload();
        }
      }).catch(function () { /* offline: keep what is shown */ });
    }, 120000);
  }

  // --- "measured N min ago" stays true while the page is open --------------------------
  var ago = document.querySelector("time[data-ago]");
  if (ago) {
    var tick = function () {
      var minutes = Math.max(0, Math.floor((Date.now() - Date.parse(ago.dateTime)) / 60000));
      ago.textContent = ago.dataset.ago.replace("{n}", String(minutes));
    };
    tick();
    setInterval(tick, 30000);
  }
})();
