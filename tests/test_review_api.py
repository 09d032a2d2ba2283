"""The reviewers' REST API over real uvicorn on loopback, on SQLite and on PostgreSQL.

Interviews are taken over the WebSocket by candidates first (one with an answer, a paste and a
code submission; others short; one left running), then the API is exercised: authorisation on
every route (none → 401, a candidate → 403 on reviewer routes and on another candidate's
interview, a reviewer → OK), listing filters and pagination, reviewers' transcripts holding
private events with seq, and overrides audited as events and shown beside the engine's values
in the report JSON and HTML.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from interview_graph.api import protocol
from interview_graph.api.auth import Role, issue_token
from interview_graph.engine.decisions import Recommendation
from interview_graph.review import Decision

from .pg_util import pg_schema
from .review_util import CODE, take_interview
from .server_util import Client, Server, connect, running

pytestmark = pytest.mark.slow
SECRET = "review-test-secret-" + "x" * 20


@dataclass
class Seeded:
    server: Server
    ids: dict[str, str] = field(default_factory=dict)  # name -> interview id
    created: dict[str, float] = field(default_factory=dict)
    wire: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # what the WS sent

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


def token(user: str, role: Role = "candidate") -> str:
    return issue_token(SECRET, user, role=role)


def auth(user: str, role: Role = "candidate") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user, role)}"}


REVIEWER = auth("rita", "reviewer")


async def _seed(seeded: Seeded) -> None:
    # Oldest first; a short pause keeps the created times apart for the date-range filter.
    for name, plan, answer, code, end in (
        ("alice", "backend_engineer", True, True, True),
        ("bob", "data_scientist", False, False, True),
        ("dave", "backend_engineer", True, False, True),
        ("carol", "backend_engineer", False, False, False),
    ):
        login = {"type": "login", "token": token(name)}
        client = await take_interview(seeded.server, login, plan, answer=answer, code=code, end=end)
        session = next(e for e in client.events if e.get("interview_id"))
        seeded.ids[name] = session["interview_id"]
        seeded.wire[name] = [e for e in client.events if e["type"] in protocol.PERSISTED]
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    env = {"INTERVIEW_AUTH": "jwt", "INTERVIEW_JWT_SECRET": SECRET}
    with ExitStack() as stack:
        if request.param == "postgres":
            env["INTERVIEW_DATABASE_URL"] = stack.enter_context(pg_schema())
        server = stack.enter_context(running(tmp_path_factory.mktemp(request.param), env))
        seeded = Seeded(server)
        asyncio.run(_seed(seeded))
        listed = httpx.get(f"{seeded.base}/api/interviews", headers=REVIEWER).json()["items"]
        by_id = {item["interview_id"]: item for item in listed}
        seeded.created = {name: by_id[i]["created"] for name, i in seeded.ids.items()}
        yield seeded


def _routes(interview: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every reviewer route (method, path, body) for ``interview``."""
    base = f"/api/interviews/{interview}"
    override = {
        "round_id": "coding",
        "competency_id": "problem_solving",
        "score": 4,
        "reason": "x" * 5,
    }
    return [
        ("GET", "/api/interviews", None),
        ("GET", base, None),
        ("GET", f"{base}/report", None),
        ("GET", f"{base}/report.html", None),
        ("GET", f"{base}/reviews", None),
        ("POST", f"{base}/reviews/competency", override),
        ("POST", f"{base}/reviews/recommendation", {"decision": "hire", "reason": "fine work"}),
    ]


