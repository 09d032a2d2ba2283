/*
 * Web client of the interview simulator: plain ES2020, no build step, no dependencies.
 *
 * Talks the WebSocket protocol of interview_graph/api/protocol.py (JSON text frames).
 * Every server string reaches the page through textContent (never innerHTML).
 *
 * Reconnect: on an unexpected close the client reconnects with backoff, logs in again and sends
 * `resume` with the highest persisted seq it has applied; persisted events at or below that seq
 * are ignored and panel lines are keyed by message_id, so replays never duplicate a line.
 * The interview id and that seq live in sessionStorage; a fresh page load (empty transcript)
 * resumes from seq 0 so the server replays the whole transcript into the new page.
 *
 * The code editor is shown only while the current question (the last `message` with a
 * question_id) is a coding question; each coding question keeps its own draft, and the
 * visible-test table only ever shows results for the current question.
 *
 * At the end the page shows the `feedback` frame and nothing else: the hiring team's report
 * never reaches the candidate. It renders exactly the frame's fields (levels in words,
 * strengths, things to work on, hints used, next steps; a score only where the frame has one),
 * and in assessment mode only the thank-you and what happens next.
 */
"use strict";

(() => {
  // --- constants -------------------------------------------------------------------------

  const STORE = {
    user: "interview.user",
    token: "interview.token",
    interview: "interview.current", // {interview_id, last_seq}
    drafts: "interview.drafts", // {interview_id, drafts: {question_id: code}}
    drafting: "interview.drafting", // {interview_id, notes}: what a drafted plan was built from
  };
  // Events written to the interview's log: they carry its seq and are replayed on resume.
  const PERSISTED = new Set([
    "round_started", "message", "candidate_input", "code_result", "warning",
    "round_ended", "feedback", "interview_ended",
  ]);
  const CLOSE_REASONS = {
    4001: "Sign-in failed. Please sign in again.",
    4003: "This page's origin is not allowed to connect to the interview server.",
    4004: "This interview was opened in another window.",
  };
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
  const PING_MS = 15000;
  const EDIT_SNAPSHOT_MS = 8000;
  const MAX_TEXT = 8000;
  const MAX_CODE = 50000;
  const INDENT = "    ";
  const UNCONFIRMED_MS = 10000; // after a reconnect, how long a sent line may wait for its echo
  const STABLE_MS = 10000; // a connection that lasted this long resets the backoff

  // --- small helpers ---------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** Create an element; `props` may hold className, text, dataset, attrs; children are nodes or strings. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    if (props.className) node.className = props.className;
    if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
    for (const [key, value] of Object.entries(props.dataset || {})) {
      if (value !== undefined && value !== null) node.dataset[key] = String(value);
    }
    for (const [key, value] of Object.entries(props.attrs || {})) node.setAttribute(key, String(value));
    Object.assign(node.style, props.style || {}); // CSSOM, so a strict CSP allows it
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function load(key) {
    try {
      return JSON.parse(sessionStorage.getItem(key) || "null");
    } catch {
      return null;
    }
  }

  function save(key, value) {
    try {
      if (value === null || value === undefined) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, JSON.stringify(value));
    } catch {
      /* storage full or disabled: the page still works, it just cannot resume after a reload */
    }
  }

  let idCounter = 0;
  function clientId() {
    idCounter += 1;
    return `c${Date.now().toString(36)}${idCounter.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  }

  function fmtScore(score) {
    if (score === null || score === undefined || Number.isNaN(Number(score))) return "–";
    const n = Math.round(Number(score) * 100) / 100;
    return Number.isInteger(n) ? n.toFixed(1) : String(n);
  }

  function humanize(id) {
    const text = String(id || "").replace(/_/g, " ").trim();
    return text ? text[0].toUpperCase() + text.slice(1) : "";
  }

  function compact(value) {
    if (value === undefined) return "";
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }

  // --- state -----------------------------------------------------------------------------

  const state = {
    ws: null,
    loggedIn: false, // the current socket completed login
    closingOnPurpose: false,
    stopped: false, // no automatic reconnect (auth failure, taken over, signed out)
    attempts: 0,
    loggedInAt: 0,
    connects: 0,
    reconnectTimer: null,
    pingTimer: null,
    awaiting: null, // "start" | "resume" while such a request is outstanding
    plans: [],
    source: "plan", // what Start starts: "plan" (the list) or "jd" (the description box)

    interviewId: null,
    lastSeq: 0, // highest persisted seq applied to this page
    finished: false,
    feedback: null, // the candidate's feedback frame's `feedback`, once it has arrived
    panel: new Map(), // panelist id -> {name, title, card}
    messages: new Map(), // message_id -> {li, body, final}
    questionId: null, // the question the panel is on (from `message` frames)
    questionKind: null, // its kind: conceptual, coding, system_design, behavioural
    signature: null, // a coding question's function signature
    coding: false, // the editor is shown: the current question is a coding question
    drafts: {}, // question_id -> code, for coding questions only
    outstanding: [], // sent inputs awaiting their ack: {clientId, kind, li?}
    codeBusy: false,
    lastSnapshot: "",
    snapshotTimer: null,
    hiddenAt: null,
  };

  // --- views -----------------------------------------------------------------------------

  const VIEWS = ["login", "plan", "interview", "feedback"];

  function showView(name) {
    for (const view of VIEWS) $(`${view}-view`).hidden = view !== name;
    $("show-transcript-button").textContent = "Show transcript";
    updateControls();
    if (name === "login") $("login-user").focus();
  }

  function currentView() {
    return VIEWS.find((view) => !$(`${view}-view`).hidden) || "login";
  }

  function showNotice(text, { kind = "info", action = null } = {}) {
    const box = $("notice");
    box.dataset.kind = kind;
    $("notice-text").textContent = text;
    const button = $("notice-action");
    button.hidden = !action;
    button.onclick = null;
    if (action) {
      button.textContent = action.label;
      button.onclick = () => {
        hideNotice();
        action.run();
      };
    }
    box.hidden = false;
  }

  function hideNotice() {
    $("notice").hidden = true;
  }

  const STATUS_LABELS = {
    offline: "Offline",
    connecting: "Connecting…",
    connected: "Connected",
    reconnecting: "Reconnecting…",
    closed: "Disconnected",
  };

  function setStatus(status, detail = "") {
    const node = $("connection-status");
    node.dataset.state = status;
    node.dataset.connects = String(state.connects);
    node.textContent = detail ? `${STATUS_LABELS[status]} ${detail}` : STATUS_LABELS[status];
    updateControls();
  }

  function interviewLive() {
    return state.loggedIn && Boolean(state.interviewId) && !state.finished;
  }

  function updateControls() {
    const live = interviewLive();
    for (const id of ["send-button", "run-button", "submit-button"]) $(id).disabled = !live;
    $("end-button").hidden = !(state.interviewId && !state.finished && currentView() === "interview");
    $("end-button").disabled = !live;
    $("logout-button").hidden = currentView() === "login";
    $("code-busy").hidden = !state.codeBusy;
    updateWorkbench();
  }

  /** The editor panel is shown only during a coding question of a live interview; else the chat is alone. */
  function updateWorkbench() {
    const show = state.coding && !state.finished;
    const workbench = $("workbench");
    if (!show && !workbench.hidden && workbench.contains(document.activeElement)) {
      $("message-input").focus(); // don't leave the focus on a hidden field
    }
    workbench.hidden = !show;
    const view = $("interview-view");
    view.classList.toggle("no-code", !show);
    if (state.questionKind) view.dataset.questionKind = state.questionKind;
    else delete view.dataset.questionKind;
  }

  // --- connection ------------------------------------------------------------------------

  function credentials() {
    return { user: load(STORE.user), token: load(STORE.token) };
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    if (state.ws && state.ws.readyState <= WebSocket.OPEN) return;
    state.stopped = false;
    state.closingOnPurpose = false;
    setStatus(state.connects ? "reconnecting" : "connecting");
    const url = new URL("ws", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
    url.hash = "";
    const socket = new WebSocket(url.toString());
    state.ws = socket;
    socket.addEventListener("open", () => {
      if (socket !== state.ws) return;
      const { user, token } = credentials();
      send(token ? { type: "login", token } : { type: "login", user });
      startPing();
    });
    socket.addEventListener("message", (event) => {
      if (socket !== state.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") handle(frame);
    });
    socket.addEventListener("close", (event) => {
      if (socket === state.ws) onClosed(event.code);
    });
  }

  function onClosed(code) {
    stopPing();
    state.ws = null;
    state.loggedIn = false;
    state.awaiting = null;
    setCodeBusy(false);
    for (const item of state.outstanding) item.li?.classList.add("unconfirmed");
    state.outstanding = [];
    if (state.closingOnPurpose) {
      state.closingOnPurpose = false;
      setStatus("offline");
      return;
    }
    if (code === 4001) {
      state.stopped = true;
      save(STORE.user, null);
      save(STORE.token, null);
      setStatus("closed");
      showLoginError(CLOSE_REASONS[4001]);
      return;
    }
    if (code === 4003 || code === 4004) {
      state.stopped = true;
      setStatus("closed");
      showNotice(CLOSE_REASONS[code], {
        kind: "error",
        action: { label: "Reconnect here", run: reconnectNow },
      });
      return;
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (state.stopped || state.reconnectTimer) return;
    // Back off from the start again only if the last connection was healthy for a while, so a
    // server that accepts and then drops every connection is not hammered.
    if (state.loggedInAt && Date.now() - state.loggedInAt > STABLE_MS) state.attempts = 0;
    state.loggedInAt = 0;
    const base = BACKOFF_MS[Math.min(state.attempts, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    state.attempts += 1;
    setStatus("reconnecting", `(in ${Math.max(1, Math.round(delay / 1000))} s)`);
    state.reconnectTimer = setTimeout(() => {
      state.reconnectTimer = null;
      connect();
    }, delay);
  }

  function reconnectNow() {
    state.attempts = 0;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    connect();
  }

  /** Close the socket without reconnecting (sign out, new interview). */
  function disconnect() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    stopPing();
    if (state.ws) {
      state.closingOnPurpose = true;
      state.ws.close(1000, "bye");
    } else {
      setStatus("offline");
    }
  }

  function send(frame) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send a candidate input (message, code, integrity, control) with a client_id. */
  function sendInput(frame, extra = {}) {
    if (!interviewLive()) return null;
    const id = clientId();
    if (!send({ ...frame, client_id: id })) return null;
    state.outstanding.push({ clientId: id, kind: frame.type, ...extra });
    return id;
  }

  function startPing() {
    stopPing();
    state.pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
  }

  function stopPing() {
    clearInterval(state.pingTimer);
    state.pingTimer = null;
  }

  // --- interview persistence -------------------------------------------------------------

  function rememberInterview() {
    if (state.interviewId) {
      save(STORE.interview, { interview_id: state.interviewId, last_seq: state.lastSeq });
    }
  }

  function saveDrafts() {
    if (state.interviewId) save(STORE.drafts, { interview_id: state.interviewId, drafts: state.drafts });
  }

  function forgetInterview() {
    save(STORE.interview, null);
    save(STORE.drafts, null);
    save(STORE.drafting, null);
    state.interviewId = null;
    resetInterview();
  }

  /** Clear everything the page shows about an interview. */
  function resetInterview() {
    state.lastSeq = 0;
    state.finished = false;
    state.feedback = null;
    state.panel.clear();
    state.messages.clear();
    state.questionId = null;
    state.questionKind = null;
    state.signature = null;
    state.coding = false;
    state.drafts = {};
    state.outstanding = [];
    state.lastSnapshot = "";
    clearTimeout(state.snapshotTimer);
    setCodeBusy(false);
    $("panel").replaceChildren();
    $("transcript").replaceChildren();
    $("round-title").textContent = "";
    $("round-description").textContent = "";
    $("warning-banner").hidden = true;
    $("code-editor").value = "";
    $("message-input").value = "";
    clearResults();
    updateQuestion();
    $("feedback").replaceChildren();
    showDrafting(null);
  }

  // --- what the server did with a job description ------------------------------------------

  /** The drafting notes of a plan drafted from a job description, shown above the transcript. */
  function showDrafting(notes) {
    const box = $("drafting-notes");
    if (!notes) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    const names = Object.fromEntries((notes.recognised || []).map((s) => [s.id, s.name]));
    const recognised = (notes.recognised || []).map((s) =>
      el("li", { dataset: { skill: s.id, section: s.section } }, el("strong", { text: s.name }),
        ` — “${(s.matched || []).join("”, “")}” (${String(s.section).replace(/_/g, " ")})`));
    const covered = (notes.covered || []).map((c) =>
      el("li", { dataset: { skill: c.skill } }, el("strong", { text: names[c.skill] || c.skill }),
        `${c.how === "related" ? " (a related skill)" : ""}: ${c.topics.length} ${c.topics.length === 1 ? "question" : "questions"}`));
    const uncovered = (notes.uncovered || []).map((id) => el("li", { text: names[id] || id, dataset: { skill: id } }));
    box.replaceChildren(
      el("summary", { text: `Drafted for this job description: ${notes.family_name} interview (${notes.seniority})` }),
      el("p", { className: "muted", text: `Why ${notes.family_name}: ${notes.family_reason}.` }),
      ...(notes.warnings || []).map((w) => el("p", { className: "warning", text: w, dataset: { testid: "drafting-warning" } })),
      el("h3", { text: "Skills recognised in the description" }),
      el("ul", { attrs: { "data-testid": "drafting-recognised" } }, ...recognised),
      el("h3", { text: "Covered by this interview" }),
      el("ul", { attrs: { "data-testid": "drafting-covered" } }, ...covered),
      el("h3", { text: "Not covered (no question in the catalogue)" }),
      uncovered.length
        ? el("ul", { attrs: { "data-testid": "drafting-uncovered" } }, ...uncovered)
        : el("p", { className: "muted", text: "Nothing: every recognised skill is covered.", attrs: { "data-testid": "drafting-uncovered" } }),
    );
    box.hidden = false;
  }

  // --- incoming frames -------------------------------------------------------------------

  function handle(frame) {
    if (PERSISTED.has(frame.type) && Number.isInteger(frame.seq)) {
      if (frame.seq <= state.lastSeq) return; // already applied (a replay after resume)
      state.lastSeq = frame.seq;
      rememberInterview();
    }
    const handler = HANDLERS[frame.type];
    if (handler) handler(frame);
  }

  const HANDLERS = {
    session: onSession,
    ack: onAck,
    error: onError,
    pong: () => {},
    round_started: onRoundStarted,
    speaker: onSpeaker,
    token: onToken,
    status: onStatus,
    message: onPanelMessage,
    candidate_input: onCandidateInput,
    code_result: onCodeResult,
    warning: onWarning,
    round_ended: (f) => addLine("system", `Round ${Number(f.index) + 1} ended: ${f.title}`, f.seq),
    feedback: onFeedback,
    interview_ended: onInterviewEnded,
  };

  function onSession(frame) {
    if (frame.status === "logged_in") {
      state.loggedIn = true;
      state.loggedInAt = Date.now();
      state.connects += 1;
      setStatus("connected");
      $("user-name").textContent = frame.user || "";
      $("login-error").hidden = true;
      if (Array.isArray(frame.plans)) setPlans(frame.plans);
      setTimeout(failUnconfirmed, UNCONFIRMED_MS);
      const saved = load(STORE.interview);
      if (saved && saved.interview_id) {
        if (saved.interview_id !== state.interviewId) {
          // A fresh page: nothing is on screen yet, so ask for the whole transcript.
          resetInterview();
          state.interviewId = saved.interview_id;
          const drafts = load(STORE.drafts);
          if (drafts && drafts.interview_id === saved.interview_id) state.drafts = drafts.drafts || {};
        }
        state.awaiting = "resume";
        send({ type: "resume", interview_id: state.interviewId, last_seq: state.lastSeq });
        if (currentView() === "login" || currentView() === "plan") showView("interview");
      } else {
        showView("plan");
      }
      return;
    }
    state.awaiting = null;
    $("start-button").disabled = false;
    if (frame.status === "started") {
      hideNotice();
      resetInterview();
      showDrafting(frame.drafting || null);
      state.interviewId = frame.interview_id;
      save(STORE.drafting, frame.drafting ? { interview_id: frame.interview_id, notes: frame.drafting } : null);
      rememberInterview();
      showView("interview");
      $("message-input").focus();
    } else if (frame.status === "resumed" || frame.status === "finished") {
      if (frame.interview_id) state.interviewId = frame.interview_id;
      if (frame.status === "finished") state.finished = true;
      // A reload keeps what the plan was drafted from (the resumed session does not repeat it).
      const drafting = load(STORE.drafting);
      if (drafting && drafting.interview_id === state.interviewId) showDrafting(drafting.notes);
      if (state.feedback) showView("feedback");
      else if (currentView() !== "interview") showView("interview");
    }
    updateControls();
  }

  function onAck(frame) {
    const index = state.outstanding.findIndex((item) => item.clientId === frame.client_id);
    if (index < 0) return;
    const [item] = state.outstanding.splice(index, 1);
    item.li?.classList.remove("pending", "unconfirmed");
  }

  function onError(frame) {
    const message = frame.message || humanize(frame.code);
    if (frame.code === "auth_failed") {
      state.stopped = true;
      save(STORE.user, null);
      save(STORE.token, null);
      showLoginError(message);
      disconnect();
      return;
    }
    if (state.awaiting === "resume" && frame.code === "interview_busy") {
      // Another server process still drives the interview (PostgreSQL scale-out): ask again.
      showNotice("Reconnecting to your interview…");
      setTimeout(() => {
        if (state.awaiting === "resume") {
          send({ type: "resume", interview_id: state.interviewId, last_seq: state.lastSeq });
        }
      }, 2000);
      return;
    }
    if (state.awaiting === "resume" && ["not_found", "forbidden"].includes(frame.code)) {
      // The stored interview is gone or not ours: start over with the plan picker.
      state.awaiting = null;
      forgetInterview();
      showView("plan");
      showNotice(`Could not resume the interview: ${message}`, { kind: "error" });
      return;
    }
    if (state.awaiting === "start") {
      state.awaiting = null;
      $("start-button").disabled = false;
      showNotice(message, { kind: "error" });
      return;
    }
    // Inputs are handled in order, so an input error belongs to the oldest unacknowledged one.
    const failed = state.outstanding.shift();
    if (failed?.kind === "code") setCodeBusy(false);
    if (failed?.li) {
      failed.li.classList.remove("pending");
      failed.li.classList.add("failed");
      failed.li.title = `Not delivered: ${message}`;
    }
    if (frame.code === "interview_finished") {
      state.finished = true;
      updateControls();
    }
    showNotice(message, { kind: "error" });
  }

  function onRoundStarted(frame) {
    // A new round has no question until the panel asks one; the last question's code is kept.
    switchQuestion(null, null, null);
    setPanel(frame.panel || []);
    $("round-title").textContent = `Round ${Number(frame.index) + 1}: ${frame.title}`;
    $("round-description").textContent = frame.description || "";
    addLine("system round", `Round ${Number(frame.index) + 1}: ${frame.title}`, frame.seq);
  }

  function onSpeaker(frame) {
    panelBubble(frame.message_id, frame.panelist, frame.name);
    setSpeaker(frame.panelist, true);
  }

  function onStatus(frame) {
    // Transient: the panel is thinking (a slow reply); its first token replaces the notice.
    if (frame.status !== "thinking") return;
    const existing = state.messages.get(frame.message_id);
    if (existing && (existing.final || existing.body.textContent)) return;
    const bubble = existing || panelBubble(frame.message_id, frame.panelist);
    bubble.thinking = true;
    bubble.body.textContent = "Thinking\u2026";
    bubble.li.classList.add("thinking");
    setSpeaker(frame.panelist, true);
  }

  function onToken(frame) {
    const existing = state.messages.get(frame.message_id);
    if (existing && existing.final) return; // the complete text is already shown
    const bubble = existing || panelBubble(frame.message_id, frame.panelist);
    if (bubble.thinking) {
      bubble.thinking = false;
      bubble.body.textContent = "";
      bubble.li.classList.remove("thinking");
    }
    bubble.body.append(frame.delta || "");
    setSpeaker(frame.panelist, true);
    scrollTranscript();
  }

  function onPanelMessage(frame) {
    const bubble = panelBubble(frame.message_id, frame.panelist, frame.name);
    bubble.body.textContent = frame.text || "";
    if (frame.name) bubble.head.textContent = frame.name;
    bubble.final = true;
    bubble.thinking = false;
    bubble.li.classList.remove("streaming", "thinking");
    bubble.li.dataset.seq = String(frame.seq);
    if (frame.question_id) bubble.li.dataset.questionId = frame.question_id;
    if (frame.question_kind) bubble.li.dataset.questionKind = frame.question_kind;
    setSpeaker(frame.panelist, false);
    // Introductions and closings carry no question: the current one (and the editor) stays.
    if (frame.question_id) {
      const kind = frame.question_kind || null;
      const signature = frame.signature || null;
      if (frame.question_id !== state.questionId || isCoding(kind, signature) !== state.coding) {
        switchQuestion(frame.question_id, kind, signature);
      }
    }
    scrollTranscript();
  }

  function onCandidateInput(frame) {
    const kind = String(frame.kind || "").replace(/^candidate_/, "");
    const detail = frame.detail || {};
    if (kind === "message") {
      const text = frame.text || "";
      // Our own line may already be on screen (sent from this page): confirm it instead.
      const mine = [...$("transcript").querySelectorAll(".msg.candidate.local")].find(
        (li) => !li.dataset.seq && li.dataset.text === text,
      );
      if (mine) {
        mine.dataset.seq = String(frame.seq);
        mine.classList.remove("pending", "unconfirmed", "failed", "local");
      } else {
        addCandidateLine(text, frame.seq);
      }
    } else if (kind === "code") {
      const lines = detail.lines ? ` (${detail.lines} lines)` : "";
      if (detail.action === "run") addLine("system", `You ran the visible tests${lines}.`, frame.seq);
      if (detail.action === "submit") addLine("system", `You submitted your code${lines}.`, frame.seq);
    }
    // Integrity signals, edit snapshots and `end` (the server announces it) are not shown.
  }

  function onCodeResult(frame) {
    const current = Boolean(state.questionId) && (frame.question_id || null) === state.questionId;
    if (!current) {
      // A result for a question the panel has left (a late run): the transcript keeps it, but
      // it must not overwrite the current question's table.
      const about = frame.question_id ? ` (${frame.question_id})` : "";
      addLine(`result ${frame.status === "ok" ? "" : "bad"}`, `Tests${about}: ${frame.message || frame.status}`, frame.seq);
      return;
    }
    setCodeBusy(false);
    const results = $("code-results");
    results.dataset.count = String(Number(results.dataset.count || 0) + 1);
    results.dataset.status = frame.status || "";
    $("code-status").textContent = frame.message || humanize(frame.status);
    const table = $("test-results");
    const rows = (frame.tests || []).map((test) => {
      const passed = Boolean(test.passed);
      const outcome = passed ? "✓ pass" : test.error ? "✗ error" : "✗ fail";
      const got = test.error ? String(test.error) : compact(test.got);
      return el(
        "tr",
        { className: `test-row ${passed ? "passed" : "failed"}`, dataset: { passed } },
        el("td", { text: test.name }),
        el("td", { className: "mono", text: compact(test.args) }),
        el("td", { className: "mono", text: compact(test.expected) }),
        el("td", { className: "mono", text: got }),
        el("td", { className: "outcome", text: outcome }),
      );
    });
    table.tBodies[0].replaceChildren(...rows);
    table.hidden = rows.length === 0;
    const output = $("code-output");
    output.textContent = frame.output || "";
    output.hidden = !frame.output;
    addLine(`result ${frame.status === "ok" ? "" : "bad"}`, `Tests: ${frame.message || frame.status}`, frame.seq);
  }

  function onWarning(frame) {
    if (frame.code === "ending") {
      // Not a rules warning: the notice that the candidate ended the interview.
      addLine("system", frame.message, frame.seq);
      return;
    }
    addLine("warning", frame.message, frame.seq, { role: "alert" });
    const banner = $("warning-banner");
    banner.textContent = `⚠ ${frame.message}`;
    banner.hidden = false;
  }

  function onFeedback(frame) {
    state.feedback = frame.feedback || {};
    state.finished = true; // the feedback comes once the interview is over
    renderFeedback(state.feedback);
    showView("feedback");
    $("feedback-title").focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }

  function onInterviewEnded(frame) {
    if (state.coding) {
      state.drafts[state.questionId] = $("code-editor").value;
      saveDrafts();
    }
    state.finished = true; // hides the editor (updateControls)
    setCodeBusy(false);
    setSpeaker(null, false);
    $("round-title").textContent = "Interview finished";
    addLine("system", "The interview has ended.", frame.seq);
    if (!state.feedback) addLine("system", "Wrapping up…");
    updateControls();
  }

  // --- panel and transcript --------------------------------------------------------------

  function setPanel(panel) {
    state.panel.clear();
    const cards = panel.map((p) => {
      const card = el(
        "div",
        { className: "panelist", dataset: { panelistId: p.id }, attrs: { "data-testid": "panelist" } },
        el("span", { className: "avatar", text: initials(p.name), attrs: { "aria-hidden": "true" } }),
        el("span", { className: "who" },
          el("strong", { className: "name", text: p.name }),
          el("span", { className: "title", text: p.title })),
      );
      state.panel.set(p.id, { name: p.name, title: p.title, card });
      return card;
    });
    $("panel").replaceChildren(...cards);
  }

  function initials(name) {
    return String(name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  }

  function setSpeaker(panelistId, speaking) {
    for (const [id, p] of state.panel) {
      if (panelistId) p.card.classList.toggle("current", id === panelistId);
      p.card.classList.toggle("speaking", speaking && id === panelistId);
    }
  }

  /** The transcript bubble of panel message `messageId`, created on first use. */
  function panelBubble(messageId, panelistId, name) {
    let bubble = state.messages.get(messageId);
    if (bubble) return bubble;
    // The round's panel (from round_started) is the most reliable source of display names.
    const speaker = state.panel.get(panelistId)?.name || name || humanize(panelistId);
    const head = el("div", { className: "msg-head", text: speaker });
    const body = el("div", { className: "msg-body" });
    const li = el(
      "li",
      { className: "msg panel streaming", dataset: { messageId, panelist: panelistId } },
      head,
      body,
    );
    $("transcript").append(li);
    bubble = { li, head, body, final: false };
    state.messages.set(messageId, bubble);
    scrollTranscript();
    return bubble;
  }

  /** Lines sent just before a disconnect that the replay did not confirm were never delivered. */
  function failUnconfirmed() {
    for (const li of $("transcript").querySelectorAll(".msg.candidate.unconfirmed:not([data-seq])")) {
      li.classList.remove("pending", "unconfirmed");
      li.classList.add("failed");
      li.title = "Not delivered: the connection dropped. Please send it again.";
    }
  }

  function addCandidateLine(text, seq, local = false) {
    const li = el(
      "li",
      { className: `msg candidate${local ? " local pending" : ""}`, dataset: { seq, text } },
      el("div", { className: "msg-head", text: "You" }),
      el("div", { className: "msg-body", text: text || "(no answer)" }),
    );
    $("transcript").append(li);
    scrollTranscript(true);
    return li;
  }

  function addLine(kind, text, seq, attrs = {}) {
    const li = el("li", { className: `msg ${kind}`.trim(), text, dataset: { seq }, attrs });
    $("transcript").append(li);
    scrollTranscript();
    return li;
  }

  function scrollTranscript(force = false) {
    const box = $("transcript");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
    if (force || nearBottom) box.scrollTop = box.scrollHeight;
  }

  // --- composing -------------------------------------------------------------------------

  function sendMessage() {
    const input = $("message-input");
    const text = input.value.trim();
    if (!text) return;
    if (text.length > MAX_TEXT) {
      showNotice(`Messages are limited to ${MAX_TEXT} characters.`, { kind: "error" });
      return;
    }
    if (!interviewLive()) {
      showNotice("Not connected: your message was not sent.", { kind: "error" });
      return;
    }
    const li = addCandidateLine(text, undefined, true);
    if (!sendInput({ type: "message", text }, { li })) {
      li.remove();
      return;
    }
    input.value = "";
    $("warning-banner").hidden = true;
  }

  function isCoding(kind, signature) {
    return kind === "coding" || Boolean(signature);
  }

  /** What a new coding question's editor starts with: its signature and an indented `pass`. */
  function starter(signature) {
    if (!signature) return "";
    let head = String(signature).trimEnd();
    if (/^(async\s+)?def\s/.test(head) && !head.endsWith(":")) head += ":";
    return `${head}\n${INDENT}pass\n`;
  }

  /**
   * The panel moved to another question (or none, at a round start). Each coding question keeps
   * its own code in `state.drafts` (stored with the interview, so it survives reconnects); the
   * candidate is told once that the code they leave is kept, with a way to look at it again.
   * The visible-test table belongs to one question and is cleared.
   */
  function switchQuestion(questionId, kind, signature) {
    const editor = $("code-editor");
    const previous = state.questionId;
    if (state.coding && previous) {
      const code = editor.value;
      state.drafts[previous] = code;
      if (previous !== questionId && code.trim() && code !== starter(state.signature)) {
        addSavedLine(previous, code);
      }
    }
    clearTimeout(state.snapshotTimer);
    if (previous !== questionId) {
      clearResults();
      setCodeBusy(false);
    }
    state.questionId = questionId;
    state.questionKind = questionId ? kind : null;
    state.signature = questionId ? signature : null;
    state.coding = Boolean(questionId) && isCoding(kind, signature);
    let code = "";
    if (state.coding) {
      code = state.drafts[questionId] || "";
      if (!code.trim()) code = starter(signature) || code;
    }
    editor.value = code;
    state.lastSnapshot = code;
    saveDrafts();
    updateQuestion();
    updateControls();
  }

  /** A quiet transcript line: the code for a question the panel left is kept (and can be seen). */
  function addSavedLine(questionId, code) {
    const pre = el("pre", { className: "code-output saved-code", text: code });
    const details = el("details", {}, el("summary", { text: "Show it" }), pre);
    details.addEventListener("toggle", () => {
      if (details.open) pre.scrollIntoView({ block: "nearest" });
    });
    const li = el(
      "li",
      { className: "msg system draft-saved", dataset: { questionId }, attrs: { "data-testid": "draft-saved" } },
      el("span", { text: `Your code for ${questionId} is saved.` }),
      " ",
      details,
    );
    $("transcript").append(li);
    scrollTranscript();
  }

  function updateQuestion() {
    $("question-id").textContent = state.questionId && state.coding ? `Question: ${state.questionId}` : "";
    $("question-id").dataset.questionId = state.questionId || "";
  }

  /** Empty the visible-test table and output (they belong to the question they were run for). */
  function clearResults() {
    const results = $("code-results");
    results.dataset.count = "0";
    delete results.dataset.status;
    $("code-status").textContent = "Run your code to see the visible test results.";
    $("test-results").hidden = true;
    $("test-results").tBodies[0].replaceChildren();
    $("code-output").textContent = "";
    $("code-output").hidden = true;
  }

  function sendCode(action) {
    const code = $("code-editor").value;
    if (!state.coding) return; // the editor is only for coding questions
    if (action !== "edit" && !code.trim()) {
      showNotice("The editor is empty.", { kind: "error" });
      return;
    }
    if (code.length > MAX_CODE) {
      showNotice(`Code is limited to ${MAX_CODE} characters.`, { kind: "error" });
      return;
    }
    const frame = { type: "code", action, code, language: "python", question_id: state.questionId };
    if (sendInput(frame)) {
      state.lastSnapshot = code;
      if (action !== "edit") setCodeBusy(true);
    }
  }

  function setCodeBusy(busy) {
    state.codeBusy = busy;
    $("code-busy").hidden = !busy;
  }

  /** An edit snapshot a few seconds after typing stops, so the panel can follow progress. */
  function scheduleSnapshot() {
    clearTimeout(state.snapshotTimer);
    state.snapshotTimer = setTimeout(() => {
      const code = $("code-editor").value;
      if (code !== state.lastSnapshot && code.trim() && interviewLive()) sendCode("edit");
    }, EDIT_SNAPSHOT_MS);
  }

  let escapeBeforeTab = false;

  /** Tab indents (selected lines, or inserts spaces), Shift+Tab dedents; Esc then Tab leaves. */
  function onEditorKey(event) {
    const editor = event.currentTarget;
    if (event.key === "Escape") {
      escapeBeforeTab = true;
      return;
    }
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      sendCode("run");
      return;
    }
    if (event.key !== "Tab" || escapeBeforeTab) {
      escapeBeforeTab = false;
      return;
    }
    event.preventDefault();
    const { selectionStart: start, selectionEnd: end, value } = editor;
    const lineStart = value.lastIndexOf("\n", start - 1) + 1;
    const multiLine = value.slice(start, end).includes("\n");
    if (!event.shiftKey && !multiLine) {
      const column = start - lineStart;
      editor.setRangeText(" ".repeat(INDENT.length - (column % INDENT.length)), start, end, "end");
    } else {
      const block = value.slice(lineStart, end);
      const changed = event.shiftKey
        ? block.replace(/^ {1,4}/gm, "")
        : block.replace(/^/gm, INDENT);
      editor.setRangeText(changed, lineStart, end, "select");
      if (!multiLine) {
        const caret = Math.max(lineStart, start + (changed.length - block.length));
        editor.setSelectionRange(caret, caret);
      }
    }
    editor.dispatchEvent(new Event("input"));
  }

  // --- feedback ------------------------------------------------------------------------

  // The levels the server words a score in, lowest first (feedback.py); "not assessed" is none.
  const LEVELS = ["not there yet", "developing", "solid", "strong"];

  function levelText(level) {
    const text = String(level || "not assessed");
    return text[0].toUpperCase() + text.slice(1);
  }

  /** A level in words, with a 4-step gauge beside it for the eye (the words carry the meaning). */
  function levelBadge(level, extra = {}) {
    const word = String(level || "not assessed");
    const steps = LEVELS.indexOf(word) + 1; // 0 when not assessed (or an unknown word)
    const gauge = el("span", { className: "gauge", attrs: { "aria-hidden": "true" } },
      ...LEVELS.map((_, i) => el("span", { className: i < steps ? "step on" : "step" })));
    return el("span", { className: "level", dataset: { level: word }, attrs: extra },
      gauge, el("span", { className: "level-word", text: levelText(word) }));
  }

  /** A score only where the frame carries one (the plan shows scores). */
  function scoreTag(score) {
    if (score === null || score === undefined || Number.isNaN(Number(score))) return null;
    return el("span", { className: "score", attrs: { "data-testid": "feedback-score" } },
      `Score ${fmtScore(score)} of 5`);
  }

  function bullets(items, className, empty) {
    if (!Array.isArray(items) || items.length === 0) return el("p", { className: "muted", text: empty });
    return el("ul", { className }, ...items.map((item) => el("li", { text: item })));
  }

  function renderFeedback(feedback) {
    const assessment = feedback.mode === "assessment";
    const rounds = !assessment && Array.isArray(feedback.rounds) ? feedback.rounds : [];
    const header = el("header", { className: "feedback-header" },
      el("p", { className: "eyebrow", text: assessment ? "Interview complete" : "Practice interview complete" }),
      el("h2", {
        text: assessment ? "Thank you" : "Your feedback",
        attrs: { id: "feedback-title", tabindex: "-1" },
      }),
      el("p", { className: "feedback-message", text: feedback.message || "", attrs: { "data-testid": "feedback-message" } }),
    );
    const parts = [header];
    if (!assessment) {
      const hints = Number(feedback.hints_used) || 0;
      parts.push(el("p", { className: "hints", attrs: { "data-testid": "feedback-hints" } },
        hints === 0 ? "You used no hints." : `You used ${hints} hint${hints === 1 ? "" : "s"}.`));
      parts.push(...rounds.map(renderFeedbackRound));
      if (rounds.length === 0) parts.push(el("p", { className: "muted", text: "No round was assessed." }));
    }
    parts.push(el("section", { className: "next-steps", attrs: { "aria-labelledby": "next-steps-title" } },
      el("h3", { text: assessment ? "What happens next" : "Next steps", attrs: { id: "next-steps-title" } }),
      el("p", { text: feedback.next_steps || "", attrs: { "data-testid": "feedback-next-steps" } })));
    const article = $("feedback");
    article.dataset.mode = assessment ? "assessment" : "practice";
    article.replaceChildren(...parts);
  }

  let roundCounter = 0;
  function renderFeedbackRound(round) {
    roundCounter += 1;
    const titleId = `feedback-round-${roundCounter}`;
    const competencies = Array.isArray(round.competencies) ? round.competencies : [];
    return el("section", { className: "feedback-round", attrs: { "aria-labelledby": titleId, "data-testid": "feedback-round" } },
      el("header", { className: "round-head" },
        el("h3", { text: round.title || "Round", attrs: { id: titleId } }),
        el("span", { className: "round-level" },
          el("span", { className: "visually-hidden", text: "Overall: " }),
          levelBadge(round.level, { "data-testid": "round-level" }),
          scoreTag(round.score))),
      competencies.length
        ? el("ul", { className: "competency-levels", attrs: { "aria-label": "Competencies" } },
          ...competencies.map((c) => el("li", { className: "competency-level", attrs: { "data-testid": "feedback-competency" } },
            el("span", { className: "competency-name", text: c.name }),
            levelBadge(c.level),
            scoreTag(c.score))))
        : null,
      el("div", { className: "two-col" },
        el("div", { className: "strengths" },
          el("h4", { text: "Strengths" }),
          bullets(round.strengths, "strengths", "Nothing stood out yet — keep practising.")),
        el("div", { className: "to-work-on" },
          el("h4", { text: "To work on" }),
          bullets(round.to_work_on, "to-work-on", "Nothing in particular."))),
    );
  }

  // --- sign-in, plans, lifecycle ---------------------------------------------------------

  function showLoginError(message) {
    const error = $("login-error");
    error.textContent = message;
    error.hidden = false;
    showView("login");
  }

  function setPlans(plans) {
    state.plans = plans;
    const select = $("plan-select");
    const previous = select.value;
    select.replaceChildren(...plans.map((p) => el("option", { text: p.title || p.id, attrs: { value: p.id } })));
    if (plans.some((p) => p.id === previous)) select.value = previous;
    $("start-button").disabled = plans.length === 0;
    showPlanRole();
  }

  function showPlanRole() {
    const plan = state.plans.find((p) => p.id === $("plan-select").value);
    $("plan-role").textContent = plan && plan.role ? `Role: ${plan.role}` : "";
    showSource();
  }

  // What "Start interview" starts: the user's last explicit choice, a plan picked in the list
  // or a job description typed in the box.  A description left in the box never overrides a
  // plan picked after it.
  function chooseSource(source) {
    state.source = source;
    showSource();
  }

  function startSource() {
    return state.source === "jd" && $("jd-input").value.trim() ? "jd" : "plan";
  }

  function showSource() {
    const plan = state.plans.find((p) => p.id === $("plan-select").value);
    const jd = startSource() === "jd";
    $("jd-input").classList.toggle("in-use", jd);
    $("plan-select").classList.toggle("in-use", !jd);
    $("start-source").textContent = jd
      ? "Starts an interview drafted for the job description below."
      : `Starts the plan “${plan ? plan.title || plan.id : "—"}”.`;
    $("start-source").dataset.source = jd ? "jd" : "plan";
  }

  const MODE_HINTS = {
    "": "Practice for the shipped plans.",
    practice: "At the end you get feedback on each round: levels, strengths and things to work on.",
    assessment: "Like a real interview: no feedback at the end; the hiring team follows up.",
  };

  function showModeHint() {
    $("mode-hint").textContent = MODE_HINTS[$("mode-select").value] || "";
  }

  function signIn(event) {
    event.preventDefault();
    const user = $("login-user").value.trim();
    const token = $("login-token").value.trim();
    if (!user && !token) {
      showLoginError("Enter your name (or a token).");
      return;
    }
    $("login-error").hidden = true;
    save(STORE.user, user || null);
    save(STORE.token, token || null);
    reconnectNow();
  }

  function startInterview(event) {
    event.preventDefault();
    const plan = $("plan-select").value;
    const jobDescription = startSource() === "jd" ? $("jd-input").value.trim() : "";
    if ((!plan && !jobDescription) || !state.loggedIn) return;
    forgetInterview();
    state.awaiting = "start";
    // The user's last explicit choice: the server drafts a plan for a description (this can take
    // a while), or starts the plan picked.
    const frame = jobDescription ? { type: "start", job_description: jobDescription } : { type: "start", plan };
    // Practice or assessment; left unset, the server uses the plan's mode.
    const mode = $("mode-select").value;
    if (mode) frame.mode = mode;
    if (jobDescription) showNotice("Preparing an interview for this job description…");
    $("start-button").disabled = send(frame);
  }

  function endInterview() {
    if (!interviewLive()) return;
    if (!window.confirm("End the interview now? The panel will close the interview.")) return;
    sendInput({ type: "control", action: "end" });
  }

  function newInterview() {
    forgetInterview();
    // A new interview starts from a clean form: the last description must not be reused unseen.
    $("jd-input").value = "";
    chooseSource("plan");
    // A fresh connection: log in again and pick a plan.
    disconnect();
    setTimeout(reconnectNow, 0);
  }

  function signOut() {
    state.stopped = true;
    disconnect();
    forgetInterview();
    save(STORE.user, null);
    save(STORE.token, null);
    state.connects = 0;
    $("user-name").textContent = "";
    hideNotice();
    showView("login");
    setStatus("offline");
  }

  function onVisibilityChange() {
    if (document.visibilityState === "hidden") {
      state.hiddenAt = Date.now();
      if (interviewLive()) sendInput({ type: "integrity", signal: "tab_hidden" });
    } else {
      const duration = state.hiddenAt ? Date.now() - state.hiddenAt : 0;
      state.hiddenAt = null;
      if (interviewLive()) sendInput({ type: "integrity", signal: "tab_visible", duration_ms: duration });
      // Back in the tab with a dead socket: don't wait for the backoff.
      const { user, token } = credentials();
      if (!state.ws && !state.stopped && (user || token)) reconnectNow();
    }
  }

  function init() {
    $("login-form").addEventListener("submit", signIn);
    $("plan-form").addEventListener("submit", startInterview);
    $("plan-select").addEventListener("change", () => {
      chooseSource("plan");
      showPlanRole();
    });
    $("jd-input").addEventListener("input", () => chooseSource($("jd-input").value.trim() ? "jd" : "plan"));
    $("mode-select").addEventListener("change", showModeHint);
    showModeHint();
    $("message-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sendMessage();
    });
    $("message-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        sendMessage();
      }
    });
    const editor = $("code-editor");
    editor.addEventListener("keydown", onEditorKey);
    editor.addEventListener("input", () => {
      if (state.coding && state.questionId) {
        state.drafts[state.questionId] = editor.value;
        saveDrafts(); // sessionStorage: a reload mid-question keeps the code too
      }
      scheduleSnapshot();
    });
    editor.addEventListener("blur", saveDrafts);
    editor.addEventListener("paste", (event) => {
      const size = (event.clipboardData?.getData("text") || "").length;
      if (size > 0) sendInput({ type: "integrity", signal: "paste", size });
    });
    $("run-button").addEventListener("click", () => sendCode("run"));
    $("submit-button").addEventListener("click", () => sendCode("submit"));
    $("end-button").addEventListener("click", endInterview);
    $("logout-button").addEventListener("click", signOut);
    $("new-interview-button").addEventListener("click", newInterview);
    $("show-transcript-button").addEventListener("click", () => {
      const view = $("interview-view");
      view.hidden = !view.hidden;
      if (!view.hidden) view.scrollIntoView({ behavior: "smooth" });
      $("show-transcript-button").textContent = view.hidden ? "Show transcript" : "Hide transcript";
    });
    $("notice-close").addEventListener("click", hideNotice);
    document.addEventListener("visibilitychange", onVisibilityChange);
    window.addEventListener("online", () => {
      if (!state.ws && !state.stopped && state.reconnectTimer) reconnectNow();
    });

    // Test hook: drop the socket as a network failure would (the client then reconnects).
    window.__dropConnection = () => {
      if (state.ws) state.ws.close(4000, "dropped by test hook");
    };

    const { user, token } = credentials();
    if (user) $("login-user").value = user;
    if (user || token) {
      showView(load(STORE.interview) ? "interview" : "plan");
      connect();
    } else {
      showView("login");
      setStatus("offline");
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
