// The reviewer page: lists interviews, shows one transcript beside its report, records reviews.
// Talks only to the REST API under /api (docs: /docs). No build step, no framework.

const $ = (selector) => document.querySelector(selector);
const CREDS_KEY = "interview-review-creds";
const PAGE_SIZE = 20;
const DECISIONS = {
  strong_hire: "Strong hire",
  hire: "Hire",
  lean_no_hire: "Lean no hire",
  no_hire: "No hire",
};

const state = {
  creds: null, // {user, role} (dev mode) or {token}
  me: null,
  offset: 0,
  total: 0,
  filters: {},
  current: null, // interview id
  report: null, // the last ReviewedReport
};

// --- the API -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

function authHeaders(creds = state.creds) {
  if (!creds) return {};
  if (creds.token) return { Authorization: `Bearer ${creds.token}` };
  return { "X-Interview-User": creds.user, "X-Interview-Role": creds.role };
}

async function api(path, { method = "GET", body, as = "json", creds } = {}) {
  const headers = { ...authHeaders(creds) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const payload = await response.json();
      detail = payload.detail ?? detail;
      if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
    } catch (e) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return as === "text" ? response.text() : response.json();
}

// --- small helpers -----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function when(ts) {
  if (ts === null || ts === undefined) return "—";
  return new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

function clock(ts) {
  return new Date(ts * 1000).toISOString().slice(11, 19);
}

function scoreText(value) {
  return typeof value === "number" ? `${value}/5` : value ?? "—";
}

function decisionText(value) {
  return DECISIONS[value] ?? value ?? "—";
}

function notice(text, kind = "info") {
  $("#notice-text").textContent = text;
  $("#notice").dataset.kind = kind;
  $("#notice").hidden = !text;
}

function show(view) {
  for (const id of ["login-view", "list-view", "detail-view"]) $(`#${id}`).hidden = id !== view;
}

// --- sign in -----------------------------------------------------------------------------

async function signIn(creds) {
  const me = await api("/api/me", { creds });
  if (me.role !== "reviewer") {
    throw new ApiError(403, `${me.user} is a ${me.role}; this page is for reviewers`);
  }
  state.creds = creds;
  state.me = me;
  sessionStorage.setItem(CREDS_KEY, JSON.stringify(creds));
  $("#who").textContent = `${me.user} · ${me.role}${me.auth === "dev" ? " · dev mode" : ""}`;
  $("#logout-button").hidden = false;
}

function signOut() {
  sessionStorage.removeItem(CREDS_KEY);
  state.creds = state.me = null;
  $("#who").textContent = "";
  $("#logout-button").hidden = true;
  location.hash = "";
  show("login-view");
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("#login-token").value.trim();
  const user = $("#login-user").value.trim();
  const creds = token ? { token } : { user, role: $("#login-role").value };
  $("#login-error").hidden = true;
  try {
    await signIn(creds);
    route();
  } catch (error) {
    $("#login-error").textContent = error.message;
    $("#login-error").hidden = false;
  }
});
$("#logout-button").addEventListener("click", signOut);
$("#notice-close").addEventListener("click", () => notice(""));

// --- the list ----------------------------------------------------------------------------

function readFilters() {
  const filters = {};
  for (const [key, value] of new FormData($("#filters")).entries()) {
    if (String(value).trim()) filters[key] = String(value).trim();
  }
  // Dates are whole days in UTC; "to" includes its day.
  if (filters.created_to) {
    const next = new Date(`${filters.created_to}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    filters.created_to = next.toISOString();
  }
  if (filters.created_from) filters.created_from = `${filters.created_from}T00:00:00Z`;
  return filters;
}

async function loadList() {
  const params = new URLSearchParams({ ...state.filters, limit: PAGE_SIZE, offset: state.offset });
  const page = await api(`/api/interviews?${params}`);
  state.total = page.total;
  const body = $("#interviews tbody");
  body.replaceChildren(
    ...page.items.map((item) => {
      const row = el(
        "tr",
        { tabindex: "0", dataset: { interview: item.interview_id, testid: "interview-row" } },
        el("td", {}, when(item.created)),
        el("td", { class: "candidate" }, item.user_id),
        el("td", {}, item.plan),
        el("td", {}, el("span", { class: "status", dataset: { status: item.status } }, item.status)),
        el("td", {}, item.overall === null ? "—" : scoreText(item.overall)),
        el("td", {}, decisionText(item.recommendation)),
        el("td", {}, item.reviews ? String(item.reviews) : ""),
      );
      const open = () => { location.hash = `#interview=${encodeURIComponent(item.interview_id)}`; };
      row.addEventListener("click", open);
      row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
      return row;
    }),
  );
  const plans = new Set([...$("#plan-ids").options].map((o) => o.value));
  for (const item of page.items) {
    if (!plans.has(item.plan)) $("#plan-ids").append(el("option", { value: item.plan }));
    plans.add(item.plan);
  }
  $("#list-empty").hidden = page.items.length > 0;
  const first = page.total ? state.offset + 1 : 0;
  $("#page-info").textContent = `${first}–${state.offset + page.items.length} of ${page.total}`;
  $("#prev-page").disabled = state.offset === 0;
  $("#next-page").disabled = state.offset + page.items.length >= page.total;
}

