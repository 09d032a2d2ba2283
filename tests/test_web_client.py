"""The web client end to end: the real server (uvicorn subprocess) and real headless Chromium.

Signs in, starts the backend_engineer plan, answers the first coding question in the editor
(Run shows the visible tests passing, then Submit) and in the chat, ends the interview and
checks the candidate's feedback view: exactly the `feedback` frame (levels in words, strengths,
things to work on, hints, next steps), nothing of the hiring team's report, and the same view
after a reconnect and a reload.  Another test starts in assessment mode and checks that the end
shows only the thank-you and what happens next.  Another drops the WebSocket from the page and
checks the client reconnects, resumes and never duplicates a transcript line (also after a
reload).  Another follows the interview from a coding question to the next one and on to a
non-coding question: the editor is shown only for coding questions, starts from the question's
signature, keeps each question's code (and says so), and clears the visible-test results on a
change.

Needs the ``playwright`` Python package and Debian's ``chromium`` (no Playwright browser
download): ``pip install playwright`` and ``apt-get install chromium``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from interview_graph.plans.loader import resolve_plan

from .browser_util import ARTIFACTS, NEEDS_CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
PLAN = yaml.safe_load((ROOT / "rounds" / "backend_engineer.yaml").read_text())
FIRST_TOPIC = PLAN["rounds"][0]["topics"][0]  # top_k_frequent, a coding question
TOPICS = {t["id"]: t for r in PLAN["rounds"] for t in r["topics"]}

pytestmark = NEEDS_CHROMIUM

# Records every frame the page sends and receives, without touching the app's code.
RECORD_FRAMES = """
(() => {
  const Native = window.WebSocket;
  const frames = { received: [], sent: [] };
  window.__frames = frames;
  window.__sockets = [];
  class RecordingWebSocket extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
      this.addEventListener("message", (event) => {
        try { frames.received.push(JSON.parse(event.data)); } catch (e) { /* not JSON */ }
      });
    }
    send(data) {
      try { frames.sent.push(JSON.parse(data)); } catch (e) { /* not JSON */ }
      return super.send(data);
    }
  }
  window.WebSocket = RecordingWebSocket;
})();
"""

LINES_JS = """els => els.map(e => ({
  seq: e.dataset.seq || null,
  mid: e.dataset.messageId || null,
  cls: e.className,
  text: e.textContent,
}))"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("web_client")
    port = _free_port()
    env = {
        **os.environ,
        "INTERVIEW_AUTH": "dev",
        "INTERVIEW_DATA_DIR": str(tmp),
        "INTERVIEW_LOG_DIR": str(tmp / "logs"),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "server:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not healthy within 30 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page(browser: Any, errors: list[str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.add_init_script(RECORD_FRAMES)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())  # "End the interview now?"
    yield page
    context.close()


# --- helpers ---------------------------------------------------------------------------------


def _sign_in_and_start(page: Any, base: str, user: str, mode: str | None = None) -> None:
    page.goto(base + "/")
    page.fill("#login-user", user)
    page.click("#login-button")
    page.wait_for_selector("#plan-select option[value='backend_engineer']", state="attached")
    page.select_option("#plan-select", "backend_engineer")
    if mode is not None:
        page.select_option("#mode-select", mode)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"web_client_plan_{mode}.png"))
    page.click("#start-button")
    page.wait_for_selector("#interview-view", state="visible")
    _wait_connected(page)


def _wait_connected(page: Any, more_than: int = 0) -> None:
    page.wait_for_function(
        """n => {
          const s = document.querySelector('#connection-status');
          return s.dataset.state === 'connected' && Number(s.dataset.connects) > n;
        }""",
        arg=more_than,
    )


def _connects(page: Any) -> int:
    return int(page.get_attribute("#connection-status", "data-connects"))


def _wait_question(page: Any, question_id: str) -> None:
    """A complete (no longer streaming) panel line asking ``question_id``."""
    page.wait_for_selector(
        f"#transcript .msg.panel[data-question-id='{question_id}']:not(.streaming)"
    )


def _final_panel_lines(page: Any) -> int:
    return int(page.locator("#transcript .msg.panel:not(.streaming)").count())


