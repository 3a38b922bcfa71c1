/* The grid officer's field page: my grids and position on the map, the patrol and its checklists, reporting
   a finding with a photo, my inbox. Every write goes through the outbox (queue.js) and is sent when the
   connection allows, so the page works the same with and without signal. Texts go through t() (i18n.js). */

import {Queue} from "./queue.js";

const $ = (id) => document.getElementById(id);
const PATROL_KEY = "gridgov-field-patrol";
const FIX_BATCH = 20;           // fixes per batch sent to the server
const FIX_SECONDS = 20;         // and at least this often during a patrol
const RETRY_SECONDS = 15;       // a stopped queue is tried again this often
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];  // what the server takes (findings/photos.py)
const PHOTO_MAX_BYTES = 20 * 1024 * 1024;
const PHOTO_MAX_SIDE = 4096;    // a photo re-encoded on the phone is scaled to fit this
const REASON_STEPS = new Set(["return", "suspend", "reopen", "reject", "reroute"]);
const english = window.pageLanguage === "en";
const locale = english ? "en-GB" : "zh-CN";

const STATUS_NAMES = {
  reported: t("Reported"), dispatched: t("Dispatched"), accepted: t("Accepted"), in_progress: t("In progress"),
  resolved: t("Resolved"), verified: t("Verified"), rejected: t("Rejected"), returned: t("Returned"),
  reopened: t("Reopened"), suspended: t("Suspended"),
};
const STEP_NAMES = {
  dispatch: t("Dispatch"), reroute: t("Reroute"), accept: t("Accept"), return: t("Return"), start: t("Start work"),
  suspend: t("Suspend"), resume: t("Resume"), resolve: t("Resolve"), verify: t("Verify"), reopen: t("Reopen"),
  reject: t("Reject"),
};
const DOMAIN_NAMES = {river: t("River"), forest: t("Forest"), field: t("Farmland")};

const queue = await Queue.open();
let categories = {};            // code -> category
let patrol = JSON.parse(localStorage.getItem(PATROL_KEY) || "null");  // {id, grid, startedAt, answers}
let fixes = [];                 // fixes of the patrol not yet in the outbox
let lastFix = null;             // the latest position
let place = null;               // where a new finding is: {lon, lat, source: "gps" | "map"}

/* ---- connection and outbox ---- */

function setText(element, text) {
  if (element.textContent !== text) { element.textContent = text; }
}

function showNetwork() {
  $("net").dataset.state = navigator.onLine ? "online" : "offline";
  setText($("net-text"), navigator.onLine ? t("Online") : t("Offline: saved on this phone"));
}

async function showQueue() {
  const entries = await queue.entries();
  const failed = entries.filter((entry) => entry.state === "failed").length;
  const waiting = entries.length - failed;
  $("queue-count").textContent = String(entries.length);
  document.body.dataset.queued = String(entries.length);
  let status;
  if (entries.length === 0) {
    status = t("Nothing waiting to sync");
  } else if (waiting === 0) {
    status = t("{n} refused by the server: see the list", {n: failed});
  } else if (!navigator.onLine) {
    status = t("{n} waiting to sync: sent when the connection returns", {n: waiting});
  } else if (entries.some((entry) => entry.state !== "failed" && entry.error)) {
    status = t("{n} waiting to sync: the server did not take them yet, trying again shortly", {n: waiting});
  } else {
    status = t("{n} waiting to sync: sending", {n: waiting});
  }
  setText($("sync-status"), status);
  const list = $("queue-list");
  list.replaceChildren(...entries.map((entry) => {
    const item = document.createElement("li");
    item.textContent = entry.label;
    if (entry.state === "failed") {
      item.className = "failed";
      item.append(" — " + t("refused: {reason}", {reason: entry.error}) + " ");
      const discard = document.createElement("button");
      discard.type = "button";
      discard.textContent = t("Discard");
      discard.addEventListener("click", () => queue.discard(entry.seq));
      item.append(discard);
    } else if (entry.error) {
      item.append(" — " + t("waiting: {reason}", {reason: entry.error}));
    }
    return item;
  }));
}