def test_every_route_is_authorised(seeded: Seeded) -> None:
    alice, bob = seeded.ids["alice"], seeded.ids["bob"]
    with httpx.Client(base_url=seeded.base) as http:
        transcript = f"/api/interviews/{alice}/transcript"
        for method, path, body in [*_routes(alice), ("GET", transcript, None)]:
            # No credentials, a bad token, an expired one, or dev-mode headers on a JWT server.
            for headers in (
                {},
                {"Authorization": "Bearer nonsense"},
                {"Authorization": f"Bearer {issue_token(SECRET, 'rita', -10, 'reviewer')}"},
                {"Authorization": f"Bearer {issue_token('wrong' * 8, 'rita', role='reviewer')}"},
                {"X-Interview-User": "rita", "X-Interview-Role": "reviewer"},
            ):
                r = http.request(method, path, json=body, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
            r = http.request(method, path + "?as_user=rita&as_role=reviewer", json=body)
            assert r.status_code == 401, (method, path)
        for method, path, body in _routes(alice):
            # A candidate — even the interview's own — may not use reviewer routes.
            for user in ("alice", "bob"):
                r = http.request(method, path, json=body, headers=auth(user))
                assert r.status_code == 403, (method, path, user, r.text)
            r = http.request(method, path, json=body, headers=REVIEWER)
            assert r.status_code in (200, 201), (method, path, r.text)
            # A role the server does not know is no role at all.
            r = http.request(method, path, json=body, headers=auth("eve", "admin"))  # type: ignore[arg-type]
            assert r.status_code == 401
        # The transcript: the owner reads the public part, another candidate is refused.
        assert http.get(transcript, headers=auth("alice")).status_code == 200
        assert http.get(transcript, headers=auth("bob")).status_code == 403
        assert (
            http.get(f"/api/interviews/{bob}/transcript", headers=auth("alice")).status_code == 403
        )
        assert http.get(transcript, headers=REVIEWER).status_code == 200
        # No such interview: 404, for reviewers and candidates alike.
        for method, path, body in [
            *_routes("nope"),
            ("GET", "/api/interviews/nope/transcript", None),
        ]:
            if path == "/api/interviews":
                continue
            r = http.request(method, path, json=body, headers=REVIEWER)
            assert r.status_code == 404, (method, path, r.text)
        assert http.get("/api/interviews/nope/transcript", headers=auth("alice")).status_code == 404
        me = http.get("/api/me", headers=REVIEWER).json()
        assert me == {"user": "rita", "role": "reviewer", "auth": "jwt"}
        assert http.get("/api/me", headers=auth("alice")).json()["role"] == "candidate"


def test_reviewer_tokens_cannot_take_interviews(seeded: Seeded) -> None:
    async def login(frame: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
        async with connect(seeded.server) as ws:
            client = Client(ws)
            await client.send(frame)
            try:
                while True:
                    await client.recv(5)
            except websockets.ConnectionClosed as exc:
                return client.events, exc.rcvd.code if exc.rcvd else None

    events, code = asyncio.run(login({"type": "login", "token": token("rita", "reviewer")}))
    assert code == 4001 and events[0]["code"] == "auth_failed"
    assert "reviewer" in events[0]["message"]


def test_listing_filters_and_pagination(seeded: Seeded) -> None:
    ids, created = seeded.ids, seeded.created

    def listed(**params: Any) -> dict[str, Any]:
        r = httpx.get(f"{seeded.base}/api/interviews", params=params, headers=REVIEWER)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def names(page: dict[str, Any]) -> list[str]:
        back = {v: k for k, v in ids.items()}
        return [back[item["interview_id"]] for item in page["items"]]

    everything = listed()
    assert names(everything) == ["carol", "dave", "bob", "alice"]  # newest first
    assert everything["total"] == 4
    alice = everything["items"][-1]
    assert (
        alice["status"] == "finished" and alice["has_report"] and alice["ended"] >= alice["created"]
    )
    assert alice["recommendation"] in Decision.__args__  # type: ignore[attr-defined]
    assert isinstance(alice["overall"], float) and alice["last_seq"] > 10
    carol = everything["items"][0]
    assert carol["status"] == "running" and not carol["has_report"] and carol["ended"] is None

    assert names(listed(plan="backend_engineer")) == ["carol", "dave", "alice"]
    assert names(listed(plan="data_scientist")) == ["bob"]
    assert names(listed(user_id="alice")) == ["alice"]
    assert names(listed(user_id="nobody")) == [] and listed(user_id="nobody")["total"] == 0
    assert names(listed(status="running")) == ["carol"]
    assert names(listed(status="finished")) == ["dave", "bob", "alice"]
    assert names(listed(status="finished", plan="backend_engineer")) == ["dave", "alice"]
    # Date range: from is inclusive, to exclusive; epoch seconds and ISO 8601 both work.
    between = (created["alice"] + created["bob"]) / 2
    assert names(listed(created_from=between)) == ["carol", "dave", "bob"]
    assert names(listed(created_to=between)) == ["alice"]
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created["alice"] - 3600)) + "Z"
    assert listed(created_from=iso)["total"] == 4
    upper = (created["dave"] + created["carol"]) / 2
    assert names(listed(created_from=between, created_to=upper)) == ["dave", "bob"]
    # Pages: disjoint, in order, the total stays the same.
    pages = [listed(limit=3, offset=0), listed(limit=3, offset=3), listed(limit=3, offset=6)]
    assert [names(p) for p in pages] == [["carol", "dave", "bob"], ["alice"], []]
    assert {p["total"] for p in pages} == {4}
    assert pages[1]["limit"] == 3 and pages[1]["offset"] == 3
    for bad in (
        {"status": "paused"},
        {"limit": 0},
        {"limit": 1000},
        {"offset": -1},
        {"created_from": "soon"},
    ):
        r = httpx.get(f"{seeded.base}/api/interviews", params=bad, headers=REVIEWER)
        assert r.status_code == 422, bad


