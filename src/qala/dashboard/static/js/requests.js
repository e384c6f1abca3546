/* The citizen requests page: a city's open requests on a map (coloured by SLA state: on time,
   due soon, overdue) and in a table, and the requests filed per month by service over the last
   year (a table, with a line per service). Read from the public GeoReport API, which any
   Open311 client reads too. */
"use strict";

(() => {
  const { t, number, json, element, cityName, config, SLA_NAMES } = Qala;
  const STATES = ["overdue", "due_soon", "on_time", "unknown"];
  const DAY = 86400e3;
  let map = null;
  let group = null;
  let outline = null;
  let requests = [];

  function iso(moment) {
    return new Date(moment).toISOString().replace(/\.\d+Z$/, "Z");
  }

  function zoneMonth(value, tenant) {
    const zone = (config.cities[tenant] || {}).zone || "Asia/Almaty";
    const parts = new Intl.DateTimeFormat("en", { year: "numeric", month: "2-digit", timeZone: zone }).formatToParts(new Date(value));
    return `${parts.find((p) => p.type === "year").value}-${parts.find((p) => p.type === "month").value}`;
  }

  function monthLabel(key) {
    return Qala.month(key);
  }

  /* Every request filed in the last year, in the 90-day windows the API allows. */
  async function lastYear(tenant) {
    const end = Date.now();
    const out = [];
    for (let to = end; to > end - 365 * DAY; to -= 90 * DAY) {
      const from = Math.max(to - 90 * DAY, end - 365 * DAY);
      for (let page = 1; page <= 10; page += 1) {
        const params = new URLSearchParams({
          jurisdiction_id: tenant, start_date: iso(from), end_date: iso(to), lang: config.lang,
          page: String(page), page_size: "1000",
        });
        const batch = await json(`/open311/v2/requests.json?${params}`, { context: false });
        out.push(...batch);
        if (batch.length < 1000) break;
      }
    }
    return out;
  }

  function icon(state) {
    return L.divIcon({ className: `qm b-${state}`, html: element("span", { "data-sla": state }), iconSize: [14, 14] });
  }

  function showMap(tenant) {
    group.clearLayers();
    const markers = [];
    for (const request of requests) {
      if (typeof request.lat !== "number" || typeof request.long !== "number") continue;
      const state = Qala.slaState(request);
      const marker = L.marker([request.lat, request.long], {
        icon: icon(state), keyboard: true,
        title: `${request.service_name || request.service_code} — ${t(SLA_NAMES[state])}`,
      });
      marker.bindPopup(() => element("div", { class: "popup" },
        element("h3", { text: `№ ${request.service_request_id} · ${request.service_name || request.service_code}` }),
        element("p", { text: t(SLA_NAMES[state]) }),
        element("p", { text: t("Filed {filed}; due {due}", { filed: Qala.time(request.requested_datetime, tenant), due: Qala.time(request.expected_datetime, tenant) }) }),
        element("p", { text: request.address || "" })));
      markers.push(marker);
    }
    group.addLayers(markers);
    if (markers.length) map.fitBounds(group.getBounds().pad(0.1));
    else if (config.cities[tenant]) map.setView(config.cities[tenant].centre, 11);
  }

  function showTable(tenant, only) {
    const body = document.querySelector("#open-table tbody");
    body.textContent = "";
    const order = (r) => STATES.indexOf(Qala.slaState(r));
    const rows = requests.filter((r) => !only || Qala.slaState(r) === only)
      .sort((a, b) => order(a) - order(b) || String(a.expected_datetime).localeCompare(String(b.expected_datetime)));
    for (const request of rows) {
      const state = Qala.slaState(request);
      body.append(element("tr", { "data-sla": state },
        element("th", { scope: "row", text: `№ ${request.service_request_id}` }),
        element("td", { text: request.service_name || request.service_code }),
        element("td", { text: Qala.time(request.requested_datetime, tenant) }),
        element("td", { text: Qala.time(request.expected_datetime, tenant) }),
        element("td", {}, element("span", { class: `swatch b-${state}`, "aria-hidden": "true" }), " ", t(SLA_NAMES[state]))));
    }
    if (!rows.length) body.append(element("tr", {}, element("td", { colspan: "5", text: t("No open requests.") })));
    const legend = document.getElementById("sla-legend");
    legend.textContent = "";
    for (const state of STATES) {
      const n = requests.filter((r) => Qala.slaState(r) === state).length;
      if (!n && state === "unknown") continue;
      legend.append(element("li", { "data-sla": state }, element("span", { class: `swatch b-${state}`, "aria-hidden": "true" }),
        element("span", { text: t(SLA_NAMES[state]) }), element("span", { class: "n", text: number(n) })));
    }
  }

  function sparkline(values) {
    const most = Math.max(...values, 1);
    const points = values.map((v, i) => `${(i * 100 / Math.max(values.length - 1, 1)).toFixed(1)},${(28 - v * 26 / most).toFixed(1)}`).join(" ");
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 100 30");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", points);
    svg.append(line);
    return svg;
  }

  async function showTrends(tenant) {
    const all = await lastYear(tenant);
    const months = [];
    const now = new Date();
    for (let back = 11; back >= 0; back -= 1) {
      months.push(zoneMonth(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 15), tenant));
    }
    const services = new Map();
    for (const request of all) {
      const month = zoneMonth(request.requested_datetime, tenant);
      const index = months.indexOf(month);
      if (index < 0) continue;
      const name = request.service_name || request.service_code;
      if (!services.has(name)) services.set(name, months.map(() => 0));
      services.get(name)[index] += 1;
    }
    const head = document.querySelector("#trends thead tr");
    head.textContent = "";
    head.append(element("th", { scope: "col", text: t("Service") }), element("th", { scope: "col", text: t("Trend") }));
    for (const month of months) head.append(element("th", { scope: "col", class: "num", text: monthLabel(month) }));
    head.append(element("th", { scope: "col", class: "num", text: t("Total") }));
    const body = document.querySelector("#trends tbody");
    body.textContent = "";
    const rows = [...services.entries()].sort((a, b) => b[1].reduce((x, y) => x + y) - a[1].reduce((x, y) => x + y));
    for (const [name, counts] of rows) {
      const row = element("tr", { "data-service": name }, element("th", { scope: "row", text: name }),
        element("td", { class: "trend" }, sparkline(counts)));
      for (const n of counts) row.append(element("td", { class: "num", text: number(n) }));
      row.append(element("td", { class: "num", text: number(counts.reduce((x, y) => x + y)) }));
      body.append(row);
    }
    if (!rows.length) body.append(element("tr", {}, element("td", { colspan: String(months.length + 3), text: t("No requests in the last year.") })));
  }

  async function show(tenant, only) {
    requests = await Qala.openRequests(tenant);
    showMap(tenant);
    showTable(tenant, only);
    if (outline) outline.setStyle((feature) => ({ className: feature.properties.tenant === tenant ? "outline" : "outline other" }));
    await showTrends(tenant);
  }

  async function fill(section, spec) {
    const state = section.querySelector(".section-state");
    if (!spec.tenants.length) {
      state.textContent = t("No city has an Open311 service on this server.");
      return;
    }
    const form = document.getElementById("filters");
    for (const tenant of spec.tenants) form.city.append(element("option", { value: tenant, text: cityName(tenant) }));
    for (const sla of STATES.slice(0, 3)) form.sla.append(element("option", { value: sla, text: t(SLA_NAMES[sla]) }));
    const asked = new URLSearchParams(location.search);
    if (spec.tenants.includes(asked.get("city"))) form.city.value = asked.get("city");
    if (STATES.includes(asked.get("sla"))) form.sla.value = asked.get("sla");
    form.hidden = false;
    document.getElementById("requests-body").hidden = false;
    map = L.map("map", { keyboard: true, zoomSnap: 0.5, minZoom: 4, maxZoom: 18 });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(t("City outlines shipped with Qala"));
    const collection = await (await fetch(`${config.root}/dashboard/basemap/outlines.geojson`)).json();
    outline = L.geoJSON(collection, { interactive: false, style: { className: "outline other" } }).addTo(map);
    group = L.markerClusterGroup({
      showCoverageOnHover: false, maxClusterRadius: 40,
      iconCreateFunction: (cluster) => L.divIcon({ className: "cluster cluster-requests", html: element("span", { text: number(cluster.getChildCount()) }), iconSize: [34, 34] }),
    }).addTo(map);
    const address = () => {
      const query = new URLSearchParams({ city: form.city.value, ...(form.sla.value ? { sla: form.sla.value } : {}) });
      window.history.replaceState(null, "", `?${query}`);
    };
    form.city.addEventListener("change", () => { address(); show(form.city.value, form.sla.value); });
    form.sla.addEventListener("change", () => { address(); showTable(form.city.value, form.sla.value); });
    form.addEventListener("submit", (event) => event.preventDefault());
    await show(form.city.value, form.sla.value);
  }

  async function main() {
    await Qala.fillSections({ requests: fill });
    performance.mark("qala-ready");
    document.documentElement.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", main);
})();
