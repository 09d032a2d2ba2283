"""Interview plans drafted from a job description: offline assembly, the CLI, WebSocket `start`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from interview_graph.engine.base import get_brain
from interview_graph.plans.audit import audit_plan
from interview_graph.plans.drafting import (
    ALIASES,
    MAX_JOB_DESCRIPTION,
    DraftError,
    assemble_plan,
    draft_plan,
    dump_plan,
    extract_skills,
    load_catalogue,
    render_plan,
    role_from,
)
from interview_graph.plans.loader import load_plan
from interview_graph.plans.models import InterviewPlan

from .conftest import ROOT
from .server_util import Client, Server, connect, running
from .test_cli import run

ROUNDS = ROOT / "rounds"

BACKEND = """Senior Backend Engineer

We're looking for a backend engineer to build and scale our payments APIs. You will design
distributed services in Python, work with PostgreSQL, Redis and Kafka, and own the reliability
of event-driven pipelines (idempotency, retries, webhooks). You'll take part in on-call, run
blameless postmortems and mentor other engineers.
"""
DATA = """Data Scientist, Growth

Join us as a Data Scientist to design and analyse A/B tests, build classification models with
scikit-learn (class imbalance, precision/recall, ROC AUC), guard against target leakage, and
investigate metric drops with product managers. Strong statistics and hypothesis testing; you
communicate model limitations clearly to stakeholders.
"""
FRONTEND = """Frontend Engineer (React)

You will build accessible, fast web interfaces in React and TypeScript. Deep knowledge of the
browser rendering pipeline, the JavaScript event loop, CSS and HTML, WCAG accessibility (ARIA),
Core Web Vitals and performance budgets. You collaborate closely with designers.
"""
MIXED = """Machine Learning Platform Engineer

