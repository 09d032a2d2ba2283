"""The LLM engine: the :class:`~interview_graph.engine.base.Brain` seam answered by models.

Latency shapes what runs where.  With ``llm_critical_path="fast"`` (the default) the steps
between a candidate's message and the first token of the reply are the offline rules wall,
the key-point matcher, the speaker rota, the master's advice and the panelist's intent —
all deterministic and sub-millisecond — and then the one streamed ``speak`` call.  The LLM
rules ``screen`` runs concurrently with that call and the reply is held until it allows;
reflection, evaluation, round summaries and the recommendation are LLM calls made after the
reply has streamed.  ``"full"`` makes topic completion, speaker choice, advice and intent LLM
calls as well, at the cost of one model round-trip each before the reply.

Whatever a model returns is bounded by what the offline engine can justify from evidence:
covered key points need a verbatim quote from the answer, ids must exist in the plan, and an
evaluation score may exceed the evidence-based score by at most one point.  Candidate text in
a prompt is always fenced as data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import ValidationError

from ..engine.base import register_engine
from ..engine.coverage import words
from ..engine.decisions import (
    Advice,
    Evaluation,
    Intent,
    Recommendation,
    Reflection,
    RoundSummary,
    RulesVerdict,
    SpeakerChoice,
    TopicDecision,
    Understanding,
)
from ..engine.offline import OfflineBrain
from ..plans.catalogue import Catalogue
from ..plans.models import Clarification, InterviewPlan, Panelist, Round, Topic
from ..settings import get_settings
from .calls import OutputError, decide, decide_early, stream_text
from .prompts import fence

logger = logging.getLogger("interview_graph.llm")
_MOVES = {
    "introduce": "greet the candidate and introduce yourself in the first person, in a sentence "
    "or two; if you lead the round, also say in your own words what the round will be like.",
    "ask": "ask the current question, in your own words but keeping its meaning; if it is not "
    "the first question, use a short natural transition (never 'Let's move on').",
    "follow_up": "react in a few words to what the candidate just said, using their own terms, "
    "then ask the follow-up.",
    "nudge": "the candidate said nothing; encourage them and put the question another way.",
    "redirect": "the candidate made small talk; reply in one friendly sentence at most, then "
    "bring them back to the question. Do it once, briefly.",
    "close": "acknowledge the answer in one short sentence; do not ask anything.",
    "hand_off": "hand over to a colleague in one short sentence.",
    "repeat": "the candidate asked you to repeat: say the question (or your last follow-up) "
    "again in other words, without adding anything new.",
    "clarify": "the candidate asked a clarifying question: answer it from the material below; if "
    "there is none, tell them it's their call and to state their assumption.",
    "hint": "the candidate asked for a hint: give exactly the hint in the material below, in your "
    "own words and never more than it says; if there is none, say you can't help further.",
    "encourage": "the candidate is stuck: reassure them in a few words and offer the hint in the "
    "material below (or a simpler angle on the question).",
    "answer_question": "the candidate asked you something about the interview or the team: "
    "answer briefly and in character from the material below, then return to the question.",
    "challenge": "the candidate said something wrong: quote their words from the material below "
    "and ask the challenge question; do not correct them or give the answer.",
    "wait": "the candidate is thinking: tell them to take their time, in a few words.",
    "invite_code": "tell the candidate to go ahead and write the code in the editor and submit "
    "when ready (or ask whether they are ready to submit, if you already invited them).",
    "discuss_code": "comment on their submission using only the result in the material below "
    "(never mention specific hidden tests), then ask the question in the material.",
    "elaborate": "the candidate's answer was too short to go on: ask them, in one sentence, to "
    "say more about how they would approach it, without hinting at the answer.",
    "farewell": "the interview is over: thank the candidate warmly and say what happens next, "
    "from the material below. Do not ask anything.",
}
# What each key of an intent's detail means, for the speak prompt's material.
_MATERIAL = {
    "quote": "The candidate's words to quote",
    "asked": "The candidate's question",
    "ref": "The candidate's words to pick up",
    "probe": "The question to ask",
    "hint": "The hint to give",
    "reply": "Answer to the candidate's question",
    "result": "Their submission's result (say it in your words)",
    "again": "Your last question, to repeat",
    "why": "Why the topic ends",
    "stopped": "The candidate ended the interview early",
}
_DECISIONS = ["no_hire", "lean_no_hire", "hire", "strong_hire"]


def _key_points(topic: Topic | None) -> list[str]:
    return [f"{kp.id}: {kp.text}" for kp in topic.key_points] if topic else []


# The screen answers with its verdict word first (ALLOW, WARN or BLOCK), then, for WARN and
# BLOCK, optionally one JSON line of details: the word is the decision, so the reply it gates
# can be released on the screen's first token.  Models do not always comply, so the word is
# read leniently: any case, markdown around it, and a short label before it ("Verdict: allow",
# "**Verdict**: ALLOW", "Sure. BLOCK").  Anything else is unreadable, and the gate does not
# wait for a repair (see ``panelist.nodes._gated``).
_TOKEN = re.compile(r"[A-Za-z]+")
_VERDICTS = {
    "allow": "allow",
    "allowed": "allow",
    "warn": "warn",
    "warning": "warn",
    "block": "block",
    "blocked": "block",
}
_PREAMBLE = frozenset(
    "verdict decision action answer result final rules rule screen my the is sure ok okay "
    "here s it reply output".split()
)
_MAX_PREAMBLE = 4
_ACTIONS = {"ALLOW": "allow", "WARN": "warn", "BLOCK": "block"}
_DEFAULT_CATEGORY = {"allow": "ok", "warn": "off_topic", "block": "prompt_injection"}
_DEFAULT_NOTICE = {
    "warn": "Let's come back to the question, please.",
    "block": "Let's keep to the interview question, please.",
}


def verdict_word(text: str, *, complete: bool = True) -> tuple[str, int] | str | None:
    """The verdict word at the start of ``text``: (action, end offset), "unreadable", or None.

    None means not yet decidable (``complete=False``: the text is a stream's prefix and its
    last word may still grow).
    """
    for n, word in enumerate(_TOKEN.finditer(text)):
        action = _VERDICTS.get(word.group().lower())
        if action is not None:  # "ALLOW" may still grow, but only into "ALLOWED"
            return action, word.end()
        if word.end() == len(text) and not complete:  # "ALL" may become "ALLOW"
            return None
        if word.group().lower() not in _PREAMBLE or n >= _MAX_PREAMBLE:
            return "unreadable"
    return "unreadable" if complete else None


def _early_allow(partial: str) -> RulesVerdict | None:
    """The verdict as soon as its word is read (any word; WARN/BLOCK details are optional)."""
    found = verdict_word(partial, complete=False)
    if not isinstance(found, tuple):
        return None
    action = found[0]
    if action == "allow":
        return RulesVerdict(action="allow", category="ok", reason="screen: allow")
    return RulesVerdict(
        action=action,
        category=_DEFAULT_CATEGORY[action],
        reason=f"screen: {action}",
        notice=_DEFAULT_NOTICE[action],
    )


def read_verdict(text: str) -> RulesVerdict:
    """Read the screen's whole reply: the verdict word, then optional JSON details.

    Raises:
        OutputError: no verdict word at the start (after a short label at most).
    """
    found = verdict_word(text)
    if not isinstance(found, tuple):
        raise OutputError("the reply must start with one word: ALLOW, WARN or BLOCK")
    action, at = found
    rest = text[at:].strip().strip("*_:").strip().removeprefix("```json").strip("`").strip()
    details: dict[str, Any] = {}
    if rest:
        start, end = rest.find("{"), rest.rfind("}")
        try:
            details = json.loads(rest[start : end + 1]) if 0 <= start < end else {}
        except ValueError:
            details = {}
        if not isinstance(details, dict):
            details = {}
    base = {
        "category": _DEFAULT_CATEGORY[action],
        "reason": f"screen: {action}",
        "notice": _DEFAULT_NOTICE.get(action, ""),
    }
    try:
        return RulesVerdict.model_validate(
            {
                **base,
                **{k: v for k, v in details.items() if k in ("category", "reason", "notice") and v},
                "action": action,
            }
        )
    except ValidationError:
        # The word decides; details that do not fit are dropped, not the verdict.
        return RulesVerdict.model_validate({**base, "action": action})


def _plan_order(topic: Topic) -> list[str]:
    """Key point ids in the plan's order."""
    return [kp.id for kp in topic.key_points]