$("#filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.filters = readFilters();
  state.offset = 0;
  loadList().catch(failed);
});
$("#filters").addEventListener("reset", () => {
  state.filters = {};
  state.offset = 0;
  setTimeout(() => loadList().catch(failed));
});
$("#prev-page").addEventListener("click", () => {
  state.offset = Math.max(0, state.offset - PAGE_SIZE);
  loadList().catch(failed);
});
$("#next-page").addEventListener("click", () => {
  state.offset += PAGE_SIZE;
  loadList().catch(failed);
});

// --- one interview -----------------------------------------------------------------------

// A line for an event without text: what it is, in words, or its data in brief.
function describe(event) {
  const d = event.data ?? {};
  if (event.kind === "interview_started") return `${d.title ?? "Interview"} · engine ${d.engine ?? "?"}`;
  if (event.kind === "round_started") return `Round ${Number(d.index ?? 0) + 1}: ${d.title ?? ""}`;
  if (event.kind === "round_ended") return `End of round ${Number(d.index ?? 0) + 1}: ${d.title ?? ""}`;
  if (event.kind === "candidate_integrity") return `${d.signal}${d.size ? ` (${d.size} characters)` : ""}`;
  if (event.kind === "report") return "The engine's report (shown on the right).";
  const brief = Object.entries(d)
    .filter(([key]) => key !== "code")
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(" · ");
  return brief.length > 240 ? `${brief.slice(0, 239)}…` : brief;
}

function lineFor(event) {
  const candidate = event.speaker === "candidate";
  const review = event.kind === "review_override";
  const panel = event.kind === "message";
  const classes = ["line", event.visibility];
  if (candidate) classes.push("candidate");
  if (panel) classes.push("panel");
  if (review) classes.push("review");
  const text = event.text || (event.kind === "candidate_code" ? "" : describe(event));
  const body = el("div", { class: "line-body" }, text);
  if (event.kind === "candidate_code") {
    body.append(`${event.data.action} ${event.data.question_id ?? ""}`);
    if (event.data.action !== "edit") body.append(el("pre", {}, event.data.code ?? ""));
  }
  return el(
    "li",
    { id: `line-${event.seq}`, class: classes.join(" "), dataset: { seq: event.seq, kind: event.kind } },
    el(
      "div",
      { class: "line-head" },
      el("span", { class: "seq" }, `#${event.seq}`),
      el("span", {}, clock(event.ts)),
      el("span", { class: "who" }, event.data?.name || event.speaker || ""),
      el("span", { class: "kind" }, event.kind),
      event.visibility === "private" ? el("span", { class: "private-tag" }, "private") : null,
    ),
    body,
  );
}

async function loadTranscript(id) {
  const transcript = await api(`/api/interviews/${encodeURIComponent(id)}/transcript`);
  $("#review-transcript").replaceChildren(...transcript.events.map(lineFor));
}

function jumpTo(seq) {
  const line = document.getElementById(`line-${seq}`);
  if (!line) return;
  if (line.classList.contains("private")) $("#show-private").checked = true;
  $("#review-transcript").classList.toggle("public-only", !$("#show-private").checked);
  for (const old of document.querySelectorAll(".line.jump")) old.classList.remove("jump");
  line.classList.add("jump");
  line.scrollIntoView({ block: "center" });
  line.dataset.jumped = String(Number(line.dataset.jumped ?? 0) + 1);
}

async function loadReport(id, hasReport = true) {
  if (!hasReport) {
    state.report = null;
    $("#no-report").hidden = false;
    $("#report-frame").hidden = true;
    $("#review-box").hidden = true;
    return;
  }
  const view = await api(`/api/interviews/${encodeURIComponent(id)}/report`);
  state.report = view;
  $("#no-report").hidden = true;
  $("#report-frame").hidden = false;
  $("#review-box").hidden = false;
  const html = await api(`/api/interviews/${encodeURIComponent(id)}/report.html?transcript=false`, {
    as: "text",
  });
  const frame = $("#report-frame");
  const scroll = frame.contentWindow?.scrollY ?? 0;
  await new Promise((resolve) => {
    frame.addEventListener("load", resolve, { once: true });
    frame.srcdoc = html;
  });
  frame.contentWindow.scrollTo(0, scroll);
  // Evidence quotes and flags link to transcript lines: follow them in the transcript pane.
  frame.contentDocument.addEventListener("click", (event) => {
    const link = event.target.closest?.("a[data-seq]");
    if (!link) return;
    event.preventDefault();
    jumpTo(link.dataset.seq);
  });
  frame.dataset.loaded = String(Number(frame.dataset.loaded ?? 0) + 1);
  renderReviewBox(view);
}

