"""The reviewer page end to end: the real server (uvicorn, dev mode) and real headless Chromium.

Candidates take interviews over the WebSocket first; then a reviewer signs in on ``/review``,
filters the list, opens an interview (transcript and report side by side), clicks an evidence
quote in the report and lands on the transcript line it came from, records a score override
and a final recommendation and sees both appear in the audit trail and in the report beside
the engine's values.  The printable report is rendered with print media and to a PDF.
Screenshots go to ``tests/artifacts/review_*.png``.

Needs the ``playwright`` Python package and Debian's ``chromium`` (as tests/test_web_client.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .browser_util import ARTIFACTS, NEEDS_CHROMIUM
from .review_util import ANSWER, take_interview
from .server_util import Server, running

DEV_REVIEWER = {"X-Interview-User": "rita", "X-Interview-Role": "reviewer"}

pytestmark = NEEDS_CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    with running(tmp_path_factory.mktemp("review_page")) as server:
        ids: dict[str, str] = {}

        async def seed() -> None:
            for user, plan, rich, end in (
                ("alice", "backend_engineer", True, True),
                ("bob", "data_scientist", False, True),
                ("carol", "frontend_engineer", False, False),
            ):
                login = {"type": "login", "user": user}
                client = await take_interview(server, login, plan, answer=rich, code=rich, end=end)
                ids[user] = next(e for e in client.events if e.get("interview_id"))["interview_id"]

        asyncio.run(seed())
        yield server, ids


@pytest.fixture
def page(browser: Any, errors: list[str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()


def _base(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


def _sign_in(page: Any, base: str, user: str = "rita", role: str = "reviewer") -> None:
    page.goto(base + "/review")
    page.fill("#login-user", user)
    page.select_option("#login-role", role)
    page.click("#login-button")


def _rows(page: Any) -> list[str]:
    rows: list[str] = page.eval_on_selector_all(
        "#interviews tbody tr", "rows => rows.map(r => r.querySelector('.candidate').textContent)"
    )
    return rows


def test_review_an_interview(
    server: tuple[Server, dict[str, str]], page: Any, errors: list[str]
) -> None:
    srv, ids = server
    base = _base(srv)
    ARTIFACTS.mkdir(exist_ok=True)
    _sign_in(page, base)
    page.wait_for_selector("#list-view", state="visible")
    page.wait_for_selector("#interviews tbody tr")
    assert _rows(page) == ["carol", "bob", "alice"]
    assert "rita · reviewer · dev mode" in page.text_content("#who")
    assert page.text_content("#page-info") == "1–3 of 3"
    page.screenshot(path=str(ARTIFACTS / "review_list.png"))

    # Filters: status, then candidate.
    page.select_option("#f-status", "finished")
    page.click("#filter-button")
    page.wait_for_function("() => document.querySelectorAll('#interviews tbody tr').length === 2")
    assert _rows(page) == ["bob", "alice"]
    page.fill("#f-user", "alice")
    page.click("#filter-button")
    page.wait_for_function("() => document.querySelectorAll('#interviews tbody tr').length === 1")
    assert _rows(page) == ["alice"]

    # Open it: transcript and report side by side.
    page.click("#interviews tbody tr")
    page.wait_for_selector(f"#detail-view[data-ready='{ids['alice']}']")
    assert page.url.endswith(f"#interview={ids['alice']}")
    assert "alice · backend_engineer" in page.text_content("#detail-title")
    transcript = page.locator("#review-transcript .line")
    assert transcript.count() > 15
    assert page.locator("#review-transcript .line.private").count() > 3  # advice, evaluations…
    answer = page.locator("#review-transcript .line.candidate", has_text=ANSWER[:40])
    assert answer.count() == 1
    answer_seq = answer.get_attribute("data-seq")
    report = page.frame_locator("#report-frame")
    report.locator("#recommendation").wait_for()
    assert report.locator("section.round").count() >= 1
    assert report.locator("text=Integrity and rules flags").count() == 1
    assert report.locator("pre.code").count() == 1  # the submission's code
    page.screenshot(path=str(ARTIFACTS / "review_detail.png"))

    # Scroll the transcript away, then follow an evidence quote back to its line.
    page.eval_on_selector("#review-transcript", "el => { el.scrollTop = el.scrollHeight; }")
    quote = report.locator(f"a.ev[data-seq='{answer_seq}']").first
    quote.scroll_into_view_if_needed()
    quote.click()
    line = page.locator(f"#line-{answer_seq}")
    page.wait_for_function(
        "seq => document.getElementById('line-' + seq).classList.contains('jump')", arg=answer_seq
    )
    assert line.get_attribute("data-jumped") == "1"
    box = line.bounding_box()
    pane = page.locator("#review-transcript").bounding_box()
    assert box and pane and pane["y"] <= box["y"] <= pane["y"] + pane["height"], "line in view"
    page.screenshot(path=str(ARTIFACTS / "review_jump.png"))

    # Record an override and a recommendation; the audit lines appear, the report shows both.
    page.select_option("#ov-competency", "coding/problem_solving")
    page.fill("#ov-score", "2.5")
    page.fill("#ov-reason", "Pasted the solution; the reasoning was thin in the debrief.")
    loaded = int(page.get_attribute("#report-frame", "data-loaded"))
    page.click("#ov-submit")
    page.wait_for_selector("#audit li[data-testid='audit-line']")
    page.wait_for_function(
        "n => Number(document.querySelector('#report-frame').dataset.loaded) > n", arg=loaded
    )
    audit = page.locator("#audit li[data-testid='audit-line']")
    assert audit.count() == 1
    text = audit.first.text_content()
    assert "rita set Problem solving (coding)" in text and "→ 2.5/5" in text
    assert "Pasted the solution" in text
    row = report.locator("tr[data-competency='coding/problem_solving']")
    assert "override" in (row.get_attribute("class") or "")
    assert "2.5/5" in row.text_content() and "rita" in row.text_content()
    assert report.locator("#audit tr").count() == 2  # header + one entry
    # The review is a private event in the transcript too.
    page.wait_for_selector("#review-transcript .line.review")
    assert "Pasted the solution" in page.text_content("#review-transcript .line.review")

    page.select_option("#rec-decision", "no_hire")
    page.fill("#rec-reason", "Integrity flags confirmed with the panel.")
    page.click("#rec-submit")
    page.wait_for_function(
        "() => document.querySelectorAll(\"#audit li[data-testid='audit-line']\").length === 2"
    )
    assert "No hire" in audit.nth(1).text_content()
    report.locator("[data-testid='reviewed-decision']").wait_for()
    assert report.locator("[data-testid='reviewed-decision']").text_content() == "No hire"
    row.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "review_recorded.png"))
    report.locator("#recommendation").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "review_audit.png"))

    # Back to the list: the reviews are counted there.
    page.click("#back-button")
    page.wait_for_selector("#list-view", state="visible")
    page.wait_for_selector("#interviews tbody tr")
    alice = page.locator(f"#interviews tbody tr[data-interview='{ids['alice']}'] td").nth(6)
    assert alice.text_content() == "2"
    assert errors == []


def test_printable_report(server: tuple[Server, dict[str, str]], browser: Any) -> None:
    srv, ids = server
    context = browser.new_context(extra_http_headers=DEV_REVIEWER)
    page = context.new_page()
    try:
        url = f"{_base(srv)}/api/interviews/{ids['alice']}/report.html"
        page.goto(url)
        # An evidence link jumps to its anchored transcript row inside the printable page.
        link = page.locator("a.ev").first
        seq = link.get_attribute("data-seq")
        link.click()
        assert page.url.endswith(f"#seq-{seq}")
        assert page.locator(f"#seq-{seq}").is_visible()
        page.emulate_media(media="print")
        page.goto(url)
        assert page.locator(".no-print").first.is_hidden()
        page.screenshot(path=str(ARTIFACTS / "review_print.png"), full_page=False)
        pdf = page.pdf(path=str(ARTIFACTS / "review_report.pdf"), format="A4")
        assert pdf[:5] == b"%PDF-" and len(pdf) > 20_000
    finally:
        context.close()


def test_candidates_and_running_interviews(
    server: tuple[Server, dict[str, str]], page: Any, errors: list[str]
) -> None:
    srv, ids = server
    base = _base(srv)
    _sign_in(page, base, "alice", "candidate")
    page.wait_for_selector("#login-error", state="visible")
    assert "this page is for reviewers" in page.text_content("#login-error")
    assert page.locator("#list-view").is_hidden()
    # A running interview opens with its transcript and no report yet.
    _sign_in(page, base)
    page.wait_for_selector("#interviews tbody tr")
    page.click(f"#interviews tbody tr[data-interview='{ids['carol']}']")
    page.wait_for_selector(f"#detail-view[data-ready='{ids['carol']}']")
    assert page.locator("#no-report").is_visible()
    assert page.locator("#review-box").is_hidden()
    assert page.locator("#review-transcript .line").count() > 3
    # A reload keeps the reviewer signed in and on the same interview.
    page.reload()
    page.wait_for_selector(f"#detail-view[data-ready='{ids['carol']}']")
    r = httpx.get(f"{base}/api/interviews", headers=DEV_REVIEWER)
    assert r.json()["total"] == 3
    assert errors == []