def _quoted(quote: str, answer: str) -> bool:
    """A quote counts as evidence only if the candidate really said it."""
    q = " ".join(words(quote))
    return len(q) >= 3 and f" {q} " in f" {' '.join(words(answer))} "


class LLMBrain:
    """Decisions and speech from chat models; the offline engine is the fallback per step."""

    name = "llm"

    def __init__(self) -> None:
        self.offline = OfflineBrain()
        self.full = get_settings().llm_critical_path == "full"

    async def check_rules(self, text: str, topic: Topic | None, *, source: str) -> RulesVerdict:
        """The deterministic wall first; in full mode the model's screen follows in line."""
        wall = await self.offline.check_rules(text, topic, source=source)
        if wall.action != "allow" or not self.full or source == "code":
            return wall
        return await self._screen(text, topic, source, wall)

    async def screen(self, text: str, topic: Topic | None) -> RulesVerdict:
        """The model's rules check, run alongside the reply (fast mode)."""
        allow = RulesVerdict(action="allow", category="ok", reason="checked in line")
        if self.full or not text.strip():
            return allow
        return await self._screen(text, topic, "message", allow)

    async def _screen(
        self, text: str, topic: Topic | None, source: str, fallback: RulesVerdict
    ) -> RulesVerdict:
        async def offline() -> RulesVerdict:
            return fallback

        return await decide_early(
            "screen",
            RulesVerdict,
            "screen",
            {
                "question": topic.question if topic else "(introductions)",
                "source": source,
                "candidate": fence(text),
            },
            early=_early_allow,
            fallback=offline,
            read=read_verdict,
        )

    async def understand(
        self,
        text: str,
        topic: Topic,
        progress: dict[str, Any],
        *,
        faq: Sequence[Clarification],
    ) -> Understanding:
        """The deterministic reading in both modes: no model call before the first token."""
        return await self.offline.understand(text, topic, progress, faq=faq)

    async def assess_answer(
        self,
        answer: str,
        topic: Topic,
        progress: dict[str, Any],
        *,
        max_follow_ups: int,
        out_of_turns: bool,
        silent: bool,
    ) -> TopicDecision:
        """Fast: the key-point matcher.  Full: the model, held to quoted evidence."""
        base = await self.offline.assess_answer(
            answer,
            topic,
            progress,
            max_follow_ups=max_follow_ups,
            out_of_turns=out_of_turns,
            silent=silent,
        )
        if not self.full or silent:
            return base

        async def offline() -> TopicDecision:
            return base

        got = await decide(
            "master",
            TopicDecision,
            "assess",
            {
                "question": topic.question,
                "key_points": _key_points(topic),
                "covered": progress.get("covered", []),
                "probed": progress.get("probed", []),
                "candidate": fence(answer),
            },
            fallback=offline,
        )
        ids = {kp.id for kp in topic.key_points}
        already = set(progress.get("covered", []))
        evidence = {
            k: q
            for k, q in got.evidence.items()
            if k in ids and k not in already and _quoted(q, answer)
        }
        # The model may add points it can quote; it never removes what the matcher found.
        covered = [*base.covered, *(k for k in evidence if k not in base.covered)]
        missed = ids - already - set(covered)
        probed = progress.get("probed", [])
        probe = got.probe if got.probe in missed and got.probe not in probed else None
        probe = probe or next(
            (k for k in _plan_order(topic) if k in missed and k not in probed), None
        )
        complete = (
            out_of_turns
            or not missed
            or got.complete
            or probe is None
            or base.complete  # the deterministic rules (budget, turns) still bind
        )
        evidence = {**base.evidence, **evidence}
        return TopicDecision(
            covered=covered,
            evidence={k: v for k, v in evidence.items() if k in covered},
            complete=complete,
            reason=got.reason[:300],
            probe=None if complete else probe,
        )

    async def pick_speaker(
        self, round_: Round, topic: Topic, asked_counts: dict[str, int]
    ) -> SpeakerChoice:
        """Fast: the rota.  Full: the model picks among the round's panel."""
        base = await self.offline.pick_speaker(round_, topic, asked_counts)
        if not self.full or topic.panelist:
            return base

        async def offline() -> SpeakerChoice:
            return base

        got = await decide(
            "master",
            SpeakerChoice,
            "pick_speaker",
            {
                "round": round_.title,
                "topic": topic.question,
                "competencies": list(topic.competencies),
                "panel": [
                    [p.id, p.title, list(p.focus), asked_counts.get(p.id, 0)] for p in round_.panel
                ],
            },
            fallback=offline,
        )
        return got if got.panelist_id in {p.id for p in round_.panel} else base

    async def advise(
        self,
        panelist: Panelist,
        task: dict[str, Any],
        topic: Topic | None,
        progress: dict[str, Any] | None,
        handoff: str,
        activity: dict[str, Any] | None,
    ) -> Advice:
        """Fast: advice from the gaps.  Full: the model writes it."""
        base = await self.offline.advise(panelist, task, topic, progress, handoff, activity)
        if not self.full or topic is None:
            return base

        async def offline() -> Advice:
            return base

        got = await decide(
            "master",
            Advice,
            "advise",
            {
                "panelist": f"{panelist.name}, {panelist.title}",
                "move": task["move"],
                "question": topic.question,
                "key_points": _key_points(topic),
                "covered": base.covered,
                "handoff": handoff or "none",
                # Its advice goes to the speaker: the brief without hidden test inputs.
                "activity": (activity or {}).get("brief_for_speech", "none"),
            },
            fallback=offline,
        )
        ids = {kp.id for kp in topic.key_points}
        probe = [k for k in got.probe if k in ids and k not in base.covered] or base.probe
        return Advice(text=got.text[:600], probe=probe, covered=base.covered)

    async def reason(
        self,
        panelist: Panelist,
        task: dict[str, Any],
        topic: Topic | None,
        advice: dict[str, Any],
        memory: dict[str, Any],
    ) -> Intent:
        """Fast: the master's task decides.  Full: the model, keeping the master's move."""
        base = await self.offline.reason(panelist, task, topic, advice, memory)
        if not self.full or topic is None:
            return base

        async def offline() -> Intent:
            return base

        got = await decide(
            "panelist",
            Intent,
            "reason",
            {
                "name": panelist.name,
                "title": panelist.title,
                "move": task["move"],
                "question": topic.question,
                "key_points": _key_points(topic),
                "advice": advice.get("text", ""),
                "memory": _memory(memory),
            },
            fallback=offline,
        )
        ids = {kp.id for kp in topic.key_points}
        key_point = got.key_point if got.key_point in ids else base.key_point
        return Intent(
            move=base.move,
            key_point=key_point if base.key_point is not None else None,
            detail=base.detail,
            query=got.query[:200] or base.query,
            note=got.note[:300],
        )

    async def speak(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        round_: Round,
        scene: dict[str, Any],
    ) -> AsyncIterator[str]:
        """Stream the panelist's line; if the model fails before speaking, say the offline line."""
        follow = "none"
        if topic is not None and intent.move == "follow_up":
            follow = next(
                (f.question for f in topic.follow_ups if f.key_point == intent.key_point),
                "ask about an aspect they have not covered yet, without naming it",
            )
        material = dict(intent.detail)
        if intent.move == "farewell":
            material["reply"] = scene.get("closing", "")
        if intent.move in ("repeat", "nudge", "redirect", "encourage") and topic is not None:
            material.setdefault("again", (topic.rephrasings or [topic.question])[0])
        max_words = 25 if intent.move in ("close", "wait") else 90
        values = {
            "name": panelist.name,
            "title": panelist.title,
            "round": round_.title,
            "round_description": round_.opening or round_.description,
            "traits": ", ".join(panelist.traits),
            "style": panelist.speaking_style,
            "max_words": max_words,
            "move_instruction": _MOVES[intent.move]
            + (
                " Others on the panel: "
                + ", ".join(f"{p.name} ({p.title})" for p in round_.panel if p.id != panelist.id)
                if intent.move == "introduce" and scene.get("lead")
                else ""
            ),
            "question": topic.question if topic else "(none yet: introductions)",
            "follow_up": follow,
            "material": _material(material),
            "exchanges": _exchanges(scene.get("recent", [])),
            "advice": scene.get("advice", "") or "none",
            "notes": scene.get("notes", []),
            "memory": _memory(scene.get("memory", {})),
            "candidate": fence(scene.get("answer", "")) if scene.get("answer") else "(nothing yet)",
        }
        said = False
        # The token cap follows the prompt's own word limit (plus room for punctuation).
        settings = get_settings()
        cap = int(max_words * settings.llm_tokens_per_word) + 16
        cut: dict[str, Any] = {}
        try:
            async for chunk in stream_text(
                "panelist",
                "speak",
                values,
                [f"panelist:{panelist.id}", "speak"],
                max_tokens=cap,
                outcome=cut,
            ):
                said = said or bool(chunk.strip())
                yield chunk
            if "text" in cut:
                # Cut short (cap, wall clock, a loop): the line stands as it ends cleanly.
                scene["said"] = cut["text"]
            if not said or ("text" in cut and not cut["text"].strip()):
                # A model that answered with nothing (a small model's immediate end of text, or
                # a loop from its first word) must not leave the candidate an empty line.
                logger.warning("speech by %s was empty: the offline line stands", panelist.id)
                scene.pop("said", None)
                async for chunk in self.offline.speak(panelist, intent, topic, round_, scene):
                    yield chunk
        except Exception:  # noqa: BLE001  # any model failure: the candidate still hears a line
            logger.warning("speech by %s failed (said=%s)", panelist.id, said, exc_info=True)
            if said:
                return  # the line stays as far as it got; the next turn goes on
            async for chunk in self.offline.speak(panelist, intent, topic, round_, scene):
                yield chunk

    async def reflect(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        progress: dict[str, Any] | None,
        answer: str,
    ) -> Reflection:
        """The panelist's private note, written by the model after the reply."""
        base = await self.offline.reflect(panelist, intent, topic, progress, answer)
        if topic is None or progress is None or not answer:
            return base

        async def offline() -> Reflection:
            return base

        got = await decide(
            "panelist",
            Reflection,
            "reflect",
            {
                "name": panelist.name,
                "title": panelist.title,
                "question": topic.question,
                "key_points": _key_points(topic),
                "covered": progress.get("covered", []),
                "move": intent.move,
                "candidate": fence(answer, 2_000),
            },
            fallback=offline,
        )
        return Reflection(observation=got.observation[:300], reflection=got.reflection[:300])

    async def evaluate(
        self,
        panelist: Panelist,
        topic: Topic,
        round_: Round,
        progress: dict[str, Any],
        activity: dict[str, Any] | None,
    ) -> Evaluation:
        """The model scores; each score is capped at the evidence-based score plus one."""
        base = await self.offline.evaluate(panelist, topic, round_, progress, activity)

        async def offline() -> Evaluation:
            return base

        anchors = {c.id: c for c in round_.rubric.competencies}
        got = await decide(
            "evaluator",
            Evaluation,
            "evaluate",
            {
                "name": panelist.name,
                "title": panelist.title,
                "strictness": panelist.strictness,
                "panelist_id": panelist.id,
                "topic_id": topic.id,
                "competency_ids": list(base.scores),
                "question": topic.question,
                "key_points": _key_points(topic),
                "covered": len(progress.get("covered", [])),
                "total": len(topic.key_points),
                "first_ratio": f"{(progress.get('first_ratio') or 0.0):.0%}",
                "evidence": fence(
                    "\n".join(f"{k}: {q}" for k, q in progress.get("evidence", {}).items())
                    or "(none)",
                    3_000,
                ),
                "activity": (activity or {}).get("brief", "none"),
                "rubric": {c: [a.description for a in anchors[c].anchors] for c in base.scores},
            },
            fallback=offline,
        )
        scores = {
            c: max(1, min(5, got.scores.get(c, base.scores[c]), base.scores[c] + 1))
            for c in base.scores
        }
        return Evaluation(
            panelist_id=panelist.id,
            topic_id=topic.id,
            scores=scores,
            evidence=[e[:300] for e in got.evidence[:3]] or base.evidence,
            # Per-competency evidence stays the matcher's: verbatim quotes, checked misses.
            evidence_by=base.evidence_by,
            strengths=[s[:200] for s in got.strengths[:3]],
            gaps=[g[:200] for g in got.gaps[:3]],
            rationale=got.rationale[:600] or base.rationale,
        )

    async def summarise_round(
        self, round_: Round, evaluations: list[Evaluation], scores: dict[str, float]
    ) -> RoundSummary:
        """The model summarises the round from the panel's evaluations."""
        base = await self.offline.summarise_round(round_, evaluations, scores)

        async def offline() -> RoundSummary:
            return base

        got = await decide(
            "evaluator",
            RoundSummary,
            "summarise_round",
            {
                "round_id": round_.id,
                "round": round_.title,
                "scores": {c: round(s, 2) for c, s in scores.items()},
                "evaluations": [
                    {
                        "topic": e.topic_id,
                        "scores": e.scores,
                        "strengths": e.strengths,
                        "gaps": e.gaps,
                        "rationale": e.rationale[:300],
                    }
                    for e in evaluations[-12:]
                ],
            },
            fallback=offline,
        )
        return RoundSummary(
            round_id=round_.id,
            text=got.text[:800],
            strengths=[s[:200] for s in got.strengths[:4]],
            gaps=[g[:200] for g in got.gaps[:4]],
        )

    async def recommend(
        self, plan: InterviewPlan, round_scores: dict[str, float], flags: list[dict[str, Any]]
    ) -> Recommendation:
        """The model recommends, within one step of the score thresholds' outcome."""
        base = await self.offline.recommend(plan, round_scores, flags)

        async def offline() -> Recommendation:
            return base

        got = await decide(
            "evaluator",
            Recommendation,
            "recommend",
            {
                "role": plan.role,
                "round_scores": {r: round(s, 2) for r, s in round_scores.items()},
                "flags": [{"kind": f.get("kind"), "round": f.get("round_id")} for f in flags[-20:]],
            },
            fallback=offline,
        )
        anchor = _DECISIONS.index(base.decision)
        step = _DECISIONS.index(got.decision)
        bounded = _DECISIONS[max(anchor - 1, min(anchor + 1, step))]
        return Recommendation(decision=bounded, rationale=got.rationale[:800])

    async def draft_plan(self, job_description: str, catalogue: Catalogue) -> InterviewPlan:
        """The planner adapts the catalogue topics that match; checked, repaired once, or refused.

        One call per round, in parallel (a whole plan is longer than a model's reply may be);
        see :mod:`interview_graph.plans.adapting`.

        Raises:
            DraftError: ``bad_job_description`` when no catalogue family fits the text, or
                ``invalid_plan`` with what was wrong with the model's last reply.
        """
        from ..plans import adapting
        from ..plans.drafting import DraftError, assemble_plan
        from ..plans.slugs import slugged

        grounding = await asyncio.to_thread(assemble_plan, job_description, catalogue)
        jd = fence(job_description, 20_000)

        async def adapt(index: int, problems: list[str]) -> Round:
            values = adapting.prompt_values(grounding, index, problems)
            try:
                # Ids slugified first: some servers ignore the schema's pattern.
                return await decide(
                    "planner",
                    slugged(Round),
                    "draft_plan",
                    {**values, "job_description": jd},
                    fallback=None,
                )
            except OutputError as exc:
                raise DraftError(
                    f"the model did not produce a valid interview round after one repair: {exc}",
                    code="invalid_plan",
                ) from None

        count = len(grounding.rounds)
        rounds = list(await asyncio.gather(*(adapt(i, []) for i in range(count))))
        plan, problems = await asyncio.to_thread(adapting.check, grounding, rounds)
        if problems:  # one repair, of the rounds with problems only
            redo = sorted(problems)
            again = await asyncio.gather(*(adapt(i, problems[i]) for i in redo))
            for i, round_ in zip(redo, again, strict=True):
                rounds[i] = round_
            plan, problems = await asyncio.to_thread(adapting.check, grounding, rounds)
        if problems or plan is None:
            flat = [p for ps in problems.values() for p in ps]
            raise DraftError(
                "the model's plan failed the content audit after one repair:\n"
                + "\n".join(f"  - {p}" for p in flat[:10]),
                code="invalid_plan",
                problems=flat,
            )
        return adapting.with_notes(plan, grounding, "llm")


