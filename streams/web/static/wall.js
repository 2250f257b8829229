// Dispatch wall display: region map, open incidents with live clocks, KPI tiles, alerts.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const UNIT_COLOURS = {
  available: "#2ecc71", assigned: "#3fa9ff", enroute: "#ffb000", on_scene: "#ff6b00",
  transporting: "#bf5af2", at_hospital: "#64d2ff",
};
const maps = []; // the whole region, and its urban districts enlarged

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function rings(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

function bboxOf(features) {
  const points = features.flatMap((f) => rings(f.geometry).flat());
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  return [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
}

function drawMap(root, features, bbox) {
  const [minx, miny, maxx, maxy] = bbox;
  const k = Math.cos(((miny + maxy) / 2) * Math.PI / 180);
  const view = {
    root, project: (lon, lat) => [(lon - minx) * k, maxy - lat],
    units: new Map(), hospitals: new Map(), districts: new Map(),
  };
  const width = (maxx - minx) * k;
  const height = maxy - miny;
  view.size = Math.max(width, height);
  const pad = view.size * 0.03;
  root.setAttribute("viewBox", `${-pad} ${-pad} ${width + 2 * pad} ${height + 2 * pad}`);
  for (const feature of features) {
    const d = rings(feature.geometry).map((ring) =>
      "M" + ring.map(([lon, lat]) => view.project(lon, lat).join(",")).join("L") + "Z").join("");
    const path = svg("path", { d, class: "district", fill: "#2a3038",
      "stroke-width": view.size / 700 });
    path.dataset.districtId = feature.properties.district_id;
    root.appendChild(path);
    view.districts.set(feature.properties.district_id, path);
  }
  view.hospitalLayer = root.appendChild(svg("g", { class: "hospitals" }));
  view.unitLayer = root.appendChild(svg("g", { class: "units" }));
  maps.push(view);
}

function drawRegion(region) {
  drawMap(document.getElementById("map"), region.features, region.bbox);
  const urban = region.features.filter((f) => f.properties.area_type === "urban");
  if (urban.length && urban.length < region.features.length) {
    drawMap(document.getElementById("map-urban"), region.features, bboxOf(urban));
  } else {
    document.getElementById("map-urban").remove();
  }
}

function complianceColour(share) {
  if (share === null || share === undefined) return "#2a3038";
  if (share >= 0.9) return "#1e6b3f";
  if (share >= 0.75) return "#8a6500";
  return "#8e1f1a";
}

function capabilityText(caps) {
  const out = [];
  if (caps.pci) out.push("PCI");
  if (caps.thrombectomy) out.push("EVT");
  else if (caps.stroke_center) out.push("STK");
  if (caps.ct) out.push("CT");
  if (caps.trauma_level) out.push("T" + caps.trauma_level);
  return out.join(" ");
}

function drawHospitals(hospitals) {
  for (const view of maps) drawHospitalsOn(view, hospitals);
}

function drawHospitalsOn(map, hospitals) {
  const layer = map.hospitalLayer;
  const s = map.size / 48;
  for (const h of hospitals) {
    if (h.lat === null || h.lon === null) continue;
    let g = map.hospitals.get(h.hospital_id);
    if (!g) {
      const [x, y] = map.project(h.lon, h.lat);
      g = svg("g", { class: "hospital", transform: `translate(${x},${y})` });
      g.appendChild(svg("rect", { x: -s / 2, y: -s / 2, width: s, height: s, fill: "#fff",
        "stroke-width": s / 8 }));
      const label = svg("text", { x: s * 0.8, y: s * 0.35, "font-size": s * 0.9 });
      g.appendChild(label);
      g.dataset.hospitalId = h.hospital_id;
      layer.appendChild(g);
      map.hospitals.set(h.hospital_id, g);
    }
    const diverted = h.diversion === true;
    g.querySelector("rect").setAttribute("stroke", diverted ? "#ff3b30" : "#000");
    g.querySelector("rect").setAttribute("fill", diverted ? "#ff3b30" : "#fff");
    g.dataset.diversion = diverted ? "true" : "false";
    g.querySelector("text").textContent =
      h.hospital_id + " " + capabilityText(h.capabilities || {}) + (diverted ? " DIVERT" : "");
  }
}

function drawUnits(units) {
  for (const view of maps) drawUnitsOn(view, units);
}

function drawUnitsOn(map, units) {
  const layer = map.unitLayer;
  const r = map.size / 80;
  for (const u of units) {
    if (u.lat === null || u.lon === null) continue;
    let g = map.units.get(u.unit_id);
    if (!g) {
      g = svg("g", { class: "unit" });
      g.appendChild(svg("circle", { r, stroke: "#000", "stroke-width": r / 4 }));
      g.appendChild(svg("text", { x: r * 1.3, y: r * 0.5, "font-size": r * 1.6 }));
      g.dataset.unitId = u.unit_id;
      layer.appendChild(g);
      map.units.set(u.unit_id, g);
    }
    const [x, y] = map.project(u.lon, u.lat);
    g.style.transform = `translate(${x}px, ${y}px)`;
    g.dataset.x = x; g.dataset.y = y;
    g.dataset.status = u.status;
    g.querySelector("circle").setAttribute("fill", UNIT_COLOURS[u.status] || "#888");
    // only busy units are named: the free ones would bury the city centre in labels
    g.querySelector("text").textContent = u.status === "available" ? "" : u.unit_id;
  }
}

function tile(label, value, sub, pass) {
  const node = el("div", "tile" + (pass === true ? " pass" : pass === false ? " fail" : ""));
  node.appendChild(el("div", "label", label));
  node.appendChild(el("div", "value", value));
  node.appendChild(el("div", "sub", sub));
  return node;
}

function drawKpis(kpis) {
  const box = document.getElementById("kpis");
  box.replaceChildren();
  const dep = kpis.call_to_departure;
  const depPass = dep.mean_s === null ? null : dep.mean_s <= dep.target_s;
  box.appendChild(tile("Call → departure, mean (min)", minutes(dep.mean_s),
    `target ≤ ${minutes(dep.target_s)} · p90 ${minutes(dep.p90_s)} · n=${dep.count}`, depPass));
  const share = dep.within_share;
  box.appendChild(tile(`Departed ≤ ${minutes(dep.target_s)} min`, percent(share),
    "target ≥ 95%", share === null ? null : share >= 0.95));
  for (const [area, r] of Object.entries(kpis.response)) {
    box.appendChild(tile(`Response ${area}, mean (min)`, minutes(r.mean_s),
      `target ≤ ${minutes(r.target_s)} · p90 ${minutes(r.p90_s)} · n=${r.count}`,
      r.mean_s === null ? null : r.mean_s <= r.target_s));
  }
}

function drawIncidents(incidents) {
  const body = document.querySelector("#incidents tbody");
  body.replaceChildren();
  for (const i of incidents.slice(0, 14)) {
    const row = el("tr");
    row.dataset.incidentId = i.incident_id;
    row.appendChild(el("td", "", i.incident_id));
    row.appendChild(el("td", "", i.pathway));
    const lvl = el("td");
    lvl.appendChild(el("span", "triage triage-" + (i.triage_level || ""), i.triage_level || "?"));
    row.appendChild(lvl);
    row.appendChild(el("td", "", i.status));
    const since = el("td", "since");
    since.dataset.since = i.call_ts;
    row.appendChild(since);
    for (const name of ["call_to_departure", "response"]) {
      const cell = el("td");
      const clock = i.clocks.find((c) => c.name === name);
      if (clock) cell.appendChild(clockNode(clock));
      row.appendChild(cell);
    }
    const hosp = el("td", "", i.hospital_id || "");
    for (const h of i.acknowledged_by) hosp.appendChild(el("span", "chip", "ACK " + h));
    row.appendChild(hosp);
    body.appendChild(row);
  }
  if (!incidents.length) {
    const row = el("tr");
    const cell = el("td", "empty", "No open incidents");
    cell.colSpan = 8;
    row.appendChild(cell);
    body.appendChild(row);
  }
}

function drawAlerts(alerts) {
  const list = document.getElementById("alerts");
  list.replaceChildren();
  for (const a of alerts.slice(0, 6)) {
    const text = `${hhmm(a.at_ts)}  ${a.kind.replace("_", " ").toUpperCase()}  ` +
      `${a.interval || ""}  ${a.incident_id}  ${a.detail || ""}`;
    list.appendChild(el("li", "alert-" + a.kind, text));
  }
}

function onSnapshot(view) {
  for (const d of view.districts) {
    for (const map of maps) {
      const path = map.districts.get(d.district_id);
      if (path) path.setAttribute("fill", complianceColour(d.response.within_share));
    }
  }
  drawHospitals(view.hospitals);
  drawUnits(view.units);
  drawKpis(view.kpis);
  drawIncidents(view.incidents);
  drawAlerts(view.alerts);
  tickClocks();
}

fetch("/api/region", { credentials: "same-origin" })
  .then((r) => r.json())
  .then((region) => { if (region.bbox) drawRegion(region); })
  .finally(() => { connect("/api/wall/stream", onSnapshot); startTicking(); });
