/* The city page: a Leaflet map over the shipped city outlines (and the operator's .pmtiles
   street basemap when there is one), a clustered layer per entity type read by bounding box
   from the NGSI-LD API, a popup with the latest values and a uPlot sparkline from the temporal
   API, and live changes from /api/v1/dashboard/events; the city's indicators and assessment
   below (city-indicators.js). */
"use strict";

(() => {
  const { t, N_, figure, time, api, json, refusal, element, config } = Qala;
  const tenant = config.tenant;
  /* Most points of one layer fetched for one view; beyond it the page asks to zoom in. */
  const VIEW_CAP = 20000;
  const PAGE = 1000;

  /* US EPA AQI bands for 24-hour PM2.5 (µg/m³), 2024 revision. */
  function pm25Band(value) {
    if (typeof value !== "number") return "none";
    if (value <= 9) return "good";
    if (value <= 35.4) return "moderate";
    if (value <= 55.4) return "usg";
    if (value <= 125.4) return "unhealthy";
    if (value <= 225.4) return "very";
    return "hazard";
  }

  const LAYERS = [
    {
      key: "air", type: "AirQualityObserved", label: N_("Air quality (PM2.5)"), on: true,
      attrs: ["name", "pm25", "pm10", "no2", "temperature"], spark: "pm25",
      band: (p) => pm25Band(p.pm25),
      bands: [["good", N_("Good")], ["moderate", N_("Moderate")], ["usg", N_("Unhealthy for sensitive groups")],
        ["unhealthy", N_("Unhealthy")], ["very", N_("Very unhealthy")], ["hazard", N_("Hazardous")], ["none", N_("No value")]],
    },
    {
      key: "lights", type: "Streetlight", label: N_("Streetlights"), on: true,
      attrs: ["status", "powerState", "illuminanceLevel"], spark: "illuminanceLevel",
      band: (p) => (p.status && p.status !== "ok" ? "fault" : p.powerState === "on" ? "on" : "off"),
      bands: [["on", N_("On")], ["off", N_("Off")], ["fault", N_("Fault")]],
    },
    {
      key: "bins", type: "WasteContainer", label: N_("Waste containers"), on: false,
      attrs: ["fillingLevel", "status", "storedWasteKind"], spark: "fillingLevel",
      band: (p) => {
        const v = p.fillingLevel;
        if (typeof v !== "number") return "none";
        return v < 0.5 ? "good" : v < 0.8 ? "moderate" : v < 0.95 ? "usg" : "unhealthy";
      },
      bands: [["good", N_("Under half full")], ["moderate", N_("Half full")], ["usg", N_("Nearly full")],
        ["unhealthy", N_("Full")], ["none", N_("No value")]],
    },
    {
      key: "parking", type: "OffStreetParking", label: N_("Car parks"), on: false,
      attrs: ["name", "availableSpotNumber", "totalSpotNumber"], spark: "availableSpotNumber",
      band: (p) => {
        if (typeof p.availableSpotNumber !== "number" || !p.totalSpotNumber) return "none";
        const free = p.availableSpotNumber / p.totalSpotNumber;
        return free >= 0.3 ? "good" : free > 0 ? "moderate" : "unhealthy";
      },
      bands: [["good", N_("Many free spaces")], ["moderate", N_("Few free spaces")], ["unhealthy", N_("No free spaces")], ["none", N_("No value")]],
    },
    {
      key: "ev", type: "EVChargingStation", label: N_("EV chargers"), on: false,
      attrs: ["name", "status", "availableCapacity", "capacity"], spark: "availableCapacity",
      band: (p) => (p.status && p.status !== "working" ? "fault" : p.availableCapacity > 0 ? "good" : "moderate"),
      bands: [["good", N_("Free points")], ["moderate", N_("All points in use")], ["fault", N_("Out of service")]],
    },
    {
      key: "stops", type: "PublicTransportStop", label: N_("Transport stops"), on: false,
      attrs: ["name", "stopCode", "peopleCount"], spark: "peopleCount",
      band: () => "info",
      bands: [["info", N_("Stop")]],
    },
  ];
  /* Open citizen requests by SLA state, from the public GeoReport API (added when this server
     has Open311 for the city). */
  const REQUESTS = {
    key: "requests", type: "open311", label: N_("Open citizen requests"), on: false, custom: true,
    attrs: ["service", "requested", "due", "sla"], spark: null,
    band: (p) => p.sla,
    bands: [["on_time", N_("On time")], ["due_soon", N_("Due soon")], ["overdue", N_("Overdue")], ["unknown", N_("No SLA")]],
    async fetch() {
      const open = await Qala.openRequests(tenant);
      return open.filter((r) => typeof r.lat === "number" && typeof r.long === "number").map((r) => ({
        id: `open311:${tenant}:${r.service_request_id}`,
        geometry: { type: "Point", coordinates: [r.long, r.lat] },
        properties: {
          name: `№ ${r.service_request_id} · ${r.service_name || r.service_code}`, service: r.service_name || r.service_code,
          requested: time(r.requested_datetime, tenant), due: time(r.expected_datetime, tenant), sla: Qala.slaState(r),
        },
      }));
    },
  };
  const ATTRIBUTE_NAMES = {
    service: N_("Service"), requested: N_("Filed"), due: N_("Due"), sla: N_("SLA state"),
    name: N_("Name"), pm25: N_("PM2.5"), pm10: N_("PM10"), no2: N_("NO₂"), temperature: N_("Temperature"),
    status: N_("Status"), powerState: N_("Power"), illuminanceLevel: N_("Illuminance level"),
    fillingLevel: N_("Filling level"), storedWasteKind: N_("Waste kind"),
    availableSpotNumber: N_("Free spaces"), totalSpotNumber: N_("Total spaces"),
    availableCapacity: N_("Free charging points"), capacity: N_("Charging points"),
    stopCode: N_("Stop code"), peopleCount: N_("People waiting"),
  };
  const VALUE_NAMES = {
    on_time: N_("On time"), due_soon: N_("Due soon"), overdue: N_("Overdue"), unknown: N_("No SLA"),
    ok: N_("Working"), on: N_("On"), off: N_("Off"), working: N_("Working"), outOfService: N_("Out of service"),
    defectiveLamp: N_("Defective lamp"), brokenLantern: N_("Broken lantern"), columnIssue: N_("Column issue"),
    inorganic: N_("Inorganic"), organic: N_("Organic"), paper: N_("Paper"), plastic: N_("Plastic"), glass: N_("Glass"),
  };

  const byType = new Map(LAYERS.map((layer) => [layer.type, layer]));
  const points = new Map(); /* id -> {layer, marker, props} */
  let map;
  let openId = null;

  function localName(value) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return value[config.lang] || value.ru || value.en || Object.values(value)[0];
    }
    return value;
  }

  function shown(value) {
    value = localName(value);
    if (Array.isArray(value)) return value.map(shown).join(", ");
    if (typeof value === "string" && VALUE_NAMES[value]) return t(VALUE_NAMES[value]);
    return figure(value);
  }

  function title(layer, id, props) {
    const name = localName(props.name);
    return name ? String(name) : `${t(layer.label)} ${id.split(":").pop()}`;
  }

  function icon(layer, id, band) {
    const dot = element("span", { "data-id": id, "data-band": band });
    return L.divIcon({ className: `qm b-${band}`, html: dot, iconSize: [14, 14] });
  }

  function place(layer, feature) {
    const props = feature.properties || {};
    const id = feature.id;
    const [lon, lat] = feature.geometry.coordinates;
    const band = layer.band(props);
    const known = points.get(id);
    if (known) {
      known.props = props;
      if (known.band !== band) {
        known.band = band;
        known.marker.setIcon(icon(layer, id, band));
      }
      /* moving a clustered marker takes it out of its cluster and puts it back: only when it moved */
      const was = known.marker.getLatLng();
      if (was.lat !== lat || was.lng !== lon) known.marker.setLatLng([lat, lon]);
      return;
    }
    const marker = L.marker([lat, lon], { icon: icon(layer, id, band), title: title(layer, id, props), keyboard: true });
    marker.bindPopup(() => popup(id), { maxWidth: 280, minWidth: 240 });
    marker.on("popupopen", () => { openId = id; if (layer.spark) fillHistory(id); });
    marker.on("popupclose", () => { if (openId === id) openId = null; });
    points.set(id, { layer, marker, props, band });
    layer.pending.push(marker);
  }

  function popup(id) {
    const point = points.get(id);
    const { layer, props } = point;
    const box = element("div", { class: "popup", "data-popup": id });
    box.append(element("h3", { text: title(layer, id, props) }));
    const list = element("dl");
    for (const attr of layer.attrs) {
      if (attr === "name" || props[attr] === undefined) continue;
      list.append(element("dt", { text: t(ATTRIBUTE_NAMES[attr]) }), element("dd", { "data-attr": attr, text: shown(props[attr]) }));
    }
    box.append(list);
    if (!layer.spark) return box;
    box.append(element("figure", { class: "spark", "data-attr": layer.spark }, element("figcaption", { text: t("Loading…") })));
    return box;
  }

  async function fillHistory(id) {
    const { layer } = points.get(id);
    const holder = document.querySelector(`.popup[data-popup="${CSS.escape(id)}"] figure`);
    if (!holder) return;
    const caption = holder.querySelector("figcaption");
    let values = [];
    try {
      const params = new URLSearchParams({ attrs: layer.spark, lastN: "48", options: "temporalValues" });
      const body = await json(`/ngsi-ld/v1/temporal/entities/${encodeURIComponent(id)}?${params}`, { tenant });
      const series = body[layer.spark];
      values = ((series && series.values) || []).filter((v) => typeof v[0] === "number");
    } catch (error) {
      caption.textContent = refusal(error);
      return;
    }
    values.sort((a, b) => (a[1] < b[1] ? -1 : 1));
    if (values.length < 2) {
      caption.textContent = t("No history yet.");
      return;
    }
    const xs = values.map((v) => Date.parse(v[1]) / 1000);
    const ys = values.map((v) => v[0]);
    const chart = element("div", { class: "chart", "aria-hidden": "true" });
    holder.insertBefore(chart, caption);
    new uPlot({
      width: 240, height: 64, legend: { show: false }, cursor: { show: false },
      axes: [{ show: false }, { show: false }], scales: { x: { time: true } },
      series: [{}, { stroke: "#0b4f8a", width: 2, fill: "rgba(11,79,138,0.12)" }],
    }, [xs, ys], chart);
    caption.textContent = t("{attr}: {n} values from {from} to {to}; lowest {min}, highest {max}, latest {last}.", {
      attr: t(ATTRIBUTE_NAMES[layer.spark]), n: values.length,
      from: time(values[0][1], tenant), to: time(values[values.length - 1][1], tenant),
      min: figure(Math.min(...ys)), max: figure(Math.max(...ys)), last: figure(ys[ys.length - 1]),
    });
  }

  function refreshPopup(id) {
    if (openId !== id) return;
    const point = points.get(id);
    for (const dd of document.querySelectorAll(`.popup[data-popup="${CSS.escape(id)}"] dd[data-attr]`)) {
      dd.textContent = shown(point.props[dd.dataset.attr]);
    }
  }

  function viewPolygon() {
    const b = map.getBounds().pad(0.1);
    const w = Math.max(b.getWest(), -180).toFixed(5);
    const e = Math.min(b.getEast(), 180).toFixed(5);
    const s = Math.max(b.getSouth(), -90).toFixed(5);
    const n = Math.min(b.getNorth(), 90).toFixed(5);
    return `[[[${w},${s}],[${e},${s}],[${e},${n}],[${w},${n}],[${w},${s}]]]`;
  }

  function query(layer, extra) {
    return new URLSearchParams({
      type: layer.type, options: "keyValues", pick: ["id", "type", "location", ...layer.attrs].join(","), ...extra,
    });
  }

  async function page(layer, polygon, offset) {
    const params = query(layer, {
      georel: "within", geometry: "Polygon", coordinates: polygon, limit: String(PAGE), offset: String(offset), count: "true",
    });
    const response = await api(`/ngsi-ld/v1/entities?${params}`, { tenant, headers: { Accept: "application/geo+json" } });
    if (!response.ok) {
      const error = new Error(String(response.status));
      error.status = response.status;
      throw error;
    }
    return { total: Number(response.headers.get("NGSILD-Results-Count") || 0), body: await response.json() };
  }

  function flush(layer) {
    if (layer.pending.length) {
      layer.group.addLayers(layer.pending);
      layer.pending = [];
    }
  }

  async function load(layer) {
    const polygon = viewPolygon();
    const note = document.getElementById("map-note");
    try {
      if (layer.custom) {
        const seen = new Set();
        for (const feature of await layer.fetch()) {
          seen.add(feature.id);
          place(layer, feature);
        }
        for (const [id, point] of points) {
          if (point.layer === layer && !seen.has(id)) {
            layer.group.removeLayer(point.marker);
            points.delete(id);
          }
        }
        flush(layer);
        layer.state.textContent = "";
        summarise();
        return;
      }
      const first = await page(layer, polygon, 0);
      for (const feature of first.body.features) place(layer, feature);
      const wanted = Math.min(first.total, VIEW_CAP);
      const offsets = [];
      for (let offset = PAGE; offset < wanted; offset += PAGE) offsets.push(offset);
      for (let i = 0; i < offsets.length; i += 4) {
        const pages = await Promise.all(offsets.slice(i, i + 4).map((offset) => page(layer, polygon, offset)));
        for (const result of pages) for (const feature of result.body.features) place(layer, feature);
      }
      flush(layer);
      layer.state.textContent = "";
      layer.capped = first.total > VIEW_CAP ? first.total : 0;
      const capped = LAYERS.filter((l) => l.capped);
      note.textContent = capped.length
        ? t("Zoom in to see every point: {shown} of {total} shown.", { shown: Qala.number(VIEW_CAP), total: Qala.number(capped[0].capped) })
        : "";
    } catch (error) {
      layer.state.textContent = refusal(error);
    }
    summarise();
  }

  function summarise() {
    const body = document.querySelector("#summary tbody");
    body.textContent = "";
    for (const layer of LAYERS) {
      const counts = new Map();
      for (const point of points.values()) {
        if (point.layer === layer) counts.set(point.band, (counts.get(point.band) || 0) + 1);
      }
      for (const [band, label] of layer.bands) {
        const n = counts.get(band) || 0;
        const legendCount = layer.legend.querySelector(`[data-band="${band}"] .n`);
        if (legendCount) legendCount.textContent = Qala.number(n);
        if (!layer.checkbox.checked || !n) continue;
        body.append(element("tr", { "data-layer": layer.key, "data-band": band },
          element("td", { text: t(layer.label) }), element("td", { text: t(label) }),
          element("td", { class: "num", text: Qala.number(n) })));
      }
    }
  }

  function setupLayers() {
    const fieldset = document.getElementById("layers");
    for (const layer of LAYERS) {
      layer.pending = [];
      layer.group = L.markerClusterGroup({
        chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50,
        iconCreateFunction: (cluster) => L.divIcon({
          className: `cluster cluster-${layer.key}`, html: element("span", { text: Qala.number(cluster.getChildCount()) }), iconSize: [34, 34],
        }),
      });
      const checkbox = element("input", { type: "checkbox", id: `layer-${layer.key}`, "data-type": layer.type });
      checkbox.checked = layer.on;
      const legend = element("ul", { class: "legend" });
      for (const [band, label] of layer.bands) {
        legend.append(element("li", { "data-band": band }, element("span", { class: `swatch b-${band}`, "aria-hidden": "true" }),
          element("span", { text: t(label) }), element("span", { class: "n", text: "0" })));
      }
      layer.state = element("p", { class: "note" });
      layer.checkbox = checkbox;
      layer.legend = legend;
      fieldset.append(element("div", { class: "layer" }, element("label", { for: checkbox.id }, checkbox, t(layer.label)), legend, layer.state));
      checkbox.addEventListener("change", () => {
        if (checkbox.checked) {
          map.addLayer(layer.group);
          load(layer);
        } else {
          map.removeLayer(layer.group);
          summarise();
        }
      });
      if (layer.on) map.addLayer(layer.group);
    }
  }

  async function outlines() {
    const collection = await (await fetch(`${config.root}/dashboard/basemap/outlines.geojson`)).json();
    let mine = null;
    L.geoJSON(collection, {
      interactive: false,
      style: (feature) => ({ className: feature.properties.tenant === tenant ? "outline" : "outline other" }),
      onEachFeature: (feature, layer) => { if (feature.properties.tenant === tenant) mine = layer; },
    }).addTo(map);
    if (mine) map.fitBounds(mine.getBounds());
    else if (config.cities[tenant]) map.setView(config.cities[tenant].centre, 11);
    else map.setView([48.0, 67.0], 5);
    const approximate = config.cities[tenant] && config.cities[tenant].approximate;
    map.attributionControl.addAttribution(approximate ? t("City outline: approximate extent") : t("City outlines shipped with Qala"));
  }

  /* Live changes: read the changed entities again (in batches) and move or recolour them. */
  function live() {
    const state = document.getElementById("live-state");
    const changed = new Map(); /* type -> Set(id) */
    let timer = null;

    async function apply() {
      timer = null;
      const batches = [...changed.entries()];
      changed.clear();
      for (const [type, ids] of batches) {
        const layer = byType.get(type);
        const list = [...ids];
        for (let i = 0; i < list.length; i += 100) {
          const params = query(layer, { id: list.slice(i, i + 100).join(","), limit: "100" });
          const response = await api(`/ngsi-ld/v1/entities?${params}`, { tenant, headers: { Accept: "application/geo+json" } });
          if (!response.ok) continue;
          const body = await response.json();
          const seen = new Set();
          for (const feature of body.features) {
            if (!feature.geometry) continue;
            seen.add(feature.id);
            place(layer, feature);
            refreshPopup(feature.id);
          }
          for (const id of list.slice(i, i + 100)) {
            if (!seen.has(id) && points.has(id)) {
              layer.group.removeLayer(points.get(id).marker);
              points.delete(id);
            }
          }
          flush(layer);
        }
      }
      summarise();
    }

    function onEvent(kind, data) {
      if (kind === "ready") state.textContent = t("Live updates connected.");
      if (kind === "resync") LAYERS.filter((l) => l.checkbox.checked).forEach(load);
      if (kind !== "change") return;
      const type = data.type.find((name) => byType.has(name));
      const layer = byType.get(type);
      if (!layer || !layer.checkbox.checked) return;
      if (!changed.has(type)) changed.set(type, new Set());
      changed.get(type).add(data.id);
      if (!timer) timer = setTimeout(apply, 150);
    }

    async function connect() {
      const types = LAYERS.filter((l) => !l.custom).map((l) => l.type).join(",");
      try {
        const response = await api(`/api/v1/dashboard/events?type=${encodeURIComponent(types)}`, {
          tenant, headers: { Accept: "text/event-stream" },
        });
        if (!response.ok) {
          state.textContent = refusal({ status: response.status });
          if (response.status === 401 || response.status === 403 || response.status === 404) return;
        } else {
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            let cut;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              let kind = "message";
              let data = "";
              for (const line of block.split("\n")) {
                if (line.startsWith("event: ")) kind = line.slice(7);
                else if (line.startsWith("data: ")) data += line.slice(6);
              }
              if (data) onEvent(kind, JSON.parse(data));
            }
          }
        }
      } catch (error) {
        /* the connection dropped: reconnect below */
      }
      state.textContent = t("Live updates paused; reconnecting…");
      setTimeout(connect, 1000);
    }
    connect();
  }

  /* The city's open requests by SLA state, with the page that shows them. */
  async function fillRequests(section, spec) {
    const state = section.querySelector(".section-state");
    if (!spec.tenants.includes(tenant)) {
      state.textContent = t("This city has no Open311 service on this server.");
      return;
    }
    const open = await Qala.openRequests(tenant);
    const list = element("ul", { class: "legend sla-legend" });
    for (const sla of ["on_time", "due_soon", "overdue"]) {
      list.append(element("li", { "data-sla": sla }, element("span", { class: `swatch b-${sla}`, "aria-hidden": "true" }),
        element("span", { text: t(Qala.SLA_NAMES[sla]) }),
        element("span", { class: "n", text: Qala.number(open.filter((r) => Qala.slaState(r) === sla).length) })));
    }
    state.textContent = t("{n} open requests filed in the last 90 days.", { n: Qala.number(open.length) });
    section.append(list, element("p", {}, element("a", {
      href: `${config.root}/dashboard/requests?city=${encodeURIComponent(tenant)}`, text: t("All the city's requests"),
    })));
  }

  async function main() {
    map = L.map("map", { keyboard: true, zoomSnap: 0.5, minZoom: 4, maxZoom: 18 });
    map.attributionControl.setPrefix(false);
    if (config.pmtiles && window.pmtiles) {
      pmtiles.leafletRasterLayer(new pmtiles.PMTiles(config.pmtiles), { attribution: t("Street basemap of this server") }).addTo(map);
    }
    await outlines();
    const sections = await Qala.sections();
    const hub = sections.hub || { state: "open", tenants: null };
    if (hub.tenants && !hub.tenants.includes(tenant)) {
      /* signed in for another city: its hub refuses this user, so no layer is asked for */
      document.getElementById("map-note").textContent = t("This city's data is not shared with you.");
      document.getElementById("layers").hidden = true;
      performance.mark("qala-ready");
      document.documentElement.dataset.ready = "true";
    } else {
      const requests = sections.requests || {};
      if (requests.state === "open" && requests.tenants.includes(tenant)) LAYERS.push(REQUESTS);
      setupLayers();
      await Promise.all(LAYERS.filter((l) => l.on).map(load));
      performance.mark("qala-ready");
      document.documentElement.dataset.ready = "true";
      let moving = null;
      map.on("moveend", () => {
        clearTimeout(moving);
        moving = setTimeout(() => LAYERS.filter((l) => l.checkbox.checked && !l.custom).forEach(load), 250);
      });
      live();
    }
    Qala.fillSections({
      requests: fillRequests, indicators: CityIndicators.fillIndicators, assessment: CityIndicators.fillAssessment,
    });
  }

  document.addEventListener("DOMContentLoaded", main);
})();