def _material(detail: dict[str, str]) -> str:
    """The public material a line needs, as labelled lines; candidate words stay fenced."""
    lines = []
    for key, value in detail.items():
        if not value or key == "rephrasing":
            continue
        label = _MATERIAL.get(key, key)
        text = fence(value, 400) if key in ("quote", "ref", "asked") else value
        lines.append(f"- {label}: {text}")
    return "\n".join(lines) or "none"


def _exchanges(recent: list[dict[str, Any]]) -> str:
    """The last few public lines (bounded by the master's cap), candidate lines fenced."""
    out = []
    for line in recent[-4:]:
        who = "Candidate" if line.get("speaker") == "candidate" else "Panel"
        text = str(line.get("text", ""))[:400]
        out.append(f"{who}: {fence(text, 400) if who == 'Candidate' else text}")
    return "\n".join(out) or "(none)"


def _memory(memory: dict[str, Any]) -> dict[str, Any]:
    """The compact part of a panelist's memory that prompts see (bounded by memory caps)."""
    return {
        "observations": memory.get("observations", [])[-3:],
        "reflections": memory.get("reflections", [])[-3:],
        "asked": memory.get("asked", [])[-5:],
        "from_earlier_rounds": memory.get("handoff", ""),
    }


register_engine("llm", LLMBrain)