/* Send what waits, if the phone believes it is online (a run already under way is joined, not doubled). */
async function sync() {
  showNetwork();
  if (!navigator.onLine) { return; }
  const before = (await queue.entries()).length;
  const result = await queue.flush();
  showQueue();
  if (result === "empty" && before > 0) { loadInbox(); }
}

function enqueue(entry) {
  return queue.add(entry).then(sync);
}

/* A signed-in GET; rejects on no network and on any answer but 2xx. */
async function getJson(url) {
  const response = await fetch(url, {credentials: "same-origin"});
  if (!response.ok) { throw new Error(String(response.status)); }
  return response.json();
}

/* ---- the map and the position ---- */

const map = L.map("map", {zoomSnap: 0.25, attributionControl: false});
const [west, south, east, north] = $("map").dataset.bounds.split(",").map(Number);
map.fitBounds([[south, west], [north, east]], {padding: [12, 12]});  // my grids' extent, known without the layer
let grids = [];                 // GeoJSON features of my grids (id: the grid code)
const me = L.circleMarker([0, 0], {radius: 8, color: "#fff", weight: 3, fillColor: "#1565c0", fillOpacity: 1});
const spot = L.circleMarker([0, 0], {radius: 9, color: "#1b1f24", weight: 2, fillColor: "#e8a317", fillOpacity: 1});

async function drawGrids() {
  const layerUrl = $("map").dataset.layer;
  try {
    const topology = await getJson(layerUrl);
    const layer = L.geoJSON(topojson.feature(topology, topology.objects.grids), {
      style: () => ({color: "#0b4f6c", weight: 2, fillColor: "#7fb3c8", fillOpacity: 0.2}),
      onEachFeature: (feature, path) => path.bindTooltip(String(feature.id)),
    }).addTo(map);
    grids = layer.getLayers().map((path) => path.feature);
    document.body.dataset.gridsDrawn = String(grids.length);
  } catch (error) {
    document.body.dataset.gridsDrawn = "0";
    setText($("position"), t("The map of your grids is not available offline yet."));
  }
}

function inRing(lon, lat, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) { inside = !inside; }
  }
  return inside;
}

/* The code of my grid that holds the point, or null. */
function gridAt(lon, lat) {
  for (const feature of grids) {
    const polygons = feature.geometry.type === "Polygon" ? [feature.geometry.coordinates]
      : feature.geometry.coordinates;
    if (polygons.some((rings) => inRing(lon, lat, rings[0]) && !rings.slice(1).some((hole) => inRing(lon, lat, hole)))) {
      return feature.id;
    }
  }
  return null;
}

function coordinates(lon, lat) {
  return lat.toFixed(6) + ", " + lon.toFixed(6);
}

function setPlace(lon, lat, source) {
  place = {lon: lon, lat: lat, source: source};
  if (source === "map") { spot.setLatLng([lat, lon]).addTo(map); } else { spot.remove(); }
  const text = source === "map" ? t("Tapped on the map: {where}", {where: coordinates(lon, lat)})
    : t("My position: {where}", {where: coordinates(lon, lat)});
  setText($("finding-where"), text);
}

function onPosition(position) {
  const {longitude: lon, latitude: lat, accuracy} = position.coords;
  const first = lastFix === null;
  lastFix = position;
  me.setLatLng([lat, lon]).addTo(map);
  setText($("position"), t("Your position: {where} (within {m} m)",
                           {where: coordinates(lon, lat), m: Math.round(accuracy)}));
  if (!place || place.source === "gps") { setPlace(lon, lat, "gps"); }
  if (first && !patrol) {
    const code = gridAt(lon, lat);
    if (code) { chooseGrid(code); }
  }
  if (patrol && Date.parse(patrol.startedAt) <= position.timestamp
      && !fixes.some((fix) => Date.parse(fix.time) === position.timestamp)) {
    const fix = {lon: lon, lat: lat, time: new Date(position.timestamp).toISOString()};
    if (Number.isFinite(accuracy) && accuracy >= 0) { fix.accuracy_m = accuracy; }
    if (Number.isFinite(position.coords.speed) && position.coords.speed >= 0) { fix.speed_mps = position.coords.speed; }
    fixes.push(fix);
    if (fixes.length >= FIX_BATCH) { queueFixes(); }
    showPatrol();
  }
}

