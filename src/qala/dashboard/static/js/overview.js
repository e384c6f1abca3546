/* The national overview: per city, what the hub holds (entity counts by type, from the
   NGSI-LD discovery and query APIs) and how fresh its sensors are; the sections of the other
   APIs appear when the server has them: the national assessment score and the headline
   indicators (the indicators API), programme money (the programme monitor), open requests
   (Open311). Everything is read with the user's credentials. */
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

  /* The national Smart City assessment of each city for the current year: the score (or why
     it cannot be computed) and each area's points, from GET /api/v1/indicators/assessment. */
  async function fillAssessment(section, spec) {
    const state = section.querySelector(".section-state");
    const year = Indicators.year();
    const names = await Indicators.cities(spec);
    if (!names.length) {
      state.textContent = t("No cities on this server yet.");
      return;
    }
    const results = await Promise.all(names.map((city) => json(
      `${Indicators.API}/assessment?${new URLSearchParams({ tenant: city, period: year })}`, { context: false },
    ).then((result) => ({ city, result }))));
    const areas = results[0].result.areas;
    const head = section.querySelector("thead tr");
    head.append(element("th", { scope: "col", text: t("City") }), element("th", { scope: "col", text: t("Score") }));
    for (const area of areas) {
      head.append(element("th", { scope: "col", class: "num", "data-area": area.id, text: area.title[config.lang] || area.title.en }));
    }
    const body = section.querySelector("tbody");
    for (const { city, result } of results) {
      const page = Indicators.cityPath(city, "#assessment");
      const score = element("td", { class: "score", "data-total": result.total === null ? "" : String(result.total) });
      if (result.total === null) {
        score.append(element("span", { class: "not-computable", text: t("Not computable:") }), " ", Indicators.reasonText(result.reason));
      } else {
        score.append(link(page, t("{score} of {maximum}", { score: Qala.figure(result.total, 2), maximum: Qala.figure(result.maximum, 2) })));
      }
      const row = element("tr", { "data-tenant": city }, element("th", { scope: "row" }, link(page, cityName(city))), score);
      for (const area of areas) {
        const found = result.areas.find((a) => a.id === area.id);
        const text = found && found.points !== null
          ? t("{points} ({percent} met)", { points: number(found.points), percent: percent(found.implementationPercent / 100) })
          : "—";
        const td = element("td", { class: "num", "data-area": area.id, text });
        if (!found || found.points === null) td.setAttribute("title", t("No requirement of the area is answered."));
        row.append(td);
      }
      body.append(row);
    }
    state.textContent = t("The assessment for {year}, computed from the data you may read.", { year });
    const first = results[0].result;
    section.querySelector(".assessment-note").textContent = first.official
      ? t("Methodology {name}.", { name: first.methodology })
      : t("Methodology {name}: its requirements are illustrative, not the official checklist. An area without an answered requirement leaves the score uncomputed.", { name: first.methodology });
    section.querySelector(".scroll").hidden = false;
  }

  /* The headline indicators side by side: per indicator and city, the value for the current
     year with its rank (GET /comparison), and a line of the last twelve months' values
     (GET /values of the indicator); each value links to the city's detail. */
  async function fillHeadline(section, spec) {
    const state = section.querySelector(".section-state");
    const year = Indicators.year();
    const months = Indicators.lastMonths();
    const names = await Indicators.cities(spec);
    if (!names.length) {
      state.textContent = t("No cities on this server yet.");
      return;
    }
    // the monthly series are asked at once, beside the year's comparison
    const series = new Map();
    for (const city of names) {
      for (const id of Indicators.HEADLINE) {
        series.set(`${city}|${id}`, Indicators.values(city, { indicator: id }).catch(() => null));
      }
    }
    const [catalogue, compared] = await Promise.all([Indicators.catalogue(), Indicators.comparison(year)]);
    const head = section.querySelector("thead tr");
    head.append(element("th", { scope: "col", text: t("Indicator") }));
    for (const city of names) {
      head.append(element("th", { scope: "col", "data-tenant": city }, link(Indicators.cityPath(city, "#indicators"), cityName(city))));
    }
    const body = section.querySelector("tbody");
    const cells = [];
    let shown = 0;
    for (const id of Indicators.HEADLINE) {
      const entry = catalogue.get(id);
      if (!entry) continue;
      const unit = Indicators.unitOf(entry);
      const row = element("tr", { "data-indicator": id }, element("th", { scope: "row" },
        element("span", { class: "indicator-title", text: Indicators.title(entry, id) }),
        element("span", { class: "indicator-code", text: [Indicators.code(entry), Indicators.better(entry)].filter(Boolean).join(" · ") })));
      const compare = compared.get(id);
      for (const city of names) {
        const standing = compare && compare.cities.get(city);
        const missing = compare && compare.missing.get(city);
        const href = config.root + Indicators.cityPath(city, `?indicator=${encodeURIComponent(id)}#indicators`);
        const td = element("td", { "data-tenant": city }, Indicators.figureOf(standing, unit, { href, missing, period: year }));
        if (standing) {
          shown += 1;
          td.append(element("span", { class: "rank", text: t("rank {rank} of {n}", { rank: number(standing.rank), n: number(compare.count) }) }));
        }
        row.append(td);
        cells.push({ td, city, id, unit });
      }
      body.append(row);
    }
    section.querySelector(".scroll").hidden = false;
    state.textContent = shown
      ? t("Values for {year}; the line shows the monthly values of the last twelve months.", { year })
      : t("No indicator values have been computed for {year} yet.", { year });
    if (!shown && spec.compute) {
      section.querySelector(".headline-note").textContent = t("You may compute a city's indicators on the city's page.");
    }
    await Promise.all(cells.map(async ({ td, city, id, unit }) => {
      const stored = await series.get(`${city}|${id}`);
      if (stored) td.append(Indicators.trendLine(Indicators.monthly(stored, id, months), unit));
    }));
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
      Qala.fillSections(FILLERS);
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
    Qala.fillSections(FILLERS);
    await Promise.all(later.filter(Boolean).map((fill) => fill()));
    document.documentElement.dataset.complete = "true";
  }

  const FILLERS = { programme: fillProgramme, requests: fillRequests, assessment: fillAssessment, indicators: fillHeadline };

  function ready() {
    performance.mark("qala-ready");
    document.documentElement.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", main);
})();
