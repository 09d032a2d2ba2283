"""Interview plans drafted from a job description: skill extraction, family and topic choice,
the drafting notes, the CLI and WebSocket `start`.

The role-family tests run over the JD fixtures (tests/fixtures/jd/, expectations in
expected.yaml) against the real catalogue (rounds/catalogue/); a fixture whose family file
does not exist yet is an xfail that says so.
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from interview_graph.engine.base import get_brain
from interview_graph.plans.audit import audit_plan
from interview_graph.plans.catalogue import (
    Catalogue,
    Family,
    audit_family,
    catalogue_files,
    load_catalogue,
    load_family,
)
from interview_graph.plans.drafting import (
    MAX_JOB_DESCRIPTION,
    DraftError,
    assemble_plan,
    catalogue_for,
    draft_plan,
    dump_plan,
    render_plan,
    role_from,
)
from interview_graph.plans.loader import load_plan
from interview_graph.plans.matching import MAX_ROUNDS
from interview_graph.plans.models import Competency, InterviewPlan, QuestionKind
from interview_graph.plans.skills import find_skills, narrow, seniority
from interview_graph.selfplay import run_selfplay

from .conftest import ROOT
from .server_util import Client, Server, connect, running
from .test_cli import run

ROUNDS = ROOT / "rounds"
JD_DIR = Path(__file__).parent / "fixtures" / "jd"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((JD_DIR / "expected.yaml").read_text())
FIXTURES = sorted(EXPECTED)


def jd(name: str) -> str:
    return (JD_DIR / f"{name}.md").read_text()


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return catalogue_for(ROUNDS)


def _need_family(name: str) -> None:
    family = EXPECTED[name]["family"]
    if not (ROUNDS / "catalogue" / f"{family}.yaml").exists():
        pytest.xfail(f"rounds/catalogue/{family}.yaml is not written yet (fixture {name}.md)")


@cache
def drafted(name: str) -> InterviewPlan:
    return assemble_plan(jd(name), catalogue_for(ROUNDS))


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
        assert 1 <= len(r.topics) <= 3 and 1 <= len(r.panel) <= 3


# --- reading a description -----------------------------------------------------------------

_ANCHORS = [{"score": i, "description": f"level {i}"} for i in range(1, 6)]


def _taxonomy(skills: list[dict[str, Any]]) -> Catalogue:
    """A catalogue holding only a skill list (enough for extraction)."""
    family = Family.model_validate(
        {
            "id": "t",
            "name": "T",
            "titles": ["Tester"],
            "engineering": True,
            "summary": "s",
            "skills": skills,
            "competencies": [Competency(id="c", name="C", anchors=_ANCHORS)],
        }
    )
    return Catalogue([family])


TAXONOMY = _taxonomy(
    [
        {"id": "cpp", "name": "C++"},
        {"id": "c", "name": "C"},
        {"id": "csharp", "name": "C#"},
        {"id": "cicd", "name": "CI/CD", "synonyms": ["continuous delivery"]},
        {"id": "node", "name": "Node.js", "synonyms": ["NodeJS"]},
        {"id": "aria", "name": "ARIA"},
        {"id": "go", "name": "Go", "synonyms": ["Golang"]},
        {"id": "airflow", "name": "Airflow", "synonyms": ["DAG", "orchestration"]},
        {"id": "ml", "name": "machine learning"},
        {"id": "mle", "name": "machine learning engineering"},
        {"id": "kubernetes", "name": "Kubernetes", "synonyms": ["k8s"]},
        {"id": "terraform", "name": "Terraform"},
        {"id": "ab", "name": "A/B tests"},
        {"id": "streaming", "name": "event streaming", "synonyms": ["Kafka"]},
        {"id": "queues", "name": "message queues", "synonyms": ["Kafka"]},
    ]
)


def _found(text: str) -> dict[str, Any]:
    return {f.skill.id: f for f in find_skills(text, TAXONOMY)}


def test_skills_are_whole_words_and_phrases_never_substrings() -> None:
    text = (
        "Senior Engineer\n\nRequirements\n- C++ and C# services, CI/CD, Node.js\n"
        "- various primary tasks, going forward; we go fast\n- Golang and k8s\n"
        "- machine learning engineering for our DAGs"
    )
    found = _found(text)
    assert {"cpp", "csharp", "cicd", "node", "go", "kubernetes", "mle", "airflow"} <= set(found)
    # "various" and "primary" hold "aria"; C++ is not C; the verb "go" is not Go; the
    # longer phrase wins over "machine learning".
    assert "aria" not in found and "c" not in found and "ml" not in found
    assert found["go"].matched == ["Golang"]
    assert found["airflow"].matched == ["DAGs"]
    plural = _found("Analyst\n\nRequirements\n- A/B test analysis on Kafka events")
    assert plural["ab"].matched == ["A/B test"]
    assert plural["streaming"].matched == plural["queues"].matched == ["Kafka"], "both skills"
    # Once the family is known, a shared phrase means the skill the family assesses.
    advert = "Analyst\n\nRequirements\n- A/B test analysis on Kafka events"
    kept = {f.skill.id for f in narrow(find_skills(advert, TAXONOMY), advert, {"streaming"})}
    assert kept == {"ab", "streaming"}
    for f in found.values():  # every recognised skill is provably in the text
        for start, end in f.spans:
            assert text[start:end] in f.matched


def test_sections_weight_skills_and_negation_is_not_a_requirement() -> None:
    text = (
        "Platform Engineer\n\nWhat you'll need\n- Kubernetes in production\n\n"
        "Nice to have\n- Terraform\n\nAbout us\nWe are not using Go yet."
    )
    found = _found(text)
    assert found["kubernetes"].section == "required" and found["kubernetes"].required
    assert found["terraform"].section == "nice_to_have" and not found["terraform"].required
    assert found["kubernetes"].weight > found["terraform"].weight
    assert "go" not in found
    inline = _found("Engineer\n\nRequirements\n- Kubernetes\n- Terraform is a plus")
    assert inline["terraform"].section == "nice_to_have"


@pytest.mark.parametrize(
    ("title", "text", "level"),
    [
        ("Senior Data Engineer", "", "senior"),
        ("Staff Engineer", "", "staff"),
        ("Lead Product Designer", "", "staff"),
        ("Graduate Software Engineer", "", "junior"),
        ("Data Engineer", "You have 6+ years of experience", "senior"),
        ("Data Engineer", "1 year of experience", "junior"),
        ("Data Engineer", "You will mentor junior engineers.", "mid"),
    ],
)
def test_seniority_comes_from_the_title_then_the_years(title: str, text: str, level: str) -> None:
    assert seniority(f"{title}\n{text}", title)[0] == level


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


# --- the catalogue ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", catalogue_files(), ids=lambda p: p.stem)
def test_every_catalogue_topic_validates_and_passes_the_audit(path: Path) -> None:
    assert audit_family(load_family(path)) == []


def test_the_taxonomy_has_no_dangling_links() -> None:
    catalogue = load_catalogue()  # strict: a broken family file fails here
    assert catalogue.problems() == []


# --- a plan per role family ------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_are_realistic_descriptions(name: str) -> None:
    text = jd(name)
    assert 150 <= len(text.split()) <= 400, name
    assert re.search(r"nice to have", text, re.I), "every fixture has a nice-to-have section"
    for word in EXPECTED[name]["required"]:
        assert word.lower() in text.lower(), (name, word)


@pytest.mark.parametrize("name", FIXTURES)
def test_a_description_gets_a_plan_of_its_own_role_family(name: str) -> None:
    _need_family(name)
    expected = EXPECTED[name]
    plan = drafted(name)
    notes = plan.drafting
    assert notes is not None and notes.family == expected["family"], notes and notes.family_reason
    assert InterviewPlan.model_validate(plan.model_dump()) == plan
    _check_consistent(plan)
    text = jd(name)
    # Nothing is "recognised" that the text does not contain, as written.
    for skill in notes.recognised:
        for m in skill.matched:
            assert re.search(rf"(?<![\w+#]){re.escape(m)}(?![\w+#])", text), (skill.id, m)
    # Every recognised skill is covered by a topic or reported uncovered, never dropped ...
    reported = {c.skill for c in notes.covered} | set(notes.uncovered)
    assert reported == {s.id for s in notes.recognised}
    # ... and the taxonomy recognises most of what the description requires.
    matched = " | ".join(m.lower() for s in notes.recognised for m in s.matched)
    missed = [w for w in expected["required"] if w.lower() not in matched]
    assert len(missed) <= 0.3 * len(expected["required"]), f"not recognised: {missed}"
    # Topics come from the family, general, or a family the description also needs.
    allowed = {expected["family"], "general", *expected["may_borrow"]}
    families = {s.topic: s.family for s in notes.sources}
    assert set(families.values()) <= allowed, families
    assert set(families) == {t.id for r in plan.rounds for t in r.topics}
    catalogue = catalogue_for(ROUNDS)
    family = catalogue.families[expected["family"]]
    # A panel of two or three from the family's personas; one id is one person throughout.
    if len(family.personas) >= 2:
        assert all(len(r.panel) >= 2 for r in plan.rounds), [len(r.panel) for r in plan.rounds]
    people: dict[str, str] = {}
    for r in plan.rounds:
        for person in r.panel:
            assert people.setdefault(person.id, person.name) == person.name
    if not family.engineering:
        assert all(r.kind is not QuestionKind.CODING for r in plan.rounds)
        assert all(t.coding is None for r in plan.rounds for t in r.topics)


@pytest.mark.parametrize("name", FIXTURES)
def test_a_drafted_plan_passes_the_content_audit(name: str) -> None:
    _need_family(name)
    assert audit_plan(drafted(name)) == []


def test_the_issue_descriptions_get_recognisable_plans() -> None:
    _need_family("data_engineering")
    notes = drafted("data_engineering").drafting
    assert notes is not None and notes.seniority == "senior"
    recognised = {m.lower() for s in notes.recognised for m in s.matched}
    assert {"spark", "airflow", "kafka", "dbt"} <= recognised
    for bogus in ("move", "least", "sizing", "machine"):
        assert bogus not in recognised
    _need_family("product_design")
    design = drafted("product_design")
    assert "aria" not in {s.id for s in design.drafting.recognised}  # type: ignore[union-attr]
    assert all(r.kind is not QuestionKind.CODING for r in design.rounds)
    # Each round's description is its family template's, not glued from other plans.
    family = catalogue_for(ROUNDS).families["product_design"]
    templates = {r.id: r.description for r in family.rounds}
    general = catalogue_for(ROUNDS).families.get("general")
    templates |= {r.id: r.description for r in (general.rounds if general else [])}
    assert all(r.description == templates[r.id] for r in design.rounds)


def test_seniority_shapes_rounds_topics_and_panel(catalogue: Catalogue) -> None:
    _need_family("product_design")
    text = jd("product_design").replace("3+ years", "1 year", 1)
    junior = assemble_plan(
        text.replace("Product Designer", "Junior Product Designer", 1), catalogue
    )
    senior = assemble_plan(
        text.replace("Product Designer", "Senior Product Designer", 1), catalogue
    )
    assert junior.drafting and junior.drafting.seniority == "junior"
    assert senior.drafting and senior.drafting.seniority == "senior"
    assert len(junior.rounds) <= MAX_ROUNDS["junior"] < len(senior.rounds)
    levels = {t.id: t.seniority for _, t in catalogue.topics()}
    topics = [t.id for r in junior.rounds for t in r.topics]
    assert sum("junior" in levels[t] for t in topics) >= 0.75 * len(topics)
    assert max(len(r.panel) for r in senior.rounds) == 3


def test_poor_coverage_is_said_plainly_not_padded(catalogue: Catalogue) -> None:
    _need_family("product_design")
    _need_family("data_engineering")
    text = (
        "Product Designer\n\nWhat you'll need\n- Apache Spark and Kafka in production\n"
        "- Airflow DAGs and dbt models\n- Figma\n"
    )
    plan = assemble_plan(text, catalogue)
    notes = plan.drafting
    assert notes is not None and notes.family == "product_design"
    assert {s.family for s in notes.sources} <= {"product_design", "general"}, (
        "no engineering topic"
    )
    assert all(r.kind is not QuestionKind.CODING for r in plan.rounds)
    names = {s.id: s.name for s in notes.recognised}
    uncovered = {names[s] for s in notes.uncovered}
    assert {"Apache Spark", "Workflow orchestration", "dbt"} <= uncovered or len(uncovered) >= 3
    assert any(w.startswith("Coverage is poor") for w in notes.warnings), notes.warnings


def test_drafting_is_deterministic(catalogue: Catalogue) -> None:
    _need_family("product_design")
    first = assemble_plan(jd("product_design"), catalogue)
    again = assemble_plan(jd("product_design"), catalogue_for(ROUNDS))
    assert first == again and render_plan(first) == render_plan(again)


def _one_round(plan: InterviewPlan) -> InterviewPlan:
    """The plan cut to its first two-topic round (self-play on all families stays quick)."""
    round_ = next((r for r in plan.rounds if len(r.topics) >= 2), plan.rounds[0])
    topics = round_.topics[:2]
    keep = {t.panelist for t in topics}
    panel = [p for p in round_.panel if p.id in keep] + [
        p for p in round_.panel if p.id not in keep
    ][:1]
    small = round_.model_copy(update={"topics": topics, "panel": panel})
    data = plan.model_copy(update={"rounds": [small], "drafting": None}).model_dump(mode="json")
    return InterviewPlan.model_validate(data)


@pytest.mark.parametrize("name", FIXTURES)
def test_self_play_on_a_drafted_plan_orders_the_levels(name: str, tmp_path: Path) -> None:
    _need_family(name)
    plan = _one_round(drafted(name))
    path = dump_plan(plan, tmp_path / f"{name}.yaml")

    async def play(persona: str) -> dict[str, Any]:
        result = await run_selfplay(
            plan=str(path), persona=persona, database=tmp_path / f"{persona}.sqlite", seed=3
        )
        assert result.report is not None and result.report["completed"], persona
        return result.report

    scores = {p: asyncio.run(play(p))["rounds"][0]["score"] for p in ("strong", "average", "weak")}
    assert scores["strong"] > scores["average"] > scores["weak"], scores


def test_dump_then_load_round_trips(tmp_path: Path) -> None:
    _need_family("product_design")
    plan = drafted("product_design")
    path = dump_plan(plan, tmp_path / "nested" / "pd.yaml", comment="drafted\nby a test")
    assert load_plan(path) == plan and load_plan(path).drafting == plan.drafting
    assert path.read_text().startswith("# drafted\n# by a test\n")
    # Refuses to replace a file unless told to, and leaves no temporary file behind.
    with pytest.raises(FileExistsError):
        dump_plan(plan, path, overwrite=False)
    assert [p.name for p in path.parent.iterdir()] == ["pd.yaml"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("lorem ipsum dolor sit amet", "names no skill"),
        ("We are hiring a rockstar ninja with 5 years of experience!", "names no skill"),
        ("Senior Rocket Engineer\n\nYou will fly rockets and use Figma.", "no role family"),
        ("x" * (MAX_JOB_DESCRIPTION + 1), "limit is 20000"),
    ],
)
async def test_a_job_description_without_skills_is_a_clear_error(text: str, says: str) -> None:
    with pytest.raises(DraftError) as info:
        await draft_plan(text, get_brain("offline"), ROUNDS)
    assert says in str(info.value) and info.value.code == "bad_job_description", info.value
    if says == "names no skill":  # it tells the user what the catalogue covers
        assert "the catalogue covers" in str(info.value)


async def test_no_catalogue_is_its_own_error(tmp_path: Path) -> None:
    with pytest.raises(DraftError) as info:
        await draft_plan("Data Engineer", get_brain("offline"), tmp_path)
    assert info.value.code == "no_catalogue"


async def test_draft_plan_uses_the_brain_and_revalidates_its_plan() -> None:
    shipped = load_plan(ROUNDS / "backend_engineer.yaml")

    class Brain:
        name = "fake"

        def __init__(self, plan: Any) -> None:
            self.plan = plan
            self.seen: list[tuple[str, Catalogue]] = []

        async def draft_plan(self, jd: str, catalogue: Catalogue) -> Any:
            self.seen.append((jd, catalogue))
            return self.plan

    good = Brain(shipped)
    assert await draft_plan("  Kafka and Redis  ", good, ROUNDS) == shipped
    assert good.seen[0][0] == "Kafka and Redis" and good.seen[0][1].families
    # model_copy skips validation, as an engine building a plan by hand might.
    round_ = shipped.rounds[0]
    topic = round_.topics[0].model_copy(update={"panelist": "nobody"})
    broken = shipped.model_copy(update={"rounds": [round_.model_copy(update={"topics": [topic]})]})
    with pytest.raises(DraftError) as info:
        await draft_plan("Kafka", Brain(broken), ROUNDS)
    assert info.value.code == "invalid_plan"
    assert any("'nobody' does not sit on" in p for p in info.value.problems)
    for invalid in ({"id": "x"}, None):
        with pytest.raises(DraftError) as info:
            await draft_plan("Kafka", Brain(invalid), ROUNDS)
        assert info.value.code == "invalid_plan" and info.value.problems


# --- the CLI -------------------------------------------------------------------------------


def test_cli_plan_writes_a_plan_that_validates_and_simulates(tmp_path: Path) -> None:
    _need_family("product_design")
    jd = tmp_path / "job.txt"
    jd.write_text((JD_DIR / "product_design.md").read_text())
    out = tmp_path / "plans" / "generated.yaml"
    env = {"INTERVIEW_DATA_DIR": str(tmp_path / "data")}
    made = run("plan", "--jd", str(jd), "--out", str(out), "--engine", "offline", env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"Plan written to {out}" in made.stdout, made.stdout
    for said in ("Skills recognised: User research", "Role family: Product Design", "covered"):
        assert said in made.stdout, said
    plan = load_plan(out)
    assert plan.drafting is not None and plan.drafting.family == "product_design"
    checked = run("validate", "--audit", str(out))
    assert checked.returncode == 0 and f": ok ({len(plan.rounds)} rounds" in checked.stdout
    report_path = tmp_path / "report.json"
    sim = run("simulate", "--plan", str(out), "--quiet", "--out", str(report_path), env=env)
    assert sim.returncode == 0, sim.stdout + sim.stderr
    report = json.loads(report_path.read_text())
    assert report["completed"] and report["role"] == "Product Designer"
    assert len(report["rounds"]) == len(plan.rounds)
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
    _need_family("product_design")
    jd.write_text((JD_DIR / "product_design.md").read_text())
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
        await client.send({"type": "start", "job_description": jd("product_design")})
        session = (await client.until(lambda e: e["type"] == "session"))[-1]
        assert session["status"] == "started" and session["plan"].startswith("draft_product")
        assert session["plans"][0]["role"] == "Product Designer"
        # What was recognised and covered reaches the client before the interview starts.
        notes = session["drafting"]
        assert notes["family"] == "product_design" and notes["covered"] and notes["recognised"]
        interview = session["interview_id"]
        stored = tmp_path / "data" / "plans" / f"{interview}.yaml"
        plan = load_plan(stored)
        assert plan.id == session["plan"]
        first = await client.question()
        assert first["question_id"] in {t.id for r in plan.rounds for t in r.topics}
        await client.send({"type": "message", "text": "I started from what users told us."})
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
        await after.send({"type": "message", "text": "We changed direction after research."})
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
                {"type": "start", "plan": "data_scientist", "job_description": "Data"},
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
        await client.send({"type": "start", "job_description": jd("product_design")})
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
        await client.send({"type": "start", "job_description": jd("product_design")})
        error = (await client.until(lambda e: e["type"] == "error"))[-1]
        assert error["code"] == "draft_failed"
        await client.send({"type": "ping"})
        await client.until(lambda e: e["type"] == "pong")
        await ws.close()


def test_drafted_yaml_is_plain_data(catalogue: Catalogue) -> None:
    _need_family("product_design")
    text = render_plan(assemble_plan(jd("product_design"), catalogue))
    data = yaml.safe_load(text)
    assert data["id"].startswith("draft_product_designer") and "!!" not in text
    assert data["drafting"]["family"] == "product_design"
