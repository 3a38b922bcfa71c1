/* Signing out (or a session running out) ends on the sign-in page. Here the field page's offline copies
   (its page, grids, categories and inbox, kept by its service worker) are forgotten, so the next person
   on a shared phone cannot open them without signing in. Writes still waiting to sync stay in their queue
   (IndexedDB): they belong to the officer who made them and are sent when they sign in again. */
(function () {
  "use strict";
  if (!window.caches) { document.documentElement.dataset.offlineCopies = "none"; return; }
  caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf("gridgov-field-") === 0; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { document.documentElement.dataset.offlineCopies = "cleared"; });
}());
