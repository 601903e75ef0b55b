// The observer app: every report goes into an IndexedDB outbox under a UUID made here,
// and is sent from there. A network error leaves it queued ("unsent"); it is sent again
// on page load, when the browser comes back online and every 20 s, always with the same
// UUID, so a retry of a report that did arrive is harmless (the API answers 200).
// A seized phone must tell as little as possible: once the server confirms a report, its
// content leaves the phone and only a count stays (unless the server asks to keep the
// newest few, data-keep-sent); "leave no trace" erases everything the app keeps here, and
// so does a token the server says is revoked. The app shows no notifications.
// The invite's token stays on this phone (localStorage). Text is set with textContent,
// never innerHTML, so nothing typed or received can run.
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("observer-i18n").textContent);
  var lang = document.documentElement.lang || "en";
  var IDENTITY = "pollwatch.observer";
  var COUNTER = "pollwatch.counter.";
  var DB_NAME = "pollwatch-observer";
  var DB_VERSION = 2;
  var STORE = "outbox";
  var META = "meta";
  var RETRY_MS = 20000;
  var KEEP_SENT = Math.max(0, parseInt(document.body.getAttribute("data-keep-sent"), 10) || 0);
  // Set once the app erases itself: nothing may write to the phone after that.
  var wiped = false;

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
  // Two stores: the outbox (reports not yet sent, or refused) and meta (the count of sent
  // reports, updated in the same transaction that deletes a sent report's content).
  var dbPromise = null;
  function db() {
    if (wiped) return Promise.reject(new Error("erased"));
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, DB_VERSION);
        req.onupgradeneeded = function (ev) {
          var d = req.result;
          if (!d.objectStoreNames.contains(STORE)) d.createObjectStore(STORE, { keyPath: "id" });
          if (!d.objectStoreNames.contains(META)) {
            d.createObjectStore(META);
            // An older app kept sent reports: count them; pruneSent deletes them.
            if (ev.oldVersion >= 1) {
              var old = req.transaction.objectStore(STORE).getAll();
              old.onsuccess = function () {
                var sent = old.result.filter(function (e) { return e.state === "sent"; }).length;
                req.transaction.objectStore(META).put(sent, "sent");
              };
            }
          }
        };
        req.onsuccess = function () {
          var d = req.result;
          d.onversionchange = function (event) {
            d.close();
            dbPromise = null;
            // Another tab of this app left no trace: this one goes blank too.
            if (event.newVersion === null) { wiped = true; location.replace("about:blank"); }
          };
          resolve(d);
        };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function transact(names, mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction(names, mode);
        var req = fn(tx);
        tx.oncomplete = function () { resolve(req ? req.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }
  function withStore(mode, fn) {
    return transact(STORE, mode, function (tx) { return fn(tx.objectStore(STORE)); });
  }

  // A sent report whose photo, if any, is sent too: nothing of it is needed any more.
  function finished(e) { return e.state === "sent" && (e.photoState === null || e.photoState === "sent"); }

  // Finished reports beyond the newest KEEP_SENT are deleted (all of them by default), and
  // the kept ones lose the token they were sent with.
  function pruneSent() {
    return allEntries().then(function (entries) {
      var done = entries.filter(finished);
      var old = done.slice(0, Math.max(0, done.length - KEEP_SENT));
      var kept = done.slice(old.length).filter(function (e) { return e.token; });
      if (!old.length && !kept.length) return;
      return withStore("readwrite", function (s) {
        old.forEach(function (e) { s.delete(e.id); });
        kept.forEach(function (e) { e.token = null; s.put(e); });
        return null;
      });
    });
  }

  // The server has the report: its content leaves the phone in the same transaction that
  // counts it. A photo still to be sent keeps a stub (id, kind, token, photo) until it is.
  function confirmReport(entry, status) {
    entry.state = "sent"; entry.status = status; entry.message = null; entry.sent = Date.now();
    var photoPending = entry.photoState === "unsent" && !!entry.photo;
    if (!KEEP_SENT) entry.body = { kind: entry.body.kind };
    if (!photoPending) entry.token = null;
    return transact([STORE, META], "readwrite", function (tx) {
      var outbox = tx.objectStore(STORE);
      var meta = tx.objectStore(META);
      var count = meta.get("sent");
      count.onsuccess = function () { meta.put((count.result || 0) + 1, "sent"); };
      if (KEEP_SENT || photoPending) outbox.put(entry); else outbox.delete(entry.id);
      return null;
    });
  }

  function confirmPhoto(entry) {
    entry.photoState = "sent"; entry.photo = null; entry.photoMessage = null; entry.token = null;
    if (KEEP_SENT) return putEntry(entry);
    return withStore("readwrite", function (s) { return s.delete(entry.id); });
  }

  function removeEntry(id) { return withStore("readwrite", function (s) { return s.delete(id); }); }

  function sentCount() {
    return transact(META, "readonly", function (tx) { return tx.objectStore(META).get("sent"); })
      .then(function (n) { return n || 0; });
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
  var REVOKED = "revoked";

  function retryLater(resp) { return resp.status === 408 || resp.status === 429 || resp.status >= 500; }

  // The server's refusal: {message, field}. A token the server says is revoked throws
  // REVOKED instead: the coordinators think this phone is in the wrong hands.
  function refusal(resp) {
    return resp.json().catch(function () { return {}; }).then(function (data) {
      var error = (data && data.error) || {};
      var message = error.message || resp.statusText || String(resp.status);
      if ((resp.status === 401 || resp.status === 403) && /revoked/i.test(message)) throw new Error(REVOKED);
      return { message: message, field: error.field || null };
    });
  }

  function sendEntry(entry, token) {
    return fetch("/api/v1/reports", {
      method: "POST",
      cache: "no-store",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify(entry.body)
    }).then(function (resp) {
      if (resp.status === 200 || resp.status === 201) return confirmReport(entry, resp.status);
      if (retryLater(resp)) throw new Error(RETRY_LATER);
      // A refused report keeps its content, so the observer can see what to send again;
      // "Remove" deletes it.
      return refusal(resp).then(function (why) {
        entry.state = "rejected"; entry.status = resp.status;
        entry.message = why.message; entry.field = why.field; entry.token = null;
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
      if (resp.status === 200 || resp.status === 201) return confirmPhoto(entry);
      if (retryLater(resp)) throw new Error(RETRY_LATER);
      return refusal(resp).then(function (why) {
        entry.photoState = "rejected"; entry.photo = null; entry.token = null;
        entry.photoMessage = resp.status + ": " + why.message;
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
    }).catch(function (err) {
      if (err && err.message === REVOKED) return leaveNoTrace(false);
      /* otherwise still queued; retried on online, on load and by the timer */
    })
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

  // What a report was. A sent report's stub (kept while its photo waits) has its kind only.
  function describe(body) {
    var kind = { count: "Count", incident: "Incident", status: "Status", protocol: "Protocol" }[body.kind] || body.kind;
    var what = t(kind);
    if (body.kind === "count" && body.entered !== undefined) {
      what += ": " + body.entered + " " + t("people") + " (" + clock(body.window_start) + "–" + clock(body.window_end) + ")";
      if (body.queue !== undefined) what += ", " + t("queue") + " " + body.queue;
    } else if (body.kind === "incident" && body.category) {
      what += ": " + label("data-category", body.category);
    } else if (body.kind === "status" && body.status) {
      what += ": " + label("data-status", body.status);
      if (body.queue !== undefined) what += ", " + t("queue") + " " + body.queue;
    }
    return what;
  }

  function outboxItem(e) {
    var li = el("li", { "data-id": e.id, "data-state": e.state, "data-kind": e.body.kind });
    li.appendChild(el("span", { "class": "what" }, describe(e.body)));
    li.appendChild(el("span", { "class": "badge " + e.state }, t(e.state)));
    if (e.body.station) {
      li.appendChild(el("span", { "class": "when" }, "#" + e.body.station + " · " + clock(e.body.observed_at)));
    }
    if (e.photoState) {
      li.setAttribute("data-photo", e.photoState);
      li.appendChild(el("span", { "class": "badge photo " + e.photoState }, t("photo") + ": " + t(e.photoState)));
      if (e.photoState === "rejected") li.appendChild(el("span", { "class": "why" }, e.photoMessage || ""));
    }
    if (e.state === "rejected") {
      li.appendChild(el("span", { "class": "why" }, (e.status ? e.status + ": " : "") + (e.message || "")));
    }
    if (e.state === "rejected" || e.photoState === "rejected") {
      var remove = el("button", { type: "button", "class": "secondary remove" }, t("Remove"));
      remove.addEventListener("click", function () { removeEntry(e.id).then(renderOutbox); });
      li.appendChild(remove);
    }
    return li;
  }

  function renderOutbox() {
    var list = $("outbox");
    if (!list) return Promise.resolve();
    return Promise.all([allEntries(), sentCount()]).then(function (found) {
      list.replaceChildren.apply(list, found[0].slice().reverse().map(outboxItem));
      var count = $("sent-count");
      count.setAttribute("data-count", String(found[1]));
      count.textContent = t("Sent from this phone:") + " " + found[1];
    }).catch(function () { /* IndexedDB unavailable: nothing to show */ });
  }

  function renderNet() {
    var net = $("net");
    if (!net) return;
    var on = navigator.onLine;
    net.textContent = on ? t("Online") : t("Offline");
    net.className = "net " + (on ? "online" : "offline");
  }

  // ---- leave no trace ------------------------------------------------------------------
  // Erase everything the app keeps on this phone (token, outbox, counts, every IndexedDB
  // database, local and session storage, Cache Storage, the service worker), then show a
  // blank page that replaces this one in the tab's history. With tellServer and a
  // connection the server revokes the token at the same time, so a copy of it made before
  // is useless, and asks the browser to clear the site's data too; erasing on the phone
  // does not wait for that. The browser's own history of visited addresses is beyond a
  // page's reach (docs/observe.md says what to do about it).
  var FORGET_TIMEOUT_MS = 3000;
  var ERASE_TIMEOUT_MS = 8000;
  var registering = Promise.resolve();
  var retryTimer = null;

  function leaveNoTrace(tellServer) {
    if (wiped) return Promise.resolve();
    var who = identity();
    var token = who && who.token;
    wiped = true;
    clearInterval(retryTimer);
    document.title = "";
    document.body.replaceChildren();
    document.body.removeAttribute("data-page");
    var told = tellServer && token && navigator.onLine ? forgetToken(token) : Promise.resolve();
    var done = Promise.all([told, eraseEverything()]);
    // A database another tab keeps open could block its deletion forever: go blank anyway.
    var limit = new Promise(function (resolve) { setTimeout(resolve, ERASE_TIMEOUT_MS); });
    return Promise.race([done, limit]).then(function () { location.replace("about:blank"); });
  }

  function forgetToken(token) {
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, FORGET_TIMEOUT_MS);
    return fetch("/api/v1/observer/forget", {
      method: "POST", cache: "no-store", headers: { "Authorization": "Bearer " + token }, signal: abort.signal
    }).catch(function () {}).then(function () { clearTimeout(timer); });
  }

  function settle(promise) { return promise.then(function () {}, function () {}); }

  function eraseEverything() {
    try { localStorage.clear(); } catch (e) { /* storage disabled */ }
    try { sessionStorage.clear(); } catch (e) { /* storage disabled */ }
    var closed = dbPromise ? settle(dbPromise.then(function (d) { d.close(); })) : Promise.resolve();
    var databases = closed.then(function () {
      var names = !indexedDB.databases ? Promise.resolve([]) : indexedDB.databases().then(function (list) {
        return list.map(function (d) { return d.name; });
      }, function () { return []; });
      return names.then(function (list) {
        if (list.indexOf(DB_NAME) < 0) list.push(DB_NAME);
        return Promise.all(list.map(deleteDatabase));
      });
    });
    // The worker goes first: it would otherwise put the pages it serves back in the cache.
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage("leave-no-trace");
    }
    var workers = !navigator.serviceWorker ? Promise.resolve() : settle(registering.then(function () {
      return navigator.serviceWorker.getRegistrations();
    }).then(function (regs) {
      return Promise.all(regs.map(function (r) { return r.unregister(); }));
    }));
    var cached = workers.then(function () {
      if (!window.caches) return;
      return settle(caches.keys().then(function (keys) {
        return Promise.all(keys.map(function (k) { return caches.delete(k); }));
      }));
    });
    return Promise.all([databases, cached]);
  }

  function deleteDatabase(name) {
    return new Promise(function (resolve) {
      var req = indexedDB.deleteDatabase(name);
      req.onsuccess = function () { resolve(); };
      req.onerror = function () { resolve(); };
    });
  }

  // Ask the server whether this phone's token still works; "revoked" erases the app. Done
  // when the app opens, comes online or back to the screen, at most once a minute.
  var CHECK_MS = 60000;
  var lastCheck = -Infinity;
  function checkToken() {
    var who = identity();
    if (wiped || !who || !who.token || !navigator.onLine || Date.now() - lastCheck < CHECK_MS) return Promise.resolve();
    lastCheck = Date.now();
    return fetch("/api/v1/observer", {
      cache: "no-store", headers: { "Authorization": "Bearer " + who.token }
    }).then(function (resp) {
      if (!resp.ok) return refusal(resp);
    }).catch(function (err) {
      if (err && err.message === REVOKED) return leaveNoTrace(false);
    });
  }

  function setupWipe() {
    var box = $("wipe-confirm");
    $("wipe-start").addEventListener("click", function () {
      allEntries().then(function (entries) {
        var unsent = entries.filter(function (e) { return e.state === "unsent" || e.photoState === "unsent"; }).length;
        $("wipe-unsent").textContent = unsent ? t("Reports not sent yet, lost if you erase:") + " " + unsent : "";
      }).catch(function () {}).then(function () {
        box.classList.remove("hidden");
        $("wipe-cancel").focus();
      });
    });
    $("wipe-cancel").addEventListener("click", function () { box.classList.add("hidden"); });
    $("wipe-yes").addEventListener("click", function () { leaveNoTrace(true); });
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
    setupWipe();
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
    registering = navigator.serviceWorker.register("/observe/sw.js", { scope: "/observe" }).catch(function () {});
  }
  // Ask the browser not to evict the outbox when the phone runs short of space.
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () {});
  renderNet();
  window.addEventListener("online", function () { renderNet(); checkToken(); flush(); });
  window.addEventListener("offline", renderNet);

  var page = document.body.getAttribute("data-page");
  if (page === "join") {
    join();
  } else if (page === "app") {
    app();
    // What an older version of the app kept after sending goes before anything is shown.
    settle(pruneSent()).then(renderOutbox).then(flush);
    checkToken();
    retryTimer = setInterval(flush, RETRY_MS);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { checkToken(); flush(); }
    });
  }
})();