def _send(page: Any, text: str) -> None:
    before = _final_panel_lines(page)
    page.fill("#message-input", text)
    page.click("#send-button")
    # Our line is confirmed by the server's candidate_input echo (it then carries a seq) …
    page.wait_for_function(
        """text => [...document.querySelectorAll('#transcript .msg.candidate[data-seq]')]
                 .some(li => li.dataset.text === text)""",
        arg=text,
    )
    # … and the panel answers.
    page.wait_for_function(
        """n => document.querySelectorAll('#transcript .msg.panel:not(.streaming)').length > n""",
        arg=before,
    )


def _lines(page: Any) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = page.eval_on_selector_all("#transcript .msg", LINES_JS)
    return lines


def _assert_no_duplicates(lines: list[dict[str, Any]]) -> None:
    seqs = [line["seq"] for line in lines if line["seq"]]
    assert len(seqs) == len(set(seqs)), f"a transcript seq is shown twice: {seqs}"
    mids = [line["mid"] for line in lines if line["mid"]]
    assert len(mids) == len(set(mids)), f"a panel message is shown twice: {mids}"


def _quiet(page: Any) -> None:
    """Nothing streaming and no input waiting for the server."""
    page.wait_for_function(
        """() => !document.querySelector('#transcript .msg.streaming, #transcript .msg.pending')"""
    )


# --- tests -----------------------------------------------------------------------------------


# Strings only the hiring team's report has: none may reach the candidate's page.
REPORT_ONLY = ["recommendation", "strong_hire", "lean_no_hire", "/ 5"]
LEVEL_WORDS = ["strong", "solid", "developing", "not there yet", "not assessed"]

# Every element's text and attributes (hidden ones too: the transcript, other views).
PAGE_TEXT_JS = """() => [...document.querySelectorAll('*')].map(e => [
  e.textContent, ...[...e.attributes].map(a => a.value)].join(' ')).join('\\n')"""


def _end_and_wait_feedback(page: Any) -> dict[str, Any]:
    """End the interview; wait for the feedback view; return the `feedback` frame's payload."""
    _quiet(page)
    page.click("#end-button")
    page.wait_for_selector("#feedback-view", state="visible", timeout=90_000)
    page.wait_for_function("() => window.__frames.received.some(f => f.type === 'interview_ended')")
    received = page.evaluate("window.__frames.received")
    assert not [f for f in received if f["type"] == "report"], "no report frame is sent"
    frames = [f for f in received if f["type"] == "feedback"]
    assert len(frames) == 1
    feedback: dict[str, Any] = frames[0]["feedback"]
    return feedback


def _assert_no_report_strings(page: Any) -> None:
    text = page.evaluate(PAGE_TEXT_JS).lower()
    for needle in REPORT_ONLY:
        assert needle not in text, f"{needle!r} is on the candidate's page"
    script = page.evaluate("fetch('static/app.js').then(r => r.text())").lower()
    for needle in ["recommendation", "strong_hire", "lean_no_hire", "integrity_flags"]:
        assert needle not in script, f"the client still knows about {needle!r}"


def _feedback_view(page: Any) -> dict[str, Any]:
    """What the feedback view shows, element by element."""
    view: dict[str, Any] = page.evaluate(
        """() => {
          const q = (root, sel) => root.querySelector(sel);
          const texts = (root, sel) => [...root.querySelectorAll(sel)].map(e => e.textContent);
          const article = document.querySelector('#feedback');
          return {
            mode: article.dataset.mode,
            title: q(article, '#feedback-title').textContent,
            message: q(article, '[data-testid=feedback-message]').textContent,
            next_steps: q(article, '[data-testid=feedback-next-steps]').textContent,
            hints: q(article, '[data-testid=feedback-hints]')?.textContent ?? null,
            scores: article.querySelectorAll('[data-testid=feedback-score]').length,
            levels: article.querySelectorAll('.level').length,
            text: article.innerText,
            rounds: [...article.querySelectorAll('[data-testid=feedback-round]')].map(r => ({
              title: q(r, 'h3').textContent,
              level: q(r, '[data-testid=round-level]').dataset.level,
              level_text: q(r, '[data-testid=round-level]').textContent,
              competencies: [...r.querySelectorAll('[data-testid=feedback-competency]')].map(c => ({
                name: q(c, '.competency-name').textContent,
                level: q(c, '.level').dataset.level,
                level_text: q(c, '.level').textContent,
              })),
              strengths: texts(r, 'ul.strengths li'),
              to_work_on: texts(r, 'ul.to-work-on li'),
            })),
          };
        }"""
    )
    return view


