/* The supervisor map: grids coloured by open or overdue findings (classes from the server), clustered
   finding markers, patrol tracks, resource layers, and side panels for a grid and a finding.
   Geometry is fetched once; stats, markers and panels are fetched again when the filters change.
   With a GCJ-02 (Amap) basemap every coordinate is shifted on the way in (see gridgov/maps/overlays.py). */
(function () {
  "use strict";

  var GRID_LAYER_URL = "/map/grids.topojson?detail=overview";  // or "/map/grids.geojson": readGridLayer() takes either
  var FINE_LAYER_URL = "/map/grids.topojson?detail=fine";
  var MICRO_GRID_LAYER_URL = "/map/micro-grids.topojson";  // zoomed in only
  var FINE_ZOOM = 12;  // from here a pixel spans under 33 m and the overview's 30 m simplification could show
  var PALETTE = ["#f4f1ea", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"];
  var OUTSIDE_FILTER = "#c9ced4";
  var STATUS_LABELS = {
    open: t("Open"), overdue: t("Overdue"),
    reported: t("Reported"), dispatched: t("Dispatched"), accepted: t("Accepted"), in_progress: t("In progress"),
    resolved: t("Resolved"), verified: t("Verified"), rejected: t("Rejected"), returned: t("Returned"),
    reopened: t("Reopened"), suspended: t("Suspended")
  };
  var ACTION_LABELS = {
    report: t("Report"), escalate: t("Escalate"), dispatch: t("Dispatch"), reroute: t("Reroute"), accept: t("Accept"), "return": t("Return"), start: t("Start work"),
    suspend: t("Suspend"), resume: t("Resume"), resolve: t("Resolve"), verify: t("Verify"), reopen: t("Reopen"), reject: t("Reject")
  };
  var NEEDS_REASON = {reroute: true, "return": true, suspend: true, reopen: true, reject: true};
  var DOMAIN_LABELS = {river: t("Rivers"), forest: t("Forests"), field: t("Farmland")};
  var LEVEL_LABELS = {village: t("Village"), town: t("Town"), county: t("County"), grid: t("Grid")};
  var RESOURCE_STYLES = {
    river: {color: "#1565c0", weight: 2, opacity: 0.9},
    forest: {color: "#2e7d32", weight: 0.5, fillColor: "#66bb6a", fillOpacity: 0.45},
    field: {color: "#8d6e00", weight: 0.4, fillColor: "#e6c84f", fillOpacity: 0.45}
  };

  var form = document.getElementById("filters");
  var status = document.getElementById("status");
  var panel = document.getElementById("panel");
  var map = L.map("map", {preferCanvas: false, zoomSnap: 0.25, attributionControl: false, maxZoom: 18});  // clusters need a maxZoom
  var gridRenderer = L.svg();
  var microGridPane = map.createPane("microGrids");  // over the grids' fills; clicks pass through to them
  microGridPane.style.cssText = "z-index:450;pointer-events:none";
  var state = {options: null, stats: null, gridLayer: null, paths: {}, selected: null, markers: null,
               tracks: null, resources: {}, shift: null, findingsVersion: 0};

  function fetchJSON(url, init) {
    return fetch(url, Object.assign({credentials: "same-origin"}, init || {})).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          var error = new Error(body.description || (response.status + " " + response.statusText));
          error.status = response.status;
          throw error;
        }
        return body;
      });
    });
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      var value = attributes[key];
      if (value === null || value === undefined) { return; }
      if (key === "text") { node.textContent = value; } else { node.setAttribute(key, value); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function say(text) { status.textContent = text; }

  function categoryName(code) {
    var category = (state.options ? state.options.categories : []).filter(function (c) { return c.code === code; })[0];
    return category ? (window.pageLanguage === "en" ? category.name_en : category.name_zh) : code;
  }

  /* --- GCJ-02: bilinear interpolation of the server's offset grid ------------------------------------ */
  function makeShift(grid) {
    if (!grid) { return null; }
    function at(values, x, y) {
      var fx = (x - grid.x0) / grid.step, fy = (y - grid.y0) / grid.step;
      var i = Math.max(0, Math.min(grid.nx - 2, Math.floor(fx))), j = Math.max(0, Math.min(grid.ny - 2, Math.floor(fy)));
      var u = fx - i, v = fy - j;
      return (values[j][i] * (1 - u) + values[j][i + 1] * u) * (1 - v) +
             (values[j + 1][i] * (1 - u) + values[j + 1][i + 1] * u) * v;
    }
    return function (lon, lat) { return [lon + at(grid.dlon, lon, lat), lat + at(grid.dlat, lon, lat)]; };
  }

  function latLng(coords) {
    var c = state.shift ? state.shift(coords[0], coords[1]) : coords;
    return L.latLng(c[1], c[0]);
  }

  /* --- the grid layer: TopoJSON (with outlines from its mesh) or GeoJSON ------------------------------ */
  /* A grid's code starts with its village's 12 digits and its town's 9 (the import refuses other codes),
     so the layer sends codes only and the outlines come from them. */
  function village(code) { return code.slice(0, 12); }
  function town(code) { return code.slice(0, 9); }

  function readGridLayer(doc) {
    if (doc.type === "Topology") {
      var object = doc.objects.grids;
      return {
        features: topojson.feature(doc, object).features.map(function (f) {
          f.properties = Object.assign({code: f.id}, f.properties);
          return f;
        }),
        outlines: [
          {mesh: topojson.mesh(doc, object, function (a, b) { return village(a.id) !== village(b.id); }),
           style: {color: "#5b6770", weight: 1, opacity: 0.8}},
          {mesh: topojson.mesh(doc, object, function (a, b) { return town(a.id) !== town(b.id); }),
           style: {color: "#263238", weight: 2, opacity: 0.9}},
          {mesh: topojson.mesh(doc, object, function (a, b) { return a === b; }),
           style: {color: "#0b4f6c", weight: 3, opacity: 1}}
        ]
      };
    }
    return {features: doc.features, outlines: []};
  }

  function gridStyle(code) {
    var measure = form.elements.measure.value;
    var stats = state.stats && state.stats.grids[code];
    var style = {color: "#37474f", weight: 0.6, opacity: 0.7, fillOpacity: 0.75, dashArray: null,
                 fillColor: stats ? PALETTE[stats[measure + "_class"]] || PALETTE[PALETTE.length - 1] : OUTSIDE_FILTER};
    if (stats && stats.compliant === false && form.elements.compliance.checked) {
      Object.assign(style, {color: "#6a1b9a", weight: 2, opacity: 1, dashArray: "5 3"});
    }
    if (code === state.selected) { Object.assign(style, {color: "#0d47a1", weight: 3.5, opacity: 1, dashArray: null}); }
    return style;
  }

  function restyle() {
    Object.keys(state.paths).forEach(function (code) { state.paths[code].setStyle(gridStyle(code)); });
    if (state.selected && state.paths[state.selected]) { state.paths[state.selected].bringToFront(); }
    drawLegend();
  }

  function drawOutlines(outlines) {
    (state.outlines || []).forEach(function (layer) { map.removeLayer(layer); });
    state.outlines = outlines.map(function (outline) {
      return L.geoJSON(outline.mesh, {coordsToLatLng: latLng, interactive: false, renderer: gridRenderer,
                                      style: function () { return outline.style; }}).addTo(map);
    });
  }

  /* Micro-grid outlines from FINE_ZOOM on, fetched once; not interactive: no Tab stops, no clicks taken. */
  function showMicroGrids() {
    var shown = map.getZoom() >= FINE_ZOOM;
    microGridPane.style.display = shown ? "" : "none";
    if (!shown || state.microGridsAsked) { return; }
    state.microGridsAsked = true;
    fetchJSON(MICRO_GRID_LAYER_URL).then(function (doc) {
      var layer = L.geoJSON(topojson.feature(doc, doc.objects.micro_grids), {
        coordsToLatLng: latLng, interactive: false, renderer: L.svg({pane: "microGrids"}),
        style: {color: "#263238", weight: 0.6, dashArray: "3 3", fill: false}
      }).addTo(map);
      layer.eachLayer(function (path) { path.getElement().dataset.microGrid = path.feature.id; });
      document.body.dataset.microGridsDrawn = String(layer.getLayers().length);
    }).catch(function (error) {
      state.microGridsAsked = false;
      say(t("Could not load: {message}", {message: error.message}));
    });
  }

  /* The overview geometry is enough for the whole county on one screen; zoomed in, the fine geometry is
     fetched once and swapped into the same paths (their colours, tooltips and clicks stay). */
  function refineGrids() {
    if (state.refined || map.getZoom() < FINE_ZOOM) { return; }
    state.refined = true;
    fetchJSON(FINE_LAYER_URL).then(function (doc) {
      var layer = readGridLayer(doc);
      layer.features.forEach(function (feature) {
        var path = state.paths[feature.properties.code];
        var depth = feature.geometry.type === "Polygon" ? 1 : 2;
        if (path) { path.setLatLngs(L.GeoJSON.coordsToLatLngs(feature.geometry.coordinates, depth, latLng)); }
      });
      drawOutlines(layer.outlines);
      document.body.dataset.gridDetail = "fine";
    }).catch(function (error) {
      state.refined = false;
      say(t("Grids failed to load: {message}", {message: error.message}));
    });
  }

  function drawGrids(layer) {
    drawOutlines(layer.outlines);
    var list = document.getElementById("grid-codes");
    state.gridLayer = L.geoJSON({type: "FeatureCollection", features: layer.features}, {
      renderer: gridRenderer, coordsToLatLng: latLng,
      style: function (feature) { return gridStyle(feature.properties.code); },
      onEachFeature: function (feature, path) {
        var code = feature.properties.code;
        state.paths[code] = path;
        path.bindTooltip(code, {sticky: true});
        path.on("click", function () { openGrid(code); });
        list.appendChild(el("option", {value: code}));
      }
    });
    var count = state.gridLayer.getLayers().length;
    if (count > 0) { map.fitBounds(state.gridLayer.getBounds()); } else { map.setView([29.37, 112.40], 10); }
    state.gridLayer.addTo(map);
    Object.keys(state.paths).forEach(function (code) {
      var element = state.paths[code].getElement();
      element.dataset.grid = code;
      // Leaflet makes a path with a tooltip a Tab stop: 780 before the filters. The grid box above the map
      // reaches every grid from the keyboard instead.
      element.setAttribute("tabindex", "-1");
    });
    document.body.dataset.gridsMs = String(Math.round(performance.now()));  // ms since navigation began
    document.body.dataset.gridsDrawn = String(count);
    document.body.dataset.gridDetail = "overview";
    map.on("zoomend", refineGrids);
    map.on("zoomend", showMicroGrids);
    return count;
  }

  /* --- legend ----------------------------------------------------------------------------------------- */
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () { return el("div", {"class": "legend", id: "legend"}); };
  legend.addTo(map);

  function classLabel(breaks, i) {
    if (i === 0) { return "0"; }
    var low = breaks[i - 1] + 1, high = breaks[i];
    return low >= high ? String(high) : low + "–" + high;
  }

  function drawLegend() {
    var box = document.getElementById("legend");
    box.textContent = "";
    if (!state.stats) { return; }
    var measure = form.elements.measure.value;
    var breaks = state.stats.classes[measure].breaks;
    box.appendChild(el("h2", {text: measure === "open" ? t("Open findings") : t("Overdue findings")}));
    var items = el("ul");
    breaks.forEach(function (_b, i) {
      items.appendChild(el("li", {}, [el("span", {"class": "swatch", style: "background:" + PALETTE[i]}),
                                      document.createTextNode(classLabel(breaks, i))]));
    });
    if (form.elements.compliance.checked) {
      items.appendChild(el("li", {}, [el("span", {"class": "swatch out-of-compliance"}),
                                      document.createTextNode(t("Out of patrol compliance"))]));
    }
    box.appendChild(items);
  }

  /* --- filters ---------------------------------------------------------------------------------------- */
  function filterQuery() {
    var params = new URLSearchParams();
    ["since", "until", "domain", "category", "status", "town"].forEach(function (name) {
      if (form.elements[name].value) { params.set(name, form.elements[name].value); }
    });
    return params.toString();
  }

  function fillForm(options) {
    form.elements.since.value = options.since;
    form.elements.until.value = options.until;
    form.elements.track_days.value = options.track_days;
    form.elements.track_days.max = options.max_track_days;
    var english = window.pageLanguage === "en";
    options.categories.forEach(function (c) {
      form.elements.category.appendChild(el("option", {value: c.code, "data-domain": c.domain,
                                                       text: english ? c.name_en : c.name_zh}));
    });
    options.statuses.forEach(function (s) {
      form.elements.status.appendChild(el("option", {value: s, text: (STATUS_LABELS[s] || s)}));
    });
    form.elements.status.value = options.default_status;
    options.towns.forEach(function (town) {
      form.elements.town.appendChild(el("option", {value: town.code, text: town.name}));
    });
    options.resource_domains.forEach(function (domain) {
      form.querySelector("label[data-domain=" + domain + "]").hidden = false;
    });
  }

  function loadStats() {
    return fetchJSON("/map/grid-stats.json?" + filterQuery()).then(function (stats) {
      state.stats = stats;
      restyle();
      return stats;
    });
  }

  /* --- findings as clustered markers ------------------------------------------------------------------ */
  function findingIcon(statusName, overdue) {
    return L.divIcon({className: "finding-marker status-" + statusName + (overdue ? " overdue" : ""),
                      iconSize: [16, 16], html: ""});
  }

  function loadFindings() {
    var version = ++state.findingsVersion;
    if (state.markers) { map.removeLayer(state.markers); state.markers = null; }
    delete document.body.dataset.findingsDrawn;
    if (!form.elements.markers.checked) { return Promise.resolve(null); }
    return fetchJSON("/map/findings.json?" + filterQuery()).then(function (doc) {
      if (version !== state.findingsVersion) { return doc; }  // a newer filter answered first
      var columns = {};
      doc.columns.forEach(function (name, i) { columns[name] = i; });
      var group = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50});
      var markers = doc.rows.map(function (row) {
        var marker = L.marker(latLng([row[columns.lon], row[columns.lat]]), {
          icon: findingIcon(row[columns.status], row[columns.overdue]),
          title: (STATUS_LABELS[row[columns.status]] || row[columns.status]) + " · " + categoryName(row[columns.category]),
          alt: categoryName(row[columns.category])
        });
        marker.on("click", function () { openFinding(row[columns.id]); });
        return marker;
      });
      group.addLayers(markers);
      group.addTo(map);
      state.markers = group;
      document.body.dataset.findingsDrawn = String(markers.length);
      document.body.dataset.findingsCount = String(doc.count);
      return doc;
    });
  }

  function refresh() {
    say(t("Loading…"));
    document.getElementById("snapshot").href = "/map/snapshot.html?" + filterQuery();
    return Promise.all([loadStats(), loadFindings()]).then(function (answers) {
      var totals = answers[0].totals;
      say(t("{grids} grids · {open} open findings · {overdue} overdue · {out} grids out of patrol compliance",
            {grids: totals.grids, open: totals.open, overdue: totals.overdue, out: totals.out_of_compliance}));
      if (state.selected) { openGrid(state.selected, true); }
      if (form.elements.tracks.checked) { loadTracks(); }
    }).catch(function (error) { say(t("Could not load: {message}", {message: error.message})); });
  }

  /* --- tracks and resource layers --------------------------------------------------------------------- */
  function loadTracks() {
    if (state.tracks) { map.removeLayer(state.tracks); state.tracks = null; }
    if (!form.elements.tracks.checked) { return; }
    var query = new URLSearchParams({days: form.elements.track_days.value, until: form.elements.until.value});
    fetchJSON("/map/tracks.json?" + query).then(function (doc) {
      state.tracks = L.geoJSON(doc, {coordsToLatLng: latLng, interactive: false, renderer: gridRenderer,
                                     style: function () { return {color: "#4a148c", weight: 1.5, opacity: 0.75}; }})
        .addTo(map);
      say(t("{n} patrol tracks", {n: doc.features.length}));
    }).catch(function (error) { say(t("Could not load: {message}", {message: error.message})); });
  }

  function toggleResource(domain, on) {
    var layer = state.resources[domain];
    if (!on) { if (layer) { map.removeLayer(layer); } return; }
    if (layer) { layer.addTo(map); return; }
    say(t("Loading…"));
    fetchJSON("/map/resources/" + domain + ".json").then(function (doc) {
      state.resources[domain] = L.geoJSON(doc, {coordsToLatLng: latLng, interactive: false, renderer: gridRenderer,
                                                style: function () { return RESOURCE_STYLES[domain]; }});
      if (form.querySelector("input[name=resource][value=" + domain + "]").checked) {
        state.resources[domain].addTo(map);
      }
      say(t("{n} features", {n: doc.features.length}));
    }).catch(function (error) { say(t("Could not load: {message}", {message: error.message})); });
  }

  /* --- panels ----------------------------------------------------------------------------------------- */
  function showPanel(children, label) {
    panel.textContent = "";
    var close = el("button", {type: "button", "class": "close", "aria-label": t("Close"), text: "×"});
    close.addEventListener("click", function () {
      panel.hidden = true;
      state.selected = null;
      restyle();
    });
    panel.appendChild(close);
    children.forEach(function (child) { panel.appendChild(child); });
    panel.setAttribute("aria-label", label);
    panel.hidden = false;
    panel.focus();
  }

  function figure(key, label, value, format) {
    var missing = value === null || value === undefined;
    return [el("dt", {text: label}),
            el("dd", {"data-kpi": key, "data-value": missing ? "" : String(value), text: missing ? "—" : format(value)})];
  }

  var count = function (v) { return String(v); };
  var rate = function (v) { return (v * 100).toFixed(1) + " %"; };
  var hours = function (v) { return v.toFixed(1) + " h"; };

  function findingList(doc) {
    var columns = {};
    doc.columns.forEach(function (name, i) { columns[name] = i; });
    var list = el("ul", {"class": "findings", id: "grid-findings"});
    doc.rows.forEach(function (row) {
      var button = el("button", {type: "button", "data-finding": row[columns.id],
                                 text: categoryName(row[columns.category]) + " · " + (STATUS_LABELS[row[columns.status]] || row[columns.status]) +
                                       (row[columns.overdue] ? " · " + t("Overdue") : "")});
      button.addEventListener("click", function () { openFinding(row[columns.id]); });
      list.appendChild(el("li", {}, [button]));
    });
    if (!doc.rows.length) { list.appendChild(el("li", {text: t("No open findings")})); }
    return list;
  }

  function openGrid(code, quiet) {
    state.selected = code;
    restyle();
    return fetchJSON("/map/grids/" + encodeURIComponent(code) + "/panel.json?" + filterQuery()).then(function (grid) {
      var kpis = grid.kpis || {};
      var facts = el("dl", {"class": "facts"});
      [[t("Village"), grid.village && grid.village.name, null], [t("Town"), grid.town && grid.town.name, null],
       [t("Grid officer"), grid.officer ? grid.officer.name : t("Nobody"), "grid-officer"]].forEach(function (row) {
        facts.appendChild(el("dt", {text: row[0]}));
        facts.appendChild(el("dd", {text: row[1] || "—", id: row[2]}));
      });
      var chiefs = el("table", {"class": "chiefs"}, [el("caption", {text: t("Chiefs")})]);
      grid.chiefs.forEach(function (c) {
        chiefs.appendChild(el("tr", {}, [el("td", {text: (DOMAIN_LABELS[c.domain])}),
                                         el("td", {text: (LEVEL_LABELS[c.level] || c.level)}),
                                         el("td", {text: c.name})]));
      });
      var figures = el("dl", {"class": "kpis", id: "grid-kpis"});
      [["registered", t("Registered"), count], ["closed", t("Closed"), count],
       ["completion_rate", t("Completion rate"), rate], ["on_time_rate", t("On-time rate"), rate],
       ["overdue_now", t("Overdue now"), count], ["escalations", t("Escalations"), count],
       ["accept_hours_median", t("Median hours to accept"), hours],
       ["resolve_hours_median", t("Median hours to resolve"), hours]].forEach(function (row) {
        figure(row[0], row[1], kpis[row[0]], row[2]).forEach(function (node) { figures.appendChild(node); });
      });
      showPanel([el("h2", {text: grid.name + " (" + grid.code + ")"}), facts, chiefs,
                 el("h3", {text: t("Key figures for the period")}), figures,
                 el("h3", {text: t("Open findings ({n})", {n: grid.findings.count})}), findingList(grid.findings)],
                grid.name);
      if (quiet) { return; }
      say(t("Grid {code} selected", {code: grid.code}));
    }).catch(function (error) { say(t("Could not load: {message}", {message: error.message})); });
  }

  function stepForm(finding, action, done) {
    var box = el("form", {"class": "step", id: "step-form"});
    var errorLine = el("p", {"class": "error", role: "alert"});
    var needsReason = NEEDS_REASON[action];
    var text = el("textarea", {name: "text", rows: "3", maxlength: "2000"});
    if (needsReason) { text.required = true; }
    box.appendChild(el("h3", {text: (ACTION_LABELS[action] || action)}));
    box.appendChild(el("label", {}, [document.createTextNode(needsReason ? t("Reason (required)") : t("Note")), text]));
    var target = null;
    if (action === "reroute") {
      target = el("select", {name: "owner_person", required: "required"}, [el("option", {value: "", text: "—"})]);
      box.appendChild(el("label", {}, [document.createTextNode(t("Give it to")), target]));
      fetchJSON("/map/findings/" + encodeURIComponent(finding.id) + "/reroute-targets.json").then(function (people) {
        people.forEach(function (p) {
          if (p.current) { return; }
          target.appendChild(el("option", {value: p.code, text: p.name + " · " + (LEVEL_LABELS[p.level] || p.level)}));
        });
      }).catch(function (error) { errorLine.textContent = error.message; });
    }
    var submit = el("button", {type: "submit", text: t("Confirm")});
    var cancel = el("button", {type: "button", text: t("Cancel")});
    cancel.addEventListener("click", function () { box.remove(); });
    box.appendChild(el("div", {"class": "buttons"}, [submit, cancel]));
    box.appendChild(errorLine);
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {action: action, version: finding.version};
      if (text.value.trim()) { body[needsReason ? "reason" : "note"] = text.value.trim(); }
      if (target) { body.owner_person = target.value; }
      submit.disabled = true;
      fetchJSON("/api/v1/findings/" + encodeURIComponent(finding.id) + "/steps", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
      }).then(function (timeline) {
        done(timeline);
      }).catch(function (error) {
        submit.disabled = false;
        errorLine.textContent = error.message;  // the server's own words: 409 stale or illegal, 403, 422
      });
    });
    return box;
  }

  function renderFinding(timeline, photos) {
    var finding = timeline.finding;
    var facts = el("dl", {"class": "facts"});
    [[t("Status"), STATUS_LABELS[finding.status] || finding.status, "finding-status"],
     [t("Category"), categoryName(finding.category_code), null],
     [t("Observed"), new Date(finding.observed_at).toLocaleString(document.documentElement.lang), null],
     [t("Reported by"), finding.reporter, null], [t("Waiting on"), finding.owner_person || "—", null]
    ].forEach(function (row) {
      facts.appendChild(el("dt", {text: row[0]}));
      facts.appendChild(el("dd", {text: row[1], id: row[2]}));
    });
    var gallery = el("div", {"class": "photos"});
    photos.forEach(function (photo) {
      gallery.appendChild(el("a", {href: photo.href, target: "_blank", rel: "noopener"},
                             [el("img", {src: photo.href, alt: t("Photo of the finding"), loading: "lazy",
                                         width: "96", height: "72"})]));
    });
    if (!photos.length) { gallery.appendChild(el("p", {"class": "muted", text: t("No photos")})); }
    var events = el("ol", {"class": "timeline", id: "timeline"});
    timeline.events.forEach(function (e) {
      events.appendChild(el("li", {"data-seq": String(e.seq)}, [
        el("time", {datetime: e.at, text: new Date(e.at).toLocaleString(document.documentElement.lang)}),
        el("span", {text: " " + (ACTION_LABELS[e.action] || e.action) + " · " + e.actor +
                          (e.to_state ? " → " + (STATUS_LABELS[e.to_state] || e.to_state) : "")}),
        e.note ? el("q", {text: e.note}) : null
      ]));
    });
    var actions = el("div", {"class": "actions", id: "finding-actions"});
    var slot = el("div");
    timeline.allowed.forEach(function (action) {
      var button = el("button", {type: "button", "data-action": action, text: (ACTION_LABELS[action] || action)});
      button.addEventListener("click", function () {
        slot.textContent = "";
        var stepBox = stepForm(finding, action, function (next) {
          renderFinding(next, photos);
          say(t("Step taken: {action}", {action: (ACTION_LABELS[action] || action)}));
          refresh();
        });
        slot.appendChild(stepBox);
        stepBox.querySelector("textarea").focus();
      });
      actions.appendChild(button);
    });
    if (!timeline.allowed.length) { actions.appendChild(el("p", {"class": "muted", text: t("No steps for you now")})); }
    showPanel([el("h2", {text: t("Finding"), "data-finding": finding.id}), facts,
               el("h3", {text: t("Photos")}), gallery, el("h3", {text: t("Timeline")}), events,
               el("h3", {text: t("Steps you may take")}), actions, slot], t("Finding"));
  }

  function openFinding(id) {
    var base = "/api/v1/findings/" + encodeURIComponent(id);
    return Promise.all([fetchJSON(base + "/timeline"), fetchJSON(base + "/photos")]).then(function (answers) {
      renderFinding(answers[0], answers[1]);
    }).catch(function (error) { say(t("Could not load: {message}", {message: error.message})); });
  }

  /* --- wiring ----------------------------------------------------------------------------------------- */
  form.addEventListener("submit", function (event) { event.preventDefault(); refresh(); });
  form.elements.domain.addEventListener("change", function () {
    var domain = form.elements.domain.value;
    Array.prototype.forEach.call(form.elements.category.options, function (option) {
      option.hidden = Boolean(domain && option.dataset.domain && option.dataset.domain !== domain);
    });
    if (form.elements.category.selectedOptions[0].hidden) { form.elements.category.value = ""; }
  });
  Array.prototype.forEach.call(form.elements.measure, function (radio) { radio.addEventListener("change", restyle); });
  form.elements.compliance.addEventListener("change", restyle);
  form.elements.markers.addEventListener("change", loadFindings);
  form.elements.tracks.addEventListener("change", loadTracks);
  form.elements.track_days.addEventListener("change", loadTracks);
  Array.prototype.forEach.call(form.querySelectorAll("input[name=resource]"), function (box) {
    box.addEventListener("change", function () { toggleResource(box.value, box.checked); });
  });
  document.getElementById("go-to-grid").addEventListener("click", function () {
    var code = form.elements.grid.value.trim();
    if (!state.paths[code]) { say(t("No grid {code} on this map", {code: code})); return; }
    map.fitBounds(state.paths[code].getBounds(), {maxZoom: 14});
    openGrid(code);
  });

  Promise.all([fetchJSON(GRID_LAYER_URL), fetchJSON("/map/options.json")]).then(function (answers) {
    state.options = answers[1];
    var tiles = state.options.tiles;
    state.shift = makeShift(tiles.offsets);
    if (tiles.url) { L.tileLayer(tiles.url, {attribution: tiles.attribution || ""}).addTo(map); }
    fillForm(state.options);
    var count = drawGrids(readGridLayer(answers[0]));
    say(t("{n} grids", {n: count}));
    return refresh();
  }).catch(function (error) {
    say(t("Grids failed to load: {message}", {message: error.message}));
    document.body.dataset.gridsError = error.message;
  });
}());