function onPositionError() {
  setText($("position"), t("Your position is not available: tap the map to place a finding."));
}

/* ---- the patrol and its checklists ---- */

function chooseGrid(code) {
  $("patrol-grid").value = code;
  showChecklists();
}

function showChecklists() {
  const option = $("patrol-grid").selectedOptions[0];
  const domains = option ? option.dataset.domains.split(" ") : [];
  document.querySelectorAll(".checklist").forEach((list) => { list.hidden = !domains.includes(list.dataset.domain); });
}

function showPatrol() {
  const button = $("patrol-toggle");
  button.dataset.state = patrol ? "running" : "idle";
  setText(button, patrol ? t("End patrol") : t("Start patrol"));
  $("patrol-grid").disabled = Boolean(patrol);
  $("checklists-hint").hidden = Boolean(patrol);
  $("patrol").dataset.fixes = String(fixes.length);
  setText($("patrol-status"), patrol
    ? t("Patrol under way on grid {grid} since {time}; {n} fixes not yet queued.",
        {grid: patrol.grid, time: new Date(patrol.startedAt).toLocaleTimeString(locale), n: fixes.length})
    : t("No patrol under way."));
  document.querySelectorAll(".check button").forEach((button) => {
    button.disabled = !patrol;
    const answer = patrol && patrol.answers[button.closest(".check").dataset.item];
    button.setAttribute("aria-pressed", String(answer === button.dataset.answer));
  });
  showChecklists();
}

function savePatrol() {
  if (patrol) { localStorage.setItem(PATROL_KEY, JSON.stringify(patrol)); } else { localStorage.removeItem(PATROL_KEY); }
}

async function queueFixes() {
  if (!patrol || fixes.length === 0) { return; }
  const batch = fixes.splice(0);
  await enqueue({kind: "fixes", label: t("{n} GPS fixes", {n: batch.length}), method: "POST",
                 url: "/api/v1/patrols/" + patrol.id + "/fixes", body: {id: crypto.randomUUID(), fixes: batch}});
}

async function startPatrol() {
  const grid = $("patrol-grid").value;
  patrol = {id: crypto.randomUUID(), grid: grid, startedAt: new Date().toISOString(), answers: {}};
  savePatrol();
  showPatrol();
  await enqueue({kind: "patrol", label: t("Patrol started on grid {grid}", {grid: grid}), method: "POST",
                 url: "/api/v1/patrols", body: {id: patrol.id, grid_code: grid, started_at: patrol.startedAt}});
  navigator.geolocation.getCurrentPosition(onPosition, onPositionError, {enableHighAccuracy: true, maximumAge: 0});
}

async function endPatrol() {
  await queueFixes();
  const ending = patrol;
  patrol = null;
  savePatrol();
  showPatrol();
  await enqueue({kind: "end", label: t("Patrol ended on grid {grid}", {grid: ending.grid}), method: "POST",
                 url: "/api/v1/patrols/" + ending.id + "/end", body: {ended_at: new Date().toISOString()}});
}

function answerCheck(event) {
  const button = event.target.closest("button[data-answer]");
  if (!patrol || !button) { return; }
  const code = button.closest(".check").dataset.item;
  patrol.answers[code] = button.dataset.answer;
  savePatrol();
  showPatrol();
  enqueue({kind: "check", label: t("Checklist answer {item}", {item: code}), method: "PUT",
           url: "/api/v1/patrols/" + patrol.id + "/checks",
           body: {answers: [{item_code: code, answer: button.dataset.answer}]}});
}