def test_interview_from_sign_in_to_feedback(server: str, page: Any, errors: list[str]) -> None:
    _sign_in_and_start(page, server, "alice")
    _wait_question(page, FIRST_TOPIC["id"])
    assert page.locator("#panel .panelist").count() >= 2, "the round's panel is shown"

    # The mode was left as the plan sets it: the start frame carries none.
    start = next(f for f in page.evaluate("window.__frames.sent") if f["type"] == "start")
    assert start == {"type": "start", "plan": "backend_engineer"}

    # Streamed: token deltas arrived and the panel's lines are on screen with their text.
    received = page.evaluate("window.__frames.received")
    tokens = [f for f in received if f["type"] == "token"]
    messages = [f for f in received if f["type"] == "message"]
    assert tokens and len(tokens) > len(messages), "panel lines are streamed token by token"
    first = page.locator(f"#transcript .msg.panel[data-message-id='{messages[0]['message_id']}']")
    assert first.locator(".msg-body").text_content() == messages[0]["text"]
    assert page.locator("#panel .panelist.current").count() == 1, "the speaker is highlighted"
    assert FIRST_TOPIC["id"] in page.text_content("#question-id")

    # Code: Run shows every visible test passing, then Submit.
    page.fill("#code-editor", FIRST_TOPIC["coding"]["solutions"]["strong"])
    page.click("#run-button")
    visible = len(FIRST_TOPIC["coding"]["visible_tests"])
    page.wait_for_selector("#code-results[data-count='1']")
    page.wait_for_function(
        """n => document.querySelectorAll('#test-results tbody tr.test-row.passed').length === n""",
        arg=visible,
    )
    assert page.locator("#test-results tbody tr.failed").count() == 0
    assert page.is_visible("#test-results")
    page.click("#submit-button")
    page.wait_for_selector("#code-results[data-count='2']")
    assert page.locator("#test-results tbody tr.test-row.passed").count() == visible
    sent = page.evaluate("window.__frames.sent")
    code = [f for f in sent if f["type"] == "code"]
    assert [f["action"] for f in code][-2:] == ["run", "submit"]
    assert all(f["question_id"] == FIRST_TOPIC["id"] for f in code)

    # Chat: answer the question; the panel replies.
    _send(page, FIRST_TOPIC["sample_answers"]["strong"].strip())

    # End the interview: the server closes it and sends the candidate's feedback (practice).
    feedback = _end_and_wait_feedback(page)
    assert feedback["mode"] == "practice"
    assert feedback["rounds"], "practice feedback has rounds"
    view = _feedback_view(page)
    assert view["mode"] == "practice"
    assert view["title"] == "Your feedback"
    assert view["message"] == feedback["message"]
    assert view["next_steps"] == feedback["next_steps"]
    hints = feedback["hints_used"]
    assert view["hints"] == (
        "You used no hints." if hints == 0 else f"You used {hints} hint{'s' if hints > 1 else ''}."
    )
    # Exactly the frame's rounds, in words; no score where the frame has none.
    assert [
        {k: r[k] for k in ("title", "level", "competencies", "strengths", "to_work_on")}
        for r in view["rounds"]
    ] == [
        {
            "title": r["title"],
            "level": r["level"],
            "competencies": [
                {"name": c["name"], "level": c["level"], "level_text": c["level"].capitalize()}
                for c in r["competencies"]
            ],
            "strengths": r["strengths"],
            "to_work_on": r["to_work_on"],
        }
        for r in feedback["rounds"]
    ]
    for shown, sent_round in zip(view["rounds"], feedback["rounds"], strict=True):
        assert shown["level_text"] == sent_round["level"].capitalize()
    assert any(c["level"] != "not assessed" for r in feedback["rounds"] for c in r["competencies"])
    has_scores = any(
        r.get("score") is not None or any(c.get("score") is not None for c in r["competencies"])
        for r in feedback["rounds"]
    )
    assert not has_scores, "the shipped plans do not show scores"
    assert view["scores"] == 0
    assert page.locator("#feedback h2, #feedback h3").count() == 2 + len(feedback["rounds"])
    assert not page.is_visible("#interview-view") and not page.is_visible("#end-button")
    _assert_no_report_strings(page)
    _assert_no_duplicates(_lines(page))

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_client_feedback_practice.png"), full_page=True)

    # A reconnect and a reload (a full replay) show the same view.
    connects = _connects(page)
    page.evaluate("window.__dropConnection()")
    _wait_connected(page, more_than=connects)
    page.wait_for_timeout(300)
    assert page.is_visible("#feedback-view")
    assert _feedback_view(page) == view
    page.reload()
    _wait_connected(page)
    page.wait_for_selector("#feedback-view", state="visible")
    assert _feedback_view(page) == view
    _assert_no_report_strings(page)

    # From the feedback, a new interview starts from the plan picker.
    page.click("#new-interview-button")
    page.wait_for_selector("#plan-view", state="visible")
    _wait_connected(page)
    assert page.evaluate("sessionStorage.getItem('interview.current')") is None
    assert not errors, errors


