/* The national overview: per city, what the hub holds (entity counts by type, from the
   NGSI-LD discovery and query APIs) and how fresh its sensors are; the sections of the other
   APIs appear when the server has them. Everything is read with the user's credentials. */
"use strict";

(() => {
  const { t, N_, number, api, json, refusal, element, cityName, config, money, moneyCompact, percent, bar } = Qala;

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
    Open311_ServiceRequest: N_("Citizen requests"),
    ArrivalEstimation: N_("Arrival estimates"),
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

  function link(href, text, label) {
    const a = element("a", { href: `${config.root}${href}`, text });
    if (label) a.setAttribute("title", label);
    return a;
  }

  function cell(content, numeric) {
    return element("td", numeric ? { class: "num" } : {}, content);
  }

  /* Programme money against verified delivery, per city, and the audit flags by severity. */
  async function fillProgramme(section) {
    const programmes = await json("/api/v1/programme/programmes", { context: false });
    const state = section.querySelector(".section-state");
    if (!programmes.length) {
      state.textContent = t("No programme you may read on this server yet.");
      return;
    }
    const programme = programmes[0];
    const base = `/api/v1/programme/programmes/${encodeURIComponent(programme.id)}`;
    const [progress, flags] = await Promise.all([
      json(`${base}/progress`, { context: false }), json(`${base}/flags`, { context: false }),
    ]);
    state.textContent = t("{title}: as of {at}.", { title: programme.title || programme.id, at: Qala.time(progress.at) });
    const bySeverity = new Map();
    for (const flag of flags.flags) {
      const key = `${flag.tenant}|${flag.severity}`;
      bySeverity.set(key, (bySeverity.get(key) || 0) + 1);
    }
    const body = section.querySelector("tbody");
    for (const row of progress.cities) {
      const city = row.tenant;
      const page = `/dashboard/programme?city=${encodeURIComponent(city)}`;
      const amount = (value) => link(page, moneyCompact(value), money(value));
      const paidShare = Number(row.contracted) ? Number(row.paid) / Number(row.contracted) : 0;
      body.append(element("tr", { "data-tenant": city },
        element("th", { scope: "row" }, link(page, cityName(city))),
        cell(amount(row.budget), true), cell(amount(row.contracted), true), cell(amount(row.paid), true),
        cell(bar(paidShare, "paid", percent(row.financial))),
        cell(bar(row.physical, "delivered", row.physical === null ? t("not verified") : percent(row.physical))),
        ...["high", "medium", "low"].map((severity) => cell(
          link(`${page}&severity=${severity}`, number(bySeverity.get(`${city}|${severity}`) || 0)), true)),
      ));
    }
    section.querySelector(".scroll").hidden = false;
  }

  /* Open citizen requests per city by SLA state (the public GeoReport API), and for the
     city's staff the share closed within the SLA and the backlog (the back office's figures). */
  async function fillRequests(section, spec) {
    const body = section.querySelector("tbody");
    const rows = await Promise.all(spec.tenants.map(async (city) => {
      const [open, figures] = await Promise.all([
        Qala.openRequests(city),
        spec.view === "figures" ? json(`/api/v1/open311/${encodeURIComponent(city)}/figures`, { context: false }) : null,
      ]);
      return { city, open, figures };
    }));
    for (const { city, open, figures } of rows) {
      const page = `/dashboard/requests?city=${encodeURIComponent(city)}`;
      const count = (state) => open.filter((r) => Qala.slaState(r) === state).length;
      const within = figures && figures.percent_within_sla;
      body.append(element("tr", { "data-tenant": city },
        element("th", { scope: "row" }, link(page, cityName(city))),
        cell(link(page, number(open.length)), true),
        cell(link(`${page}&sla=on_time`, number(count("on_time"))), true),
        cell(link(`${page}&sla=due_soon`, number(count("due_soon"))), true),
        cell(link(`${page}&sla=overdue`, number(count("overdue"))), true),
        cell(figures ? bar(within === null ? 0 : within / 100, "delivered", within === null ? "—" : `${number(within, 1)}\u00a0%`) : "—"),
        cell(figures ? t("{open} open, {overdue} overdue", { open: number(figures.backlog.open), overdue: number(figures.backlog.overdue) }) : "—", true),
      ));
    }
    section.querySelector(".scroll").hidden = false;
    section.querySelector(".requests-note").textContent = spec.view === "figures"
      ? t("Open requests filed in the last 90 days; the share within the SLA and the backlog over the last year.")
      : t("Open requests filed in the last 90 days, as the city publishes them. The share within the SLA and the backlog are shown to the city's staff.");
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
      Qala.fillSections({ programme: fillProgramme, requests: fillRequests });
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
    Qala.fillSections({ programme: fillProgramme, requests: fillRequests });
    await Promise.all(later.filter(Boolean).map((fill) => fill()));
    document.documentElement.dataset.complete = "true";
  }

  function ready() {
    performance.mark("qala-ready");
    document.documentElement.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", main);
})();
