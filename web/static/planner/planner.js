/* The planner view: grids coloured by workload, vacant grids hatched and listed, a panel per grid, and the
   officers' table. Shapes come from the map's grid layer (/map/grids.topojson), figures from
   /planner/grids.json; every text goes through t() (web/i18n/zh_CN/planner.po). */
(function () {
  "use strict";

  const BREAKS = [0.5, 0.8, 1.25, 2];  // index classes w0..w4: 1.0 is the average grid of the area
  const FILLS = ["#f1f6f9", "#c6dbe9", "#86b3d3", "#3f7fb3", "#0d4a7d"];
  const VACANT = {color: "#a3001b", weight: 2.5, dashArray: "5 3", fillColor: "url(#vacant-hatch)",
                  fillOpacity: 1, className: "vacant"};
  const SELECTED = {color: "#e8a317", weight: 4, dashArray: null};

  const status = document.getElementById("status");
  const detail = document.getElementById("grid-detail");
  const map = L.map("map", {zoomSnap: 0.25, attributionControl: false});
  const paths = new Map();  // grid code -> Leaflet path
  // shared with changes.js (the change-set editor draws on the same map) and with the browser tests
  window.plannerView = {map: map, data: null, element: element, number: number,
                        showGrid: (code) => select(code, false)};
  let data = null;
  let selected = null;
  let sortKey = "index";
  let sortDown = true;

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([name, value]) => {
      if (value !== null && value !== undefined) { node.setAttribute(name, value); }
    });
    children.forEach((child) => node.append(child));
    return node;
  }

  function number(value, digits) {
    return value.toLocaleString(window.pageLanguage,
                                {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }

  function fetchJson(url) {
    return fetch(url, {credentials: "same-origin"}).then((response) => {
      if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
      return response.json();
    });
  }

  function workloadClass(index) {
    return BREAKS.filter((limit) => index >= limit).length;
  }

  function style(code) {
    const grid = data.grids[code];
    if (!grid.officer) { return VACANT; }
    const level = workloadClass(grid.workload.index);
    return {color: "#35505f", weight: 0.8, dashArray: null, fillColor: FILLS[level], fillOpacity: 0.85,
            className: "w" + level};
  }

  function parts() {
    const days = data.window_days;
    return [
      ["area_km2", t("Area"), "{x} km²", 2],
      ["river_km", t("Rivers"), "{x} km", 2],
      ["forest_km2", t("Forest"), "{x} km²", 2],
      ["farmland_km2", t("Farmland"), "{x} km²", 2],
      ["open_findings", t("Open findings"), "{x}", 0],
      ["findings_30d", t("Findings registered, last {n} days", {n: days}), "{x}", 0],
      ["patrol_km_30d", t("Patrolled, last {n} days", {n: days}), "{x} km", 1],
      ["index", t("Workload index"), t("{x} × average"), 2],
    ];
  }

  function gridButton(code) {
    return element("button", {type: "button", class: "code", "data-grid": code}, code);
  }

  function officerFacts(grid, code) {
    if (!grid.officer) {
      return [element("dt", {}, t("Officer")),
              element("dd", {class: "no-officer", "data-officer": ""}, t("No officer"))];
    }
    const officer = data.officers.find((o) => o.code === grid.officer.code);
    const others = officer.grids.filter((other) => other !== code);
    const total = t("{n} grids, workload {x} together", {n: officer.grids.length,
                                                           x: number(officer.workload.index, 2)});
    const dd = element("dd", {"data-officer": grid.officer.code},
                       grid.officer.name + " (" + grid.officer.code + ")", element("br"), total);
    if (others.length) { dd.append(element("br"), t("Also holds:"), " ", ...others.map(gridButton)); }
    return [element("dt", {}, t("Officer")), dd];
  }

  function showDetail(code) {
    const grid = data.grids[code];
    const list = element("dl", {class: "facts"}, ...officerFacts(grid, code),
                         element("dt", {}, t("Village")), element("dd", {}, grid.village_name + " (" + grid.village + ")"),
                         element("dt", {}, t("Town")), element("dd", {}, grid.town_name + " (" + grid.town + ")"));
    parts().forEach(([key, label, unit, digits]) => {
      const value = grid.workload[key];
      list.append(element("dt", {}, label),
                  element("dd", {"data-part": key, "data-value": String(value)}, unit.replace("{x}", number(value, digits))));
    });
    detail.replaceChildren(element("h3", {"data-grid": code}, grid.name + " (" + code + ")"), list);
  }

  function select(code, fromPanel) {
    const path = paths.get(code);
    if (!path) {
      detail.replaceChildren(element("p", {role: "alert"}, t("No grid {code} in your area.", {code: code})));
      return;
    }
    if (selected) { paths.get(selected).setStyle(style(selected)); }
    selected = code;
    path.setStyle(SELECTED).bringToFront();
    showDetail(code);
    if (fromPanel) {
      map.fitBounds(path.getBounds(), {maxZoom: 14});
      detail.focus();
    }
  }

  function drawVacant() {
    const vacant = data.vacant;
    document.getElementById("vacant-count").textContent = String(vacant.length);
    const list = document.getElementById("vacant-list");
    list.replaceChildren(...vacant.map((code) => element("li", {}, gridButton(code))));
    if (!vacant.length) { list.replaceChildren(element("li", {class: "muted"}, t("Every grid has an officer."))); }
  }

  function sortValue(officer) {
    if (sortKey === "name") { return officer.name; }
    if (sortKey === "grids") { return officer.grids.length; }
    return officer.workload[sortKey];
  }

  function drawOfficers() {
    const direction = sortDown ? -1 : 1;
    const rows = data.officers.slice().sort((a, b) => {
      const x = sortValue(a);
      const y = sortValue(b);
      const order = typeof x === "string" ? x.localeCompare(y, window.pageLanguage) : x - y;
      return direction * order || a.code.localeCompare(b.code);
    });
    document.querySelector("#officers tbody").replaceChildren(...rows.map((officer) => element("tr",
      {"data-officer": officer.code},
      element("th", {scope: "row"}, officer.name, " ", element("span", {class: "muted"}, officer.code),
              element("br"), ...officer.grids.map(gridButton)),
      element("td", {class: "num"}, String(officer.grids.length)),
      element("td", {class: "num", "data-value": String(officer.workload.index)}, number(officer.workload.index, 2)),
      element("td", {class: "num"}, String(officer.workload.open_findings)))));
    document.querySelectorAll("#officers th[aria-sort]").forEach((th) => {
      const key = th.querySelector("button").dataset.sort;
      th.setAttribute("aria-sort", key !== sortKey ? "none" : sortDown ? "descending" : "ascending");
    });
  }

  function addHatch() {
    const svg = map.getPanes().overlayPane.querySelector("svg");
    const ns = "http://www.w3.org/2000/svg";
    const pattern = document.createElementNS(ns, "pattern");
    Object.entries({id: "vacant-hatch", patternUnits: "userSpaceOnUse", width: 7, height: 7,
                    patternTransform: "rotate(45)"}).forEach(([k, v]) => pattern.setAttribute(k, v));
    const background = document.createElementNS(ns, "rect");
    Object.entries({width: 7, height: 7, fill: "#fde3e1"}).forEach(([k, v]) => background.setAttribute(k, v));
    const stripe = document.createElementNS(ns, "rect");
    Object.entries({width: 3, height: 7, fill: "#a3001b"}).forEach(([k, v]) => stripe.setAttribute(k, v));
    pattern.append(background, stripe);
    const defs = document.createElementNS(ns, "defs");
    defs.append(pattern);
    svg.prepend(defs);
  }

  function draw(topology) {
    const object = topology.objects.grids;
    const features = topojson.feature(topology, object).features.filter((f) => data.grids[f.id]);
    const renderer = L.svg();
    const grids = L.geoJSON({type: "FeatureCollection", features: features}, {
      renderer: renderer,
      style: (feature) => style(feature.id),
      onEachFeature: (feature, path) => {
        paths.set(feature.id, path);
        const grid = data.grids[feature.id];
        const label = feature.id + " · " + (grid.officer ? grid.officer.name : t("No officer"));
        path.bindTooltip(element("span", {}, label), {sticky: true});
        path.on("click", () => select(feature.id, false));
      },
    });
    const outline = (filter, weight) => L.geoJSON(topojson.mesh(topology, object, filter),
                                                  {renderer: renderer, interactive: false,
                                                   style: {color: "#1b1f24", weight: weight, fill: false}});
    if (features.length) { map.fitBounds(grids.getBounds()); } else { map.setView([29.37, 112.40], 10); }
    grids.addTo(map);
    paths.forEach((path, code) => {
      // Leaflet makes every path with a tooltip a tab stop: 780 of them before the panel, which reaches
      // every grid from the keyboard already (by code, the vacant list and the officers' table).
      path.getElement().setAttribute("tabindex", "-1");
      path.getElement().dataset.grid = code;
    });
    // a grid's code starts with its village's 12 digits and its town's 9 (the import refuses other codes)
    outline((a, b) => a.id.slice(0, 12) !== b.id.slice(0, 12), 1.2).addTo(map);
    outline((a, b) => a === b || a.id.slice(0, 9) !== b.id.slice(0, 9), 2.2).addTo(map);
    addHatch();
    return features.length;
  }

  function wireControls() {
    document.getElementById("grid-codes").replaceChildren(
      ...Object.keys(data.grids).map((code) => element("option", {value: code})));
    document.getElementById("find-grid").addEventListener("submit", (event) => {
      event.preventDefault();
      select(event.target.elements.code.value.trim(), true);
    });
    document.querySelector(".panel").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-grid]");
      if (button) { select(button.dataset.grid, true); }
    });
    document.querySelectorAll("#officers thead button").forEach((button) => {
      button.addEventListener("click", () => {
        const key = button.dataset.sort;
        sortDown = key === sortKey ? !sortDown : key !== "name";
        sortKey = key;
        drawOfficers();
      });
    });
  }

  Promise.all([fetchJson("/map/grids.topojson"), fetchJson("/planner/grids.json")])
    .then(([topology, figures]) => {
      data = figures;
      window.plannerView.data = figures;
      const count = draw(topology);
      drawVacant();
      drawOfficers();
      wireControls();
      document.body.dataset.gridsMs = String(Math.round(performance.now()));
      document.body.dataset.gridsDrawn = String(count);
      status.textContent = t("{n} grids drawn; {v} without an officer.", {n: count, v: data.vacant.length});
    })
    .catch((error) => {
      status.textContent = t("Grids failed to load: {error}", {error: error.message});
      document.body.dataset.gridsError = error.message;
    });
}());
