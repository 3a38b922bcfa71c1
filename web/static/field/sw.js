/* The field page's service worker: keeps the app shell so the page opens with no signal.

   Served by GET /field/sw.js, which fills in SHELL below: the cache version (a hash of the shell's files,
   so a deploy that changes them replaces the cache), the page, its static files and the data it reads.
   - static files: from the cache first (the version names them exactly);
   - the page and its data (the officer's grids, the categories, the inbox): from the network first,
     kept in the cache, and answered from the cache when the network fails.
   Writes (POST, PUT) are never touched: the page's own queue (queue.js) holds them until they are sent. */

const SHELL = self.SHELL_PLACEHOLDER;
const CACHE = "gridgov-field-" + SHELL.version;
const STATIC = new Set(SHELL.static);
const FRESH = new Set([SHELL.page, ...SHELL.data]);

/* Keep a response only when it is the thing asked for: not an error, not a sign-in page after a redirect. */
async function keep(cache, request) {
  const response = await fetch(request);
  if (response.ok && !response.redirected) {
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll([...STATIC]);
    // The page and its data are personal and may fail (signed out): keep what can be had.
    await Promise.all([...FRESH].map((url) => keep(cache, new Request(url, {credentials: "same-origin"}))
      .catch(() => null)));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name.startsWith("gridgov-field-") && name !== CACHE)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    return await keep(cache, request);
  } catch (error) {
    const cached = await cache.match(request, {ignoreSearch: request.mode === "navigate"});
    if (cached) { return cached; }
    throw error;
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request);
  return cached || keep(await caches.open(CACHE), request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (STATIC.has(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (FRESH.has(url.pathname)) {
    event.respondWith(networkFirst(request));
  }
});