/* ---- reporting a finding ---- */

async function loadCategories() {
  const select = $("finding-category");
  try {
    const active = (await getJson("/api/v1/findings/categories")).filter((category) => category.active);
    categories = Object.fromEntries(active.map((category) => [category.code, category]));
    const groups = Object.keys(DOMAIN_NAMES).map((domain) => {
      const group = document.createElement("optgroup");
      group.label = DOMAIN_NAMES[domain];
      group.append(...active.filter((category) => category.domain === domain).map((category) =>
        new Option(english ? category.name_en : category.name_zh, category.code)));
      return group;
    });
    select.replaceChildren(new Option(t("Choose a category"), ""), ...groups);
  } catch (error) {
    select.replaceChildren(new Option(t("Categories need a connection the first time"), ""));
  }
}

function categoryName(code) {
  const category = categories[code];
  if (!category) { return code; }
  return english ? category.name_en : category.name_zh;
}

/* The photo as the server takes it: JPEG, PNG or WebP up to the size limit, else re-encoded as JPEG. */
async function photoBlob(file) {
  if (PHOTO_TYPES.includes(file.type) && file.size <= PHOTO_MAX_BYTES) { return file; }
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
}

function refuse(field, message) {
  setText($("finding-status"), message);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

async function reportFinding(event) {
  event.preventDefault();
  const category = $("finding-category");
  category.removeAttribute("aria-invalid");
  if (!category.value) { refuse(category, t("Choose a category first.")); return; }
  if (!place) { refuse($("finding-here"), t("Set where the finding is: use your position or tap the map.")); return; }
  const id = crypto.randomUUID();
  const name = categoryName(category.value);
  const body = {id: id, category_code: category.value, severity: $("finding-severity").value,
                description: $("finding-description").value.trim(), lon: place.lon, lat: place.lat, crs: "wgs84",
                observed_at: new Date().toISOString()};
  if (patrol) { body.patrol_id = patrol.id; }
  const file = $("finding-photo").files[0];
  let photo = null;
  try {
    photo = file ? await photoBlob(file) : null;
  } catch (error) {
    refuse($("finding-photo"), t("This photo cannot be read: take it again."));
    return;
  }
  await queue.add({kind: "finding", label: t("Finding: {category}", {category: name}), method: "POST",
                   url: "/api/v1/findings", body: body});
  if (photo) {
    await queue.add({kind: "photo", label: t("Photo of the finding: {category}", {category: name}), method: "POST",
                     url: "/api/v1/findings/" + id + "/photos", body: photo, contentType: photo.type});
  }
  $("finding-form").reset();
  if (lastFix) { setPlace(lastFix.coords.longitude, lastFix.coords.latitude, "gps"); }
  setText($("finding-status"), navigator.onLine ? t("Finding saved: sending.")
    : t("Finding saved on this phone: it is sent when the connection returns."));
  sync();
}

/* ---- my inbox ---- */

function when(iso) {
  return iso ? new Date(iso).toLocaleString(locale, {dateStyle: "short", timeStyle: "short"}) : "—";
}

async function loadInbox() {
  let page;
  try {
    page = await getJson("/api/v1/inbox");
  } catch (error) {
    setText($("inbox-status"), t("Your inbox needs a connection."));
    return;
  }
  setText($("inbox-status"), page.count === 0 ? t("Nothing waits on you.")
    : t("{n} findings wait on you, earliest deadline first.", {n: page.count}));
  $("inbox-list").replaceChildren(...page.items.map(inboxItem));
}

function inboxItem(finding) {
  const item = document.createElement("li");
  const details = document.createElement("details");
  details.dataset.finding = finding.id;
  const summary = document.createElement("summary");
  summary.textContent = categoryName(finding.category_code) + " · " + (STATUS_NAMES[finding.status] || finding.status)
    + " · " + finding.grid_code;
  const due = document.createElement("p");
  due.textContent = t("Accept by {accept}; resolve by {resolve}.",
                      {accept: when(finding.accept_due), resolve: when(finding.resolve_due)});
  const steps = document.createElement("div");
  details.append(summary, due, steps);
  details.addEventListener("toggle", () => {
    if (details.open && !steps.childElementCount) { loadSteps(finding.id, steps); }
  });
  item.append(details);
  return item;
}

let stepForms = 0;

async function loadSteps(findingId, into) {
  let timeline;
  try {
    timeline = await getJson("/api/v1/findings/" + findingId + "/timeline");
  } catch (error) {
    into.replaceChildren(Object.assign(document.createElement("p"), {textContent: t("Steps need a connection.")}));
    return;
  }
  if (timeline.allowed.length === 0) {
    into.replaceChildren(Object.assign(document.createElement("p"),
                                       {textContent: t("You have no step to take on this finding now.")}));
    return;
  }
  const n = ++stepForms;
  const form = document.createElement("form");
  form.className = "step";
  form.innerHTML = '<div class="row"><label></label><select></select></div>'
    + '<div class="row"><label></label><textarea rows="2" maxlength="2000"></textarea></div>'
    + '<button type="submit"></button><p class="line" role="status" aria-live="polite"></p>';
  const [actionLabel, noteLabel] = form.querySelectorAll("label");
  const select = form.querySelector("select");
  const note = form.querySelector("textarea");
  const status = form.querySelector("p");
  select.id = "step-action-" + n;
  note.id = "step-note-" + n;
  actionLabel.htmlFor = select.id;
  noteLabel.htmlFor = note.id;
  actionLabel.textContent = t("Step");
  noteLabel.textContent = t("Note or reason");
  form.querySelector("button").textContent = t("Take this step");
  select.append(...timeline.allowed.map((action) => new Option(STEP_NAMES[action] || action, action)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = select.value;
    const text = note.value.trim() || null;
    const body = {action: action, version: timeline.finding.version};
    body[REASON_STEPS.has(action) ? "reason" : "note"] = text;
    try {
      const response = await fetch("/api/v1/findings/" + findingId + "/steps", {
        method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body)});
      if (!response.ok) {
        setText(status, (await response.json()).description || String(response.status));
        return;
      }
    } catch (error) {
      setText(status, t("Steps need a connection."));
      return;
    }
    await loadInbox();
    setText($("inbox-status"), t("Step taken."));
  });
  into.replaceChildren(form);
}

