"""The offline engine: deterministic decisions driven by the plan, no model and no network.

It asks the bank's questions, follows up on the key points an answer missed, scores by
key-point coverage against the rubric anchors, detects injection, answer requests and abuse
by patterns, and gives advice from the gaps.  Same inputs, same outputs: recorded
interviews replay exactly, and self-play results are reproducible.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import unicodedata
from collections.abc import AsyncIterator, Sequence
from statistics import mean
from typing import Any, Literal

from ..knowledge import knowledge_query
from ..plans.catalogue import Catalogue
from ..plans.models import Clarification, InterviewPlan, KeyPoint, Panelist, Round, Topic
from . import screening
from .base import register_engine
from .coverage import cover, match_any
from .decisions import (
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
from .intents import classify
from .speech import compose

# Patterns are matched against NFKC-normalised, lower-cased text with zero-width characters
# removed, so full-width letters or invisible joiners do not slip past them.
# Injection is scored by :mod:`.screening` (views, targets, languages, confidence).
_INJECTION = screening.PATTERNS
_ANSWER_REQUEST = [
    r"\b(tell|give|show|send) me the (answer|solution|correct answer|expected answer)",
    r"\bwhat (is|was|'s) the (right|correct|expected) answer\b",
    r"\bwhat('s| is| was) my (score|grade|rating|mark)\b",
    r"\bhow (am i|did i|have i) (do|doing|done|perform)",
    r"\bwhat (score|grade|rating) (did|will|would|do) (i|you)",
    r"\bcan you (just )?(solve|answer) (it|this) for me\b",
]
_ABUSE = [
    r"\bf+u+c+k+",
    r"\bsh[i1]t\b",
    r"\bbitch",
    r"\basshole",
    r"\bidiots?\b",
    r"\bmoron",
    r"\bstupid (question|interviewer|panel)",
    r"\bshut up\b",
    # "dumb" only at someone ("the dumb but effective fallback" is an honest answer).
    r"\bdumbass|\b(you're|you are|this is) (so )?dumb\b|\bdumb (question|interviewer|panel)",
    r"\bscrew you\b",
]
# Inputs that never reach the panel, checked in this order: (patterns, category, reason, notice).
_BLOCKING: list[
    tuple[list[str], Literal["prompt_injection", "answer_request", "abuse"], str, str]
] = [
    (
        _INJECTION,
        "prompt_injection",
        "attempt to instruct the interview system",
        "That message was not passed to the panel: it contained instructions aimed at the "
        "interview system. Please answer the question in your own words.",
    ),
    (
        _ANSWER_REQUEST,
        "answer_request",
        "asked for answers or scores",
        "The panel can't share answers or scores during the interview. Clarifying questions "
        "about the problem are welcome.",
    ),
    (_ABUSE, "abuse", "abusive language", "Please keep the conversation respectful."),
]
_WARN_NOTICE = (
    "Your message was passed to the panel; note that the panel only takes answers, not "
    "instructions about the interview itself."
)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Moves that aim at one key point (the follow-up's, the challenged one's, the discussed one's).
_KEY_POINT_MOVES = ("follow_up", "challenge", "discuss_code")
_SILENCE = re.compile(r"^[\s.…\-_?!]*$")

# Coverage → score thresholds at strictness 0.5; stricter panelists need more coverage.
_BASE_THRESHOLDS = (0.2, 0.4, 0.6, 0.8)
# What help and wrong statements cost on the effective coverage ratio.
HINT_COST = 0.1
MISCONCEPTION_COST = 0.15


def normalise(text: str) -> str:
    """NFKC-normalise, drop zero-width characters, lower-case and collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).lower()
    return re.sub(r"\s+", " ", text).strip()


