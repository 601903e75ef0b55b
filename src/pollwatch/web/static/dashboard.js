/* The coordinators' live dashboard (no framework, no chart library, no build step).
 *
 * The page arrives with the station registry rendered by the server. This script fetches the
 * dashboard's JSON endpoints, draws the charts as SVG, the stations on a Leaflet map over a
 * locally served world outline (no tile server: no third-party requests), and listens to the
 * server-sent event stream; each event schedules one debounced re-fetch, so a burst of
 * reports costs one refresh. State-changing calls (resolving a conflict, the tolerance) send
 * the CSRF cookie's value in X-CSRF-Token. Text from reports is only ever set as textContent.
 */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root) { return; }
  var election = root.getAttribute("data-election");
  var lang = root.getAttribute("data-lang") || "en";
  // Viewers read conflicts but cannot resolve them (the server refuses; no button offers it).
  var mayResolve = root.getAttribute("data-may-resolve") === "yes";
  var api = "/api/v1/elections/" + encodeURIComponent(election);
  var strings = {};
  try { strings = JSON.parse(document.getElementById("dashboard-i18n").textContent); } catch (e) { strings = {}; }
  function t(msg) { return strings[msg] || msg; }
  var SVG = "http://www.w3.org/2000/svg";

  // --- small helpers ---------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) { Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); }); }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function setText(id, value) {
    var node = document.getElementById(id);
    if (node) { node.textContent = value === null || value === undefined ? "–" : String(value); }
  }
  function fmtTime(iso) {
    if (!iso) { return "–"; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return String(iso); }
    return d.toLocaleString(lang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }
  // Station local time: each station's IANA zone from the coverage answer (UTC without one).
  var zones = {};
  function fmtLocal(iso, zone) {
    if (!iso) { return "–"; }
    if (!zone) { return fmtTime(iso); }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return String(iso); }
    try {
      return d.toLocaleString(lang, { timeZone: zone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
    } catch (e) { return fmtTime(iso); }
  }
  function fmtAge(minutes) {
    var m = Number(minutes) || 0;
    if (m < 60) { return m + " " + t("min"); }
    var h = Math.floor(m / 60);
    if (h < 48) { return h + " " + t("h") + " " + (m % 60) + " " + t("min"); }
    return Math.floor(h / 24) + " " + t("d") + " " + (h % 24) + " " + t("h");
  }
  function fmtNum(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString(lang); }
  function fmtPct(x, digits) { return x === null || x === undefined ? "–" : (x * 100).toFixed(digits === undefined ? 1 : digits) + " %"; }
  function show(value) {
    if (value === null || value === undefined) { return "–"; }
    if (Array.isArray(value)) { return value.map(show).join(", "); }
    if (typeof value === "object") {
      return Object.keys(value).map(function (k) {
        var v = value[k];
        return k + ": " + (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) ? fmtTime(v) : show(v));
      }).join(", ");
    }
    return String(value);
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)pollwatch_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  var source = null;
  function sessionEnded() {
    document.getElementById("session-ended").classList.remove("hidden");
    if (source) { source.close(); source = null; }
    live.textContent = "–";
    live.className = "live off";
  }
  function getJSON(path) {
    return fetch(api + path, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { sessionEnded(); }
        return r.json().catch(function () { return {}; }).then(function (body) {
          return { ok: r.ok, status: r.status, body: body };
        });
      });
  }
  function send(method, path, payload) {
    return fetch(api + path, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(payload)
    }).then(function (r) {
      if (r.status === 401) { sessionEnded(); }
      return r.json().catch(function () { return {}; }).then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    });
  }
  function errorText(answer) {
    var e = answer.body && answer.body.error;
    return e ? e.message : "HTTP " + answer.status;
  }

  // --- station table and totals ----------------------------------------------------------
  var tbody = document.querySelector("#stations tbody");
  var stationsByID = {};
  var stationsVersion = null;  // the version of the last station answer (null: ask for all)
  function stationRow(s) {
    var row = tbody.querySelector("tr[data-station='" + CSS.escape(s.station) + "']");
    if (row) { return row; }
    row = el("tr", { "data-station": s.station });
    row.appendChild(el("th", { scope: "row" }, s.station));
    row.appendChild(el("td", null, s.name || ""));
    row.appendChild(el("td", null, [s.city, s.country].filter(Boolean).join(", ")));
    ["status", "last_report_at", "queue", "reports", "counts", "incidents", "protocols", "in_sample"].forEach(function (col) {
      var numeric = ["queue", "reports", "counts", "incidents", "protocols"].indexOf(col) >= 0;
      row.appendChild(el("td", numeric ? { "data-col": col, "class": "num" } : { "data-col": col }, "–"));
    });
    tbody.appendChild(row);
    return row;
  }
  function cell(row, col, text, cls) {
    var td = row.querySelector("td[data-col='" + col + "']");
    if (!td) { return false; }
    var changed = td.textContent !== text;
    td.textContent = text;
    if (cls !== undefined) { td.className = cls; }
    return changed;
  }
  function renderStations(data) {
    var totals = data.totals || {};
    setText("t-stations", fmtNum(totals.stations));
    setText("t-reporting", fmtNum(totals.reporting));
    setText("t-opened", fmtNum(totals.opened));
    setText("t-closed", fmtNum(totals.closed));
    setText("t-reports", fmtNum(totals.reports));
    setText("t-incidents", fmtNum(totals.incidents));
    // conflicts_pending > 0: some stations' conflicts are still being re-checked.
    setText("t-conflicts", fmtNum(totals.conflicts) + (totals.conflicts_pending ? "+" : ""));
    if (typeof data.tolerance === "number" && document.activeElement !== tolerance && !toleranceTouched) {
      tolerance.value = String(Math.round(data.tolerance * 1000) / 10);
    }
    // A refresh asks only for the stations changed since the last answer's version
    // (?since=); the sample coverage is counted over every station the page knows.
    if (typeof data.version === "number") { stationsVersion = data.version; }
    (data.stations || []).forEach(function (s) {
      stationsByID[s.station] = s;
      var row = stationRow(s);
      var changed = false;
      changed = cell(row, "status", s.status ? t(s.status) : "–", s.status ? "status-" + s.status : "") || changed;
      changed = cell(row, "last_report_at", fmtLocal(s.last_report_at, zones[s.station])) || changed;
      var lastCell = row.querySelector("td[data-col='last_report_at']");
      if (lastCell) { lastCell.setAttribute("data-at", s.last_report_at || ""); }
      changed = cell(row, "queue", s.queue === null || s.queue === undefined ? "–" : fmtNum(s.queue), "num") || changed;
      ["reports", "counts", "incidents", "protocols"].forEach(function (col) {
        changed = cell(row, col, fmtNum(s[col] || 0), "num") || changed;
      });
      cell(row, "in_sample", s.in_sample ? t("yes") : "");
      if (changed && renderedOnce) {
        row.classList.add("fresh");
        window.setTimeout(function () { row.classList.remove("fresh"); }, 4000);
      }
    });
    var sampled = 0, sampledReporting = 0, sampledProtocols = 0;
    Object.keys(stationsByID).forEach(function (id) {
      var s = stationsByID[id];
      if (s.in_sample) {
        sampled += 1;
        if (s.reports > 0) { sampledReporting += 1; }
        if (s.protocols > 0) { sampledProtocols += 1; }
      }
    });
    var coverage = document.getElementById("sample-coverage");
    if (sampled === 0) {
      coverage.textContent = t("No sample drawn yet.");
    } else {
      coverage.textContent = t("in sample") + ": " + sampled + " · " + t("reporting") + ": " + sampledReporting + "/" + sampled +
        " · " + t("with protocol") + ": " + sampledProtocols + "/" + sampled;
    }
    renderMap();
    filterStations();
    renderedOnce = true;
  }
  var filter = document.getElementById("station-filter");
  function filterStations() {
    var query = filter.value.trim().toLowerCase();
    var rows = tbody.querySelectorAll("tr"), shown = 0;
    Array.prototype.forEach.call(rows, function (row) {
      var match = !query || row.textContent.toLowerCase().indexOf(query) >= 0;
      row.classList.toggle("hidden", !match);
      if (match) { shown += 1; }
    });
    document.getElementById("station-filter-count").textContent = query ? shown + " / " + rows.length : "";
  }
  filter.addEventListener("input", filterStations);
  var renderedOnce = false;

  // --- charts ----------------------------------------------------------------------------
  function niceMax(v) {
    if (v <= 5) { return 5; }
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * p >= v) { return steps[i] * p; } }
    return 10 * p;
  }
  /* The points with the hours between them that had nothing filled in as zeros. */
  function everyHour(points) {
    var byHour = {}, first = null, last = null;
    points.forEach(function (p) {
      var ms = new Date(p.hour).getTime();
      if (isNaN(ms)) { return; }
      byHour[ms] = p;
      first = first === null ? ms : Math.min(first, ms);
      last = last === null ? ms : Math.max(last, ms);
    });
    if (first === null || (last - first) / 3600000 > 24 * 14) { return points; }
    var filled = [];
    for (var ms = first; ms <= last; ms += 3600000) {
      filled.push(byHour[ms] || { hour: new Date(ms).toISOString() });
    }
    return filled;
  }
  /* Chart hours: in the stations' time zone when they all share one (what a person there
   * expects), else in UTC (stations in several zones share no local clock). */
  var chartZone = null;
  function hourLabel(hour) {
    if (chartZone) {
      try {
        return new Intl.DateTimeFormat("en-GB", { timeZone: chartZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(hour);
      } catch (e) { /* an unknown zone: UTC below */ }
    }
    return String(hour.getUTCHours()).padStart(2, "0") + ":00";
  }
  /* A bar chart: series = [{key, cls}], the first series is the bar, later ones overlay it. */
  function barChart(figure, points, series, label) {
    var old = figure.querySelector("svg");
    if (old) { figure.removeChild(old); }
    var W = 640, H = 220, L = 44, R = 8, T = 10, B = 28;
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": label });
    if (!points.length) {
      chart.appendChild(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, t("No data yet.")));
      figure.insertBefore(chart, figure.firstChild);
      return;
    }
    points = everyHour(points);
    var max = niceMax(Math.max.apply(null, points.map(function (p) { return p[series[0].key] || 0; })));
    var plotW = W - L - R, plotH = H - T - B;
    for (var g = 0; g <= 5; g++) {
      var y = T + plotH - plotH * g / 5;
      chart.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y, "class": "grid" }));
      chart.appendChild(svg("text", { x: L - 4, y: y + 4, "text-anchor": "end" }, fmtNum(max * g / 5)));
    }
    // At least 12 slots, so one busy hour is a bar, not a wall.
    var step = plotW / Math.max(points.length, 12), barW = Math.max(1, step * 0.8);
    var labelEvery = Math.max(1, Math.ceil(points.length / 12));
    points.forEach(function (p, i) {
      var x = L + i * step + (step - barW) / 2;
      var hour = new Date(p.hour);
      var hourText = isNaN(hour.getTime()) ? String(p.hour) : hourLabel(hour);
      series.forEach(function (s) {
        var v = p[s.key] || 0;
        var h = plotH * v / max;
        var bar = svg("rect", { x: x.toFixed(1), y: (T + plotH - h).toFixed(1), width: barW.toFixed(1), height: h.toFixed(1), "class": "bar " + s.cls });
        bar.appendChild(svg("title", {}, hourText + " " + (chartZone || "UTC") + ": " + fmtNum(v) + " " + t(s.label)));
        chart.appendChild(bar);
      });
      if (i % labelEvery === 0) {
        chart.appendChild(svg("text", { x: (x + barW / 2).toFixed(1), y: H - 10, "text-anchor": "middle" }, hourText));
      }
    });
    chart.appendChild(svg("line", { x1: L, x2: W - R, y1: T + plotH, y2: T + plotH, "class": "axis" }));
    figure.insertBefore(chart, figure.firstChild);
  }

  // --- incidents feed --------------------------------------------------------------------
  var feed = document.getElementById("incidents");
  function renderActivity(data) {
    barChart(document.getElementById("chart-reports"), data.reports_per_hour || [],
      [{ key: "reports", cls: "", label: "reports" }, { key: "incidents", cls: "dark", label: "incidents" }], t("reports"));
    barChart(document.getElementById("chart-entered"), data.entered_per_hour || [],
      [{ key: "entered", cls: "entered", label: "people entered" }], t("people entered"));
    var incidents = data.incidents || [];
    var known = {};
    Array.prototype.forEach.call(feed.querySelectorAll("li[data-id]"), function (li) { known[li.getAttribute("data-id")] = li; });
    if (!incidents.length) {
      clear(feed);
      feed.appendChild(el("li", { "class": "muted" }, t("No incidents yet.")));
      return;
    }
    Array.prototype.forEach.call(feed.querySelectorAll("li:not([data-id])"), function (li) { feed.removeChild(li); });
    // Newest first; only new items are inserted, so screen readers announce just those.
    var before = feed.firstChild;
    incidents.forEach(function (inc) {
      if (known[inc.id]) { before = known[inc.id].nextSibling; delete known[inc.id]; return; }
      var li = el("li", { "data-id": inc.id });
      var head = el("div");
      head.appendChild(el("span", { "class": "cat" }, t(inc.category)));
      head.appendChild(document.createTextNode(" · "));
      head.appendChild(el("span", null, inc.station));
      head.appendChild(document.createTextNode(" · "));
      head.appendChild(el("a", { href: followUp(inc.id) }, t("Follow up")));
      li.appendChild(head);
      if (inc.text) { li.appendChild(el("div", { "class": "text" }, inc.text)); }
      var meta = el("div", { "class": "meta" }, fmtLocal(inc.observed_at, zones[inc.station]));
      if (inc.photo) {
        meta.appendChild(document.createTextNode(" · "));
        meta.appendChild(el("a", { href: "/api/v1/reports/" + encodeURIComponent(inc.id) + "/photo" }, t("photo")));
      }
      li.appendChild(meta);
      feed.insertBefore(li, before);
    });
    Object.keys(known).forEach(function (id) { feed.removeChild(known[id]); });
  }

  // --- conflicts -------------------------------------------------------------------------
  var conflictsBox = document.getElementById("conflicts");
  var conflictsShown = document.getElementById("conflicts-shown");
  // The first CONFLICT_PAGE conflicts by priority (open ones first) and the totals: a
  // million reports hold tens of thousands of conflicts, megabytes the page cannot show.
  var CONFLICT_PAGE = 200;
  function renderConflicts(data) {
    clear(conflictsBox);
    var list = data.conflicts || [];
    if (conflictsShown && typeof data.total === "number") {
      conflictsShown.textContent = conflictsShown.getAttribute("data-label") + ": " + fmtNum(list.length) + " / " + fmtNum(data.total);
      conflictsShown.classList.toggle("hidden", data.total <= list.length);
    }
    if (!list.length) { conflictsBox.appendChild(el("p", { "class": "muted" }, t("No conflicts."))); return; }
    list.forEach(function (c) {
      var box = el("div", { "class": "conflict" + (c.resolved ? " resolved" : ""), "data-station": c.station, "data-field": c.field });
      box.appendChild(el("strong", null, c.station + " · " + c.field));
      var values = el("div", { "class": "values" });
      var seen = {};
      // A count-window conflict is resolved by keeping one report (its id); a figure or a
      // status by choosing a value, offered once however many observers sent it.
      var byReport = c.field.indexOf("window:") === 0;
      (c.values || []).forEach(function (v) {
        var key = byReport ? v.report_id : JSON.stringify(v.value);
        if (seen[key]) { return; }
        seen[key] = true;
        values.appendChild(el("span", { "class": "value" }, show(v.value)));
        if (!c.resolved && mayResolve) {
          var button = el("button", { type: "button", "class": "small secondary resolve" }, t("Use this value"));
          button.addEventListener("click", function () { resolve(c, byReport ? v.report_id : v.value, box); });
          values.appendChild(button);
        }
      });
      box.appendChild(values);
      if (c.resolved) {
        box.appendChild(el("p", { "class": "muted" }, t("resolved") + ": " + show(c.resolved.value) + " · " +
          t("Resolved by") + " " + c.resolved.by + " · " + fmtTime(c.resolved.at)));
      }
      conflictsBox.appendChild(box);
    });
  }
  function resolve(conflict, value, box) {
    Array.prototype.forEach.call(box.querySelectorAll("button"), function (b) { b.disabled = true; });
    send("POST", "/stations/" + encodeURIComponent(conflict.station) + "/resolutions", { field: conflict.field, value: value })
      .then(function (answer) {
        if (!answer.ok) {
          box.appendChild(el("p", { "class": "note error", role: "alert" }, t("Could not save:") + " " + errorText(answer)));
          Array.prototype.forEach.call(box.querySelectorAll("button"), function (b) { b.disabled = false; });
          return;
        }
        refreshNow();
      });
  }

  // --- quick count -----------------------------------------------------------------------
  var pvtBox = document.getElementById("pvt");
  function renderPvt(answer) {
    clear(pvtBox);
    if (!answer.ok) { pvtBox.appendChild(el("p", { "class": "muted" }, t("No quick count yet:") + " " + errorText(answer))); return; }
    var d = answer.body;
    if (d.ready === false) {
      pvtBox.appendChild(el("p", { id: "pvt-pending" }, t("Not enough sampled protocols yet for a quick count.") + " " + (d.reason || "")));
    } else {
      var table = el("table", { "class": "grid narrow" });
      var head = el("tr");
      ["", t("Estimate"), t("95% interval"), t("If every missing protocol gave it nothing / everything"), t("Official")].forEach(function (h) { head.appendChild(el("th", { scope: "col" }, h)); });
      var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
      var body = el("tbody");
      var rows = (d.shares || []).slice();
      if (d.turnout) { rows.push(d.turnout); }
      rows.forEach(function (r) {
        var tr = el("tr");
        var isTurnout = String(r.name).indexOf("turnout") === 0;
        tr.appendChild(el("th", { scope: "row" }, isTurnout ? t("turnout") + String(r.name).slice(7) : r.name));
        tr.appendChild(el("td", { "class": "num" }, fmtPct(r.estimate)));
        tr.appendChild(el("td", { "class": "num" }, fmtPct(r.low95) + "–" + fmtPct(r.high95)));
        tr.appendChild(el("td", { "class": "num" }, fmtPct(r.bound_low) + "–" + fmtPct(r.bound_high)));
        tr.appendChild(el("td", { "class": "num" }, fmtPct(r.official)));
        body.appendChild(tr);
      });
      table.appendChild(body);
      pvtBox.appendChild(table);
      if (d.joint) {
        var joint = d.joint.rejected
          ? t("The differences between the official figures and the quick count are larger than sampling error explains")
          : t("The differences between the official figures and the quick count are within what sampling error explains");
        pvtBox.appendChild(el(d.joint.rejected ? "strong" : "p", { id: "pvt-joint" }, joint + " (" + d.joint.p_text + ")."));
      }
      if (d.nonresponse && d.nonresponse.p_text) {
        pvtBox.appendChild(el("p", { id: "pvt-nonresponse" }, (d.nonresponse.doubtful
          ? t("In the official figures, the sampled stations whose protocol is missing differ from those that reported: read the bounds.")
          : t("In the official figures, the sampled stations whose protocol is missing look like those that reported.")) + " (" + d.nonresponse.p_text + ")"));
      }
    }
    if (d.strata) {
      var parts = d.strata.map(function (s) { return s.stratum + " " + s.reported + "/" + s.sampled; });
      pvtBox.appendChild(el("p", { "class": "muted", id: "pvt-strata" }, t("Sampled protocols received, per stratum") + ": " + parts.join(" · ")));
    }
  }

  // --- comparison and tolerance ----------------------------------------------------------
  var tolerance = document.getElementById("tolerance");
  var toleranceTouched = false;
  tolerance.addEventListener("input", function () { toleranceTouched = true; });
  function toleranceValue() {
    var v = parseFloat(tolerance.value);
    return isNaN(v) ? null : Math.min(100, Math.max(0, v)) / 100;
  }
  function renderComparison(data) {
    var body = document.querySelector("#comparison tbody");
    clear(body);
    (data.rows || []).forEach(function (r) {
      var tr = el("tr", { "data-station": r.station });
      if (r.flag) { tr.className = "flagged"; }
      var arrow = r.direction === "above" ? " ↑" : (r.direction === "below" ? " ↓" : "");
      tr.appendChild(el("th", { scope: "row" }, r.station + (r.flag ? " ⚑" + arrow : "")));
      tr.appendChild(el("td", null, r.name || ""));
      tr.appendChild(el("td", { "class": "num" }, fmtNum(r.counted)));
      tr.appendChild(el("td", { "class": "num" }, fmtNum(r.independent)));
      tr.appendChild(el("td", null, r.low === null || r.low === undefined ? "–" : fmtNum(r.low) + "–" + fmtNum(r.high)));
      tr.appendChild(el("td", { "class": "num" }, fmtNum(r.official)));
      tr.appendChild(el("td", { "class": "num" }, fmtNum(r.difference)));
      // Signed: (official − independent) / independent; "+" means more official ballots.
      tr.appendChild(el("td", { "class": "num" }, (r.relative > 0 ? "+" : "") + fmtPct(r.relative)));
      tr.appendChild(el("td", null, (r.protocol_mismatches || []).join(", ")));
      // Home and early ballots against their registers: a flag of its own, not the door count's.
      tr.appendChild(el("td", { "data-col": "registers" }, (r.registers || []).map(function (c) {
        return t(c.kind) + " " + fmtNum(c.official) + " / " + fmtNum(c.register) + (c.flagged ? " ⚑" : "");
      }).join(", ")));
      // The hours the estimate extrapolated over: opening hours no count window covers.
      var cov = coverageByStation[r.station];
      tr.appendChild(el("td", { "data-col": "filled" }, cov && cov.filled.length ? cov.filled.map(function (f) { return f.local; }).join(", ") : (cov && cov.timezone ? t("none") : "–")));
      if (r.flag) { tr.setAttribute("aria-label", t("flagged") + " " + r.station); }
      body.appendChild(tr);
    });
    var totals = data.totals;
    var baseline = document.getElementById("comparison-baseline");
    if (baseline && totals) {
      baseline.textContent = t("Counted long enough to test") + ": " + totals.tested + " · " +
        t("An honest election would show about this many discrepancies by chance at this coverage:") + " " + totals.expected_by_chance + " · " +
        t("Discrepancies that remain after false-discovery control (Benjamini–Hochberg, 5 %):") + " " + totals.discoveries +
        (totals.registers_compared ? " · " + t("Home or early ballots beyond their register:") + " " + totals.register_flagged + " / " + totals.registers_compared : "");
    }
  }
  document.getElementById("tolerance-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = toleranceValue();
    var status = document.getElementById("tolerance-status");
    if (value === null) { return; }
    send("PUT", "/settings", { tolerance: value }).then(function (answer) {
      status.textContent = answer.ok ? t("Saved.") : t("Could not save:") + " " + errorText(answer);
      if (answer.ok) { toleranceTouched = false; refreshNow(); }
    });
  });

  // --- map -------------------------------------------------------------------------------
  var map = null, markers = null;
  function markerColour(s) {
    if (s.incidents > 0) { return "#a3262a"; }
    if (s.status === "closed") { return "#5b3c88"; }
    if (s.status === "opened" || s.status === "resumed") { return "#22703a"; }
    if (s.reports > 0) { return "#1f5fa8"; }
    return "#b9c0c8";
  }
  function initMap() {
    if (map || typeof window.L === "undefined") { return; }
    var L = window.L;
    map = L.map("map", { worldCopyJump: true, minZoom: 1, maxZoom: 12, attributionControl: true });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution("Natural Earth");
    map.setView([30, 20], 2);
    fetch("/static/vendor/world-atlas/countries-110m.geojson").then(function (r) { return r.json(); }).then(function (geo) {
      L.geoJSON(geo, { interactive: false, style: { color: "#9aa3ad", weight: 0.6, fillColor: "#fbfbf8", fillOpacity: 1 } }).addTo(map).bringToBack();
    }).catch(function () { /* the markers still show on the plain background */ });
    markers = L.layerGroup().addTo(map);
  }
  var fitted = false;
  function renderMap() {
    initMap();
    if (!map) { return; }
    var L = window.L;
    markers.clearLayers();
    var bounds = [], missing = 0;
    Object.keys(stationsByID).forEach(function (id) {
      var s = stationsByID[id];
      if (typeof s.lat !== "number" || typeof s.lon !== "number") { missing += 1; return; }
      var colour = markerColour(s);
      var marker = L.circleMarker([s.lat, s.lon], { radius: 6, color: "#1d2329", weight: 1, fillColor: colour, fillOpacity: 0.9, className: "station-marker" });
      var tip = el("div");
      tip.appendChild(el("strong", null, s.station));
      if (s.name) { tip.appendChild(el("div", null, s.name)); }
      tip.appendChild(el("div", null, t("reports") + ": " + (s.reports || 0) + (s.status ? " · " + t(s.status) : "")));
      marker.bindTooltip(tip);
      markers.addLayer(marker);
      bounds.push([s.lat, s.lon]);
    });
    var note = document.getElementById("map-note");
    note.textContent = t("Stations on the map:") + " " + bounds.length + (missing ? " · " + t("without coordinates:") + " " + missing : "");
    if (!fitted && bounds.length) {
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 5 });
      fitted = true;
    }
  }

  // --- alerts, open incidents, coverage (issue 13) ----------------------------------------
  function followUp(id) { return "/coordinate/" + encodeURIComponent(election) + "/incidents/" + encodeURIComponent(id) + "?lang=" + encodeURIComponent(lang); }
  function desk(station) { return "/coordinate/" + encodeURIComponent(election) + "/stations/" + encodeURIComponent(station) + "/hotline?lang=" + encodeURIComponent(lang); }
  var alertsBox = document.getElementById("alerts");
  function alertText(a) {
    var d = a.details || {};
    if (a.kind === "no_opening") { return t("opens at") + " " + (d.local_opens || fmtLocal(a.since, a.timezone)) + (d.reports_today ? " · " + t("reports") + ": " + d.reports_today : ""); }
    if (a.kind === "silence") { return t("last report") + " " + fmtLocal(a.since, a.timezone) + " · " + fmtAge(d.minutes); }
    if (a.kind === "count_gap") { return (d.local || "") + " · " + fmtAge(d.minutes); }
    if (a.kind === "revoked_sending") { return d.code_name + " · " + t("attempts") + ": " + d.attempts + " · " + t("last attempt") + " " + fmtLocal(d.last_attempt, zones[a.station]); }
    return "";
  }
  function renderAlerts(data) {
    var list = data.alerts || [];
    var known = {};
    Array.prototype.forEach.call(alertsBox.querySelectorAll("li[data-id]"), function (li) { known[li.getAttribute("data-id")] = li; });
    Array.prototype.forEach.call(alertsBox.querySelectorAll("li:not([data-id])"), function (li) { alertsBox.removeChild(li); });
    if (!list.length) {
      Object.keys(known).forEach(function (id) { alertsBox.removeChild(known[id]); });
      alertsBox.appendChild(el("li", { "class": "muted" }, t("No alerts.")));
      return;
    }
    // In the server's order (most severe first); an alert keeps its node while it lasts.
    list.forEach(function (a) {
      var li = known[a.id];
      if (li) { delete known[a.id]; clear(li); } else { li = el("li", { "data-id": a.id, "data-kind": a.kind, "data-station": a.station || "" }); }
      li.className = "sev-" + a.severity;
      var head = el("div");
      head.appendChild(el("span", { "class": "what" }, t("alert_" + a.kind)));
      if (a.station) {
        head.appendChild(document.createTextNode(" · "));
        head.appendChild(el("a", { href: desk(a.station) }, a.station));
      }
      li.appendChild(head);
      li.appendChild(el("div", { "class": "meta" }, alertText(a)));
      alertsBox.appendChild(li);
    });
    Object.keys(known).forEach(function (id) { alertsBox.removeChild(known[id]); });
  }
  var openBox = document.getElementById("open-incidents");
  function renderOpenIncidents(data) {
    clear(openBox);
    document.getElementById("open-incidents-count").textContent = t("Open incidents") + ": " + fmtNum(data.total || 0);
    var list = data.incidents || [];
    if (!list.length) { openBox.appendChild(el("li", { "class": "muted" }, t("No open incidents."))); return; }
    list.forEach(function (inc) {
      var li = el("li", { "data-id": inc.id });
      var head = el("div");
      head.appendChild(el("span", { "class": "badge sev-" + inc.severity }, t("severity_" + inc.severity)));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("a", { href: followUp(inc.id) }, t(inc.category) + " · " + inc.station));
      li.appendChild(head);
      li.appendChild(el("div", { "class": "meta" }, t("followup_" + inc.status) + " · " + fmtLocal(inc.observed_at, zones[inc.station]) +
        " · " + fmtAge(inc.age_minutes) + (inc.assignee ? " · " + inc.assignee : "")));
      if (inc.text) { li.appendChild(el("div", { "class": "text" }, inc.text)); }
      openBox.appendChild(li);
    });
  }
  var coverageByStation = {};
  function renderCoverage(data) {
    zones = data.timezones || {};
    var distinct = {};
    Object.keys(zones).forEach(function (k) { distinct[zones[k]] = true; });
    var names = Object.keys(distinct);
    chartZone = names.length === 1 ? names[0] : null;
    var zoneNote = document.getElementById("chart-zone");
    if (zoneNote) {
      zoneNote.textContent = chartZone ? t("Chart hours are the stations' local time:") + " " + chartZone
        : t("Chart hours are UTC: the stations are in several time zones.");
    }
    coverageByStation = {};
    var body = document.querySelector("#coverage tbody");
    clear(body);
    var rows = data.stations || [];
    if (!rows.length) { var tr0 = el("tr"); tr0.appendChild(el("td", { colspan: "4", "class": "muted" }, t("No data yet."))); body.appendChild(tr0); }
    rows.forEach(function (s) {
      coverageByStation[s.station] = s;
      var tr = el("tr", { "data-station": s.station });
      var th = el("th", { scope: "row" });
      th.appendChild(el("a", { href: desk(s.station) }, s.station));
      tr.appendChild(th);
      tr.appendChild(el("td", null, s.local_now ? s.local_now + " (" + s.timezone + ")" : t("no schedule")));
      if (s.open_now) { tr.className = "open-now"; }
      tr.appendChild(el("td", null, (s.assigned || []).join(", ") || "–"));
      var hours = el("td");
      var inner = el("table");
      var row = el("tr");
      (s.hours || []).forEach(function (h) {
        var c = el("td", { "class": "h " + h.state, title: h.local + " · " + t("reports") + ": " + h.reports + " · " + t("state_" + h.state) }, h.local.slice(0, 2));
        c.appendChild(el("span", { "class": "visually-hidden" }, " " + t("state_" + h.state) + ", " + t("reports") + " " + h.reports));
        row.appendChild(c);
      });
      inner.appendChild(row);
      inner.className = "coverage";
      hours.appendChild(inner);
      tr.appendChild(hours);
      body.appendChild(tr);
    });
  }

  // --- refresh cycle and the live stream -------------------------------------------------
  var live = document.getElementById("live");
  var pending = null, running = false, again = false;
  var fullDue = false;  // the next refresh asks for every station (sample membership too)
  function refreshNow() {
    if (running) { again = true; return; }
    running = true;
    var changedOnly = stationsVersion !== null && !fullDue;
    fullDue = false;
    // Coverage first: it carries the stations' time zones the other tables show times in.
    getJSON("/dashboard/coverage").then(function (a) { if (a.ok) { renderCoverage(a.body); } }).catch(function () {}).then(function () { return Promise.all([
      getJSON("/dashboard/alerts").then(function (a) { if (a.ok) { renderAlerts(a.body); } }),
      getJSON("/incidents?status=open&limit=20").then(function (a) { if (a.ok) { renderOpenIncidents(a.body); } }),
      getJSON("/dashboard/stations" + (changedOnly ? "?since=" + stationsVersion : "")).then(function (a) {
        if (a.ok) { renderStations(a.body); } else if (a.status === 400) { stationsVersion = null; }
      }),
      getJSON("/dashboard/activity").then(function (a) { if (a.ok) { renderActivity(a.body); } }),
      getJSON("/dashboard/conflicts?limit=" + CONFLICT_PAGE).then(function (a) { if (a.ok) { renderConflicts(a.body); } }),
      getJSON("/dashboard/comparison").then(function (a) { if (a.ok) { renderComparison(a.body); } }),
      getJSON("/pvt").then(renderPvt)
    ]); }).catch(function () { /* offline for a moment: the next event or tick retries */ }).then(function () {
      running = false;
      root.setAttribute("data-refreshed", new Date().toISOString());
      if (again) { again = false; schedule(); }
    });
  }
  var trailing = null;
  function schedule() {
    if (!pending) {
      pending = window.setTimeout(function () { pending = null; refreshNow(); }, 400);
    }
    // The server reuses its activity summary for up to 10 s after the ledger moves
    // (store/read_models.py SUMMARY_MAX_AGE); one later refresh picks up the charts then.
    if (trailing) { window.clearTimeout(trailing); }
    trailing = window.setTimeout(function () { trailing = null; refreshNow(); }, 11000);
  }
  function connect() {
    if (typeof window.EventSource === "undefined") { window.setInterval(refreshNow, 15000); return; }
    source = new EventSource(api + "/events", { withCredentials: true });
    source.addEventListener("open", function () { live.textContent = t("live"); live.className = "live on"; });
    source.addEventListener("error", function () { live.textContent = t("reconnecting…"); live.className = "live off"; });
    source.addEventListener("report", schedule);
    source.addEventListener("refresh", schedule);
  }

  refreshNow();
  connect();
  // A slow safety net: figures stay current even if an event was missed, and every
  // station is read again (a sample drawn meanwhile changes no station's version).
  window.setInterval(function () { fullDue = true; refreshNow(); }, 60000);
}());
