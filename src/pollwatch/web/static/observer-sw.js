// Service worker of the observer app (served as /observe/sw.js, scope /observe).
// It keeps the app shell and its assets so the app opens with no connection. Pages and
// assets are fetched from the network first (so an update shows at once) and fall back to
// the stored copy when the network fails or hangs. Reports never pass through here: they
// are POSTs to /api/, kept and retried by the page's IndexedDB outbox. The shell it keeps
// holds nothing personal (the code name, token and reports come from the page's storage),
// and it shows no notifications: the page alone may say "an urgent message arrived" (never
// its text, and only if the observer allowed it), so a lock screen shows nothing of it.
// Checklists and messages are GETs to /api/, fetched by the page and kept in its storage.
"use strict";
var VERSION = "__VERSION__";
var PREFIX = "pollwatch-observer-";
var CACHE = PREFIX + VERSION;
var SHELL = __ASSETS__;
var NETWORK_TIMEOUT_MS = 4000;
// Set when the page leaves no trace: from then on nothing is written to Cache Storage.
var erased = false;

function deleteCaches() {
  return caches.keys().then(function (keys) {
    return Promise.all(keys.map(function (k) { return caches.delete(k); }));
  });
}

self.addEventListener("message", function (event) {
  if (event.data !== "leave-no-trace") return;
  erased = true;
  event.waitUntil(deleteCaches());
});

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(SHELL); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf(PREFIX) === 0 && k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function fromNetwork(request) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); }, NETWORK_TIMEOUT_MS);
    fetch(request).then(function (resp) { clearTimeout(timer); resolve(resp); },
      function (err) { clearTimeout(timer); reject(err); });
  });
}

function fromCache(url) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(url.href).then(function (hit) {
      if (hit || url.pathname !== "/observe") return hit;
      // The shell in the language asked for, else in any language we have.
      var lang = url.searchParams.get("lang");
      return (lang ? cache.match("/observe?lang=" + lang) : Promise.resolve(undefined))
        .then(function (h) { return h || cache.match("/observe"); });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var shellPage = url.pathname === "/observe";
  var asset = SHELL.indexOf(url.pathname) >= 0;
  if (!shellPage && !asset) return;
  // The copy is stored before the page gets the answer, so no write to the cache is still
  // pending when the page later erases it.
  event.respondWith(
    fromNetwork(request).then(function (resp) {
      if (!resp.ok || erased) return resp;
      var copy = resp.clone();
      return caches.open(CACHE).then(function (cache) {
        return erased ? undefined : cache.put(url.href, copy);
      }).then(function () { return resp; }, function () { return resp; });
    }).catch(function () {
      return fromCache(url).then(function (hit) { return hit || Response.error(); });
    })
  );
});
