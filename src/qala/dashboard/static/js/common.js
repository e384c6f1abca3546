/* Qala dashboard: what every page shares — the language's messages and number formats (from
   the server's catalogues and Babel), the user's credentials (sessionStorage, sent as
   Authorization: Bearer by the page's own requests), API calls, and the sections that appear
   only when their API answers. */
"use strict";

const Qala = (() => {
  const config = JSON.parse(document.getElementById("qala-config").textContent);
  const STORE = "qala.credential";

  /* The message of the language's catalogue; {name} placeholders are filled from `values`. */
  function t(message, values) {
    let text = config.messages[message];
    if (text === undefined) {
      console.warn("message missing from the catalogue:", message);
      text = message;
    }
    if (values) {
      text = text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
    }
    return text;
  }

  /* Marks a message for the catalogue where it is defined; translated with t() where shown. */
  function N_(message) {
    return message;
  }

  /* A number with the locale's decimal and group signs (Babel's CLDR symbols). */
  function number(value, fraction = 0) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
    const fixed = Math.abs(Number(value)).toFixed(fraction);
    let [whole, part] = fixed.split(".");
    if (whole.length >= 3 + config.numbers.minimumGrouping) {
      whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, config.numbers.group);
    }
    const sign = Number(value) < 0 ? "−" : "";
    return sign + whole + (part ? config.numbers.decimal + part : "");
  }

  /* A value with as many decimals as it has (at most `max`). */
  function figure(value, max = 2) {
    if (typeof value !== "number") return value === null || value === undefined ? "—" : String(value);
    const decimals = Math.min(max, (String(value).split(".")[1] || "").length);
    return number(value, decimals);
  }

  /* A large number in words, as Babel's compact format (2 млрд, 2B). */
  function compact(value) {
    for (const base of ["1000000000", "1000000", "1000"]) {
      if (Math.abs(value) >= Number(base)) {
        const n = value / Number(base);
        return config.numbers.compact[base].replace("{n}", number(n, n < 10 && n % 1 ? 1 : 0));
      }
    }
    return number(value);
  }

  function cityZone(tenant) {
    const facts = config.cities[tenant];
    return facts ? facts.zone : "Asia/Almaty";
  }

  function cityName(tenant) {
    const facts = config.cities[tenant];
    return facts ? facts.name[config.lang] || facts.name.en : tenant;
  }

  /* A month ("2026-03") as the language writes it, from CLDR's names (the server's): март 26 г.,
     26 ж. нау., Mar 26; `fullYear`: with the year's four digits; `alone`: the month's name only. */
  function month(label, { fullYear = false, alone = false } = {}) {
    const [year, number] = label.split("-");
    const name = config.numbers.months[Number(number) - 1];
    if (alone) return name;
    return config.numbers.monthYear.replace("{month}", name).replace("{year}", fullYear ? year : year.slice(2));
  }

  /* Fills a CLDR date pattern ("d MMM y 'г'.", "h:mm a") with the fields of an instant. */
  function fillPattern(pattern, f) {
    const names = config.numbers.dateTime;
    const two = (n) => String(n).padStart(2, "0");
    return pattern.replace(/'((?:[^']|'')*)'|([a-zA-Z])\2*/g, (token, quoted) => {
      if (quoted !== undefined) return quoted.replace(/''/g, "'") || "'";
      switch (token) {
        case "y": case "yyyy": return String(f.year);
        case "yy": return two(f.year % 100);
        case "M": case "L": return String(f.month);
        case "MM": case "LL": return two(f.month);
        case "MMM": case "MMMM": return names.months[f.month - 1];
        case "LLL": case "LLLL": return config.numbers.months[f.month - 1];
        case "d": return String(f.day);
        case "dd": return two(f.day);
        case "H": return String(f.hour);
        case "HH": return two(f.hour);
        case "h": return String(f.hour % 12 || 12);
        case "hh": return two(f.hour % 12 || 12);
        case "m": return String(f.minute);
        case "mm": return two(f.minute);
        case "a": return f.hour < 12 ? names.am : names.pm;
        default: return token;
      }
    });
  }

  /* An instant in the city's time zone, in the language's medium date and short time (CLDR's
     patterns and names from the server: a browser may lack the language's data). */
  function time(iso, tenant) {
    if (!iso) return "—";
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return String(iso);
    let parts;
    try {
      parts = new Intl.DateTimeFormat("en-US", {
        timeZone: cityZone(tenant), year: "numeric", month: "numeric", day: "numeric",
        hour: "numeric", minute: "numeric", hourCycle: "h23",
      }).formatToParts(moment);
    } catch (error) {
      return moment.toISOString();
    }
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    const fields = { year: get("year"), month: get("month"), day: get("day"), hour: get("hour") % 24, minute: get("minute") };
    const pattern = config.numbers.dateTime;
    return pattern.join.replace("{1}", fillPattern(pattern.date, fields)).replace("{0}", fillPattern(pattern.time, fields));
  }

  /* The credential the page was loaded with: every request of the page is sent with it, so a
     request still under way when the user signs in or out is not sent with another key than
     the one the page's sections were chosen for. */
  const loadedWith = sessionStorage.getItem(STORE);
  function credential() {
    return loadedWith;
  }

  /* A request to this server's API with the user's credentials (`credential`: another one, to
     check it), the tenant and the Smart Data Models @context (a JSON-LD identifier the server
     resolves itself). */
  function api(path, options = {}) {
    const { credential: given, ...rest } = options;
    options = rest;
    const headers = new Headers(options.headers || {});
    const key = given !== undefined ? given : credential();
    if (key) headers.set("Authorization", `Bearer ${key}`);
    if (options.tenant !== undefined) headers.set("NGSILD-Tenant", options.tenant);
    if (options.context !== false) {
      headers.set("Link", `<${config.context}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`);
    }
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    return fetch(config.root + path, { ...options, headers });
  }

  async function json(path, options) {
    const response = await api(path, options);
    if (!response.ok) {
      const error = new Error(`${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  /* What an error means to the user. */
  function refusal(error) {
    if (error.status === 401) return t("This server asks for credentials: sign in to see its data.");
    if (error.status === 403) return t("Not shared with you.");
    if (error.status === 404) return t("Not available on this server.");
    return t("Could not load the data ({error}).", { error: error.status || error.message });
  }

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function setupSignIn() {
    const form = document.getElementById("signin-form");
    const signedIn = document.getElementById("signed-in");
    const failed = document.getElementById("signin-error");
    const note = document.getElementById("view-note");
    if (credential()) {
      signedIn.hidden = false;
    } else {
      form.hidden = false;
      note.textContent = t("Public view: what each city shares with the public. Sign in to see more.");
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = document.getElementById("credential").value.trim();
      if (!value) return;
      sessionStorage.setItem(STORE, value);
      const check = await api("/qala/v1/tenants", { context: false, credential: value });
      if (check.status === 401) {
        sessionStorage.removeItem(STORE);
        failed.hidden = false;
        return;
      }
      location.reload();
    });
    document.getElementById("signout").addEventListener("click", () => {
      sessionStorage.removeItem(STORE);
      location.reload();
    });
  }

  /* The tenants the user may see, in the programme's order (asked once per page). */
  let tenantList = null;
  function tenants() {
    tenantList = tenantList || listTenants();
    return tenantList;
  }

  async function listTenants() {
    const list = await json("/qala/v1/tenants", { context: false });
    const known = Object.keys(config.cities);
    const names = list.map((tenant) => tenant.name).filter((name) => name);
    names.sort((a, b) => (known.indexOf(a) + 1 || 99) - (known.indexOf(b) + 1 || 99) || a.localeCompare(b));
    return names;
  }

  async function fillNavigation() {
    let names;
    try {
      names = await tenants();
    } catch (error) {
      return;
    }
    const nav = document.getElementById("nav");
    for (const name of names) {
      const link = element("a", { href: `${config.root}/dashboard/city/${encodeURIComponent(name)}`, text: cityName(name) });
      if (config.page === "city" && config.tenant === name) link.setAttribute("aria-current", "page");
      nav.append(element("li", {}, link));
    }
  }

  /* What the sections may show this user: the server says it (the page's configuration for
     the public view, /api/v1/dashboard/sections with the user's credentials), so the page
     never asks an API that would refuse it. Asked once per page. */
  let states = null;
  function sections() {
    if (!states) {
      states = credential()
        ? json("/api/v1/dashboard/sections", { context: false }).then((body) => body.sections).catch(() => config.sections)
        : Promise.resolve(config.sections);
    }
    return states;
  }

  /* Says in a section why it shows nothing: the API is not on this server, or not for this
     user. True when the section may be filled. */
  function sectionOpen(section, spec) {
    const state = section.querySelector(".section-state");
    section.dataset.state = spec.state;
    if (spec.state === "absent") {
      state.textContent = t("Not available on this server.");
      state.classList.add("unavailable");
      return false;
    }
    if (spec.state === "refused") {
      state.textContent = credential()
        ? t("Not available to you.")
        : t("Not available to you. Sign in with a key that may read the {api}.", { api: t(config.sectionApis[section.dataset.section]) });
      state.classList.add("unavailable");
      return false;
    }
    state.textContent = t("Loading…");
    return true;
  }

  /* Fills every [data-section] of the page with its filler (by section key), or says why not. */
  async function fillSections(fillers) {
    const specs = await sections();
    await Promise.all([...document.querySelectorAll("[data-section]")].map(async (section) => {
      const key = section.dataset.section;
      const spec = specs[key] || { state: "absent" };
      if (!sectionOpen(section, spec)) return;
      const state = section.querySelector(".section-state");
      const loading = state.textContent;
      try {
        if (fillers[key]) await fillers[key](section, spec);
        if (state.textContent === loading) state.textContent = "";
      } catch (error) {
        state.textContent = refusal(error);
      }
    }));
    document.documentElement.dataset.sections = "true";
  }

  /* An exact amount of tenge given as a decimal string ("1234567.50"), as Babel formats it:
     1 234 567,50 ₸ (ru, kk), ₸1,234,567.50 (en). Never through a float. */
  function money(amount) {
    if (amount === null || amount === undefined) return "—";
    let text = String(amount).trim();
    const negative = text.startsWith("-");
    if (negative) text = text.slice(1);
    let [whole, part = ""] = text.split(".");
    part = (part + "00").slice(0, 2);
    whole = whole.replace(/^0+(?=\d)/, "");
    if (whole.length >= 3 + config.numbers.minimumGrouping) {
      whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, config.numbers.group);
    }
    const shown = config.numbers.tenge.replace("{n}", whole + config.numbers.decimal + part);
    return (negative ? "−" : "") + shown;
  }

  /* An amount of tenge in words (2 млрд ₸, ₸2B): for tables and charts; the exact amount goes
     in the element's title. */
  function moneyCompact(amount) {
    if (amount === null || amount === undefined) return "—";
    const words = compact(Number(amount));
    return config.lang === "en" ? `₸${words}` : `${words}\u00a0₸`;
  }

  /* A share given as a decimal string ("0.4375") as a percentage with one decimal. */
  function percent(share) {
    if (share === null || share === undefined) return "—";
    return `${number(Number(share) * 100, 1)}\u00a0%`;
  }

  /* A bar with its text: `share` of the full width (0..1, clipped), labelled for screen
     readers by the text next to it. */
  function bar(share, kind, text) {
    const width = Math.max(0, Math.min(1, Number(share) || 0)) * 100;
    const track = element("span", { class: "bar-track", "aria-hidden": "true" },
      element("span", { class: `bar bar-${kind}` }));
    track.firstChild.style.width = `${width.toFixed(1)}%`;
    return element("span", { class: "bar-cell" }, track, element("span", { class: "bar-text", text }));
  }

  /* The open requests of a city from the public GeoReport API (the last 90 days), with their
     SLA state; pages of 1,000. */
  async function openRequests(tenant) {
    const out = [];
    for (let page = 1; page <= 10; page += 1) {
      const params = new URLSearchParams({
        jurisdiction_id: tenant, status: "open", extensions: "true", lang: config.lang,
        page: String(page), page_size: "1000",
      });
      const batch = await json(`/open311/v2/requests.json?${params}`, { context: false });
      out.push(...batch);
      if (batch.length < 1000) break;
    }
    return out;
  }

  function slaState(request) {
    const ext = request.extended_attributes || {};
    return ext.sla_state || "unknown";
  }

  const SLA_NAMES = {
    on_time: N_("On time"), due_soon: N_("Due soon"), overdue: N_("Overdue"), unknown: N_("No SLA"),
  };

  document.addEventListener("DOMContentLoaded", () => {
    setupSignIn();
    fillNavigation();
  });

  return {
    config, t, N_, number, figure, compact, time, month, api, json, refusal, element, tenants, cityName, credential,
    sections, fillSections, money, moneyCompact, percent, bar, openRequests, slaState, SLA_NAMES,
  };
})();
