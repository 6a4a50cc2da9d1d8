/* Job queue dashboard: polls the JSON API (kue_api.py) and draws it.
   Plain DOM, no library; every value from the API goes in as text. */
"use strict";

const POLL_MS = 1000;
const PAGE = 50;
const STATES = ["inactive", "active", "delayed", "complete", "failed"];
const PRIORITIES = ["critical", "high", "medium", "normal", "low"];
const PRIORITY_NAMES = { "-15": "critical", "-10": "high", "-5": "medium", "0": "normal", "10": "low" };
const view = { state: "", type: "", order: "desc", page: 0, open: null, busy: false, notice: null };

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(method, path) {
  const response = await fetch(path, { method, headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

const refOf = (job) => job.type + ":" + job.id;
const jobPath = (ref) => "/job/" + encodeURIComponent(ref);
const when = (ms) => ms ? new Date(Number(ms)).toLocaleTimeString() : "";
const pretty = (value) => value === undefined || value === null ? "" : JSON.stringify(value, null, 2);

async function jobsToShow() {
  const order = view.order, first = view.page * PAGE;
  const span = first + ".." + (first + PAGE - 1);
  const type = encodeURIComponent(view.type);
  if (view.type && view.state) return api("GET", `/jobs/${type}/${view.state}/${span}/${order}`);
  if (view.state) return api("GET", `/jobs/${view.state}/${span}/${order}`);
  if (!view.type) return api("GET", `/jobs/${span}/${order}`);
  const lists = await Promise.all(STATES.map((state) =>
    api("GET", `/jobs/${type}/${state}/0..${first + PAGE - 1}/${order}`)));
  const jobs = lists.flat().sort((a, b) => Number(a.id) - Number(b.id));
  if (order === "desc") jobs.reverse();
  return jobs.slice(first, first + PAGE);
}

function drawCounts(stats) {
  for (const state of STATES) $("#count-" + state).textContent = stats[state + "Count"];
  for (const card of document.querySelectorAll(".card")) {
    card.classList.toggle("selected", card.dataset.state === view.state);
  }
}

function drawTypes(byType) {
  const body = $("#types tbody");
  body.replaceChildren(...Object.entries(byType).map(([type, counts]) =>
    el("tr", { "data-type": type }, el("td", { text: type }),
      ...STATES.map((state) => el("td", { text: String(counts[state]), "data-state": state })))));
  const select = $("#filter-type");
  const known = new Set([...select.options].map((option) => option.value));
  for (const type of Object.keys(byType)) {
    if (!known.has(type)) select.append(el("option", { value: type, text: type }));
  }
}

function progressBar(job) {
  const pct = Math.max(0, Math.min(100, Number(job.progress) || 0));
  const fill = el("span");
  fill.style.width = pct + "%";
  return el("td", {}, el("span", { className: "bar", role: "progressbar", "aria-valuenow": String(pct) }, fill),
    el("span", { className: "pct", text: pct + "%" }));
}

function actionsFor(job) {
  const cell = el("td", { className: "actions" });
  if (job.state === "failed" || job.state === "complete" || job.state === "delayed") {
    const retry = el("button", { className: "action retry", text: job.state === "delayed" ? "run now" : "retry" });
    retry.addEventListener("click", (event) => act(event, "PUT", jobPath(refOf(job)) + "/state/inactive"));
    cell.append(retry);
  }
  if (job.state !== "active") {
    const remove = el("button", { className: "action remove", text: "remove" });
    remove.addEventListener("click", (event) => act(event, "DELETE", jobPath(refOf(job))));
    cell.append(remove);
  }
  return cell;
}

function prioritySelect(job) {
  const current = PRIORITY_NAMES[String(job.priority)] || String(job.priority);
  const select = el("select", { className: "priority", "aria-label": "priority" });
  const names = PRIORITIES.includes(current) ? PRIORITIES : [current, ...PRIORITIES];
  for (const name of names) select.append(el("option", { value: name, text: name }));
  select.value = current;
  select.disabled = !(job.state === "inactive" || job.state === "delayed");
  select.addEventListener("click", (event) => event.stopPropagation());
  select.addEventListener("change", (event) =>
    act(event, "PUT", jobPath(refOf(job)) + "/priority/" + encodeURIComponent(select.value)));
  return el("td", {}, select);
}

function total(byType) {
  const rows = view.type ? [byType[view.type] || {}] : Object.values(byType);
  const states = view.state ? [view.state] : STATES;
  return rows.reduce((sum, row) => sum + states.reduce((n, state) => n + (row[state] || 0), 0), 0);
}

function drawPager(count, shown) {
  const first = view.page * PAGE;
  $("#page-label").textContent = shown ? `${first + 1}–${first + shown} of ${count}` : `0 of ${count}`;
  $("#page-label").dataset.total = String(count);
  $("#page-prev").disabled = view.page === 0;
  $("#page-next").disabled = first + PAGE >= count;
}

function drawJobs(jobs) {
  const rows = jobs.map((job) => {
    const row = el("tr", { "data-ref": refOf(job), "data-state": job.state },
      el("td", { text: "#" + job.id }), el("td", { text: job.type }),
      el("td", {}, el("span", { className: "badge " + job.state, text: job.state })),
      progressBar(job),
      el("td", { text: `${job.attempts.made} / ${job.attempts.max}` }),
      prioritySelect(job), el("td", { text: when(job.created_at) }), actionsFor(job));
    row.classList.toggle("open", view.open === refOf(job));
    row.addEventListener("click", () => openJob(refOf(job)));
    return row;
  });
  $("#jobs tbody").replaceChildren(...rows);
  $("#empty").hidden = jobs.length > 0;
}

async function drawDetail() {
  if (!view.open) { $("#detail").hidden = true; return; }
  let job, log;
  try {
    [job, log] = await Promise.all([api("GET", jobPath(view.open)), api("GET", jobPath(view.open) + "/log")]);
  } catch (error) {
    view.open = null; $("#detail").hidden = true; return;
  }
  $("#detail").hidden = false;
  $("#detail-title").textContent = `${job.type} #${job.id}`;
  const facts = [["state", job.state], ["priority", PRIORITY_NAMES[String(job.priority)] || job.priority],
    ["progress", (job.progress || 0) + "%"],
    ["attempts", `${job.attempts.made} made, ${job.attempts.remaining} left, ${job.attempts.max} max`],
    ["created", when(job.created_at)], ["started", when(job.started_at)],
    ["failed", when(job.failed_at)], ["duration", job.duration ? job.duration + " ms" : ""]];
  $("#detail-facts").replaceChildren(...facts.flatMap(([name, value]) =>
    [el("dt", { text: name }), el("dd", { text: String(value), "data-fact": name })]));
  $("#detail-error").textContent = job.error || "none";
  $("#detail-data").textContent = pretty(job.data);
  $("#detail-result").textContent = pretty(job.result);
  $("#detail-log").replaceChildren(...log.map((line) => el("li", { text: line })));
}

function openJob(ref) {
  view.open = ref;
  refresh();
}

async function act(event, method, path) {
  event.stopPropagation();
  try {
    await api(method, path);
    view.notice = { text: "done: " + method + " " + decodeURIComponent(path), bad: false };
  } catch (error) {
    view.notice = { text: error.message, bad: true };
  }
  view.notice.until = Date.now() + 4000;
  refresh();
}

function setStatus(text, bad) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("down", Boolean(bad));
}

async function refresh() {
  if (view.busy) { view.again = true; return; }
  view.busy = true;
  try {
    const [stats, byType, jobs] = await Promise.all([api("GET", "/stats"), api("GET", "/stats/types"), jobsToShow()]);
    drawCounts(stats);
    drawTypes(byType);
    if (!jobs.length && view.page > 0) { view.page -= 1; view.again = true; }
    drawJobs(jobs);
    drawPager(total(byType), jobs.length);
    await drawDetail();
    document.body.dataset.updated = String(Date.now());
    if (view.notice && view.notice.until > Date.now()) setStatus(view.notice.text, view.notice.bad);
    else setStatus("live · updated " + new Date().toLocaleTimeString());
  } catch (error) {
    setStatus("cannot reach the queue: " + error.message, true);
  } finally {
    view.busy = false;
    if (view.again) { view.again = false; refresh(); }
  }
}

function bind() {
  for (const card of document.querySelectorAll(".card")) {
    card.addEventListener("click", () => {
      view.state = view.state === card.dataset.state ? "" : card.dataset.state;
      view.page = 0;
      $("#filter-state").value = view.state;
      refresh();
    });
  }
  const choose = (name) => (event) => { view[name] = event.target.value; view.page = 0; refresh(); };
  $("#filter-state").addEventListener("change", choose("state"));
  $("#filter-type").addEventListener("change", choose("type"));
  $("#filter-order").addEventListener("change", choose("order"));
  $("#page-prev").addEventListener("click", () => { view.page = Math.max(0, view.page - 1); refresh(); });
  $("#page-next").addEventListener("click", () => { view.page += 1; refresh(); });
  $("#detail-close").addEventListener("click", () => { view.open = null; refresh(); });
}

bind();
refresh();
setInterval(refresh, POLL_MS);