Build the backend services that serve our ML models: Kafka-based event pipelines with
idempotency and retries, caching and rate limiting; and work with data scientists on A/B
testing, class imbalance, AUC and target leakage in our training data.
"""
JDS = {"backend_engineer": BACKEND, "data_scientist": DATA, "frontend_engineer": FRONTEND}


@pytest.fixture(scope="module")
def catalogue() -> list[InterviewPlan]:
    return load_catalogue(ROUNDS)


def _sources(plan: InterviewPlan, catalogue: list[InterviewPlan]) -> Counter[str]:
    """Which shipped plan each drafted topic came from (questions are copied verbatim)."""
    origin = {t.question: p.id for p in catalogue for r in p.rounds for t in r.topics}
    return Counter(origin[t.question] for r in plan.rounds for t in r.topics)


def _check_consistent(plan: InterviewPlan) -> None:
    """What the report and the graph rely on, beyond the schema."""
    topic_ids = [t.id for r in plan.rounds for t in r.topics]
    assert len(topic_ids) == len(set(topic_ids)), "topic ids are unique across the plan"
    doc_tags = {tag for d in plan.knowledge for tag in d.tags}
    for r in plan.rounds:
        scored = {c for t in r.topics for c in t.competencies}
        # Every rubric competency is assessable (an unassessed one would count as a 1) ...
        assert {c.id for c in r.rubric.competencies} == scored, r.id
        for person in r.panel:
            assert set(person.focus) <= scored, (r.id, person.id)
        # ... every topic's asker sits on the panel, and its knowledge tags find documents.
        for t in r.topics:
            assert t.panelist in {p.id for p in r.panel}
            assert set(t.knowledge_tags) <= doc_tags, t.id
        assert 1 <= len(r.topics) <= 3 and 1 <= len(r.panel) <= 4


# --- offline assembly --------------------------------------------------------------------


@pytest.mark.parametrize("shipped", sorted(JDS))
def test_a_role_gets_a_valid_plan_mostly_from_its_own_loop(
    shipped: str, catalogue: list[InterviewPlan]
) -> None:
    plan = assemble_plan(JDS[shipped], catalogue)
    assert InterviewPlan.model_validate(plan.model_dump()) == plan
    _check_consistent(plan)
    sources = _sources(plan, catalogue)
    total = sum(sources.values())
    assert total >= 6 and len(plan.rounds) == 3
    assert sources[shipped] >= 0.75 * total, sources
    assert plan.id.startswith("draft_") and plan.role in JDS[shipped].splitlines()[0]
    assert "Skills recognised" in plan.summary


def test_a_mixed_description_mixes_plans(catalogue: list[InterviewPlan]) -> None:
    plan = assemble_plan(MIXED, catalogue)
    _check_consistent(plan)
    sources = _sources(plan, catalogue)
    assert sources["backend_engineer"] >= 2 and sources["data_scientist"] >= 2, sources
    assert sources["frontend_engineer"] == 0
    origin = {t.question: p.id for p in catalogue for r in p.rounds for t in r.topics}
    mixed = [r for r in plan.rounds if len({origin[t.question] for t in r.topics}) > 1]
    assert mixed, "at least one round draws on two loops"
    assert plan.role == "Machine Learning Platform Engineer"


def test_drafting_is_deterministic(catalogue: list[InterviewPlan]) -> None:
    first = assemble_plan(MIXED, catalogue)
    again = assemble_plan(MIXED, load_catalogue(ROUNDS))
    assert first == again and render_plan(first) == render_plan(again)
    assert assemble_plan(BACKEND, catalogue).id != first.id


def test_a_drafted_plan_passes_the_content_audit(catalogue: list[InterviewPlan]) -> None:
    plan = assemble_plan(MIXED, catalogue)
    assert any(t.coding is not None for r in plan.rounds for t in r.topics)
    assert audit_plan(plan) == []


def test_dump_then_load_round_trips(tmp_path: Path, catalogue: list[InterviewPlan]) -> None:
    for name, text in {**JDS, "mixed": MIXED}.items():
        plan = assemble_plan(text, catalogue)
        path = dump_plan(plan, tmp_path / "nested" / f"{name}.yaml", comment="drafted\nby a test")
        assert load_plan(path) == plan
        assert path.read_text().startswith("# drafted\n# by a test\n")
    # Refuses to replace a file unless told to, and leaves no temporary file behind.
    with pytest.raises(FileExistsError):
        dump_plan(plan, path, overwrite=False)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        f"{n}.yaml" for n in [*JDS, "mixed"]
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("lorem ipsum dolor sit amet", "names no skill"),
        ("We are hiring a rockstar ninja with 5 years of experience!", "names no skill"),
        ("x" * (MAX_JOB_DESCRIPTION + 1), "limit is 20000"),
    ],
)
async def test_a_job_description_without_skills_is_a_clear_error(text: str, says: str) -> None:
    with pytest.raises(DraftError) as info:
        await draft_plan(text, get_brain("offline"), ROUNDS)
    assert says in str(info.value) and info.value.code == "bad_job_description"
    if says == "names no skill":  # it tells the user what would be recognised
        assert "Backend Engineer" in str(info.value) and "caching" in str(info.value)


async def test_draft_plan_uses_the_brain_and_revalidates_its_plan(
    catalogue: list[InterviewPlan],
) -> None:
    class Brain:
        name = "fake"

        def __init__(self, plan: Any) -> None:
            self.plan = plan
            self.seen: list[tuple[str, int]] = []

        async def draft_plan(self, jd: str, catalogue: list[InterviewPlan]) -> Any:
            self.seen.append((jd, len(catalogue)))
            return self.plan

    good = Brain(catalogue[0])
    assert await draft_plan("  Kafka and Redis  ", good, ROUNDS) == catalogue[0]
    assert good.seen == [("Kafka and Redis", 3)]
    # model_copy skips validation, as an engine building a plan by hand might.
    round_ = catalogue[0].rounds[0]
    topic = round_.topics[0].model_copy(update={"panelist": "nobody"})
    broken = catalogue[0].model_copy(
        update={"rounds": [round_.model_copy(update={"topics": [topic]})]}
    )
    with pytest.raises(DraftError) as info:
        await draft_plan("Kafka", Brain(broken), ROUNDS)
    assert info.value.code == "invalid_plan"
    assert any("'nobody' does not sit on" in p for p in info.value.problems)
    for invalid in ({"id": "x"}, None):
        with pytest.raises(DraftError) as info:
            await draft_plan("Kafka", Brain(invalid), ROUNDS)
        assert info.value.code == "invalid_plan" and info.value.problems


def test_aliases_point_at_recognised_skills(catalogue: list[InterviewPlan]) -> None:
    for word, target in ALIASES.items():
        assert extract_skills(target, catalogue), f"{word} → {target!r} names no catalogue skill"
    assert "idempotency" in extract_skills(BACKEND, catalogue)


def test_role_is_read_from_the_advert() -> None:
    assert (
        role_from("Title: Staff Site Reliability Engineer\n...")
        == "Staff Site Reliability Engineer"
    )
    assert role_from("# Senior Frontend Developer\n\nReact") == "Senior Frontend Developer"
    assert role_from("About us\nWe are looking for a senior data analyst to join.") == (
        "Senior Data Analyst"
    )
    assert role_from("Kafka, Redis and caching") is None


def test_drafted_plans_in_the_catalogue_and_colliding_ids(
    tmp_path: Path, catalogue: list[InterviewPlan]
) -> None:
    rounds = tmp_path / "rounds"
    for p in catalogue:
        dump_plan(p, rounds / f"{p.id}.yaml")
    # A drafted plan saved beside the shipped ones: its copies are never asked twice.
    dump_plan(assemble_plan(BACKEND, catalogue), rounds / "generated.yaml")
    again = assemble_plan(BACKEND, load_catalogue(rounds))
    questions = [t.question for r in again.rounds for t in r.topics]
    assert len(questions) == len(set(questions))
    # A second loop reusing the backend's topic and panelist ids for different content/people.
    backend = catalogue[0]
    twin = backend.model_copy(
        update={
            "id": "twin",
            "rounds": [
                r.model_copy(
                    update={
                        "panel": [p.model_copy(update={"name": p.name + " II"}) for p in r.panel],
                        "topics": [
                            t.model_copy(update={"question": t.question + " (twin)"})
                            for t in r.topics
                        ],
                    }
                )
                for r in backend.rounds
            ],
        }
    )
    plan = assemble_plan(BACKEND, [backend, twin])
    _check_consistent(plan)
    people: dict[str, str] = {}
    for r in plan.rounds:
        for p in r.panel:
            assert people.setdefault(p.id, p.name) == p.name, "one id, one person"
    assert _sources(plan, [backend, twin])["twin"] >= 1


# --- the CLI -------------------------------------------------------------------------------


def test_cli_plan_writes_a_plan_that_validates_and_simulates(tmp_path: Path) -> None:
    jd = tmp_path / "job.txt"
    jd.write_text(MIXED)
    out = tmp_path / "plans" / "generated.yaml"
    env = {"INTERVIEW_DATA_DIR": str(tmp_path / "data")}
    made = run("plan", "--jd", str(jd), "--out", str(out), "--engine", "offline", env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"Plan written to {out}" in made.stdout and "Technical depth" in made.stdout
    assert out.exists()
    checked = run("validate", "--audit", str(out))
    assert checked.returncode == 0 and ": ok (3 rounds" in checked.stdout, checked.stdout
    report_path = tmp_path / "report.json"
    sim = run("simulate", "--plan", str(out), "--quiet", "--out", str(report_path), env=env)
    assert sim.returncode == 0, sim.stdout + sim.stderr
    report = json.loads(report_path.read_text())
    assert report["completed"] and report["role"] == "Machine Learning Platform Engineer"
    assert len(report["rounds"]) == 3
    # The same command again refuses to overwrite; --force replaces the file.
    again = run("plan", "--jd", str(jd), "--out", str(out), env=env)
    assert again.returncode == 2 and "already exists; pass --force" in again.stdout
    forced = run("plan", "--jd", str(jd), "--out", str(out), "--force", env=env)
    assert forced.returncode == 0, forced.stdout


def test_cli_plan_errors(tmp_path: Path) -> None:
    jd = tmp_path / "job.txt"
    jd.write_text("We want a rockstar ninja.")
    out = tmp_path / "x.yaml"
    bad = run("plan", "--jd", str(jd), "--out", str(out))
    assert bad.returncode == 2 and "names no skill" in bad.stdout and not out.exists()
    missing = run("plan", "--jd", str(tmp_path / "none.txt"), "--out", str(out))
    assert missing.returncode == 2 and "cannot read the job description" in missing.stdout
    jd.write_text(BACKEND)
    blocked = tmp_path / "file"
    blocked.write_text("")
    unwritable = run("plan", "--jd", str(jd), "--out", str(blocked / "x.yaml"))
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stdout
    suffix = run("plan", "--jd", str(jd), "--out", str(tmp_path / "plan.txt"))
    assert suffix.returncode == 2 and ".yaml" in suffix.stdout
    engine = run("plan", "--jd", str(jd), "--out", str(out), "--engine", "psychic")
    assert engine.returncode == 2 and "unknown engine 'psychic'" in engine.stdout


# --- WebSocket `start` with a job description ---------------------------------------------


async def _login(server: Server, user: str) -> tuple[Client, Any]:
    ws = await connect(server).__aenter__()
    client = Client(ws)
    await client.send({"type": "login", "user": user})
    await client.until(lambda e: e["type"] == "session")
    return client, ws


@pytest.mark.slow
async def test_ws_start_from_a_job_description_survives_resume_and_restart(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path).start()
    try:
        client, ws = await _login(server, "jane")
        await client.send({"type": "start", "job_description": FRONTEND})
        session = (await client.until(lambda e: e["type"] == "session"))[-1]
        assert session["status"] == "started" and session["plan"].startswith("draft_frontend")
        assert session["plans"][0]["role"] == "Frontend Engineer (React)"
        interview = session["interview_id"]
        stored = tmp_path / "data" / "plans" / f"{interview}.yaml"
        plan = load_plan(stored)
        assert plan.id == session["plan"]
        first = await client.question()
        assert first["question_id"] in {t.id for r in plan.rounds for t in r.topics}
        await client.send({"type": "message", "text": "Style, then layout, paint, composite."})
        ack = (await client.until(lambda e: e["type"] == "ack"))[-1]
        await ws.close()

        # Reconnect and resume: the missed events are replayed from the same drafted plan.
        again, ws2 = await _login(server, "jane")
        await again.send(
            {"type": "resume", "interview_id": interview, "last_seq": ack["input_seq"]}
        )
        resumed = (await again.until(lambda e: e["type"] == "session"))[-1]
        assert resumed["plan"] == plan.id, "the client sees the plan id, never a server path"
        await again.until(lambda e: e["type"] == "message" and e["seq"] > ack["input_seq"])
        await ws2.close()
        server.kill()
    finally:
        server.stop()

    restarted = Server(tmp_path, port=server.port).start()
    try:
        after, ws3 = await _login(restarted, "jane")
        await after.send({"type": "resume", "interview_id": interview, "last_seq": 0})
        await after.until(lambda e: e["type"] == "round_started")
        await after.send({"type": "message", "text": "Layout is reflow; compositing is cheap."})
        ack = (await after.until(lambda e: e["type"] == "ack"))[-1]
        reply = (
            await after.until(lambda e: e["type"] == "message" and e["seq"] > ack["input_seq"])
        )[-1]
        assert reply["round_id"] in {r.id for r in plan.rounds}
        await ws3.close()
    finally:
        restarted.stop()


@pytest.mark.slow
async def test_ws_bad_job_descriptions_are_errors_and_the_connection_stays_usable(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as server:
        client, ws = await _login(server, "kim")
        for frame, code in [
            ({"type": "start", "job_description": "We want a rockstar."}, "bad_job_description"),
            ({"type": "start", "job_description": "  "}, "bad_job_description"),
            (
                {"type": "start", "plan": "data_scientist", "job_description": DATA},
                "invalid_fields",
            ),
            ({"type": "start"}, "invalid_fields"),
            ({"type": "start", "job_description": "x" * 20_001}, "invalid_fields"),
        ]:
            await client.send(frame)
            error = (await client.until(lambda e: e["type"] == "error"))[-1]
            assert error["code"] == code, (frame, error)
        assert "names no skill" in client.events[-5]["message"]
        await client.send({"type": "ping"})
        await client.until(lambda e: e["type"] == "pong")
        await client.send({"type": "start", "job_description": DATA})
        session = (await client.until(lambda e: e["type"] == "session"))[-1]
        assert session["status"] == "started"
        await client.question()
        await ws.close()
        assert not any((tmp_path / "data" / "plans").glob("*.tmp"))
        assert len(list((tmp_path / "data" / "plans").glob("*.yaml"))) == 1


@pytest.mark.slow
async def test_ws_an_engine_that_cannot_draft_is_draft_failed(tmp_path: Path) -> None:
    with running(tmp_path, {"INTERVIEW_ENGINE": "psychic"}) as server:
        client, ws = await _login(server, "lee")
        await client.send({"type": "start", "job_description": BACKEND})
        error = (await client.until(lambda e: e["type"] == "error"))[-1]
        assert error["code"] == "draft_failed"
        await client.send({"type": "ping"})
        await client.until(lambda e: e["type"] == "pong")
        await ws.close()


def test_drafted_yaml_is_plain_data(catalogue: list[InterviewPlan]) -> None:
    text = render_plan(assemble_plan(DATA, catalogue))
    data = yaml.safe_load(text)
    assert data["id"].startswith("draft_data_scientist") and "!!" not in text