def test_transcripts_private_for_reviewers_public_for_the_candidate(seeded: Seeded) -> None:
    alice = seeded.ids["alice"]
    url = f"{seeded.base}/api/interviews/{alice}/transcript"
    full = httpx.get(url, headers=REVIEWER).json()
    assert full["scope"] == "all"
    events = full["events"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "every event, gapless, in order"
    kinds = {e["kind"] for e in events if e["visibility"] == "private"}
    assert {"advice", "evaluation", "report", "activity_brief"} <= kinds
    code = next(e for e in events if e["kind"] == "candidate_code")
    assert code["data"]["code"] == CODE and code["speaker"] == "candidate"
    after = httpx.get(url, params={"after": 10}, headers=REVIEWER).json()["events"]
    assert [e["seq"] for e in after] == seqs[10:]

    own = httpx.get(url, headers=auth("alice")).json()
    assert own["scope"] == "public"
    # Exactly what the WebSocket sent the candidate: the same events, the same seqs.
    assert [(e["seq"], e["type"]) for e in own["events"]] == [
        (e["seq"], e["type"]) for e in seeded.wire["alice"]
    ]
    private_seqs = {e["seq"] for e in events if e["visibility"] == "private"}
    assert not private_seqs & {e["seq"] for e in own["events"]}
    text = str(own)
    for e in events:
        if e["visibility"] == "private" and len(e["text"]) > 20:
            assert e["text"] not in text, e["kind"]


def _report(seeded: Seeded, name: str) -> dict[str, Any]:
    r = httpx.get(f"{seeded.base}/api/interviews/{seeded.ids[name]}/report", headers=REVIEWER)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_report_links_evidence_and_flags_to_the_transcript(seeded: Seeded) -> None:
    view = _report(seeded, "alice")
    events = httpx.get(
        f"{seeded.base}/api/interviews/{seeded.ids['alice']}/transcript", headers=REVIEWER
    ).json()["events"]
    by_seq = {e["seq"]: e for e in events}
    assert view["report_seq"] == next(e["seq"] for e in events if e["kind"] == "report")
    assert view["report"] == by_seq[view["report_seq"]]["data"], "the engine's report, untouched"
    assert view["evidence"], "the answer's sentences are evidence"
    for link in view["evidence"]:
        line = by_seq[link["seq"]]
        assert line["speaker"] == "candidate"
        assert link["quote"].rstrip(".") in line["text"]
    flags = view["report"]["integrity_flags"]
    paste = next(i for i, f in enumerate(flags) if f["kind"] == "large_paste")
    placed = {f["index"]: f["seq"] for f in view["flags"]}
    assert by_seq[placed[paste]]["kind"] == "candidate_integrity"
    page = httpx.get(
        f"{seeded.base}/api/interviews/{seeded.ids['alice']}/report.html", headers=REVIEWER
    ).text
    for link in view["evidence"]:
        assert f'href="#seq-{link["seq"]}"' in page
        assert f'id="seq-{link["seq"]}"' in page  # the anchor exists in the transcript part
    assert html.escape(CODE, quote=True).splitlines()[3] in page  # the submission's code
    assert "Visible test" in page and "basic" in page  # its results
    assert "@media print" in page and "Usage and cost" in page and "Rubric versions" in page
    embedded = httpx.get(
        f"{seeded.base}/api/interviews/{seeded.ids['alice']}/report.html",
        params={"transcript": "false"},
        headers=REVIEWER,
    ).text
    assert 'id="transcript"' not in embedded and 'data-seq="' in embedded
    # A running interview has no report yet.
    r = httpx.get(f"{seeded.base}/api/interviews/{seeded.ids['carol']}/report", headers=REVIEWER)
    assert r.status_code == 409


def test_overrides_are_audited_beside_the_engine(seeded: Seeded) -> None:
    name = "dave"  # untouched by the authorisation test's writes
    interview = seeded.ids[name]
    base = f"{seeded.base}/api/interviews/{interview}"
    before = _report(seeded, name)
    comp = next(c for c in before["review"]["competencies"] if c["engine_score"] is not None)
    engine = comp["engine_score"]
    post = {"round_id": comp["round_id"], "competency_id": comp["competency_id"]}
    r = httpx.post(
        f"{base}/reviews/competency",
        json={**post, "score": 4.5, "reason": "  Clear trade-off reasoning.  "},
        headers=auth("rita", "reviewer"),
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["by"] == "rita" and first["target"] == "competency"
    assert (first["engine"], first["before"], first["after"]) == (engine, engine, 4.5)
    assert first["reason"] == "Clear trade-off reasoning."
    r = httpx.post(
        f"{base}/reviews/competency",
        json={**post, "score": 2, "reason": "Second look: shallow.", "request_id": "r-2"},
        headers=auth("omar", "reviewer"),
    )
    second = r.json()
    assert (second["by"], second["before"], second["after"]) == ("omar", 4.5, 2.0)
    again = httpx.post(
        f"{base}/reviews/competency",
        json={**post, "score": 2, "reason": "Second look: shallow.", "request_id": "r-2"},
        headers=auth("omar", "reviewer"),
    ).json()
    assert again["seq"] == second["seq"], "a retried request is recorded once"
    engine_decision = before["report"]["recommendation"]["decision"]
    rec = httpx.post(
        f"{base}/reviews/recommendation",
        json={"decision": "strong_hire", "reason": "Panel agreed after debrief."},
        headers=REVIEWER,
    ).json()
    assert (rec["engine"], rec["before"], rec["after"]) == (
        engine_decision,
        engine_decision,
        "strong_hire",
    )

    # Stored as private events in the interview's own log: the audit trail.
    events = httpx.get(f"{base}/transcript", headers=REVIEWER).json()["events"]
    audit = [e for e in events if e["kind"] == "review_override"]
    assert [e["seq"] for e in audit] == [first["seq"], second["seq"], rec["seq"]]
    assert all(e["visibility"] == "private" for e in audit)
    assert [e["speaker"] for e in audit] == ["rita", "omar", "rita"]
    assert (
        audit[1]["data"]["before"] == 4.5 and audit[1]["data"]["reason"] == "Second look: shallow."
    )
    assert audit[0]["ts"] <= audit[1]["ts"] <= audit[2]["ts"]
    trail = httpx.get(f"{base}/reviews", headers=REVIEWER).json()
    assert [t["seq"] for t in trail] == [first["seq"], second["seq"], rec["seq"]]
    # The candidate never sees any of it.
    own = httpx.get(f"{base}/transcript", headers=auth(name)).json()["events"]
    assert not {e["seq"] for e in own} & {e["seq"] for e in audit}

    # Report JSON: the engine's values stay, the reviewer's stand beside them.
    after = _report(seeded, name)
    assert after["report"] == before["report"]
    shown = next(
        c
        for c in after["review"]["competencies"]
        if (c["round_id"], c["competency_id"]) == (comp["round_id"], comp["competency_id"])
    )
    assert shown["engine_score"] == engine and shown["reviewed_score"] == 2.0
    assert shown["override"]["by"] == "omar" and shown["override"]["before"] == 4.5
    assert after["review"]["recommendation"]["engine"] == engine_decision
    assert after["review"]["recommendation"]["reviewed"] == "strong_hire"
    assert [a["seq"] for a in after["review"]["audit"]] == [first["seq"], second["seq"], rec["seq"]]
    listed = httpx.get(
        f"{seeded.base}/api/interviews", params={"user_id": name}, headers=REVIEWER
    ).json()["items"][0]
    assert listed["reviews"] == 3 and listed["recommendation"] == engine_decision

    # Report HTML: the audit table and the competency row carry who, before, after and reason.
    page = httpx.get(f"{base}/report.html", headers=REVIEWER).text
    audit_table = page[page.index('<table id="audit">') :]
    audit_table = audit_table[: audit_table.index("</table>")]
    for entry in (first, second):
        row = re.search(rf'<tr data-review-seq="{entry["seq"]}">(.*?)</tr>', audit_table)
        assert row is not None
        cells = row.group(1)
        assert entry["by"] in cells and html.escape(entry["reason"]) in cells
        assert f"{entry['before']:g}/5" in cells and f"{entry['after']:g}/5" in cells
    assert "Strong hire" in audit_table and "Panel agreed after debrief." in audit_table
    key = f"{comp['round_id']}/{comp['competency_id']}"
    row = re.search(rf'<tr data-competency="{key}" class="override">(.*?)</tr>', page)
    assert row is not None
    assert f"{engine:g}/5" in row.group(1) and "2/5" in row.group(1) and "omar" in row.group(1)
    assert "Second look: shallow." in row.group(1)
    assert 'data-testid="reviewed-decision">Strong hire' in page
    assert 'data-testid="engine-decision">' in page

    # Refused reviews change nothing.
    for body in (
        {**post, "score": 7, "reason": "too high"},
        {**post, "score": 3, "reason": " "},
        {**post, "score": 3},
        {"round_id": "coding", "competency_id": "telepathy", "score": 3, "reason": "nope nope"},
        {**post, "score": 3, "reason": "extra field", "by": "someone else"},
    ):
        r = httpx.post(f"{base}/reviews/competency", json=body, headers=REVIEWER)
        assert r.status_code == 422, body
    r = httpx.post(
        f"{base}/reviews/recommendation",
        json={"decision": "maybe", "reason": "unsure"},
        headers=REVIEWER,
    )
    assert r.status_code == 422
    r = httpx.post(
        f"{seeded.base}/api/interviews/{seeded.ids['carol']}/reviews/recommendation",
        json={"decision": "hire", "reason": "too early"},
        headers=REVIEWER,
    )
    assert r.status_code == 409
    assert len(httpx.get(f"{base}/reviews", headers=REVIEWER).json()) == 3


def test_decisions_match_the_engine() -> None:
    assert Decision.__args__ == Recommendation.model_fields["decision"].annotation.__args__  # type: ignore[attr-defined,union-attr]


def test_openapi_documents_the_api(seeded: Seeded) -> None:
    spec = httpx.get(f"{seeded.base}/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/me",
        "/api/interviews",
        "/api/interviews/{interview_id}",
        "/api/interviews/{interview_id}/transcript",
        "/api/interviews/{interview_id}/report",
        "/api/interviews/{interview_id}/report.html",
        "/api/interviews/{interview_id}/reviews",
        "/api/interviews/{interview_id}/reviews/competency",
        "/api/interviews/{interview_id}/reviews/recommendation",
    ):
        assert path in paths, path
    schemas = spec["components"]["schemas"]
    assert {"InterviewPage", "InterviewSummary", "ReviewedReport", "ReviewEntry"} <= set(schemas)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert httpx.get(f"{seeded.base}/docs").status_code == 200


def test_dev_mode_picks_a_role(tmp_path: Path) -> None:
    with running(tmp_path) as server:  # INTERVIEW_AUTH=dev
        base = f"http://127.0.0.1:{server.port}"

        def me(**kw: Any) -> httpx.Response:
            return httpx.get(f"{base}/api/me", **kw)

        assert me(headers={"X-Interview-User": "rita", "X-Interview-Role": "reviewer"}).json() == {
            "user": "rita",
            "role": "reviewer",
            "auth": "dev",
        }
        assert me(params={"as_user": "rita", "as_role": "reviewer"}).json()["role"] == "reviewer"
        assert me(headers={"X-Interview-User": "alice"}).json()["role"] == "candidate"
        assert (
            me(headers={"X-Interview-User": "rita", "X-Interview-Role": "root"}).status_code == 401
        )
        assert me(headers={"X-Interview-User": "no spaces"}).status_code == 401
        assert me().status_code == 401
        r = httpx.get(f"{base}/api/interviews", headers={"X-Interview-User": "alice"})
        assert r.status_code == 403
        r = httpx.get(f"{base}/api/interviews", params={"as_user": "rita", "as_role": "reviewer"})
        assert r.status_code == 200 and r.json()["total"] == 0
        assert httpx.get(f"{base}/review").status_code == 200