/* ---- start ---- */

$("patrol-toggle").addEventListener("click", () => (patrol ? endPatrol() : startPatrol()));
$("patrol-grid").addEventListener("change", showChecklists);
$("checklists").addEventListener("click", answerCheck);
$("finding-form").addEventListener("submit", reportFinding);
$("finding-here").addEventListener("click", () => {
  if (lastFix) {
    setPlace(lastFix.coords.longitude, lastFix.coords.latitude, "gps");
  } else {
    navigator.geolocation.getCurrentPosition(onPosition, onPositionError, {enableHighAccuracy: true, timeout: 15000});
  }
});
map.on("click", (event) => setPlace(event.latlng.lng, event.latlng.lat, "map"));
window.addEventListener("online", sync);
window.addEventListener("offline", () => { showNetwork(); showQueue(); });
document.addEventListener("visibilitychange", () => { if (document.hidden) { queueFixes(); } });
queue.onChange(showQueue);
setInterval(sync, RETRY_SECONDS * 1000);
setInterval(queueFixes, FIX_SECONDS * 1000);

showNetwork();
showPatrol();
await Promise.all([drawGrids(), loadCategories(), showQueue()]);
navigator.geolocation.watchPosition(onPosition, onPositionError, {enableHighAccuracy: true, maximumAge: 0});
loadInbox();
sync();
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/field/sw.js", {scope: "/field"}).catch(() => null);
}
document.body.dataset.ready = "1";
