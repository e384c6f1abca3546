/* The programme page: per project and city, the budget against the money under contract and
   paid and the delivery the hub's data verify (bars with their figures as text), and the audit
   flags with their evidence and the history of what they are about; filtered by city, sector,
   flag and severity (kept in the address). Read from the programme monitor's API with the
   user's credentials. */
"use strict";

(() => {
  const { t, N_, number, json, element, cityName, config, money, moneyCompact, percent, bar } = Qala;

  const RULE_NAMES = {
    "milestone-overdue": N_("Milestone overdue"),
    "deadline-moved": N_("Deadline moved"),
    "contract-value-increased": N_("Contract value increased by modification"),
    "contracted-over-budget": N_("Contracted more than the budget"),
    "paid-over-contracted": N_("Paid more than contracted"),
    "payment-before-milestone": N_("Payment before its milestone was met"),
    "paid-not-delivered": N_("Paid but not delivered"),
    "delivered-but-silent": N_("Delivered but silent"),
    "claimed-not-in-data": N_("Claimed but not in the data"),
    "indicators-flat-after-completion": N_("No movement of target indicators after completion"),
    "spent-without-contract": N_("Budget spent with no contract"),
  };
  const SEVERITY_NAMES = { high: N_("High"), medium: N_("Medium"), low: N_("Low") };
  const SECTOR_NAMES = {
    economy: N_("Economy"), energy: N_("Energy"), transport: N_("Transport"),
    "transport.road": N_("Roads"), "transport.urban": N_("Urban transport"), waterAndWaste: N_("Water and waste"),
    education: N_("Education"), health: N_("Health"), communications: N_("Communications"),
  };
  const FIELD_NAMES = {
    dueDate: N_("Due date"), dateMet: N_("Date met"), status: N_("Status"), value: N_("Value"),
    period: N_("Period"), budget: N_("Budget"), amount: N_("Amount"), date: N_("Date"), title: N_("Title"),
  };

  const named = (table, code) => (table[code] ? t(table[code]) : code);
  let base = null;
  let projects = [];

  function filters() {
    const form = document.getElementById("filters");
    return Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => v));
  }

  function options(select, values, label) {
    const keep = select.value;
    for (const value of values) {
      if (select.querySelector(`option[value="${CSS.escape(value)}"]`)) continue;
      select.append(element("option", { value, text: label(value) }));
    }
    select.value = keep;
  }

  function shown(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function projectCard(row, project) {
    const card = element("article", { class: "project", "data-project": row.scope, "data-tenant": row.tenant });
    card.append(element("h3", { text: project ? project.title || row.scope : row.scope }));
    card.append(element("p", { class: "meta note", text: `${cityName(row.tenant)} · ${(project && project.sector || []).map((s) => named(SECTOR_NAMES, s)).join(", ") || "—"}` }));
    const most = Math.max(Number(row.budget) || 0, Number(row.contracted) || 0, 1);
    const list = element("dl");
    const money2 = (value) => `${moneyCompact(value)} (${money(value)})`;
    list.append(
      element("dt", { text: t("Planned") }), element("dd", {}, bar(Number(row.budget) / most, "budget", money2(row.budget))),
      element("dt", { text: t("Contracted") }), element("dd", {}, bar(Number(row.contracted) / most, "contracted", money2(row.contracted))),
      element("dt", { text: t("Paid") }), element("dd", {}, bar(Number(row.paid) / most, "paid", money2(row.paid))),
      element("dt", { text: t("Delivered by data") }),
      element("dd", {}, bar(row.physical, "delivered", row.physical === null ? t("not verified") : percent(row.physical))),
    );
    card.append(list);
    return card;
  }

  async function history(holder, subject) {
    const target = subject.split(":").slice(1).join(":");
    const params = new URLSearchParams({ target });
    const list = element("ol", { class: "history" });
    let changes;
    try {
      changes = await json(`${base}/history?${params}`, { context: false });
    } catch (error) {
      holder.append(element("p", { class: "error", text: Qala.refusal(error) }));
      return;
    }
    for (const change of changes) {
      const text = t("{time}: {field} changed from {old} to {new} by {who} ({why})", {
        time: Qala.time(change.at), field: named(FIELD_NAMES, change.field), old: shown(change.old), new: shown(change.new),
        who: change.actor || "—", why: change.reason || "—",
      });
      list.append(element("li", { text: change.document ? `${text} · ${change.document}` : text }));
    }
    if (!changes.length) holder.append(element("p", { text: t("No recorded changes.") }));
    else holder.append(list);
  }

  function flagItem(flag) {
    const item = element("li", { class: `flag sev-${flag.severity}`, "data-rule": flag.rule, "data-severity": flag.severity, "data-tenant": flag.tenant });
    item.append(element("p", {}, element("strong", { text: `${named(SEVERITY_NAMES, flag.severity)} · ${named(RULE_NAMES, flag.rule)}` })));
    item.append(element("p", { class: "meta", text: `${cityName(flag.tenant)} · ${flag.project} · ${flag.subject}` }));
    item.append(element("p", { lang: "en", text: flag.message }));
    if (flag.explanation) {
      item.append(element("p", { class: "meta", text: t("Explained by {who} on {time}: {reason}", {
        who: flag.explanation.actor, time: Qala.time(flag.explanation.at), reason: flag.explanation.reason,
      }) }));
    }
    const evidence = element("details", {}, element("summary", { text: t("Evidence") }));
    const facts = element("dl");
    for (const [key, value] of Object.entries(flag.evidence || {})) {
      facts.append(element("dt", { text: key }), element("dd", { text: shown(value) }));
    }
    evidence.append(facts);
    item.append(evidence);
    const past = element("details", { class: "flag-history" }, element("summary", { text: t("History") }));
    past.addEventListener("toggle", () => {
      if (past.open && !past.dataset.loaded) {
        past.dataset.loaded = "true";
        history(past, flag.subject);
      }
    }, { once: false });
    item.append(past);
    return item;
  }

  async function refresh() {
    const chosen = filters();
    const address = new URLSearchParams(chosen);
    history_replace(address);
    const scope = new URLSearchParams();
    if (chosen.city) scope.set("city", chosen.city);
    const flagParams = new URLSearchParams(chosen);
    const [progress, flags] = await Promise.all([
      json(`${base}/progress?${scope}`, { context: false }),
      json(`${base}/flags?${flagParams}`, { context: false }),
    ]);
    const byId = new Map(projects.map((p) => [p.id, p]));
    const holder = document.getElementById("projects");
    holder.textContent = "";
    const rows = progress.projects.filter((row) => {
      const project = byId.get(row.scope);
      return !chosen.sector || (project && (project.sector || []).some((s) => s === chosen.sector || s.startsWith(`${chosen.sector}.`)));
    });
    for (const row of rows) holder.append(projectCard(row, byId.get(row.scope)));
    if (!rows.length) holder.append(element("p", { text: t("No project matches the filters.") }));
    const list = document.getElementById("flags");
    list.textContent = "";
    for (const flag of flags.flags) list.append(flagItem(flag));
    document.getElementById("flags-count").textContent = t("{n} flags", { n: number(flags.flags.length) });
    const skipped = Object.keys(flags.notEvaluated || {});
    document.getElementById("not-evaluated").textContent = skipped.length
      ? t("Not evaluated: {rules}.", { rules: skipped.map((r) => named(RULE_NAMES, r)).join(", ") })
      : "";
    options(document.getElementById("filter-flag"), flags.flags.map((f) => f.rule), (r) => named(RULE_NAMES, r));
  }

  function history_replace(address) {
    const query = address.toString();
    window.history.replaceState(null, "", query ? `?${query}` : location.pathname);
  }

  async function fill(section) {
    const programmes = await json("/api/v1/programme/programmes", { context: false });
    const state = section.querySelector(".section-state");
    if (!programmes.length) {
      state.textContent = t("No programme you may read on this server yet.");
      return;
    }
    const programme = programmes[0];
    base = `/api/v1/programme/programmes/${encodeURIComponent(programme.id)}`;
    section.querySelector(".programme-title").textContent = programme.title || programme.id;
    projects = await json(`${base}/projects`, { context: false });
    const form = document.getElementById("filters");
    options(form.city, [...new Set(projects.map((p) => p.tenant))], cityName);
    options(form.sector, [...new Set(projects.flatMap((p) => p.sector || []))].sort(), (s) => named(SECTOR_NAMES, s));
    options(form.flag, Object.keys(RULE_NAMES), (r) => named(RULE_NAMES, r));
    options(form.severity, ["high", "medium", "low"], (s) => named(SEVERITY_NAMES, s));
    const asked = new URLSearchParams(location.search);
    for (const name of ["city", "sector", "flag", "severity"]) {
      if (asked.get(name)) form[name].value = asked.get(name);
    }
    form.hidden = false;
    document.getElementById("programme-body").hidden = false;
    form.addEventListener("change", () => refresh().catch((error) => { state.textContent = Qala.refusal(error); }));
    form.addEventListener("submit", (event) => event.preventDefault());
    await refresh();
  }

  async function main() {
    await Qala.fillSections({ programme: fill });
    performance.mark("qala-ready");
    document.documentElement.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", main);
})();
