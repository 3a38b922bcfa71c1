/* The planner's change sets: drafts listed, created and opened; splits, merges and boundary moves
   picked and drawn on the map (leaflet-draw's polyline handler) and posted as edits; the preview's
   before/after layers and tables of what moves; apply, discard and the balancing proposal. All through
   /api/v1/planning. Every write sends the draft's ETag as If-Match; a 412 means another planner changed the
   draft meanwhile, so it is reloaded and the planner told. Loads after planner.js, whose map it draws on. */
(function () {
  "use strict";

  const API = "/api/v1/planning";
  const view = window.plannerView;
  const map = view.map;
  const element = view.element;
  const $ = (id) => document.getElementById(id);
  const status = $("plan-status");
  const preview = $("preview");

  const UNIT = {color: "#6b2c91", weight: 1.2, dashArray: null, fillColor: "#6b2c91", fillOpacity: 0.04};
  const PICKED = {color: "#c25e00", weight: 4, dashArray: null, fillColor: "#e8a317", fillOpacity: 0.3};
  const CHANGED = {color: "#b34700", weight: 2, dashArray: "5 3", fillColor: "#f59e42", fillOpacity: 0.15};
  const BEFORE = {color: "#4a525c", weight: 2.5, dashArray: "7 5", fill: false};
  const AFTER = {
    new: {color: "#b34700", weight: 3, fillColor: "#f59e42", fillOpacity: 0.45},
    reshaped: {color: "#6b2c91", weight: 3, fillColor: "#c9a3e0", fillOpacity: 0.4},
    unchanged: {color: "#35505f", weight: 1, fill: false},
  };
  const LINE = {color: "#c2185b", weight: 3, opacity: 0.9, pane: "drawing"};
  const NEEDED = {split: 1, move_boundary: 2, merge: 2};
  const HELP = {
    split: () => t("Pick the unit to split, then draw a line across it: click outside it, click any bends inside, click outside on the far side and click that last point again (or press Finish the line)."),
    move_boundary: () => t("Pick two neighbouring units, then draw their new shared boundary: it runs from one marked end of the current boundary to the other, so only its course between them matters."),
    merge: () => t("Pick two or more neighbouring units of one parent, then press Merge the picked units."),
  };
  const STATUS_NAMES = {
    draft: () => t("draft"), applied: () => t("applied"), discarded: () => t("discarded"),
    reverted: () => t("reverted"),
  };

  map.createPane("units").style.zIndex = 420;  // above the workload layer, which stays visible beneath
  map.createPane("preview").style.zIndex = 430;
  map.createPane("drawing").style.zIndex = 440;
  const unitRenderer = L.svg({pane: "units"});
  const previewRenderer = L.svg({pane: "preview"});
  const previewLayer = L.layerGroup().addTo(map);
  const endMarks = L.layerGroup().addTo(map);

  const state = {
    draft: null, etag: null, unitLayer: null, paths: new Map(), features: new Map(),
    live: {}, tool: null, picked: [], drawing: null, ends: null,
  };

  Object.assign(L.drawLocal.draw.handlers.polyline, {
    error: t("The line may not cross itself."),
    tooltip: {start: t("Click to start the line."), cont: t("Click to continue the line."),
              end: t("Click the last point again to finish the line.")},
  });

  function say(text, problem) {
    status.textContent = text;
    status.classList.toggle("problem", Boolean(problem));
  }

  /* One call to the planning API: the JSON body and the ETag, or an Error carrying the server's
     description (GridGov's error body) and the status. */
  async function call(method, path, body, etag) {
    const headers = {};
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (etag) { headers["If-Match"] = etag; }
    const response = await fetch(API + path, {method: method, credentials: "same-origin", headers: headers,
                                              body: body === undefined ? undefined : JSON.stringify(body)});
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.description || (response.status + " " + response.statusText));
      error.status = response.status;
      throw error;
    }
    return {data: data, etag: response.headers.get("ETag") || data.etag};
  }

  function codeOf(feature) {
    return feature.properties.code || feature.id;
  }

  /* ---- drafts ---- */

  async function listDrafts() {
    const list = $("drafts");
    try {
      const drafts = (await call("GET", "/change-sets?status=draft")).data.change_sets;
      list.replaceChildren(...drafts.map((draft) => element("li", {},
        element("button", {type: "button", class: "link", "data-open": String(draft.id)}, draft.title),
        " ", element("span", {class: "muted"}, t("effective {date}, {n} edits, by {author}",
                                                 {date: draft.effective_on, n: draft.edits.length,
                                                  author: draft.author})))));
      if (!drafts.length) { list.replaceChildren(element("li", {class: "muted"}, t("No drafts yet."))); }
    } catch (error) {
      list.replaceChildren(element("li", {class: "muted"}, t("Drafts failed to load: {error}",
                                                              {error: error.message})));
    }
  }

  async function openDraft(id) {
    const answer = await call("GET", "/change-sets/" + encodeURIComponent(id));
    await show(answer.data, answer.etag);
  }

  function summary(edit) {
    const created = (edit.created || []).join(", ");
    if (edit.op === "split") { return t("Split {code} into {created}", {code: edit.code, created: created}); }
    if (edit.op === "merge") {
      return t("Merge {codes} into {created}", {codes: edit.codes.join(", "), created: created});
    }
    if (edit.op === "move_boundary") { return t("Move the boundary between {a} and {b}", {a: edit.a, b: edit.b}); }
    if (edit.op === "reparent") {
      return t("Move {code} to grid {parent} as {created}", {code: edit.code, parent: edit.new_parent,
                                                            created: created});
    }
    return edit.op;
  }

  /* A balancing proposal's workload spread before and after (kept with its draft as result.proposal). */
  function showSpread(spread) {
    $("spread").hidden = !spread;
    if (!spread) { return; }
    $("spread").textContent = t("Workload spread, max/mean: {b} before, {a} after; coefficient of variation: {cb} before, {ca} after.", {
      b: view.number(spread.before_max_mean, 2), a: view.number(spread.after_max_mean, 2),
      cb: view.number(spread.before_cv, 2), ca: view.number(spread.after_cv, 2)});
  }

  /* Show a change set as the open draft: its heading, edits (each removable), reassignments and buttons. */
  async function show(changeSet, etag) {
    const editable = changeSet.status === "draft";
    state.draft = changeSet;
    state.etag = etag;
    $("draft").hidden = false;
    $("draft-key").hidden = false;
    $("draft-heading").textContent = t("{title}: effective {date}, {status}", {
      title: changeSet.title, date: changeSet.effective_on,
      status: (STATUS_NAMES[changeSet.status] || (() => changeSet.status))()});
    $("edits").replaceChildren(...changeSet.edits.map((edit, n) => element("li", {"data-op": edit.op},
      summary(edit), " ",
      editable ? element("button", {type: "button", "data-remove": String(n),
                                    "aria-label": t("Remove edit {n}", {n: n + 1})}, t("Remove")) : "")));
    showSpread(changeSet.result && changeSet.result.proposal);
    $("reassignments-box").hidden = !changeSet.reassignments.length;
    $("reassignments-summary").textContent = t("Officer reassignments: {n}", {n: changeSet.reassignments.length});
    $("reassignments").replaceChildren(...changeSet.reassignments.map((change) => element("li", {},
      t("Grid {grid} to officer {officer}", {grid: change.grid_code, officer: change.officer_code}))));
    document.querySelectorAll("#draft .tools button, #draft .tools select, #draft .tools input, " +
                              "#draft .tools textarea, #apply-draft, #discard-draft")
      .forEach((control) => { control.disabled = !editable; });
    document.body.dataset.draft = String(changeSet.id);
    clearPreview();
    if (editable) {
      await drawUnits();
    } else if (state.unitLayer) {
      state.unitLayer.remove();  // an applied or discarded set has no draft map to edit
    }
    document.body.dataset.edits = String(changeSet.edits.length);  // the map shows them too
  }

  function closeDraft() {
    stopTool();
    clearPreview();
    $("draft").hidden = true;
    $("draft-key").hidden = true;
    state.draft = null;
    state.etag = null;
    if (state.unitLayer) { state.unitLayer.remove(); }
    delete document.body.dataset.draft;
  }

  /* A write to the open draft with If-Match; on success the answer becomes the open draft. */
  async function write(path, method, body) {
    try {
      const answer = await call(method, "/change-sets/" + state.draft.id + path, body, state.etag);
      await show(answer.data, answer.etag);
      listDrafts();  // their edit counts
      return answer.data;
    } catch (error) {
      if (error.status === 412) {
        await openDraft(state.draft.id);
        say(t("Someone else changed this draft meanwhile; it has been reloaded. Check it and try again."), true);
      } else {
        say(error.message, true);
      }
      return null;
    }
  }

  /* ---- the units being edited ---- */

  /* The units of ``level`` as the open draft leaves them: the live map without the units its edits retire
     or reshape, plus the new and reshaped ones from its preview, so an edit can build on the ones before. */
  async function draftUnits(level) {
    if (!state.live[level]) {
      state.live[level] = (await call("GET", "/map?level=" + encodeURIComponent(level))).data.features;
    }
    if (!state.draft.edits.length) { return state.live[level]; }
    const result = (await call("GET", "/change-sets/" + state.draft.id + "/preview")).data;
    const changed = result.after.features.filter((feature) => feature.properties.level === level);
    const replaced = new Set([...result.retired, ...changed.map(codeOf)]);
    return [...state.live[level].filter((feature) => !replaced.has(codeOf(feature))), ...changed];
  }

  async function drawUnits() {
    const level = $("edit-level").value;
    const features = await draftUnits(level);
    if (state.unitLayer) { state.unitLayer.remove(); }
    state.paths = new Map();
    state.features = new Map();
    state.unitLayer = L.geoJSON({type: "FeatureCollection", features: features}, {
      renderer: unitRenderer,
      onEachFeature: (feature, path) => {
        const code = codeOf(feature);
        state.paths.set(code, path);
        state.features.set(code, feature);
        path.bindTooltip(element("span", {}, code), {sticky: true});
        path.on("click", () => clicked(feature));
      },
    }).addTo(map);
    state.paths.forEach((path, code) => {
      path.getElement().setAttribute("tabindex", "-1");  // reached from the keyboard by code, as in planner.js
      path.getElement().dataset.unit = code;
    });
    $("unit-codes").replaceChildren(...[...state.paths.keys()].map((code) => element("option", {value: code})));
    document.body.dataset.unitsDrawn = level + ":" + state.paths.size;
    state.picked = state.picked.filter((code) => state.paths.has(code));  // an edit may have retired them
    showPicked();
  }

  /* A click on a unit picks it for the tool in hand; with none, it shows its grid's panel as the map beneath
     would; while a line is drawn, clicks belong to the line. */
  function clicked(feature) {
    const code = codeOf(feature);
    if (state.drawing) { return; }
    if (state.tool) {
      pick(code, false);
    } else {
      view.showGrid(feature.properties.level === "micro_grid" ? feature.properties.parent_code : code);
    }
  }

  function restyleUnits() {
    state.paths.forEach((path, code) => {
      path.setStyle(state.picked.includes(code) ? PICKED : state.features.get(code).properties.status ? CHANGED : UNIT);
    });
    state.picked.forEach((code) => state.paths.get(code).bringToFront());
  }

  /* ---- tools: pick units, then draw or merge ---- */

  function chooseTool(tool) {
    stopTool();
    state.tool = tool;
    document.querySelectorAll("#draft [data-tool]").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
    });
    $("tool-help").textContent = HELP[tool]();
    $("merge-picked").hidden = tool !== "merge";
  }

  function stopTool() {
    stopDrawing();
    state.tool = null;
    state.picked = [];
    document.querySelectorAll("#draft [data-tool]").forEach((button) => button.setAttribute("aria-pressed", "false"));
    $("tool-help").textContent = t("Choose a tool, then pick units on the map or by their codes.");
    $("merge-picked").hidden = true;
    showPicked();
  }

  function pick(code, fromPanel) {
    if (!state.tool) {
      say(t("Choose a tool first: Split, Move boundary or Merge."), true);
      return;
    }
    if (!state.paths.has(code)) {
      say(t("No unit {code} at this level in your area.", {code: code}), true);
      return;
    }
    const at = state.picked.indexOf(code);
    if (at >= 0) {
      state.picked.splice(at, 1);
    } else {
      if (state.tool === "split") { state.picked = []; }
      if (state.tool === "move_boundary" && state.picked.length === 2) { state.picked.shift(); }
      state.picked.push(code);
    }
    showPicked();
    if (fromPanel) {
      const bounds = L.latLngBounds([]);
      state.picked.forEach((picked) => bounds.extend(state.paths.get(picked).getBounds()));
      map.fitBounds(bounds, {padding: [60, 60]});
    }
    if (state.tool !== "merge" && state.picked.length === NEEDED[state.tool]) { startDrawing(); } else { stopDrawing(); }
  }

  function showPicked() {
    $("picked").replaceChildren(...state.picked.map((code) => element("li", {},
      element("button", {type: "button", class: "code", "data-unpick": code,
                         "aria-label": t("Unpick {code}", {code: code})}, code + " ×"))));
    restyleUnits();
  }

  function startDrawing() {
    stopDrawing();
    if (state.tool === "move_boundary") { markSharedEnds(); }
    state.drawing = new L.Draw.Polyline(map, {allowIntersection: false, showLength: false, shapeOptions: LINE,
                                              drawError: {color: "#a3001b", timeout: 2500}});
    state.drawing.enable();
    $("finish-line").hidden = false;
    document.body.dataset.drawing = state.tool;
  }

  function stopDrawing() {
    if (state.drawing) { state.drawing.disable(); }
    state.drawing = null;
    endMarks.clearLayers();
    state.ends = null;
    $("finish-line").hidden = true;
    delete document.body.dataset.drawing;
  }

  function rings(geometry) {
    return geometry.type === "Polygon" ? geometry.coordinates : geometry.coordinates.flat();
  }

  /* The ends of the boundary two neighbours share: vertices of ``a`` that ``b`` has too, next to one that
     it has not (edits keep shared vertices identical, so exact comparison is right). */
  function sharedEnds(a, b) {
    const key = (point) => point[0] + " " + point[1];
    const inB = new Set(rings(b).flat().map(key));
    const ends = new Map();
    rings(a).forEach((ring) => {
      const n = ring.length - 1;  // GeoJSON rings repeat their first point at the end
      for (let i = 0; i < n; i += 1) {
        const prev = ring[(i + n - 1) % n];
        const next = ring[(i + 1) % n];
        if (inB.has(key(ring[i])) && (!inB.has(key(prev)) || !inB.has(key(next)))) {
          ends.set(key(ring[i]), ring[i]);
        }
      }
    });
    return [...ends.values()];
  }

  function markSharedEnds() {
    const [a, b] = state.picked.map((code) => state.features.get(code).geometry);
    state.ends = sharedEnds(a, b);
    state.ends.forEach((end) => L.circleMarker([end[1], end[0]], {pane: "drawing", radius: 7, color: "#c2185b",
                                                                   weight: 3, fillOpacity: 0.2,
                                                                   interactive: false}).addTo(endMarks));
  }

  /* A new boundary starts at the shared boundary's end nearer its first point and stops at the other. */
  function snappedToEnds(coordinates) {
    if (!state.ends || state.ends.length !== 2) { return coordinates; }
    const gap = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]);
    const [e0, e1] = state.ends;
    const first = gap(coordinates[0], e0) <= gap(coordinates[0], e1) ? e0 : e1;
    const last = first === e0 ? e1 : e0;
    const inner = coordinates.length > 2 ? coordinates.slice(1, -1) : [];
    return [first, ...inner, last];
  }

  async function submitLine(coordinates) {
    if (coordinates.length < 2) {
      say(t("A line needs at least two points."), true);
      return;
    }
    const [a, b] = state.picked;
    const body = state.tool === "split"
      ? {op: "split", code: a, line: {type: "LineString", coordinates: coordinates}}
      : {op: "move_boundary", a: a, b: b, line: {type: "LineString", coordinates: snappedToEnds(coordinates)}};
    await submitEdit(body);
  }

  async function submitEdit(body) {
    const tool = state.tool;
    stopDrawing();
    say(t("Checking the edit…"));
    const changed = await write("/edits", "POST", body);
    if (changed) {
      chooseTool(tool);  // ready for the next edit of the same kind
      say(t("Edit accepted: {edit}", {edit: summary(changed.edits[changed.edits.length - 1])}));
    } else if (state.picked.length && state.tool !== "merge") {
      startDrawing();  // refused: the planner draws again over the same units
    }
  }

  function typedLine() {
    const points = $("line-text").value.trim().split(/\n+/).map((row) => row.split(/[\s,]+/).map(Number));
    if (points.some((point) => point.length !== 2 || point.some((x) => !Number.isFinite(x)))) {
      say(t("Write one point per line as longitude, latitude (for example 112.41, 29.37)."), true);
      return null;
    }
    return points;
  }

  /* ---- preview ---- */

  function clearPreview() {
    previewLayer.clearLayers();
    preview.replaceChildren();
    delete preview.dataset.ready;
    document.querySelectorAll(".legend .preview-key").forEach((key) => { key.hidden = true; });
  }

  function km2Value(value) {
    return value === null || value === undefined ? "–" : view.number(value, 3);
  }

  function km2(feature) {
    return km2Value(feature && feature.properties.area_m2 / 1e6);
  }

  function hoursValue(value) {
    return value === null || value === undefined ? "–" : view.number(value, 1);
  }

  const DOMAINS = {river: t("River chief"), forest: t("Forest chief"), field: t("Field chief")};

  function table(id, caption, headings, rows) {
    if (!rows.length) { return element("p", {id: id, class: "muted"}, caption + ": " + t("none")); }
    // A long table scrolls inside its box: the box is a named region that Tab reaches, so keyboard users can
    // scroll it too (axe: scrollable-region-focusable).
    return element("div", {class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption},
                   element("table", {id: id, class: "moves"},
      element("caption", {}, caption),
      element("thead", {}, element("tr", {}, ...headings.map((heading) => element("th", {scope: "col"}, heading)))),
      element("tbody", {}, ...rows.map(([attributes, ...cells]) => element("tr", attributes,
        ...cells.map((cell, i) => element(i ? "td" : "th", i ? {} : {scope: "row"}, String(cell))))))));
  }

  function unitRows(result) {
    const before = new Map(result.before.features.map((f) => [f.properties.code, f]));
    const after = new Map(result.after.features.map((f) => [f.properties.code, f]));
    const row = (code, change, label) => [{"data-code": code, "data-change": change}, code, label,
                                          km2(before.get(code)), km2(after.get(code))];
    return [...result.retired.map((code) => row(code, "retired", t("retired"))),
            ...result.created.map((code) => row(code, "new", t("new"))),
            ...result.reshaped.map((code) => row(code, "reshaped", t("reshaped")))];
  }

  function drawPreview(result) {
    clearPreview();
    const before = L.geoJSON(result.before, {
      renderer: previewRenderer, interactive: false, style: BEFORE,
      onEachFeature: (feature, path) => path.on("add", () => {
        path.getElement().dataset.code = feature.properties.code;
        path.getElement().dataset.status = "before";
      }),
    });
    // grids under micro-grids and reshaped units under new ones, so the new units are never covered
    const rank = (f) => (f.properties.level === "grid" ? 0 : 2) + (f.properties.status === "new" ? 1 : 0);
    const ordered = result.after.features.slice().sort((a, b) => rank(a) - rank(b));
    const after = L.geoJSON({type: "FeatureCollection", features: ordered}, {
      renderer: previewRenderer, interactive: false,
      style: (feature) => AFTER[feature.properties.status] || AFTER.unchanged,
      onEachFeature: (feature, path) => path.on("add", () => {
        path.getElement().dataset.code = feature.properties.code;
        path.getElement().dataset.status = feature.properties.status;
      }),
    });
    previewLayer.addLayer(after).addLayer(before);
    const bounds = after.getBounds().extend(before.getBounds());
    if (bounds.isValid()) { map.fitBounds(bounds, {padding: [40, 40]}); }
    document.querySelectorAll(".legend .preview-key").forEach((key) => { key.hidden = false; });
    const officer = (code) => code || t("no officer");
    preview.replaceChildren(
      element("h4", {id: "preview-heading", tabindex: "-1"}, t("Preview")),
      table("preview-units", t("Units that change"), [t("Unit"), t("Change"), t("Area before, km²"),
                                                      t("Area after, km²")], unitRows(result)),
      table("preview-findings", t("Open findings that move"), [t("Finding"), t("From unit"), t("To unit")],
            result.findings.map((f) => [{"data-finding": String(f.id)}, f.id, f.from, f.to])),
      table("preview-officers", t("Officers"), [t("Grid"), t("Before"), t("After")],
            result.officers.map((o) => [{"data-grid": o.grid_code}, o.grid_code, officer(o.before),
                                        officer(o.after)])),
      table("preview-chiefs", t("Chiefs over the changed villages"), [t("Unit"), t("Domain"), t("Chief")],
            result.chiefs.map((c) => [{"data-chief": c.chief_code}, c.unit_code, DOMAINS[c.domain] || c.domain,
                                      c.chief_code])),
      table("preview-patrols", t("Patrols of the last 30 days in retired grids"), [t("Grid"),
                                                                                  t("Patrols in 30 days"),
                                                                                  t("Patrolled km")],
            result.patrols.map((p) => [{"data-grid": p.grid_code}, p.grid_code, String(p.patrols_30d),
                                       view.number(p.km_30d, 1)])),
      table("preview-workload", t("Workload, hours per month"), [t("Grid"), t("Before"), t("After")],
            result.workload.map((w) => [{"data-grid": w.grid_code}, w.grid_code, hoursValue(w.before_hours),
                                        hoursValue(w.after_hours)])));
    if (result.stale.length) {
      preview.append(element("p", {id: "preview-stale", class: "problem"}, t(
        "Changed by another change set since this draft's edits were drawn on them: {codes}. Check these edits.",
        {codes: result.stale.join(", ")})));
    }
    preview.dataset.ready = "true";
  }

  async function showPreview() {
    say(t("Computing the preview…"));
    try {
      const result = (await call("GET", "/change-sets/" + state.draft.id + "/preview")).data;
      drawPreview(result);
      $("preview-heading").focus();
      say(t("Preview: {r} retired, {c} new, {s} reshaped; {f} open findings move.",
            {r: result.retired.length, c: result.created.length, s: result.reshaped.length,
             f: result.findings.length}));
    } catch (error) {
      say(error.message, true);
    }
  }

  /* ---- apply, discard, balance ---- */

  async function finish(action) {
    const done = await write("/" + action, "POST");
    if (!done) { return; }
    const retired = done.edits.flatMap((edit) => edit.retired || []).length;
    const created = done.edits.flatMap((edit) => edit.created || []).length;
    closeDraft();
    state.live = {};  // the map changed: the next draft loads the units afresh
    say(action === "apply"
      ? t("Applied: {r} units retired, {c} new. Reload the page to redraw the grids' workload.",
          {r: retired, c: created})
      : t("Draft discarded."));
    document.body.dataset.lastChangeSet = done.status;
    await listDrafts();
  }

  /* Open the change set a request answers with (a new draft, a proposal, a listed draft) and say ``done``. */
  async function openAnswer(request, done) {
    try {
      const answer = await request;
      await show(answer.data, answer.etag);
      say(done);
      $("draft-heading").focus();
      await listDrafts();
    } catch (error) {
      say(error.message, true);
    }
  }

  async function propose(scope) {
    const button = $("balance-form").querySelector("button");
    button.disabled = true;
    say(t("Computing a balancing proposal; for a whole county this takes a minute or two…"));
    await openAnswer(call("POST", "/balance", scope ? {scope_code: scope} : {}),
                     t("Balancing proposal ready as a draft: check it, edit it, then apply or discard it."));
    button.disabled = false;
  }

  function scopeCodes() {
    const grids = view.data ? Object.values(view.data.grids) : [];
    const codes = new Set(grids.flatMap((grid) => [grid.town, grid.village]));
    $("scope-codes").replaceChildren(...[...codes].sort().map((code) => element("option", {value: code})));
  }

  /* ---- wiring ---- */

  $("new-draft").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target.elements;
    openAnswer(call("POST", "/change-sets", {title: form.title.value.trim(), effective_on: form.effective_on.value}),
               t("Draft created. Choose a tool to edit the map."));
  });
  $("drafts").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-open]");
    if (button) {
      openAnswer(call("GET", "/change-sets/" + encodeURIComponent(button.dataset.open)), t("Draft opened."));
    }
  });
  $("balance-form").addEventListener("submit", (event) => {
    event.preventDefault();
    propose(event.target.elements.scope.value.trim());
  });
  $("balance-scope").addEventListener("focus", scopeCodes, {once: true});
  $("edit-level").addEventListener("change", () => {
    stopTool();
    drawUnits().catch((error) => say(error.message, true));
  });
  document.querySelectorAll("#draft [data-tool]").forEach((button) => {
    button.addEventListener("click", () => chooseTool(button.dataset.tool));
  });
  $("pick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pick(event.target.elements.code.value.trim(), true);
  });
  $("picked").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-unpick]");
    if (button) { pick(button.dataset.unpick, false); }
  });
  $("finish-line").addEventListener("click", () => state.drawing && state.drawing.completeShape());
  $("merge-picked").addEventListener("click", () => {
    if (state.picked.length < 2) {
      say(t("Pick at least two units to merge."), true);
      return;
    }
    submitEdit({op: "merge", codes: state.picked.slice()});
  });
  $("cancel-tool").addEventListener("click", () => { stopTool(); say(t("Tool put away.")); });
  $("use-line").addEventListener("click", () => {
    if (!state.tool || state.tool === "merge" || state.picked.length !== NEEDED[state.tool]) {
      say(t("Choose Split or Move boundary and pick its units before giving a line."), true);
      return;
    }
    const points = typedLine();
    if (points) { submitLine(points); }
  });
  $("edits").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-remove]");
    if (!button) { return; }
    if (await write("/edits/" + button.dataset.remove, "DELETE")) { say(t("Edit removed.")); }
  });
  $("preview-draft").addEventListener("click", showPreview);
  $("apply-draft").addEventListener("click", () => finish("apply"));
  $("discard-draft").addEventListener("click", () => finish("discard"));
  $("close-draft").addEventListener("click", () => { closeDraft(); say(t("Draft closed; it stays in the list.")); });
  map.on(L.Draw.Event.CREATED, (event) => {
    state.drawing = null;
    submitLine(event.layer.getLatLngs().map((point) => [point.lng, point.lat]));
  });
  map.on(L.Draw.Event.DRAWSTOP, () => { $("finish-line").hidden = true; });

  listDrafts();
}());
