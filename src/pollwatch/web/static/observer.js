// The observer app: every report goes into an IndexedDB outbox under a UUID made here,
// and is sent from there. A network error leaves it queued ("unsent"); it is sent again
// on page load, when the browser comes back online and every 20 s, always with the same
// UUID, so a retry of a report that did arrive is harmless (the API answers 200).
// A seized phone must tell as little as possible: once the server confirms a report, its
// content leaves the phone and only a count stays (unless the server asks to keep the
// newest few, data-keep-sent); "leave no trace" erases everything the app keeps here, and
// so does a token the server says is revoked. The only notification is "an urgent message
// arrived", if the observer allowed it, never with the message's text.
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
    var kind = { count: "Count", incident: "Incident", status: "Status", protocol: "Protocol", checklist: "Checklist" }[body.kind] || body.kind;
    var what = t(kind);
    if (body.kind === "count" && body.entered !== undefined) {
      what += ": " + body.entered + " " + t("people") + " (" + clock(body.window_start) + "–" + clock(body.window_end) + ")";
      if (body.queue !== undefined) what += ", " + t("queue") + " " + body.queue;
    } else if (body.kind === "incident" && body.category) {
      what += ": " + label("data-category", body.category);
    } else if (body.kind === "checklist" && body.checklist) {
      what += ": " + checklistTitle(body.checklist);
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
      return resp.json().then(function (data) {
        var now = identity();
        if (now && now.token === who.token && typeof data.simulated === "boolean") {
          now.simulated = data.simulated;
          saveIdentity(now);
          showSimulated(now);
        }
      }, function () {});
    }).catch(function (err) {
      if (err && err.message === REVOKED) return leaveNoTrace(false);
    });
  }

  // A simulated (training) election says so on every screen of the app.
  function showSimulated(who) {
    var banner = $("simulated-banner");
    if (banner) banner.classList.toggle("hidden", !(who && who.simulated));
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
          simulated: data.simulated === true,
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
    showSimulated(who);
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
    setupChecklists();
    setupInbox();
    setupTelegram();
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

  // ---- checklists (issue 13) -----------------------------------------------------------
  // The election's checklists are fetched whenever the phone is online and kept in
  // localStorage, so a checklist can be filled in with no connection; the answers travel
  // as a report of kind "checklist" through the same outbox, naming the version answered.
  var CHECKLISTS = "pollwatch.checklists";
  var currentChecklist = null;

  function storedChecklists() {
    try { return JSON.parse(localStorage.getItem(CHECKLISTS)) || []; } catch (e) { return []; }
  }

  // A text in the page's language, else English (question texts are {en, ru, sr}).
  function inLang(texts) {
    if (!texts || typeof texts !== "object") return String(texts || "");
    return String(texts[lang] || texts.en || "");
  }

  function checklistTitle(id) {
    var found = storedChecklists().filter(function (c) { return c.id === id; })[0];
    return found ? inLang(found.title) : String(id);
  }

  function syncChecklists(token) {
    return fetch("/api/v1/observer/checklists", {
      cache: "no-store", headers: { "Authorization": "Bearer " + token }
    }).then(function (resp) {
      if (!resp.ok) return refusal(resp).then(function () {});
      return resp.json().then(function (data) {
        if (wiped) return;
        var fresh = JSON.stringify(data.checklists || []);
        if (fresh === localStorage.getItem(CHECKLISTS)) return;
        localStorage.setItem(CHECKLISTS, fresh);
        renderChecklistChoices();
      });
    });
  }

  function renderChecklistChoices() {
    var list = storedChecklists();
    var box = $("checklist-choices");
    $("checklist-none").classList.toggle("hidden", list.length > 0);
    box.replaceChildren.apply(box, list.map(function (c) {
      var b = el("button", { type: "button", "class": "choice", "data-checklist": c.id,
        "aria-pressed": String(!!currentChecklist && currentChecklist.id === c.id) }, inLang(c.title));
      b.addEventListener("click", function () { openChecklist(c.id); });
      return b;
    }));
    // A newer version replaces the open form only if nothing was answered yet.
    if (currentChecklist) {
      var now = list.filter(function (c) { return c.id === currentChecklist.id; })[0];
      if (!now) closeChecklist();
      else if (now.version !== currentChecklist.version && !Object.keys(collectAnswers().answers).length) openChecklist(now.id);
    }
  }

  function closeChecklist() {
    currentChecklist = null;
    $("checklist-form").classList.add("hidden");
    $("checklist-questions").replaceChildren();
  }

  function openChecklist(id) {
    var c = storedChecklists().filter(function (x) { return x.id === id; })[0];
    if (!c) return;
    currentChecklist = c;
    Array.prototype.forEach.call(document.querySelectorAll("#checklist-choices button"), function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-checklist") === id));
    });
    $("checklist-title").textContent = inLang(c.title);
    var box = $("checklist-questions");
    box.replaceChildren.apply(box, c.questions.map(questionNode));
    $("checklist-form").classList.remove("hidden");
    applyConditions();
  }

  function isRequired(q) { return q.required !== undefined ? q.required : (q.kind !== "text" && q.kind !== "photo"); }

  function questionNode(q) {
    var box = el("div", { "class": "question", "data-question": q.id, "data-kind": q.kind });
    var inputId = "q-" + q.id;
    var label = el(q.kind === "yes_no" || q.kind === "choice" ? "span" : "label", { "class": "q-text", id: inputId + "-label" },
      inLang(q.text) + (isRequired(q) ? " *" : ""));
    if (label.tagName === "LABEL") label.setAttribute("for", inputId);
    box.appendChild(label);
    if (q.kind === "yes_no" || q.kind === "choice") {
      var group = el("div", { "class": "choices-grid", role: "group", "aria-labelledby": inputId + "-label" });
      var opts = q.kind === "yes_no"
        ? [{ id: "true", label: t("Yes") }, { id: "false", label: t("No") }]
        : q.options.map(function (o) { return { id: o.id, label: inLang(o.text) }; });
      opts.forEach(function (o) {
        var b = el("button", { type: "button", "class": "choice", "data-value": o.id, "aria-pressed": "false" }, o.label);
        b.addEventListener("click", function () {
          var on = b.getAttribute("aria-pressed") !== "true";
          Array.prototype.forEach.call(group.querySelectorAll("button"), function (x) { x.setAttribute("aria-pressed", "false"); });
          b.setAttribute("aria-pressed", String(on));
          applyConditions();
        });
        group.appendChild(b);
      });
      box.appendChild(group);
    } else if (q.kind === "number") {
      var n = el("input", { id: inputId, type: "number", inputmode: "numeric", step: "1" });
      if (q.min !== undefined) n.setAttribute("min", String(q.min));
      if (q.max !== undefined) n.setAttribute("max", String(q.max));
      n.addEventListener("input", applyConditions);
      box.appendChild(n);
    } else if (q.kind === "text") {
      box.appendChild(el("textarea", { id: inputId, maxlength: "2000" }));
    } else if (q.kind === "photo") {
      var row = el("div", { "class": "row photo-row" });
      var pick = el("label", { "class": "button secondary photo-pick", "for": inputId }, t("Add a photo"));
      var file = el("input", { id: inputId, "class": "file-input", type: "file", accept: "image/*", capture: "environment" });
      var name = el("span", { "class": "muted", "aria-live": "polite" });
      file.addEventListener("change", function () { name.textContent = file.files.length ? t("Photo attached") : ""; });
      row.appendChild(pick); row.appendChild(file); row.appendChild(name);
      box.appendChild(row);
    }
    return box;
  }

  // The answer given to a question on the form: undefined when none, NaN for a bad number.
  function answerOf(q) {
    var box = document.querySelector("#checklist-questions [data-question='" + q.id + "']");
    if (!box) return undefined;
    if (q.kind === "yes_no" || q.kind === "choice") {
      var on = box.querySelector("button[aria-pressed=true]");
      if (!on) return undefined;
      var v = on.getAttribute("data-value");
      return q.kind === "yes_no" ? v === "true" : v;
    }
    var input = $("q-" + q.id);
    if (q.kind === "number") {
      var raw = input.value.trim();
      if (raw === "") return undefined;
      return /^-?\d+$/.test(raw) ? parseInt(raw, 10) : NaN;
    }
    if (q.kind === "text") { var text = input.value.trim(); return text ? text : undefined; }
    if (q.kind === "photo") return input.files && input.files.length ? true : undefined;
    return undefined;
  }

  function conditionHolds(q, answers) {
    if (!q.when) return true;
    if (!(q.when.question in answers)) return false;
    var values = "equals" in q.when ? [q.when.equals] : (q.when["in"] || []);
    return values.some(function (v) { return v === answers[q.when.question]; });
  }

  // Answers of the questions asked, in order (a condition reads only earlier answers).
  function collectAnswers() {
    var answers = {};
    var missing = [];
    var asked = {};
    if (!currentChecklist) return { answers: answers, missing: missing, asked: asked };
    currentChecklist.questions.forEach(function (q) {
      if (!conditionHolds(q, answers)) return;
      asked[q.id] = true;
      var v = answerOf(q);
      if (v === undefined) { if (isRequired(q)) missing.push(q.id); return; }
      if (typeof v === "number" && (isNaN(v) || (q.min !== undefined && v < q.min) || (q.max !== undefined && v > q.max))) {
        missing.push(q.id); return;
      }
      answers[q.id] = v;
    });
    return { answers: answers, missing: missing, asked: asked };
  }

  function applyConditions() {
    var state = collectAnswers();
    Array.prototype.forEach.call(document.querySelectorAll("#checklist-questions .question"), function (box) {
      box.classList.toggle("hidden", !state.asked[box.getAttribute("data-question")]);
      box.removeAttribute("aria-invalid");
    });
  }

  function setupChecklists() {
    renderChecklistChoices();
    $("checklist-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!currentChecklist) return;
      var state = collectAnswers();
      if (state.missing.length) {
        state.missing.forEach(function (id) {
          var box = document.querySelector("#checklist-questions [data-question='" + id + "']");
          if (box) box.setAttribute("aria-invalid", "true");
        });
        flash(t("Answer every question marked * (whole numbers within the limits)."), true);
        return;
      }
      var body = base("checklist");
      if (!body) return;
      body.checklist = currentChecklist.id;
      body.version = currentChecklist.version;
      body.answers = state.answers;
      var photoQ = currentChecklist.questions.filter(function (q) { return q.kind === "photo" && state.answers[q.id]; })[0];
      var file = photoQ ? $("q-" + photoQ.id).files[0] : null;
      // A checklist photo is often of a protocol: kept as large as a protocol report's.
      var shrunk = file ? shrinkPhoto(file, PHOTO_SIDE.protocol) : Promise.resolve(null);
      var id = currentChecklist.id;
      closeChecklist();
      renderChecklistChoices();
      shrunk.then(function (photo) { return enqueue(body, photo); }).then(function () { openChecklist(id); });
    });
  }

  // ---- the inbox (issue 13) --------------------------------------------------------------
  // Messages from the coordinators, fetched whenever the phone is online. Receipts are
  // counts: the phone tells the server once that a message arrived and once that it was
  // read, and the server only adds one to a counter. An urgent message shows a
  // notification only if the observer allowed it here, and the notification says only
  // that an urgent message arrived: a locked phone's screen shows nothing of its text.
  var INBOX = "pollwatch.inbox";

  function inboxState() {
    var s = null;
    try { s = JSON.parse(localStorage.getItem(INBOX)); } catch (e) { s = null; }
    s = s || {};
    return { messages: s.messages || [], read: s.read || [], toDeliver: s.toDeliver || [], toRead: s.toRead || [] };
  }
  function saveInbox(s) { if (!wiped) localStorage.setItem(INBOX, JSON.stringify(s)); }

  function renderInbox() {
    var s = inboxState();
    var list = $("inbox");
    if (!list) return;
    list.replaceChildren.apply(list, s.messages.map(function (m) {
      var unread = s.read.indexOf(m.id) < 0;
      var li = el("li", { "data-id": String(m.id), "class": (unread ? "unread" : "read") + (m.urgent ? " urgent" : ""), tabindex: "0" });
      if (m.urgent) li.appendChild(el("span", { "class": "flag" }, t("Urgent")));
      li.appendChild(el("p", { "class": "text" }, m.text));
      li.appendChild(el("span", { "class": "meta" }, clock(m.sent_at)));
      var markRead = function () { markMessageRead(m.id); };
      li.addEventListener("click", markRead);
      li.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") markRead(); });
      return li;
    }));
    var unreadCount = s.messages.filter(function (m) { return s.read.indexOf(m.id) < 0; }).length;
    var badge = $("inbox-unread");
    badge.setAttribute("data-count", String(unreadCount));
    badge.textContent = unreadCount ? t("unread") + ": " + unreadCount : "";
    badge.classList.toggle("hidden", !unreadCount);
    $("inbox-empty").classList.toggle("hidden", s.messages.length > 0);
    var allow = $("notify-allow");
    allow.classList.toggle("hidden", !("Notification" in window) || Notification.permission !== "default");
  }

  function markMessageRead(id) {
    var s = inboxState();
    if (s.read.indexOf(id) >= 0) return;
    s.read.push(id);
    s.toRead.push(id);
    saveInbox(s);
    renderInbox();
    sendReceipts();
  }

  function notifyUrgent() {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try { new Notification(t("pollwatch: an urgent message from the coordinators")); } catch (e) { /* not allowed here */ }
  }

  function syncInbox(token) {
    var w = identity() || {};
    var query = !(w.stations || []).length && w.station ? "?station=" + encodeURIComponent(w.station) : "";
    return fetch("/api/v1/observer/messages" + query, {
      cache: "no-store", headers: { "Authorization": "Bearer " + token }
    }).then(function (resp) {
      if (!resp.ok) return refusal(resp).then(function () {});
      return resp.json().then(function (data) {
        if (wiped) return;
        var s = inboxState();
        var known = s.messages.map(function (m) { return m.id; });
        var fresh = (data.messages || []).filter(function (m) { return known.indexOf(m.id) < 0; });
        s.messages = data.messages || [];
        fresh.forEach(function (m) { s.toDeliver.push(m.id); });
        // Read marks of messages no longer listed are dropped.
        var ids = s.messages.map(function (m) { return m.id; });
        s.read = s.read.filter(function (id) { return ids.indexOf(id) >= 0; });
        saveInbox(s);
        renderInbox();
        if (fresh.some(function (m) { return m.urgent; })) notifyUrgent();
        return sendReceipts();
      });
    });
  }

  var sendingReceipts = false;
  function sendReceipts() {
    var who = identity();
    var s = inboxState();
    if (sendingReceipts || !who || !who.token || !navigator.onLine || (!s.toDeliver.length && !s.toRead.length)) return Promise.resolve();
    sendingReceipts = true;
    var delivered = s.toDeliver.slice(0, 200);
    var read = s.toRead.slice(0, 200);
    var body = { delivered: delivered, read: read };
    if (!(who.stations || []).length && who.station) body.station = who.station;
    return fetch("/api/v1/observer/messages/receipts", {
      method: "POST", cache: "no-store",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + who.token },
      body: JSON.stringify(body)
    }).then(function (resp) {
      if (resp.ok || (resp.status >= 400 && resp.status < 500 && resp.status !== 401 && resp.status !== 429)) {
        var now = inboxState();
        now.toDeliver = now.toDeliver.filter(function (id) { return delivered.indexOf(id) < 0; });
        now.toRead = now.toRead.filter(function (id) { return read.indexOf(id) < 0; });
        saveInbox(now);
      }
    }).catch(function () {}).then(function () { sendingReceipts = false; });
  }

  // Fetch checklists and messages (and send receipts) when online; a revoked token erases.
  var lastSync = null;
  function sync() {
    var who = identity();
    if (wiped || !who || !who.token || !navigator.onLine || lastSync) return lastSync || Promise.resolve();
    lastSync = Promise.all([syncChecklists(who.token), syncInbox(who.token)]).catch(function (err) {
      if (err && err.message === REVOKED) return leaveNoTrace(false);
    }).then(function () { lastSync = null; });
    return lastSync;
  }

  function setupInbox() {
    renderInbox();
    $("notify-allow").addEventListener("click", function () {
      if (!("Notification" in window)) return;
      Notification.requestPermission().then(renderInbox, renderInbox);
    });
  }

  // ---- Telegram: a one-time link code for the pollwatch bot --------------------------------
  // POST /api/v1/observer/telegram-link gives a code (once, 24 hours), its t.me deep link and
  // a QR code (SVG, shown as an image: an <img> runs no script). Nothing of it is stored on
  // the phone: asked again, it is a new code. The texts are the page's (data-* attributes).
  function setupTelegram() {
    var box = $("telegram-box");
    if (!box) return;
    var button = $("telegram-link"), result = $("telegram-result"), error = $("telegram-error");
    function fail(text) {
      result.classList.add("hidden");
      error.textContent = text;
      error.classList.remove("hidden");
    }
    button.addEventListener("click", function () {
      var who = identity();
      error.classList.add("hidden");
      if (!who || !who.token) { fail(box.getAttribute("data-not-joined")); return; }
      button.disabled = true;
      fetch("/api/v1/observer/telegram-link", {
        method: "POST",
        cache: "no-store",
        credentials: "same-origin",
        headers: { "Authorization": "Bearer " + who.token }
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (resp.status === 404) throw new Error(box.getAttribute("data-unavailable"));
          if (resp.status !== 201) {
            throw new Error((data.error && data.error.message) || resp.statusText || String(resp.status));
          }
          if (!/^https:\/\/t\.me\/[A-Za-z0-9_]{3,64}\?start=[A-Za-z0-9_-]{20,64}$/.test(String(data.url))) {
            throw new Error(box.getAttribute("data-unavailable"));
          }
          return data;
        });
      }).then(function (data) {
        var link = $("telegram-url");
        link.href = data.url;
        $("telegram-url-text").textContent = data.url;
        $("telegram-code").textContent = "/start " + data.code;
        $("telegram-qr").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(String(data.qr_svg || ""));
        var until = $("telegram-expires");
        until.setAttribute("datetime", String(data.expires_at));
        until.textContent = new Date(data.expires_at).toLocaleString(document.documentElement.lang || undefined);
        result.classList.remove("hidden");
      }, function (e) {
        fail(navigator.onLine === false ? box.getAttribute("data-offline") : e.message);
      }).then(function () { button.disabled = false; });
    });
  }

  // ---- start ---------------------------------------------------------------------------
  if ("serviceWorker" in navigator) {
    registering = navigator.serviceWorker.register("/observe/sw.js", { scope: "/observe" }).catch(function () {});
  }
  // Ask the browser not to evict the outbox when the phone runs short of space.
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () {});
  renderNet();
  window.addEventListener("online", function () { renderNet(); checkToken(); flush(); sync(); });
  window.addEventListener("offline", renderNet);

  var page = document.body.getAttribute("data-page");
  if (page === "join") {
    join();
  } else if (page === "app") {
    app();
    // What an older version of the app kept after sending goes before anything is shown.
    settle(pruneSent()).then(renderOutbox).then(flush);
    checkToken();
    sync();
    retryTimer = setInterval(function () { flush(); sync(); }, RETRY_MS);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { checkToken(); flush(); sync(); }
    });
  }
})();
