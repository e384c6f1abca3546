/* The city page's indicators, from the indicators API with the user's credentials: the city's
   values for the current year (GET /values) with the monthly values of the last twelve months
   as a line and, for the chosen indicator, a uPlot chart with its table; the cities compared
   (GET /comparison); where the city trails (GET /gaps); the national assessment
   (GET /assessment). The city's operators (and admins) may compute the indicators
   (POST /compute) when the server says they may. */
"use strict";

const CityIndicators = (() => {
  const { t, N_, number, json, api, element, config, cityName, percent } = Qala;
  const tenant = config.tenant;
  const CLASSES = { priority: N_("priority area"), ict: N_("ICT"), additional: N_("additional area") };
  const STATUSES = { met: N_("met"), "not-met": N_("not met"), unanswered: N_("unanswered") };
  const RANKINGS = { iese: "IESE Cities in Motion", imd: "IMD Smart City Index" };
  let chart = null;

  function wanted() {
    return new URLSearchParams(location.search).get("indicator");
  }

  /* The page's view of the city's indicators, read again after a computation. */
  const view = { section: null, spec: null, catalogue: null, stored: [], compared: new Map(), chosen: null };

  function yearValues() {
    const year = Indicators.year();
    return view.stored.filter((v) => v.period && v.period.label === year);
  }

  function order(ids) {
    const head = Indicators.HEADLINE.filter((id) => ids.includes(id));
    const rest = [...view.catalogue.keys()].filter((id) => ids.includes(id) && !head.includes(id));
    return [...head, ...rest];
  }

  function rankText(id) {
    const compare = view.compared.get(id);
    const standing = compare && compare.cities.get(tenant);
    return standing ? t("rank {rank} of {n}", { rank: number(standing.rank), n: number(compare.count) }) : "—";
  }

  function fillTable(values, months) {
    const body = document.querySelector("#city-indicators tbody");
    body.textContent = "";
    const byId = new Map(values.map((v) => [v.indicator, v]));
    for (const id of order([...byId.keys()])) {
      const entry = view.catalogue.get(id);
      const stored = byId.get(id);
      const unit = stored.unit || Indicators.unitOf(entry);
      const choose = element("button", { type: "button", class: "indicator-choice", "aria-pressed": "false", "data-indicator": id },
        element("span", { class: "indicator-title", text: Indicators.title(entry, id) }));
      choose.addEventListener("click", () => show(id, true));
      const coverage = stored.quality && typeof stored.quality.coverage === "number" ? percent(stored.quality.coverage) : "—";
      body.append(element("tr", { "data-indicator": id },
        element("th", { scope: "row" }, choose, element("span", { class: "indicator-code", text: Indicators.code(entry) })),
        element("td", { class: "num" }, Indicators.figureOf(stored, unit)),
        element("td", {}, Indicators.trendLine(Indicators.monthly(view.stored, id, months), unit)),
        element("td", { class: "standing", text: rankText(id) }),
        element("td", { class: "num", text: coverage })));
    }
  }

  function fillHeadlinePanel(values) {
    const panel = document.getElementById("city-headline");
    const list = panel.querySelector("dl");
    list.textContent = "";
    const byId = new Map(values.map((v) => [v.indicator, v]));
    for (const id of Indicators.HEADLINE) {
      const entry = view.catalogue.get(id);
      if (!entry) continue;
      const unit = Indicators.unitOf(entry);
      const figure = Indicators.figureOf(byId.get(id), unit, { href: "#indicators", period: Indicators.year() });
      const anchor = figure.querySelector("a");
      if (anchor) anchor.addEventListener("click", () => show(id, true));
      list.append(element("dt", { text: Indicators.title(entry, id) }), element("dd", { "data-indicator": id }, figure));
    }
    panel.hidden = false;
  }

  function drawChart(holder, points, unit) {
    if (chart) {
      chart.destroy();
      chart = null;
    }
    holder.textContent = "";
    const ys = points.map((p) => (p.value && p.value.kind === "measured" && typeof p.value.value === "number" ? p.value.value : null));
    if (!ys.some((y) => y !== null) || !window.uPlot) return;
    const xs = points.map((_, i) => i);
    const width = Math.max(260, Math.min(720, holder.clientWidth || 600));
    chart = new uPlot({
      width, height: 180, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, points.length - 0.5] } },
      axes: [
        {
          splits: () => xs.filter((i) => width >= 480 || (points.length - 1 - i) % 2 === 0), size: 30,
          values: (u, splits) => splits.map((i) => (points[i]
            ? Indicators.monthName(points[i].label, i !== splits[0] && !points[i].label.endsWith("-01")) : "")),
        },
        { values: (u, splits) => splits.map((v) => Qala.figure(v, 2)), size: 56 },
      ],
      series: [{}, { stroke: "#0b4f8a", width: 2, fill: "rgba(11,79,138,0.10)", points: { show: true, size: 6 }, spanGaps: false }],
    }, [xs, ys], holder);
  }

  /* The chosen indicator: its monthly values (chart and table), the cities compared, where
     its value came from. `remember`: the choice goes into the address. */
  function show(id, remember) {
    const entry = view.catalogue.get(id);
    const months = Indicators.lastMonths();
    const points = Indicators.monthly(view.stored, id, months);
    const stored = yearValues().find((v) => v.indicator === id);
    const unit = (stored && stored.unit) || Indicators.unitOf(entry);
    view.chosen = id;
    for (const button of document.querySelectorAll(".indicator-choice")) {
      button.setAttribute("aria-pressed", String(button.dataset.indicator === id));
    }
    const detail = document.getElementById("indicator-detail");
    detail.dataset.indicator = id;
    document.getElementById("detail-title").textContent = Indicators.title(entry, id);
    document.getElementById("detail-about").textContent = [Indicators.code(entry), Indicators.better(entry)].filter(Boolean).join(" · ");
    drawChart(detail.querySelector(".chart"), points, unit);
    document.getElementById("series-caption").textContent = Indicators.describe(points, unit).text;
    const series = document.querySelector("#series-table tbody");
    series.textContent = "";
    for (const point of points) {
      series.append(element("tr", { "data-period": point.label },
        element("th", { scope: "row", text: Indicators.monthName(point.label) }),
        element("td", { class: "num" }, Indicators.figureOf(point.value, unit))));
    }
    const compared = document.querySelector("#comparison-table tbody");
    compared.textContent = "";
    const compare = view.compared.get(id);
    const standings = compare ? [...compare.cities.values()].sort((a, b) => a.rank - b.rank) : [];
    for (const standing of standings) {
      const row = element("tr", { "data-tenant": standing.tenant },
        element("th", { scope: "row", text: cityName(standing.tenant) }),
        element("td", { class: "num" }, Indicators.figureOf(standing, unit)),
        element("td", { class: "num", text: number(standing.rank) }),
        element("td", { class: "num", text: Qala.figure(standing.score, 1) }));
      if (standing.tenant === tenant) row.classList.add("this-city");
      compared.append(row);
    }
    for (const [city, reason] of compare ? compare.missing : []) {
      compared.append(element("tr", { "data-tenant": city, class: city === tenant ? "this-city" : "" },
        element("th", { scope: "row", text: cityName(city) }),
        element("td", { colspan: "3" }, Indicators.figureOf(null, unit, { missing: reason }))));
    }
    if (!compared.children.length) {
      compared.append(element("tr", {}, element("td", { colspan: "4", text: t("No city has a value for the year yet.") })));
    }
    const provenance = document.getElementById("detail-provenance");
    provenance.textContent = "";
    if (stored) {
      provenance.append(t("Computed {at} by the calculator {name}, version {version}.", {
        at: Qala.time(stored.computedAt, tenant), name: stored.calculator.name, version: stored.calculator.version,
      }));
      const notes = (stored.quality && stored.quality.notes) || [];
      if (notes.length) provenance.append(" ", element("span", { lang: "en", text: notes.join("; ") }));
    }
    if (remember) {
      const query = new URLSearchParams(location.search);
      query.set("indicator", id);
      window.history.replaceState(null, "", `?${query}${location.hash}`);
    }
  }

  function fillGaps(report) {
    const peers = document.getElementById("gaps-peers");
    peers.textContent = "";
    for (const item of report.trailingPeers) {
      const entry = view.catalogue.get(item.indicator);
      peers.append(element("li", { "data-indicator": item.indicator },
        element("span", { class: "indicator-title", text: Indicators.title(entry, item.indicator) }), " — ",
        t("{value}: rank {rank} of {n}, score {score} of 100", {
          value: Indicators.withUnit(item.value, Indicators.unitOf(entry)), rank: number(item.rank),
          n: number(item.cities), score: Qala.figure(item.score, 1),
        })));
    }
    if (!report.trailingPeers.length) peers.append(element("li", { text: t("None: no indicator where the city ranks below another city.") }));
    const targets = document.getElementById("gaps-targets");
    targets.textContent = "";
    for (const item of report.trailingTargets) {
      const entry = view.catalogue.get(item.indicator);
      const unit = Indicators.unitOf(entry);
      targets.append(element("li", { "data-indicator": item.indicator },
        element("span", { class: "indicator-title", text: Indicators.title(entry, item.indicator) }), " — ",
        t("{current} against a target of {target} by {by}", {
          current: item.current === null ? "—" : Indicators.withUnit(item.current, unit),
          target: Indicators.withUnit(item.target, unit), by: item.by,
        })));
    }
    if (!report.trailingTargets.length) targets.append(element("li", { text: t("None: the city has no unmet target.") }));
    const body = document.querySelector("#gaps-rankings tbody");
    body.textContent = "";
    const dimensions = [...report.iese, ...report.imd.areas];
    for (const dimension of dimensions) {
      body.append(element("tr", { "data-ranking": dimension.ranking, "data-dimension": dimension.dimension },
        element("td", { text: RANKINGS[dimension.ranking] || dimension.ranking }),
        element("th", { scope: "row", text: dimension.title[config.lang] || dimension.title.en }),
        element("td", { class: "num", text: t("{n} of {total}", { n: number(dimension.withValue.length), total: number(dimension.indicators) }) }),
        element("td", {}, Qala.bar(dimension.coverage, "delivered", dimension.indicators ? percent(dimension.coverage) : "—"))));
    }
  }

  async function load() {
    const { section, spec } = view;
    const state = section.querySelector(".section-state");
    const year = Indicators.year();
    const months = Indicators.lastMonths();
    const [catalogue, stored, compared, gaps] = await Promise.all([
      Indicators.catalogue(), Indicators.values(tenant), Indicators.comparison(year),
      json(`${Indicators.API}/gaps?${new URLSearchParams({ tenant, period: year })}`, { context: false }),
    ]);
    Object.assign(view, { catalogue, stored, compared });
    const values = yearValues();
    const body = document.getElementById("indicators-body");
    if (!values.length) {
      state.textContent = t("No indicator values have been computed for {year} yet.", { year }) + " " + (spec.compute
        ? t("You may compute them: they are read from the hub's data.")
        : t("The city's operators compute them."));
      body.hidden = true;
      document.getElementById("city-headline").hidden = true;
      section.dataset.values = "0";
      return;
    }
    const newest = values.map((v) => v.computedAt).sort().pop();
    state.textContent = t("Values for {year}, computed {at}; the line shows the monthly values of the last twelve months.", {
      year, at: Qala.time(newest, tenant),
    });
    section.dataset.values = String(values.length);
    body.hidden = false;
    fillTable(values, months);
    fillHeadlinePanel(values);
    fillGaps(gaps);
    const ids = values.map((v) => v.indicator);
    const asked = wanted();
    show(ids.includes(asked) ? asked : order(ids)[0], false);
  }

  /* The periods a computation covers: the current year and the last twelve months. */
  function setupCompute() {
    const form = document.getElementById("compute-form");
    const button = document.getElementById("compute");
    const status = document.getElementById("compute-state");
    const periods = [Indicators.year(), ...Indicators.lastMonths()];
    button.textContent = t("Compute the indicators for {year} and the last twelve months", { year: Indicators.year() });
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        for (const [index, period] of periods.entries()) {
          status.textContent = t("Computing {period} ({n} of {total})…", { period, n: index + 1, total: periods.length });
          const response = await api(`${Indicators.API}/compute`, {
            method: "POST", context: false, headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ tenant, period }),
          });
          if (!response.ok) {
            status.textContent = Qala.refusal({ status: response.status });
            return;
          }
        }
        await load();
        status.textContent = t("Computed: the values above are the new ones.");
      } catch (error) {
        status.textContent = Qala.refusal(error);
      } finally {
        button.disabled = false;
      }
    });
  }

  function readable(spec) {
    return !spec.tenants || spec.tenants.includes(tenant);
  }

  async function known() {
    return (await Qala.tenants()).includes(tenant);
  }

  async function fillIndicators(section, spec) {
    const state = section.querySelector(".section-state");
    if (!readable(spec)) {
      state.textContent = t("Not available to you.");
      return;
    }
    if (!(await known())) {
      state.textContent = t("This city is not on this server.");
      return;
    }
    Object.assign(view, { section, spec });
    if (spec.compute) setupCompute();
    await load();
    if (location.hash === "#indicators") section.scrollIntoView();
  }

  async function fillAssessment(section, spec) {
    const state = section.querySelector(".section-state");
    if (!readable(spec)) {
      state.textContent = t("Not available to you.");
      return;
    }
    if (!(await known())) {
      state.textContent = t("This city is not on this server.");
      return;
    }
    const year = Indicators.year();
    const result = await json(`${Indicators.API}/assessment?${new URLSearchParams({ tenant, period: year })}`, { context: false });
    const score = document.getElementById("assessment-score");
    score.textContent = "";
    score.dataset.total = result.total === null ? "" : String(result.total);
    if (result.total === null) {
      score.append(element("span", { class: "not-computable", text: t("Score not computable:") }), " ", Indicators.reasonText(result.reason));
    } else {
      score.append(t("Score: {score} of {maximum}", { score: Qala.figure(result.total, 2), maximum: Qala.figure(result.maximum, 2) }));
    }
    document.getElementById("assessment-method").textContent = result.official
      ? t("Methodology {name}.", { name: result.methodology })
      : t("Methodology {name}: its requirements are illustrative, not the official checklist. An area without an answered requirement leaves the score uncomputed.", { name: result.methodology });
    const body = document.querySelector("#assessment-areas tbody");
    body.textContent = "";
    for (const area of result.areas) {
      const list = element("ul", { class: "requirements" });
      for (const requirement of area.requirements) {
        const item = element("li", { "data-status": requirement.status },
          element("span", { class: `status status-${requirement.status}`, text: STATUSES[requirement.status] ? t(STATUSES[requirement.status]) : requirement.status }), " ",
          requirement.title[config.lang] || requirement.title.en);
        if (requirement.reason) item.append(" — ", Indicators.reasonText(requirement.reason));
        list.append(item);
      }
      const named = CLASSES[area.class] ? t(CLASSES[area.class]) : area.class;
      const kind = area.classBasis === "assumed" ? t("{class} (assumed)", { class: named }) : named;
      body.append(element("tr", { "data-area": area.id },
        element("th", { scope: "row", text: area.title[config.lang] || area.title.en }),
        element("td", { text: t("{class}, weight {weight}", { class: kind, weight: Qala.figure(area.weight, 1) }) }),
        element("td", { class: "num", text: area.implementationPercent === null ? "—" : percent(area.implementationPercent / 100) }),
        element("td", { class: "num", text: area.points === null ? "—" : number(area.points) }),
        element("td", {}, list)));
    }
    state.textContent = t("The assessment for {year}, computed from the data you may read.", { year });
    document.getElementById("assessment-body").hidden = false;
    if (location.hash === "#assessment") section.scrollIntoView();
  }

  return { fillIndicators, fillAssessment };
})();