function renderReviewBox(view) {
  const select = $("#ov-competency");
  const chosen = select.value;
  select.replaceChildren(
    ...view.review.competencies.map((c) => {
      const current = c.reviewed_score ?? c.engine_score;
      const label = `${c.name} (${c.round_id}) · ${scoreText(c.engine_score)}` +
        (c.override ? ` → ${scoreText(c.reviewed_score)}` : "");
      return el("option", { value: `${c.round_id}/${c.competency_id}`, dataset: { score: current ?? "" } }, label);
    }),
  );
  if (chosen) select.value = chosen;
  const audit = view.review.audit;
  const seen = new Set([...document.querySelectorAll("#audit li")].map((li) => li.dataset.seq));
  $("#audit").replaceChildren(
    ...(audit.length
      ? audit.map((entry) => {
        const what = entry.target === "recommendation"
          ? "recommendation"
          : `${entry.competency_name ?? entry.competency_id} (${entry.round_id})`;
        const fmt = entry.target === "recommendation" ? decisionText : scoreText;
        const item = el(
          "li",
          { dataset: { seq: entry.seq, testid: "audit-line" } },
          `#${entry.seq} ${when(entry.at)} — ${entry.by} set ${what}: ${fmt(entry.before)} → `,
          el("strong", {}, fmt(entry.after)),
          ` (engine: ${fmt(entry.engine)}). Reason: ${entry.reason}`,
        );
        if (seen.size && !seen.has(String(entry.seq))) item.classList.add("new");
        return item;
      })
      : [el("li", { class: "muted empty" }, "No review recorded yet.")]),
  );
}

async function openInterview(id) {
  state.current = id;
  show("detail-view");
  $("#detail-title").textContent = id;
  $("#audit").replaceChildren();
  const summary = await api(`/api/interviews/${encodeURIComponent(id)}`);
  $("#detail-title").textContent = `${summary.user_id} · ${summary.plan}`;
  $("#detail-meta").textContent = `${id} · ${summary.status} · started ${when(summary.created)}`;
  await Promise.all([loadTranscript(id), loadReport(id, summary.has_report)]);
  $("#detail-view").dataset.ready = id;
}

$("#show-private").addEventListener("change", () => {
  $("#review-transcript").classList.toggle("public-only", !$("#show-private").checked);
});
$("#back-button").addEventListener("click", () => { location.hash = ""; });
$("#print-button").addEventListener("click", async () => {
  // The printable page (with the transcript, so its evidence links work) in a new tab.
  const html = await api(`/api/interviews/${encodeURIComponent(state.current)}/report.html`, { as: "text" });
  const url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
  window.open(url, "_blank", "noopener");
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
});

async function submitReview(path, body) {
  $("#review-error").hidden = true;
  try {
    await api(`/api/interviews/${encodeURIComponent(state.current)}/reviews/${path}`, {
      method: "POST",
      body: { ...body, request_id: crypto.randomUUID?.() ?? String(Date.now()) },
    });
  } catch (error) {
    $("#review-error").textContent = error.message;
    $("#review-error").hidden = false;
    return false;
  }
  await Promise.all([loadReport(state.current), loadTranscript(state.current)]);
  return true;
}

$("#ov-competency").addEventListener("change", () => {
  const option = $("#ov-competency").selectedOptions[0];
  if (option?.dataset.score) $("#ov-score").value = option.dataset.score;
});

$("#override-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const [roundId, competencyId] = $("#ov-competency").value.split("/");
  const ok = await submitReview("competency", {
    round_id: roundId,
    competency_id: competencyId,
    score: Number($("#ov-score").value),
    reason: $("#ov-reason").value,
  });
  if (ok) $("#ov-reason").value = "";
});

$("#rec-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const ok = await submitReview("recommendation", {
    decision: $("#rec-decision").value,
    reason: $("#rec-reason").value,
  });
  if (ok) $("#rec-reason").value = "";
});

// --- routing -----------------------------------------------------------------------------

function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut();
    $("#login-error").textContent = error.message;
    $("#login-error").hidden = false;
    return;
  }
  notice(error.message, "error");
}

function route() {
  if (!state.me) {
    show("login-view");
    return;
  }
  const match = /^#interview=(.+)$/.exec(location.hash);
  if (match) {
    openInterview(decodeURIComponent(match[1])).catch(failed);
  } else {
    state.current = null;
    show("list-view");
    loadList().catch(failed);
  }
}

window.addEventListener("hashchange", route);

(async () => {
  const saved = sessionStorage.getItem(CREDS_KEY);
  if (saved) {
    try {
      await signIn(JSON.parse(saved));
    } catch (error) {
      sessionStorage.removeItem(CREDS_KEY);
    }
  }
  route();
})();
