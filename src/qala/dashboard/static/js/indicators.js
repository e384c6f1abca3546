/* The city indicators as the overview and the city page show them, read from the indicators
   API (/api/v1/indicators) with the user's credentials: the catalogue (titles in the page's
   language, units, which way is better), a city's stored values and their monthly series,
   the cities compared, formatted per locale; a value that cannot be computed shows the reason
   the API gives, never a number. */
"use strict";

const Indicators = (() => {
  const { t, N_, json, element, config } = Qala;
  const API = "/api/v1/indicators";
  /* The zone of the indicators' periods (the capability's: a year is the city's calendar year). */
  const ZONE = "Asia/Almaty";
  /* The headline indicators: what the hub's data feed in every city (air, lighting, citizen
     requests, electric mobility, public transport). */
  const HEADLINE = [
    "iso37120:8.1",
    "iso37122:7.6",
    "qala:governance/requests-within-sla",
    "qala:energy/ev-charging-points",
    "u4ssc:economy/dynamic-public-transport-information",
  ];
  /* The catalogue's units in words of the page's language ("%" is written as a percentage). */
  const UNITS = {
    "µg/m³": N_("µg/m³"),
    days: N_("days"),
    hours: N_("hours"),
    "per 100 km²": N_("per 100 km²"),
    "per 100 000": N_("per 100 000 residents"),
    "vehicles per resident": N_("vehicles per resident"),
    "t CO₂e per capita": N_("t CO₂e per resident"),
    "GJ per capita per year": N_("GJ per resident per year"),
  };
  const FRAMEWORKS = { iso37120: "ISO 37120", iso37122: "ISO 37122", u4ssc: "U4SSC", sdg: "SDG", qala: "Qala" };
  const BETTER = { lower: N_("Lower is better"), higher: N_("Higher is better") };

  function zoneParts(moment) {
    const parts = new Intl.DateTimeFormat("en", { year: "numeric", month: "2-digit", timeZone: ZONE }).formatToParts(moment);
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    return [get("year"), get("month")];
  }

  /* The current year (the indicators API's default period), as its label. */
  function year() {
    return String(zoneParts(new Date())[0]);
  }

  /* The labels of the last `count` months, the current one last ("2026-01" … "2026-12"). */
  function lastMonths(count = 12) {
    const [y, m] = zoneParts(new Date());
    const out = [];
    for (let back = count - 1; back >= 0; back -= 1) {
      const index = y * 12 + (m - 1) - back;
      out.push(`${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, "0")}`);
    }
    return out;
  }

  /* A month label ("2026-03") in the language's words (март 26 г., 26 ж. нау., Mar 26); `alone`:
     the month's name only (a chart's axis). */
  function monthName(label, alone = false) {
    return Qala.month(label, { alone });
  }

  let catalogueOnce = null;
  /* The catalogue, by id, titles in the page's language (asked once per page). */
  function catalogue() {
    catalogueOnce = catalogueOnce || json(`${API}/catalogue?lang=${encodeURIComponent(config.lang)}`, { context: false })
      .then((list) => new Map(list.map((entry) => [entry.id, entry])));
    return catalogueOnce;
  }

  function unitOf(entry) {
    const definition = entry && entry.definition;
    return definition && typeof definition === "object" ? definition.unit || "" : "";
  }

  function title(entry, id) {
    return (entry && entry.title) || id;
  }

  /* Where the indicator is published: "ISO 37120 · 8.1", "U4SSC", "Qala". */
  function code(entry) {
    if (!entry) return "";
    const name = FRAMEWORKS[entry.framework] || entry.framework;
    return entry.clause ? `${name} · ${entry.clause}` : name;
  }

  function better(entry) {
    return entry && BETTER[entry.better] ? t(BETTER[entry.better]) : "";
  }

  /* Decimals a value is shown with: none from 1,000, one from 10, two from 1, and below 1 two
     significant digits (0,24; 0,00031): a small value never reads as 0. */
  function decimals(value) {
    const size = Math.abs(value);
    if (size >= 1000) return 0;
    if (size >= 10) return 1;
    if (size >= 1 || size === 0) return 2;
    return Math.min(8, 1 - Math.floor(Math.log10(size)));
  }

  /* A value with its unit, in the locale's digits: 27,5 мкг/м³, 69,5 %, 0,37 на 100 000 жителей. */
  function withUnit(value, unit) {
    const shown = Qala.figure(value, decimals(value));
    if (!unit) return shown;
    if (unit === "%") return `${shown}\u00a0%`;
    return `${shown}\u00a0${UNITS[unit] ? t(UNITS[unit]) : unit}`;
  }

  /* The value exactly as the API gives it, in the locale's digits (the figure's title). */
  function exact(value, unit) {
    const digits = (String(value).split(".")[1] || "").length;
    const shown = Qala.number(value, Math.min(digits, 6));
    if (!unit) return shown;
    return unit === "%" ? `${shown}\u00a0%` : `${shown}\u00a0${UNITS[unit] ? t(UNITS[unit]) : unit}`;
  }

  /* The API's reason a value is missing (its own words, in English). */
  function reasonText(reason) {
    return element("span", { class: "reason", lang: "en", text: reason });
  }

  /* What one value shows: the figure with its unit (a link when `href`), or that it cannot be
     computed and why, or that it has not been computed. `stored` is a stored value
     ({kind, value, unit, reason, flagged}) or a comparison standing ({value, kind}). */
  function figureOf(stored, unit, { href, missing, period } = {}) {
    const box = element("span", { class: "figure" });
    if (stored && stored.kind !== "not-computable" && typeof stored.value === "number") {
      const text = withUnit(stored.value, stored.unit || unit);
      const attrs = { class: "value", "data-value": String(stored.value), title: exact(stored.value, stored.unit || unit) };
      box.append(href ? element("a", { ...attrs, href, text }) : element("span", { ...attrs, text }));
      if (stored.kind === "reported") box.append(" ", element("span", { class: "tag", text: t("reported") }));
      if (stored.flagged) box.append(" ", element("span", { class: "tag flagged", text: t("incomplete data") }));
      box.dataset.kind = stored.kind;
      return box;
    }
    const reason = stored && stored.kind === "not-computable" ? stored.reason : missing;
    if (reason && reason !== "no value") {
      box.dataset.kind = "not-computable";
      box.append(element("span", { class: "not-computable", text: t("Not computable:") }), " ", reasonText(reason));
      return box;
    }
    box.dataset.kind = "none";
    box.append(element("span", { class: "not-computed", text: period ? t("Not computed for {period} yet", { period }) : t("Not computed yet") }));
    return box;
  }

  /* Every stored value of a city matching `params` (indicator, period), pages of 1,000. */
  async function values(tenant, params = {}) {
    const out = [];
    for (let offset = 0; offset < 10000; offset += 1000) {
      const query = new URLSearchParams({ tenant, ...params, limit: "1000", offset: String(offset) });
      const batch = await json(`${API}/values?${query}`, { context: false });
      out.push(...batch);
      if (batch.length < 1000) break;
    }
    return out;
  }

  /* One indicator's stored values for each of `months` (null where none is stored). */
  function monthly(stored, indicator, months) {
    const found = new Map();
    for (const value of stored) {
      if (value.indicator === indicator && value.period && value.period.kind === "month") found.set(value.period.label, value);
    }
    return months.map((label) => ({ label, value: found.get(label) || null }));
  }

  /* The cities compared for a period: per indicator, each city's standing and why the others
     have none. */
  async function comparison(period) {
    const list = await json(`${API}/comparison?period=${encodeURIComponent(period)}`, { context: false });
    const out = new Map();
    for (const item of list) {
      out.set(item.indicator, {
        better: item.better,
        count: item.cities.length,
        cities: new Map(item.cities.map((standing) => [standing.tenant, standing])),
        missing: new Map(item.missing.map((m) => [m.tenant, m.reason])),
      });
    }
    return out;
  }

  /* The measured values of a series, with what they say in words. */
  function describe(points, unit) {
    const measured = points.filter((p) => p.value && p.value.kind === "measured" && typeof p.value.value === "number");
    if (!measured.length) return { count: 0, text: t("No monthly value of the last twelve months yet.") };
    const ys = measured.map((p) => p.value.value);
    const last = measured[measured.length - 1];
    return {
      count: measured.length,
      text: t("{n} of {total} months with a value: lowest {min}, highest {max}, latest {last} ({month}).", {
        n: Qala.number(measured.length), total: Qala.number(points.length),
        min: withUnit(Math.min(...ys), unit), max: withUnit(Math.max(...ys), unit),
        last: withUnit(last.value.value, unit), month: monthName(last.label),
      }),
    };
  }

  /* A small line of a monthly series (gaps where a month has no value), named by its text. */
  function trendLine(points, unit) {
    const summary = describe(points, unit);
    const holder = element("span", { class: "trend", "data-months": String(summary.count) });
    if (!summary.count) {
      holder.append(element("span", { class: "note", text: t("no monthly values") }));
      return holder;
    }
    const ys = points.map((p) => (p.value && p.value.kind === "measured" && typeof p.value.value === "number" ? p.value.value : null));
    const present = ys.filter((y) => y !== null);
    const lo = Math.min(...present);
    const hi = Math.max(...present);
    const x = (i) => (points.length > 1 ? (i * 100) / (points.length - 1) : 50);
    const y = (v) => (hi === lo ? 15 : 28 - ((v - lo) * 26) / (hi - lo));
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 100 30");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", summary.text);
    let run = [];
    const flushRun = () => {
      if (!run.length) return;
      const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      const coords = run.length === 1 ? [[run[0][0] - 2, run[0][1]], [run[0][0] + 2, run[0][1]]] : run;
      line.setAttribute("points", coords.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" "));
      svg.append(line);
      run = [];
    };
    ys.forEach((v, i) => {
      if (v === null) flushRun();
      else run.push([x(i), y(v)]);
    });
    flushRun();
    const titleNode = document.createElementNS("http://www.w3.org/2000/svg", "title");
    titleNode.textContent = summary.text;
    svg.prepend(titleNode);
    holder.append(svg);
    return holder;
  }

  /* The cities of a section the user may read, in the programme's order. */
  async function cities(spec) {
    const names = await Qala.tenants();
    return spec.tenants ? names.filter((name) => spec.tenants.includes(name)) : names;
  }

  /* The path of a city's page (without the server's root path). */
  function cityPath(tenant, rest = "") {
    return `/dashboard/city/${encodeURIComponent(tenant)}${rest}`;
  }

  return {
    API, HEADLINE, ZONE, year, lastMonths, monthName, catalogue, unitOf, title, code, better, withUnit, exact,
    reasonText, figureOf, values, monthly, comparison, describe, trendLine, cities, cityPath,
  };
})();