def test_assessment_mode_ends_with_a_thank_you_only(
    server: str, page: Any, errors: list[str]
) -> None:
    _sign_in_and_start(page, server, "erin", mode="assessment")
    start = next(f for f in page.evaluate("window.__frames.sent") if f["type"] == "start")
    assert start == {"type": "start", "plan": "backend_engineer", "mode": "assessment"}
    _wait_question(page, FIRST_TOPIC["id"])
    _send(page, FIRST_TOPIC["sample_answers"]["strong"].strip())

    feedback = _end_and_wait_feedback(page)
    assert feedback["mode"] == "assessment" and feedback["rounds"] == []
    view = _feedback_view(page)
    assert view["mode"] == "assessment"
    assert view["title"] == "Thank you"
    assert view["message"] == feedback["message"] and view["message"]
    assert view["next_steps"] == feedback["next_steps"] and view["next_steps"]
    # Nothing else: no rounds, levels, scores or hints.
    assert view["rounds"] == [] and view["levels"] == 0 and view["scores"] == 0
    assert view["hints"] is None
    text = view["text"].lower()
    for word in [*LEVEL_WORDS, "strengths", "to work on", "hint", "score"]:
        assert word not in text, f"{word!r} is shown in assessment mode"
    assert page.locator("#feedback h2, #feedback h3").all_text_contents() == [
        "Thank you",
        "What happens next",
    ]
    _assert_no_report_strings(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_client_feedback_assessment.png"), full_page=True)

    # Replayed after a reload: the same thank-you, still nothing else.
    page.reload()
    _wait_connected(page)
    page.wait_for_selector("#feedback-view", state="visible")
    assert _feedback_view(page) == view
    _assert_no_report_strings(page)
    assert not errors, errors


def test_reconnect_resumes_without_duplicate_lines(
    server: str, page: Any, errors: list[str]
) -> None:
    _sign_in_and_start(page, server, "bob")
    _wait_question(page, FIRST_TOPIC["id"])
    _quiet(page)
    before = _lines(page)
    assert before, "the transcript has lines"
    _assert_no_duplicates(before)
    highest = max(int(line["seq"]) for line in before if line["seq"])
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('interview.current'))")
    assert stored["last_seq"] == highest and stored["interview_id"]

    # Drop the socket as a network failure would: the page reconnects and resumes.
    connects = _connects(page)
    page.evaluate("window.__dropConnection()")
    page.wait_for_function(
        "() => document.querySelector('#connection-status').dataset.state !== 'connected'"
    )
    _wait_connected(page, more_than=connects)
    page.wait_for_function(
        """() => window.__frames.sent.filter(f => f.type === 'resume').length === 1"""
    )
    resume = next(f for f in page.evaluate("window.__frames.sent") if f["type"] == "resume")
    assert resume == {
        "type": "resume",
        "interview_id": stored["interview_id"],
        "last_seq": highest,
    }
    page.wait_for_timeout(500)  # let any replay land
    after = _lines(page)
    _assert_no_duplicates(after)
    assert after == before, "the reconnect replays nothing twice"

    # The resumed connection works: an answer gets a reply, still without duplicates.
    _send(page, "I'd count occurrences with a Counter, then use a heap of size k.")
    _quiet(page)
    resumed = _lines(page)
    _assert_no_duplicates(resumed)
    assert resumed[: len(before)] == before

    # Dropped right after an answer was acknowledged, before the panel's reply: the resume
    # replays the reply, and the streamed part of it (if any) is completed, not duplicated.
    text = "Ties go to the smaller value because the heap key is the negative count then value."
    page.fill("#message-input", text)
    page.click("#send-button")
    page.wait_for_function(
        """text => {
          const sent = window.__frames.sent.find(f => f.type === 'message' && f.text === text);
          return sent && window.__frames.received.some(
            f => f.type === 'ack' && f.client_id === sent.client_id);
        }""",
        arg=text,
    )
    connects = _connects(page)
    page.evaluate("window.__dropConnection()")
    _wait_connected(page, more_than=connects)
    page.wait_for_function(
        """n => document.querySelectorAll('#transcript .msg.panel:not(.streaming)').length > n""",
        arg=len([x for x in resumed if "panel" in x["cls"].split()]),
    )
    _quiet(page)
    resumed = _lines(page)
    _assert_no_duplicates(resumed)
    assert [x["text"] for x in resumed].count("You" + text) == 1

    # A reload rebuilds the same transcript from a full replay.
    page.reload()
    _wait_connected(page)
    page.wait_for_function(
        "n => document.querySelectorAll('#transcript .msg').length >= n", arg=len(resumed)
    )
    _quiet(page)
    page.wait_for_timeout(500)
    reloaded = _lines(page)
    _assert_no_duplicates(reloaded)
    assert [(x["seq"], x["mid"], x["text"]) for x in reloaded] == [
        (x["seq"], x["mid"], x["text"]) for x in resumed
    ]
    assert not errors, errors


