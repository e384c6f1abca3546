/* The national overview: per city, what the hub holds (entity counts by type, from the
   NGSI-LD discovery and query APIs) and how fresh its sensors are; the sections of the other
   APIs appear when the server has them. Everything is read with the user's credentials. */
"use strict";

(() => {
  const { t, N_, number, api, json, refusal, element, cityName, config } = Qala;

  /* Sensor types and the attribute whose observedAt tells when a device last reported. */
  const SENSORS = {
    AirQualityObserved: "pm25",
    Streetlight: "status",
    WasteContainer: "fillingLevel",
    OffStreetParking: "availableSpotNumber",
    ParkingSpot: "status",
    TrafficFlowObserved: "intensity",
    EVChargingStation: "availableCapacity",
    PublicTransportStop: "peopleCount",
  };
  const TYPE_NAMES = {
    AirQualityObserved: N_("Air quality stations"),
    Streetlight: N_("Streetlights"),
    WasteContainer: N_("Waste containers"),
    OffStreetParking: N_("Car parks"),
    ParkingSpot: N_("Parking spots"),
    TrafficFlowObserved: N_("Traffic detectors"),
    EVChargingStation: N_("EV chargers"),
    PublicTransportStop: N_("Transport stops"),
    City: N_("City facts"),
  };

  function typeLabel(name) {
    return TYPE_NAMES[name] ? t(TYPE_NAMES[name]) : name;
  }

  async function count(tenant, type, q) {
    const params = new URLSearchParams({ type, limit: "0", count: "true" });
    if (q) params.set("q", q);
    const response = await api(`/ngsi-ld/v1/entities?${params}`, { tenant });
    if (!response.ok) {
      const error = new Error(String(response.status));
      error.status = response.status;
      throw error;
    }
    return Number(response.headers.get("NGSILD-Results-Count") || 0);
  }

  /* Counts by type first (the page is ready then), the sensors' freshness after. */
  async function fillCity(card, tenant) {
    const state = card.querySelector(".city-state");
    const counted = new Map();
    const countOnce = (name) => {
      if (!counted.has(name)) counted.set(name, count(tenant, name).catch(() => null));
      return counted.get(name);
    };
    let types;
    try {
      types = await json("/ngsi-ld/v1/types?details=true", { tenant });
    } catch (error) {
      state.textContent = refusal(error);
      card.querySelector("table").hidden = true;
      card.querySelector("dl").hidden = true;
      return null;
    }
    if (!types.length) {
      state.textContent = Qala.credential() ? t("No entities yet.") : t("This city shares nothing with the public yet.");
      card.querySelector("table").hidden = true;
      card.querySelector("dl").hidden = true;
      return null;
    }
    const rows = await Promise.all(types.map(async (info) => ({ name: info.typeName, total: await countOnce(info.typeName) })));
    rows.sort((a, b) => typeLabel(a.name).localeCompare(typeLabel(b.name), config.numbers.tag));
    const body = card.querySelector("tbody");
    let sum = 0;
    for (const row of rows) {
      sum += row.total || 0;
      body.append(element("tr", { "data-type": row.name },
        element("th", { scope: "row", text: typeLabel(row.name) }),
        element("td", { class: "num", text: number(row.total) })));
    }
    card.querySelector(".total").textContent = number(sum);
    return () => fillFreshness(card, tenant, rows);
  }

  async function fillFreshness(card, tenant, rows) {
    const hourAgo = new Date(Date.now() - 3600e3).toISOString();
    const dayAgo = new Date(Date.now() - 86400e3).toISOString();
    const sensors = rows.filter((row) => SENSORS[row.name] && row.total);
    const counts = await Promise.all(sensors.map((row) => Promise.all([
      count(tenant, row.name, `${SENSORS[row.name]}.observedAt>=${hourAgo}`).catch(() => 0),
      count(tenant, row.name, `${SENSORS[row.name]}.observedAt>=${dayAgo}`).catch(() => 0),
    ])));
    const total = sensors.reduce((sum, row) => sum + row.total, 0);
    const hour = counts.reduce((sum, pair) => sum + pair[0], 0);
    const day = counts.reduce((sum, pair) => sum + pair[1], 0);
    card.querySelector(".fresh-hour").textContent = t("{n} of {total}", { n: number(hour), total: number(total) });
    card.querySelector(".fresh-day").textContent = t("{n} of {total}", { n: number(day), total: number(total) });
  }

  async function main() {
    const holder = document.getElementById("cities");
    let names;
    try {
      names = await Qala.tenants();
    } catch (error) {
      holder.textContent = "";
      holder.append(element("p", { class: "error", text: refusal(error) }));
      holder.setAttribute("aria-busy", "false");
      ready();
      return;
    }
    holder.textContent = "";
    if (!names.length) holder.append(element("p", { text: t("No cities on this server yet.") }));
    const template = document.getElementById("city-card");
    const jobs = names.map((tenant) => {
      const card = template.content.firstElementChild.cloneNode(true);
      card.dataset.tenant = tenant;
      const link = card.querySelector(".city-link");
      link.textContent = cityName(tenant);
      link.href = `${config.root}/dashboard/city/${encodeURIComponent(tenant)}`;
      holder.append(card);
      return fillCity(card, tenant);
    });
    const later = await Promise.all(jobs);
    holder.setAttribute("aria-busy", "false");
    ready();
    await Promise.all(later.filter(Boolean).map((fill) => fill()));
    document.documentElement.dataset.complete = "true";
    Qala.detectSections(names[0]);
  }

  function ready() {
    performance.mark("qala-ready");
    document.documentElement.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", main);
})();