def pick(options: Sequence[str], *salt: object) -> str:
    """Deterministically pick one of ``options`` from a stable hash of ``salt``."""
    digest = hashlib.sha256("|".join(map(str, salt)).encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def _any(patterns: list[str], text: str) -> str | None:
    return next((p for p in patterns if re.search(p, text)), None)


def score_from_ratio(ratio: float, strictness: float) -> int:
    """Map an effective coverage ratio (0..1) to a 1..5 score for a panelist's strictness."""
    shift = (strictness - 0.5) * 0.1
    return 1 + sum(ratio >= t + shift for t in _BASE_THRESHOLDS)


class OfflineBrain:
    """Deterministic implementation of the :class:`~interview_graph.engine.base.Brain` seam."""

    name = "offline"

    async def check_rules(self, text: str, topic: Topic | None, *, source: str) -> RulesVerdict:
        """Pattern-based rules check; code is checked for injection in comments and strings."""
        norm = normalise(text)
        if source == "code":
            # Code is read as code: instructions in its comments and strings only warn.
            found = screening.screen(screening.code_text(text))
            if found.score >= 2:
                return RulesVerdict(
                    action="warn",
                    category="prompt_injection",
                    reason="code contains text aimed at the interview system "
                    f"({found.view}, pattern {found.pattern!r})",
                    notice="Comments in your code are read as code, not as instructions.",
                )
            return RulesVerdict(action="allow", category="ok", reason="code activity")
        if _SILENCE.match(norm):
            return RulesVerdict(action="allow", category="silence", reason="empty or silent answer")
        found = screening.screen(text)
        if found.score >= 2:
            _, category, reason, notice = _BLOCKING[0]
            # Block only when sure; a weak sign, or an answer about the candidate's own
            # system, reaches the panel with a notice and a flag for a human to review.
            sure = found.score >= 3 and not found.own_context
            return RulesVerdict(
                action="block" if sure else "warn",
                category="prompt_injection",
                reason=f"{reason} ({found.view}, pattern {found.pattern!r})",
                notice=notice if sure else _WARN_NOTICE,
            )
        for patterns, category, reason, notice in _BLOCKING[1:]:
            if hit := _any(patterns, norm):
                return RulesVerdict(
                    action="block",
                    category=category,
                    reason=f"{reason} (pattern {hit!r})",
                    notice=notice,
                )
        # Small talk is not a rules matter: the master's understanding step reads it and the
        # panelist redirects once, in character (a notice here as well doubled the redirect).
        return RulesVerdict(action="allow", category="ok", reason="on-topic answer")

    async def screen(self, text: str, topic: Topic | None) -> RulesVerdict:
        """Nothing to add: the pattern wall in :meth:`check_rules` is the whole check."""
        return RulesVerdict(action="allow", category="ok", reason="checked in line")

    async def understand(
        self,
        text: str,
        topic: Topic,
        progress: dict[str, Any],
        *,
        faq: Sequence[Clarification],
    ) -> Understanding:
        """Patterns plus the plan's own triggers (see :mod:`.intents`)."""
        return classify(text, normalise(text), topic, faq, progress.get("covered", []))

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
        """Cover key points; complete the topic when covered, out of follow-ups or out of time."""
        coverage = cover(answer, topic.key_points) if not silent else None
        already = set(progress.get("covered", []))
        covered = [k for k in (coverage.covered if coverage else ()) if k not in already]
        wrong, quote = None, ""
        challenged = {m["id"] for m in progress.get("misconceptions", [])}
        for misconception in topic.misconceptions if not silent else ():
            if misconception.id in challenged:
                continue
            if hit := match_any(answer, misconception.phrases):
                wrong, quote = misconception.id, hit.sentence
                break
        union = already | set(covered)
        missed = [kp.id for kp in topic.key_points if kp.id not in union]
        probed = set(progress.get("probed", []))
        followups = {f.key_point for f in topic.follow_ups}
        # Prefer missed points the plan has a follow-up for, then any missed point.
        candidates = [k for k in missed if k not in probed]
        probe = next(
            (k for k in candidates if k in followups), candidates[0] if candidates else None
        )
        silences = progress.get("silences", 0) + (1 if silent else 0)
        if out_of_turns:
            complete, reason = True, "the round is out of turns"
        elif not missed:
            complete, reason = True, "every key point is covered"
        elif len(progress.get("probed", [])) >= max_follow_ups or probe is None:
            complete, reason = (
                True,
                f"follow-up budget spent ({max_follow_ups}); {len(missed)} missed",
            )
        elif silences >= 2:
            complete, reason = True, "no answer after a nudge"
        else:
            complete, reason = False, f"{len(missed)} key point(s) missed; probing {probe}"
        return TopicDecision(
            covered=covered,
            evidence={k: v for k, v in (coverage.evidence if coverage else {}).items()},
            spans={k: v for k, v in (coverage.spans if coverage else {}).items() if k in covered},
            complete=complete,
            reason=reason,
            probe=None if complete else probe,
            misconception=wrong,
            quote=quote,
        )

    async def pick_speaker(
        self, round_: Round, topic: Topic, asked_counts: dict[str, int]
    ) -> SpeakerChoice:
        """The topic's named panelist, else best focus overlap, ties to whoever asked least."""
        if topic.panelist:
            return SpeakerChoice(panelist_id=topic.panelist, reason="named by the plan")
        wanted = set(topic.competencies)

        def rank(p: Panelist) -> tuple[int, int, int]:
            return (-len(wanted & set(p.focus)), asked_counts.get(p.id, 0), round_.panel.index(p))

        best = min(round_.panel, key=rank)
        return SpeakerChoice(
            panelist_id=best.id, reason="closest focus to the topic's competencies"
        )

    async def advise(
        self,
        panelist: Panelist,
        task: dict[str, Any],
        topic: Topic | None,
        progress: dict[str, Any] | None,
        handoff: str,
        activity: dict[str, Any] | None,
    ) -> Advice:
        """Advice from the gaps: what is covered, what to probe, what earlier rounds found."""
        parts: list[str] = []
        covered = list((progress or {}).get("covered", []))
        probe: list[str] = []
        if topic is not None:
            probe = [kp.id for kp in topic.key_points if kp.id not in covered]
            if task.get("key_point"):
                probe = [task["key_point"], *[k for k in probe if k != task["key_point"]]]
            if covered:
                parts.append(f"Already covered: {', '.join(covered)}.")
            if probe and task["move"] in ("follow_up", "nudge", "redirect"):
                parts.append(f"Probe next: {probe[0]}.")
        if handoff and task["move"] in ("introduce", "ask"):
            parts.append(f"From earlier rounds: {handoff}")
        if activity and topic is not None and activity.get("question_id") == topic.id:
            # The speech brief: a speaking panelist never holds a hidden test's inputs.
            brief = activity.get("brief_for_speech", activity.get("brief", ""))
            parts.append(f"Code analysis: {brief}")
        if task["move"] == "redirect":
            parts.append("The candidate drifted off topic; bring them back to the question kindly.")
        return Advice(
            text=" ".join(parts) or "Ask the question as written.", probe=probe, covered=covered
        )

    async def reason(
        self,
        panelist: Panelist,
        task: dict[str, Any],
        topic: Topic | None,
        advice: dict[str, Any],
        memory: dict[str, Any],
    ) -> Intent:
        """Take the master's task; choose the key point and what to look up."""
        key_point = task.get("key_point") or (advice.get("probe") or [None])[0]
        query = ""
        if topic is not None:
            kp = next((k for k in topic.key_points if k.id == key_point), None)
            query = knowledge_query(topic, kp)
        note = f"{task['move']} on {topic.id if topic else 'round'}" + (
            f", probing {key_point}" if task["move"] == "follow_up" else ""
        )
        return Intent(
            move=task["move"],
            key_point=key_point if task["move"] in _KEY_POINT_MOVES else None,
            query=query,
            detail={k: str(v) for k, v in (task.get("detail") or {}).items()},
            note=note,
        )

    async def speak(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        round_: Round,
        scene: dict[str, Any],
    ) -> AsyncIterator[str]:
        """Compose the line from the persona's own phrases and the plan's questions; stream it."""
        text = self._compose(panelist, intent, topic, round_, scene)
        for chunk in re.findall(r"\S+\s*", text):
            yield chunk

    def _compose(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        round_: Round,
        scene: dict[str, Any],
    ) -> str:
        return compose(panelist, intent, topic, round_, scene)

    async def reflect(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        progress: dict[str, Any] | None,
        answer: str,
    ) -> Reflection:
        """A private note of what the answer showed."""
        if topic is None or progress is None:
            return Reflection(observation="introduced the round", reflection="")
        total = len(topic.key_points)
        covered = progress.get("covered", [])
        missed = [kp.id for kp in topic.key_points if kp.id not in covered]
        answers = progress.get("answers", 0)
        observation = f"{topic.id}: {len(covered)}/{total} key points after {answers} answer(s)"
        if missed:
            reflection = f"Gaps on {topic.id}: {', '.join(missed)}."
        else:
            reflection = f"Solid on {topic.id}."
        return Reflection(observation=observation, reflection=reflection)

    async def evaluate(
        self,
        panelist: Panelist,
        topic: Topic,
        round_: Round,
        progress: dict[str, Any],
        activity: dict[str, Any] | None,
    ) -> Evaluation:
        """Score each competency from its own key points; unprompted coverage weighs more.

        A competency is scored from the key points that evidence it (and, on a coding
        question, from the submitted code); its evidence is the candidate's quotes for the
        points covered, the points asked about and missed, misconceptions voiced and the code
        result — never another competency's quotes.  A competency with nothing to judge it by
        in this topic is left out (not assessed here).
        """
        covered = set(progress.get("covered", []))
        first = set(progress.get("first_covered", []))
        quotes = progress.get("evidence", {})
        hinted = [h.get("key_point") for h in progress.get("hints", []) if isinstance(h, dict)]
        wrong = progress.get("misconceptions", [])
        wrong_by_id = {m.id: m for m in topic.misconceptions}
        code = activity if activity and activity.get("question_id") == topic.id else None
        anchors = {c.id: c for c in round_.rubric.competencies}
        scores: dict[str, int] = {}
        evidence_by: dict[str, list[str]] = {}
        every = {kp.id for kp in topic.key_points}
        whole = 0.6 * len(first & every) / len(every) + 0.4 * len(covered & every) / len(every)
        notes: list[str] = []
        for comp in topic.competencies:
            if comp not in anchors:
                continue
            points = [
                kp for kp in topic.key_points if (kp.competency or topic.competencies[0]) == comp
            ]
            ids = {kp.id for kp in points}
            if not points and code is None:
                continue
            effective = 0.0
            if points:
                own = 0.6 * len(first & ids) / len(ids) + 0.4 * len(covered & ids) / len(ids)
                # A competency often rests on one or two points of a topic: half its own
                # coverage, half the topic's, so one point said late does not swing it 1 → 5.
                effective = 0.5 * own + 0.5 * whole
            helped = sum(1 for k in hinted if k in ids)
            errors = [m for m in wrong if m.get("key_point") in ids]
            # A point reached with help is worth less than one reached alone; a wrong
            # statement costs more than a missing one.
            effective -= min(0.3, HINT_COST * helped) + MISCONCEPTION_COST * len(errors)
            effective = max(0.0, effective)
            found: list[str] = [
                quotes[kp.id] for kp in points if kp.id in covered and kp.id in quotes
            ]
            found += [f"Not covered: {_label(kp)}" for kp in points if kp.id not in covered]
            found += [f"“{m['quote']}” (a misconception)" for m in errors]
            if code is not None:
                effective, code_notes = _adjust_for_code(effective, code, code_only=not points)
                notes += [n for n in code_notes if n not in notes]
                if tests := code.get("tests"):
                    found.append(f"Code: {tests.get('passed', 0)}/{tests['total']} tests passed.")
            scores[comp] = score_from_ratio(effective, panelist.strictness)
            evidence_by[comp] = list(dict.fromkeys(found))
        if not scores:  # nothing maps (a plan without competency links): judge the topic whole
            scores = {c: 1 for c in topic.competencies if c in anchors}
            evidence_by = {c: ["Not assessed: no evidence recorded."] for c in scores}
        hints = len(progress.get("hints", []))
        if hints:
            notes.append(f"{hints} hint(s) used.")
        if wrong:
            notes.append(f"{len(wrong)} misconception(s) voiced.")
        strengths = [f"Covered: {_label(kp)}" for kp in topic.key_points if kp.id in covered][:3]
        gaps = [
            f"Misconception: {wrong_by_id[m['id']].text}"
            + ("" if m["quote"] in wrong_by_id[m["id"]].text else f" (said “{m['quote']}”)")
            for m in wrong
            if m["id"] in wrong_by_id
        ]
        gaps += [f"Missed: {_label(kp)}" for kp in topic.key_points if kp.id not in covered][:3]
        rationale = "; ".join(
            f"{anchors[c].name} {score}/5: {anchors[c].anchors[score - 1].description}"
            for c, score in scores.items()
        )
        rationale = (
            f"Covered {len(covered)}/{len(topic.key_points)} key points ({len(first)} "
            f"unprompted); strictness {panelist.strictness:.1f}. {rationale}"
        )
        if notes:
            rationale += " " + " ".join(notes)
        evidence = list(dict.fromkeys(q for qs in evidence_by.values() for q in qs))[:6]
        return Evaluation(
            panelist_id=panelist.id,
            topic_id=topic.id,
            scores=scores,
            evidence=evidence,
            evidence_by=evidence_by,
            strengths=strengths,
            gaps=gaps,
            rationale=rationale,
        )

    async def summarise_round(
        self, round_: Round, evaluations: list[Evaluation], scores: dict[str, float]
    ) -> RoundSummary:
        """Summarise strengths, gaps and competency scores for the next panel."""
        strengths = list(dict.fromkeys(s for e in evaluations for s in e.strengths))[:4]
        gaps = list(dict.fromkeys(g for e in evaluations for g in e.gaps))[:4]
        names = {c.id: c.name for c in round_.rubric.competencies}
        strongest = max(scores, key=lambda c: scores[c]) if scores else None
        weakest = min(scores, key=lambda c: scores[c]) if scores else None
        # No figure of its own: the report opens the summary with the round's score, so the
        # two can never disagree.
        text = f"{round_.title}."
        if strongest and weakest and strongest != weakest:
            text += f" Strongest on {names[strongest]}, weakest on {names[weakest]}."
        if gaps:
            text += f" Gaps to revisit: {'; '.join(gaps[:2])}"
        return RoundSummary(round_id=round_.id, text=text, strengths=strengths, gaps=gaps)

    async def recommend(
        self, plan: InterviewPlan, round_scores: dict[str, float], flags: list[dict[str, Any]]
    ) -> Recommendation:
        """Thresholds on the mean round score; a weak round caps the outcome."""
        if not round_scores:
            return Recommendation(decision="no_hire", rationale="no round was assessed")
        overall = mean(round_scores.values())
        lowest = min(round_scores.values())
        if overall >= 4.0 and lowest >= 3.5:
            decision = "strong_hire"
        elif overall >= 3.2 and lowest >= 2.5:
            decision = "hire"
        elif overall >= 2.5:
            decision = "lean_no_hire"
        else:
            decision = "no_hire"
        rationale = f"Mean round score {overall:.2f}/5, lowest round {lowest:.2f}/5."
        missing = [r.title for r in plan.rounds if r.id not in round_scores]
        if missing:
            # Not assessed is not a pass: an incomplete interview cannot recommend a hire.
            if decision in ("strong_hire", "hire"):
                decision = "lean_no_hire"
            rationale += f" Not assessed: {', '.join(missing)}; at most lean_no_hire."
        if flags:
            rationale += f" {len(flags)} integrity/rules flag(s) for a human to review."
        return Recommendation(decision=decision, rationale=rationale)

    async def draft_plan(self, job_description: str, catalogue: Catalogue) -> InterviewPlan:
        """Assemble a plan from the catalogue's topics that match the job description's skills."""
        from ..plans.drafting import assemble_plan

        # A few milliseconds of indexing: off the event loop, so other interviews keep moving.
        return await asyncio.to_thread(assemble_plan, job_description, catalogue)


def _label(kp: KeyPoint) -> str:
    """A key point as a report names it (third person, not the candidate's voice)."""
    return kp.label or kp.id.replace("_", " ")


def _adjust_for_code(
    effective: float, activity: dict[str, Any], *, code_only: bool = False
) -> tuple[float, list[str]]:
    """Fold the last code analysis in: parsing, tests (the last submission's), approach.

    ``code_only``: the competency has no key point here, the code is all there is to judge.
    """
    notes: list[str] = []
    if activity.get("syntax_error"):
        effective -= 0.2
        notes.append("Submitted code did not parse.")
    tests = activity.get("tests") or {}
    if tests.get("total"):
        ratio = tests.get("passed", 0) / tests["total"]
        effective = ratio if code_only else 0.7 * effective + 0.3 * ratio
        notes.append(f"Tests: {tests.get('passed', 0)}/{tests['total']} passed.")
    if activity.get("approach_optimal"):
        effective += 0.05
        notes.append(f"Approach resembles {activity.get('approach')}.")
    return max(0.0, min(1.0, effective)), notes


register_engine("offline", OfflineBrain)