def test_editor_integrity_signals_and_escaping(server: str, page: Any, errors: list[str]) -> None:
    _sign_in_and_start(page, server, "carol")
    _wait_question(page, FIRST_TOPIC["id"])

    # Tab in the editor indents with spaces instead of leaving the field.
    page.fill("#code-editor", "")  # it starts from the question's signature
    page.click("#code-editor")
    page.keyboard.type("def f():")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("return 1")
    assert page.input_value("#code-editor") == "def f():\n    return 1"
    assert page.evaluate("document.activeElement.id") == "code-editor"

    # A paste into the editor and the tab being hidden are reported as integrity signals.
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          data.setData('text/plain', 'x = 1  # hi');
          document.querySelector('#code-editor').dispatchEvent(
            new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
          let visibility = 'hidden';
          Object.defineProperty(
            document, 'visibilityState', { configurable: true, get: () => visibility });
          document.dispatchEvent(new Event('visibilitychange'));
          visibility = 'visible';
          document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    page.wait_for_function(
        """() => window.__frames.sent.filter(f => f.type === 'integrity').length === 3"""
    )
    signals = [f for f in page.evaluate("window.__frames.sent") if f["type"] == "integrity"]
    assert [(f["signal"], f.get("size")) for f in signals] == [
        ("paste", len("x = 1  # hi")),
        ("tab_hidden", None),
        ("tab_visible", None),
    ]
    assert signals[2]["duration_ms"] >= 0
    ids = [f["client_id"] for f in signals]
    page.wait_for_function(
        """ids => ids.every(id => window.__frames.received.some(
                 f => f.type === 'ack' && f.client_id === id))""",
        arg=ids,
    )

    # Server strings are shown as text, never parsed as HTML.
    hostile = '<img src=x onerror="window.__xss = 1"> <b>bold</b>'
    page.fill("#message-input", hostile)
    page.click("#send-button")
    page.wait_for_function(
        """text => [...document.querySelectorAll('#transcript .msg.candidate[data-seq]')]
                 .some(li => li.dataset.text === text)""",
        arg=hostile,
    )
    _quiet(page)
    assert page.locator("#transcript img, #transcript b").count() == 0
    assert page.evaluate("window.__xss") is None
    assert hostile in page.text_content("#transcript")
    assert not errors, errors


JD_DIR = Path(__file__).parent / "fixtures" / "jd"
NEEDS_DESIGN = pytest.mark.skipif(
    not (ROOT / "rounds" / "catalogue" / "product_design.yaml").exists(),
    reason="rounds/catalogue/product_design.yaml is not written yet",
)


def _sent_starts(page: Any) -> list[dict[str, Any]]:
    starts: list[dict[str, Any]] = page.evaluate(
        "window.__frames.sent.filter(f => f.type === 'start')"
    )
    return starts


@NEEDS_DESIGN
def test_start_from_a_job_description(server: str, page: Any, errors: list[str]) -> None:
    page.goto(server + "/")
    page.fill("#login-user", "jd-user")
    page.click("#login-button")
    page.wait_for_selector("#plan-select option[value='backend_engineer']", state="attached")
    page.fill("#jd-input", (JD_DIR / "product_design.md").read_text())
    assert page.get_attribute("#start-source", "data-source") == "jd"
    page.click("#start-button")
    page.wait_for_selector("#interview-view", state="visible")
    # What was recognised and covered is on the page before the first question.
    page.wait_for_selector("#drafting-notes", state="visible")
    notes = page.text_content("#drafting-notes")
    assert "Product Design" in notes and "User research" in notes and "usability testing" in notes
    assert page.locator("[data-testid=drafting-covered] li").count() >= 5
    session = page.evaluate(
        "window.__frames.received.filter(f => f.type === 'session' && f.status === 'started')[0]"
    )
    topics = {c["topic"] for c in session["drafting"]["sources"]}
    page.wait_for_selector("#transcript .msg.panel[data-question-id]:not(.streaming)")
    asked = page.get_attribute("#transcript .msg.panel[data-question-id]", "data-question-id")
    assert asked in topics, asked
    # A reload resumes the interview and still shows what the plan was drafted from.
    page.reload()
    page.wait_for_selector("#transcript .msg.panel[data-question-id]:not(.streaming)")
    page.wait_for_selector("#drafting-notes", state="visible")
    assert "User research" in page.text_content("#drafting-notes")
    assert not errors


def _end_nth(page: Any, n: int) -> None:
    """End the page's ``n``-th interview and wait for its feedback view."""
    _quiet(page)
    page.click("#end-button")
    page.wait_for_function(
        "n => window.__frames.received.filter(f => f.type === 'interview_ended').length >= n",
        arg=n,
        timeout=90_000,
    )
    page.wait_for_selector("#feedback-view", state="visible")


@NEEDS_DESIGN
def test_a_stale_description_never_overrides_a_chosen_plan(
    server: str, page: Any, errors: list[str]
) -> None:
    page.goto(server + "/")
    page.fill("#login-user", "stale-user")
    page.click("#login-button")
    page.wait_for_selector("#plan-select option[value='data_scientist']", state="attached")
    # A description typed, then a plan picked: the plan is the explicit, later choice.
    page.fill("#jd-input", (JD_DIR / "product_design.md").read_text())
    page.select_option("#plan-select", "data_scientist")
    assert page.get_attribute("#start-source", "data-source") == "plan"
    page.click("#start-button")
    page.wait_for_selector("#transcript .msg.panel[data-question-id]:not(.streaming)")
    assert _sent_starts(page)[-1] == {"type": "start", "plan": "data_scientist"}
    assert not page.is_visible("#drafting-notes")
    _end_nth(page, 1)
    # A new interview starts from a clean form; the description is not silently reused.
    page.click("#new-interview-button")
    page.wait_for_selector("#plan-view", state="visible")
    assert page.input_value("#jd-input") == ""
    page.fill("#jd-input", (JD_DIR / "product_design.md").read_text())
    page.click("#start-button")
    page.wait_for_selector("#drafting-notes", state="visible")
    assert "job_description" in _sent_starts(page)[-1]
    _end_nth(page, 2)
    page.click("#new-interview-button")
    page.wait_for_selector("#plan-view", state="visible")
    assert page.input_value("#jd-input") == ""
    page.select_option("#plan-select", "data_scientist")
    page.click("#start-button")
    page.wait_for_selector("#transcript .msg.panel[data-question-id]:not(.streaming)")
    assert _sent_starts(page)[-1] == {"type": "start", "plan": "data_scientist"}
    panel = page.text_content("#panel")
    scientist = resolve_plan("data_scientist").rounds[0].panel
    assert any(p.name in panel for p in scientist), panel
    assert not errors


# --- the editor follows the question ---------------------------------------------------------

SHORT_ANSWERS = ["I don't know.", "Not sure, sorry.", "No idea.", "I'd have to look that up."]

# The question the panel is on, from the `message` frames the page received (introductions and
# closings carry no question_id and leave it unchanged).
CURRENT_QUESTION_JS = """() => {
  const asked = window.__frames.received.filter(f => f.type === 'message' && f.question_id);
  const last = asked[asked.length - 1];
  if (!last) return null;
  return { id: last.question_id, kind: last.question_kind, signature: last.signature };
}"""


def _current_question(page: Any) -> dict[str, Any] | None:
    question: dict[str, Any] | None = page.evaluate(CURRENT_QUESTION_JS)
    return question


def _answer_until(page: Any, done: str, arg: Any, what: str, max_answers: int = 15) -> None:
    """Give short answers until ``done`` (a JS predicate on the current question) holds.

    The panel's flow decides when it moves on, so this only bounds the number of answers.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    predicate = f"""arg => {{ const q = ({CURRENT_QUESTION_JS})(); return ({done})(q, arg); }}"""
    for i in range(max_answers):
        try:
            page.wait_for_function(predicate, arg=arg, timeout=4_000)
            _quiet(page)
            return
        except PlaywrightTimeout:
            pass  # the panel is still on it: answer once more
        _send(page, SHORT_ANSWERS[i % len(SHORT_ANSWERS)])
    pytest.fail(f"{what} not reached after {max_answers} answers: {_current_question(page)}")


def _results_cleared(page: Any) -> None:
    assert page.get_attribute("#code-results", "data-count") == "0"
    assert page.locator("#test-results tbody tr").count() == 0
    assert not page.is_visible("#test-results")
    assert not page.is_visible("#code-output")
    assert "Run your code" in page.text_content("#code-status")


def _starter(signature: str) -> str:
    return f"{signature}\n    pass\n"


def test_editor_only_for_coding_questions(server: str, page: Any, errors: list[str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _sign_in_and_start(page, server, "dave")
    _wait_question(page, FIRST_TOPIC["id"])
    _quiet(page)

    # A coding question: its frame says so, the editor is shown and starts from the signature.
    first = _current_question(page)
    assert first == {
        "id": FIRST_TOPIC["id"],
        "kind": "coding",
        "signature": FIRST_TOPIC["coding"]["signature"],
    }
    assert page.is_visible("#workbench") and page.is_visible("#code-editor")
    assert page.is_visible("#run-button") and page.is_visible("#submit-button")
    assert page.input_value("#code-editor") == _starter(first["signature"])

    # Run real code: the visible-test table fills for this question.
    code = FIRST_TOPIC["coding"]["solutions"]["strong"]
    page.fill("#code-editor", code)
    page.click("#run-button")
    page.wait_for_selector("#code-results[data-count='1']")
    visible = len(FIRST_TOPIC["coding"]["visible_tests"])
    assert page.locator("#test-results tbody tr.test-row").count() == visible
    assert page.is_visible("#test-results")
    page.screenshot(path=str(ARTIFACTS / "web_client_coding.png"))

    # Short answers until the panel moves to another question: the results are cleared at once,
    # the code is kept in its draft and the candidate is told so (once).
    _answer_until(page, "(q, id) => q && q.id !== id", FIRST_TOPIC["id"], "a second question")
    second = _current_question(page)
    assert second is not None and second["id"] != FIRST_TOPIC["id"]
    _results_cleared(page)
    saved = page.locator("#transcript .draft-saved")
    assert saved.count() == 1
    assert f"Your code for {FIRST_TOPIC['id']} is saved." in saved.text_content()
    saved.locator("summary").click()
    saved.locator("pre").wait_for(state="visible")
    assert saved.locator("pre").text_content() == code, "the saved code can be seen again"
    drafts = page.evaluate("JSON.parse(sessionStorage.getItem('interview.drafts'))")
    assert drafts["drafts"][FIRST_TOPIC["id"]] == code

    if second["kind"] == "coding":
        # The next coding question gets its own editor content: its signature, not the old code.
        assert page.is_visible("#workbench")
        assert page.input_value("#code-editor") == _starter(second["signature"])
        assert second["id"] in page.text_content("#question-id")

        # A late result for the question the panel left (a Run sent just before it moved on)
        # must not overwrite the current question's table.
        page.evaluate(
            """([question, code]) => {
              const ws = window.__sockets[window.__sockets.length - 1];
              ws.send(JSON.stringify({
                type: 'code', action: 'run', code, language: 'python', question_id: question,
              }));
            }""",
            [FIRST_TOPIC["id"], code],
        )
        page.wait_for_function(
            """id => window.__frames.received.filter(
                   f => f.type === 'code_result' && f.question_id === id).length === 2""",
            arg=FIRST_TOPIC["id"],
        )
        _quiet(page)
        _results_cleared(page)
        assert page.input_value("#code-editor") == _starter(second["signature"])
        page.screenshot(path=str(ARTIFACTS / "web_client_question_change.png"))

        # A reload replays the transcript into a fresh page: the same state results.
        page.reload()
        _wait_connected(page)
        page.wait_for_function(
            """id => document.querySelector('#question-id').dataset.questionId === id""",
            arg=second["id"],
        )
        _quiet(page)
        page.wait_for_timeout(300)
        assert page.is_visible("#workbench")
        assert page.input_value("#code-editor") == _starter(second["signature"])
        _results_cleared(page)
        assert page.locator("#transcript .draft-saved").count() == 1
    else:
        page.screenshot(path=str(ARTIFACTS / "web_client_question_change.png"))

    # On to a question that is not a coding one (a conceptual question, or the next round):
    # the editor and its test table are gone and the conversation takes the whole width.
    _answer_until(
        page, "q => q && q.kind !== 'coding' && !q.signature", None, "a non-coding question"
    )
    other = _current_question(page)
    assert other is not None and other["kind"] in {"conceptual", "system_design", "behavioural"}
    assert other["signature"] is None
    assert not page.is_visible("#workbench")
    assert not page.is_visible("#code-editor") and not page.is_visible("#test-results")
    assert not page.is_visible("#run-button")
    conversation = page.locator(".conversation").bounding_box()
    view = page.locator("#interview-view").bounding_box()
    assert conversation["width"] > 0.95 * view["width"], "the chat takes the editor's space"
    page.screenshot(path=str(ARTIFACTS / "web_client_no_code.png"))

    # Replayed after a reload, the interview shows the same: no editor.
    lines = len(_lines(page))
    page.reload()
    _wait_connected(page)
    page.wait_for_function(
        "n => document.querySelectorAll('#transcript .msg').length >= n", arg=lines
    )
    _quiet(page)
    page.wait_for_timeout(300)
    assert _current_question(page) == other
    assert not page.is_visible("#workbench")
    assert page.evaluate("document.querySelector('#interview-view').classList.contains('no-code')")
    _assert_no_duplicates(_lines(page))
    assert page.locator("#transcript .draft-saved").count() >= 1

    # The next round (system design: no code is run): still no editor.
    _answer_until(page, "q => q && q.kind === 'system_design'", None, "the system-design round", 25)
    design = _current_question(page)
    assert design is not None and design["signature"] is None
    rounds = [f for f in page.evaluate("window.__frames.received") if f["type"] == "round_started"]
    assert rounds and rounds[-1]["round_id"] != PLAN["rounds"][0]["id"]
    assert not page.is_visible("#workbench")
    assert page.get_attribute("#interview-view", "data-question-kind") == "system_design"
    page.screenshot(path=str(ARTIFACTS / "web_client_system_design.png"))
    assert not errors, errors
