// The observer app: every report goes into an IndexedDB outbox under a UUID made here,
// and is sent from there. A network error leaves it queued ("unsent"); it is sent again
// on page load, when the browser comes back online and every 20 s, always with the same
// UUID, so a retry of a report that did arrive is harmless (the API answers 200).
// The invite's token stays on this phone (localStorage). Text is set with textContent,
// never innerHTML, so nothing typed or received can run.
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("observer-i18n").textContent);
  var lang = document.documentElement.lang || "en";
  var IDENTITY = "pollwatch.observer";
  var COUNTER = "pollwatch.counter.";
  var DB_NAME = "pollwatch-observer";
  var STORE = "outbox";
  var RETRY_MS = 20000;

  function t(s) { return T[s] || s; }

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function nowIso() { return new Date().toISOString().replace(/\.\d{3}Z$/, "Z"); }

  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  // ---- identity (token, code name, election, stations) -------------------------------
  function identity() {
    try { return JSON.parse(localStorage.getItem(IDENTITY)) || null; } catch (e) { return null; }
  }
  function saveIdentity(value) { localStorage.setItem(IDENTITY, JSON.stringify(value)); }

  // ---- the outbox in IndexedDB --------------------------------------------------------
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "id" }); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function withStore(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction(STORE, mode);
        var req = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(req ? req.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }
  var KEEP_SENT = 200;
  // Sent reports stay listed for reference; beyond the newest KEEP_SENT they are dropped so
  // the phone's storage does not fill up over a long election day. Unsent ones are never.
  function pruneSent() {
    return allEntries().then(function (entries) {
      var sent = entries.filter(function (e) { return e.state === "sent" && e.photoState !== "unsent"; });
      var old = sent.slice(0, Math.max(0, sent.length - KEEP_SENT));
      if (!old.length) return;
      return withStore("readwrite", function (s) { old.forEach(function (e) { s.delete(e.id); }); return null; });
    });
  }

  function putEntry(entry) { return withStore("readwrite", function (s) { return s.put(entry); }); }
  function allEntries() {
    return withStore("readonly", function (s) { return s.getAll(); }).then(function (rows) {
      return (rows || []).sort(function (a, b) { return a.created - b.created; });
    });
  }

  // A report is stored before anything is sent: the phone never holds a report it has
  // not written down.
  function enqueue(body, photo) {
    // The token goes with the report: if another invite is opened on this phone later, the
    // report is still sent as the observer who made it.
    var who = identity() || {};
    var entry = { id: body.id, created: Date.now(), body: body, token: who.token || null,
      state: "unsent", status: null, message: null,
      photo: photo || null, photoState: photo ? "unsent" : null, photoMessage: null };
    return putEntry(entry).then(function () {
      flash(t("Report saved on this phone."));
      renderOutbox();
      flush();
      return entry;
    });
  }

  // ---- sending ------------------------------------------------------------------------
  var flushing = null;
  var RETRY_LATER = "retry-later";

  function sendEntry(entry, token) {
    return fetch("/api/v1/reports", {
      method: "POST",
      cache: "no-store",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify(entry.body)
    }).then(function (resp) {
      if (resp.status === 200 || resp.status === 201) {
        entry.state = "sent"; entry.status = resp.status; entry.message = null; entry.sent = Date.now();
        return putEntry(entry);
      }
      if (resp.status === 408 || resp.status === 429 || resp.status >= 500) throw new Error(RETRY_LATER);
      return resp.json().catch(function () { return {}; }).then(function (data) {
        entry.state = "rejected"; entry.status = resp.status;
        entry.message = (data && data.error && data.error.message) || resp.statusText || String(resp.status);
        entry.field = (data && data.error && data.error.field) || null;
        if (entry.photoState === "unsent") { entry.photoState = "rejected"; entry.photo = null; }
        return putEntry(entry);
      });
    });
  }

  // A photo goes after its report has been acknowledged (the API attaches it to a stored
  // report); the same photo again is answered 200, so retrying is harmless here too.
  function sendPhoto(entry, token) {
    var form = new FormData();
    form.append("photo", entry.photo, "photo.jpg");
    return fetch("/api/v1/reports/" + encodeURIComponent(entry.id) + "/photo", {
      method: "POST", cache: "no-store", headers: { "Authorization": "Bearer " + token }, body: form
    }).then(function (resp) {
      if (resp.status === 200 || resp.status === 201) {
        entry.photoState = "sent"; entry.photo = null; entry.photoMessage = null;
        return putEntry(entry);
      }
      if (resp.status === 408 || resp.status === 429 || resp.status >= 500) throw new Error(RETRY_LATER);
      return resp.json().catch(function () { return {}; }).then(function (data) {
        entry.photoState = "rejected";
        entry.photoMessage = resp.status + ": " + ((data && data.error && data.error.message) || resp.statusText);
        return putEntry(entry);
      });
    });
  }

  function sendAll(entry, token) {
    var step = entry.state === "unsent" ? sendEntry(entry, token) : Promise.resolve();
    return step.then(function () {
      if (entry.state === "sent" && entry.photoState === "unsent" && entry.photo) return sendPhoto(entry, token);
    });
  }

  // Send queued reports oldest first; stop at the first network or server error (the rest
  // would fail the same way) and try again later. A report queued while a round is under
  // way was not in that round's list: one more round follows at once, so it does not wait
  // for the timer.
  var flushAgain = false;
  function flush() {
    if (flushing) { flushAgain = true; return flushing; }
    var who = identity();
    if (!who || !who.token) return Promise.resolve();
    setBusy(true);
    flushing = allEntries().then(function (entries) {
      var pending = entries.filter(function (e) {
        return e.state === "unsent" || (e.state === "sent" && e.photoState === "unsent");
      });
      return pending.reduce(function (chain, entry) {
        return chain.then(function () {
          return sendAll(entry, entry.token || who.token).then(renderOutbox);
        });
      }, Promise.resolve());
    }).catch(function () { /* still queued; retried on online, on load and by the timer */ })
      .then(pruneSent).catch(function () {})
      .then(function () {
        flushing = null;
        if (flushAgain) { flushAgain = false; return flush(); }
      })
      .then(function () {
        if (flushing) return;
        return renderOutbox().then(function () { setBusy(false); });
      });
    return flushing;
  }

  // aria-busy tells assistive technology (and anyone watching the list) that the outbox is
  // being sent and its states may still change.
  function setBusy(on) {
    var list = $("outbox");
    if (list) list.setAttribute("aria-busy", String(on));
  }

  // ---- rendering ----------------------------------------------------------------------
  var messageTimer = null;
  function flash(text, isError) {
    var box = $("message");
    if (!box) return;
    box.textContent = text;
    box.className = "message" + (isError ? " error" : "");
    clearTimeout(messageTimer);
    messageTimer = setTimeout(function () { box.className = "message hidden"; }, 4000);
  }

  // The translated label of a category or status: the text of its button on this page.
  function label(attr, value) {
    var button = document.querySelector("[" + attr + "='" + String(value).replace(/[^\w-]/g, "") + "']");
    return button ? button.textContent.trim() : String(value);
  }

  function describe(body) {
    var kind = { count: "Count", incident: "Incident", status: "Status", protocol: "Protocol" }[body.kind] || body.kind;
    var what = t(kind);
    if (body.kind === "count") {
      what += ": " + body.entered + " " + t("people") + " (" + clock(body.window_start) + "–" + clock(body.window_end) + ")";
      if (body.queue !== undefined) what += ", " + t("queue") + " " + body.queue;
    } else if (body.kind === "incident") {
      what += ": " + label("data-category", body.category);
    } else if (body.kind === "status") {
      what += ": " + label("data-status", body.status);
      if (body.queue !== undefined) what += ", " + t("queue") + " " + body.queue;
    }
    return what;
  }

  function renderOutbox() {
    var list = $("outbox");
    if (!list) return Promise.resolve();
    return allEntries().then(function (entries) {
      var items = entries.slice().reverse().map(function (e) {
        var li = el("li", { "data-id": e.id, "data-state": e.state, "data-kind": e.body.kind });
        li.appendChild(el("span", { "class": "what" }, describe(e.body)));
        li.appendChild(el("span", { "class": "badge " + e.state }, t(e.state)));
        li.appendChild(el("span", { "class": "when" }, "#" + e.body.station + " · " + clock(e.body.observed_at)));
        if (e.photoState) {
          li.setAttribute("data-photo", e.photoState);
          li.appendChild(el("span", { "class": "badge photo " + e.photoState }, t("photo") + ": " + t(e.photoState)));
          if (e.photoState === "rejected") li.appendChild(el("span", { "class": "why" }, e.photoMessage || ""));
        }
        if (e.state === "rejected") {
          li.appendChild(el("span", { "class": "why" }, (e.status ? e.status + ": " : "") + (e.message || "")));
        }
        return li;
      });
      list.replaceChildren.apply(list, items);
    }).catch(function () { /* IndexedDB unavailable: nothing to show */ });
  }

  function renderNet() {
    var net = $("net");
    if (!net) return;
    var on = navigator.onLine;
    net.textContent = on ? t("Online") : t("Offline");
    net.className = "net " + (on ? "online" : "offline");
  }

  // ---- the join page -----------------------------------------------------------------
  function join() {
    var box = $("join");
    var code = box.getAttribute("data-code");
    var status = $("join-status");
    var open = $("join-open");
    var already = identity();
    if (already && already.token && already.code === code) {
      // This phone redeemed this invite before (the link works once): just open the app.
      location.replace("/observe?lang=" + encodeURIComponent(lang));
      return;
    }
    fetch("/api/v1/invites/" + encodeURIComponent(code) + "/redeem", {
      method: "POST", cache: "no-store", headers: { "Content-Type": "application/json" }, body: "{}"
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (resp.status !== 200 && resp.status !== 201) {
          status.textContent = t("Could not join:") + " " +
            ((data.error && data.error.message) || t("This invite was already used or is unknown."));
          status.setAttribute("role", "alert");
          if (already && already.token) open.classList.remove("hidden");
          return;
        }
        var stations = (data.stations || []).map(function (s) {
          return typeof s === "object" && s !== null ? String(s.station || s.id) : String(s);
        });
        saveIdentity({
          token: data.token, observer: data.observer, election: data.election || null,
          stations: stations, station: stations.length === 1 ? stations[0] : null, code: code
        });
        location.replace("/observe?lang=" + encodeURIComponent(lang));
      });
    }, function () {
      status.textContent = t("No connection. Try the link again when you are online.");
      status.setAttribute("role", "alert");
    });
  }

  // ---- the app shell -----------------------------------------------------------------
  function app() {
    var who = identity();
    if (!who || !who.token) {
      $("not-joined").classList.remove("hidden");
    } else {
      $("who").classList.remove("hidden");
      $("observer-name").textContent = who.observer || "";
    }
    if (who && !who.election) $("election-row").classList.remove("hidden");
    renderStation();
    setupTabs();
    setupCounter();
    setupIncident();
    setupStatus();
    setupProtocol();
    $("outbox-retry").addEventListener("click", function () { flush(); });
    $("election-id").addEventListener("change", function () {
      var w = identity() || {};
      w.election = this.value.trim() || null;
      saveIdentity(w);
    });
  }

  function currentStation() { var w = identity(); return w && w.station; }

  function renderStation() {
    var w = identity() || {};
    $("station-current").textContent = w.station || "—";
    var box = $("station-choices");
    box.replaceChildren.apply(box, (w.stations || []).map(function (s) {
      var b = el("button", { type: "button", "class": "choice", "data-station": s, "aria-pressed": String(s === w.station) }, "#" + s);
      b.addEventListener("click", function () { chooseStation(s); });
      return b;
    }));
    if (w.election) $("election-id").value = w.election;
    renderCounter();
  }

  function chooseStation(station) {
    var w = identity() || {};
    w.station = station;
    saveIdentity(w);
    renderStation();
  }

  function setupTabs() {
    var tabs = document.querySelectorAll(".kinds [role=tab]");
    Array.prototype.forEach.call(tabs, function (tab) {
      tab.addEventListener("click", function () {
        Array.prototype.forEach.call(tabs, function (other) {
          var on = other === tab;
          other.setAttribute("aria-selected", String(on));
          $(other.getAttribute("data-panel")).classList.toggle("hidden", !on);
        });
      });
    });
    $("station-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var value = $("station-id").value.trim();
      if (value) { chooseStation(value); $("station-id").value = ""; }
    });
  }

  // Fields common to every report; null when the station or election is not chosen yet.
  function base(kind) {
    var w = identity() || {};
    if (!w.station) { flash(t("Choose a station first."), true); return null; }
    var election = w.election || $("election-id").value.trim();
    if (!election) { $("election-row").classList.remove("hidden"); $("election-id").focus(); return null; }
    return { id: newId(), election: election, station: w.station, kind: kind, observed_at: nowIso() };
  }

  // Optional whole number >= 0: undefined when empty, NaN when invalid.
  function optionalCount(input) {
    var raw = input.value.trim();
    if (raw === "") return undefined;
    return /^\d+$/.test(raw) ? parseInt(raw, 10) : NaN;
  }

  // ---- tap counter -------------------------------------------------------------------
  function counterKey() { return COUNTER + (currentStation() || ""); }
  function counter() {
    var c = null;
    try { c = JSON.parse(localStorage.getItem(counterKey())); } catch (e) { c = null; }
    if (!c || !c.start) { c = { start: nowIso(), count: 0 }; saveCounter(c); }
    return c;
  }
  function saveCounter(c) { localStorage.setItem(counterKey(), JSON.stringify(c)); }
  function renderCounter() {
    if (!currentStation()) { $("count-value").textContent = "0"; $("window-label").textContent = ""; return; }
    var c = counter();
    $("count-value").textContent = String(c.count);
    $("window-label").textContent = t("Window since") + " " + clock(c.start);
  }

  // Counting lasts an hour or more: keep the screen on while the counter is in use.
  var wakeLock = null;
  function keepScreenOn() {
    if (wakeLock || !navigator.wakeLock || document.hidden) return;
    navigator.wakeLock.request("screen").then(function (lock) {
      wakeLock = lock;
      lock.addEventListener("release", function () { wakeLock = null; });
    }).catch(function () { /* not allowed here; the counter works without it */ });
  }

  function setupCounter() {
    $("count-plus").addEventListener("click", function () {
      if (!currentStation()) { flash(t("Choose a station first."), true); return; }
      var c = counter(); c.count += 1; saveCounter(c); renderCounter();
      if (navigator.vibrate) navigator.vibrate(15);
      keepScreenOn();
    });
    $("count-minus").addEventListener("click", function () {
      if (!currentStation()) return;
      var c = counter(); c.count = Math.max(0, c.count - 1); saveCounter(c); renderCounter();
    });
    $("count-restart").addEventListener("click", function () {
      if (!currentStation()) return;
      saveCounter({ start: nowIso(), count: 0 }); renderCounter();
    });
    $("count-send").addEventListener("click", function () {
      var body = base("count");
      if (!body) return;
      var queue = optionalCount($("count-queue"));
      if (Number.isNaN(queue)) { flash(t("Enter whole numbers (0 or more)."), true); return; }
      var c = counter();
      body.window_start = c.start;
      body.window_end = body.observed_at;
      body.entered = c.count;
      if (queue !== undefined) body.queue = queue;
      // The next window starts where this one ended, so no voter falls between windows.
      saveCounter({ start: body.window_end, count: 0 });
      $("count-queue").value = "";
      renderCounter();
      enqueue(body);
    });
  }

  // ---- photos ------------------------------------------------------------------------
  // Longest side after shrinking: a protocol's handwritten figures must stay legible.
  var PHOTO_SIDE = { incident: 1600, protocol: 2400 };
  // Re-encode on the phone: a 1600-pixel JPEG is a few hundred kB instead of several MB
  // on a bad connection, and drawing it on a canvas drops EXIF and GPS before it leaves.
  function shrinkPhoto(file, side) {
    if (!window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function setupPhoto(kind) {
    var input = $(kind + "-photo");
    input.addEventListener("change", function () {
      $(kind + "-photo-name").textContent = input.files.length ? t("Photo attached") : "";
    });
  }

  // The chosen photo (shrunk), or null; clears the picker.
  function takePhoto(kind) {
    var input = $(kind + "-photo");
    var file = input.files && input.files[0];
    input.value = "";
    $(kind + "-photo-name").textContent = "";
    return file ? shrinkPhoto(file, PHOTO_SIDE[kind]) : Promise.resolve(null);
  }

  // ---- incident, status, protocol ----------------------------------------------------
  function pressedIn(containerId, attr) {
    var on = document.querySelector("#" + containerId + " [aria-pressed=true]");
    return on ? on.getAttribute(attr) : null;
  }
  function toggleGroup(containerId) {
    var buttons = document.querySelectorAll("#" + containerId + " button");
    Array.prototype.forEach.call(buttons, function (b) {
      b.addEventListener("click", function () {
        Array.prototype.forEach.call(buttons, function (o) { o.setAttribute("aria-pressed", String(o === b)); });
      });
    });
  }
  function clearGroup(containerId) {
    Array.prototype.forEach.call(document.querySelectorAll("#" + containerId + " button"), function (b) {
      b.setAttribute("aria-pressed", "false");
    });
  }

  function setupIncident() {
    toggleGroup("incident-categories");
    setupPhoto("incident");
    $("incident-send").addEventListener("click", function () {
      var category = pressedIn("incident-categories", "data-category");
      if (!category) { flash(t("Choose a category."), true); return; }
      var text = $("incident-text").value.trim();
      var body = base("incident");
      if (!body) return;
      body.category = category;
      body.text = text;
      $("incident-text").value = "";
      clearGroup("incident-categories");
      takePhoto("incident").then(function (photo) { return enqueue(body, photo); });
    });
  }

  function setupStatus() {
    toggleGroup("status-choices");
    $("status-send").addEventListener("click", function () {
      var status = pressedIn("status-choices", "data-status");
      if (!status) { flash(t("Choose a status."), true); return; }
      var queue = optionalCount($("status-queue"));
      if (Number.isNaN(queue)) { flash(t("Enter whole numbers (0 or more)."), true); return; }
      var body = base("status");
      if (!body) return;
      body.status = status;
      if (queue !== undefined) body.queue = queue;
      $("status-queue").value = "";
      clearGroup("status-choices");
      enqueue(body);
    });
  }

  function addVoteRow(name) {
    var row = el("div", { "class": "vote-row" });
    var who = el("input", { type: "text", "class": "vote-name", placeholder: t("Candidate"), "aria-label": t("Candidate"), autocomplete: "off" });
    who.value = name || "";
    var n = el("input", { type: "number", "class": "vote-count", inputmode: "numeric", min: "0", step: "1", placeholder: t("Votes"), "aria-label": t("Votes") });
    var rm = el("button", { type: "button", "class": "secondary", "aria-label": t("Remove") }, "×");
    rm.addEventListener("click", function () { row.remove(); });
    row.appendChild(who); row.appendChild(n); row.appendChild(rm);
    $("votes").appendChild(row);
    return row;
  }

  function setupProtocol() {
    var w = identity() || {};
    (w.candidates || []).forEach(function (c) { addVoteRow(c); });
    if (!(w.candidates || []).length) addVoteRow("");
    setupPhoto("protocol");
    $("votes-add").addEventListener("click", function () { addVoteRow("").querySelector("input").focus(); });
    $("protocol-send").addEventListener("click", function () {
      var figures = {};
      var bad = false;
      Array.prototype.forEach.call(document.querySelectorAll("[data-figure]"), function (input) {
        var v = optionalCount(input);
        if (v === undefined || Number.isNaN(v)) { bad = true; input.setAttribute("aria-invalid", "true"); }
        else { input.removeAttribute("aria-invalid"); figures[input.getAttribute("data-figure")] = v; }
      });
      var votes = {};
      Array.prototype.forEach.call(document.querySelectorAll("#votes .vote-row"), function (row) {
        var name = row.querySelector(".vote-name").value.trim();
        var v = optionalCount(row.querySelector(".vote-count"));
        if (!name && v === undefined) return;
        if (!name || v === undefined || Number.isNaN(v)) { bad = true; return; }
        votes[name] = v;
      });
      if (bad) { flash(t("Enter whole numbers (0 or more)."), true); return; }
      var body = base("protocol");
      if (!body) return;
      figures.votes = votes;
      body.figures = figures;
      takePhoto("protocol").then(function (photo) { return enqueue(body, photo); });
    });
  }

  // ---- start ---------------------------------------------------------------------------
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/observe/sw.js", { scope: "/observe" }).catch(function () {});
  }
  // Ask the browser not to evict the outbox when the phone runs short of space.
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () {});
  renderNet();
  window.addEventListener("online", function () { renderNet(); flush(); });
  window.addEventListener("offline", renderNet);

  var page = document.body.getAttribute("data-page");
  if (page === "join") {
    join();
  } else if (page === "app") {
    app();
    renderOutbox().then(flush);
    setInterval(flush, RETRY_MS);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) flush(); });
  }
})();
