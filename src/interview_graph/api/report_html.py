"""The reviewer-grade report as one printable HTML page (no script; a print stylesheet).

Per round: competencies (the engine's score beside the reviewer's, evidence quotes linked to
the transcript line by ``#seq-N``), panelists, topics, code submissions with their results,
strengths and gaps; then integrity flags with evidence, the human review's audit trail,
usage and cost, engine and plan versions, and the transcript (public and private events, each
anchored by seq).  Whatever the report holds that this module does not know is rendered
generically (tables for lists of objects, definition lists for objects), so fields added to
the report show up without a change here.  Every value is escaped.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..review import CompetencyReview, ReviewedReport, ReviewEntry
from ..store import REVIEW_KIND, Event

_REPORT_KNOWN = {
    "plan_id",
    "plan_version",
    "rubric_versions",
    "role",
    "engine",
    "completed",
    "overall",
    "recommendation",
    "rounds",
    "integrity_flags",
    "strengths",
    "gaps",
    "usage",
}
_ROUND_KNOWN = {
    "round_id",
    "title",
    "score",
    "competencies",
    "panelists",
    "topics_assessed",
    "topics_not_reached",
    "coding",
    "strengths",
    "gaps",
    "summary",
}
_DECISIONS = {
    "strong_hire": "Strong hire",
    "hire": "Hire",
    "lean_no_hire": "Lean no hire",
    "no_hire": "No hire",
}

CSS = """
:root { --text:#1d2330; --muted:#5d6678; --border:#d3d8e2; --accent:#2f5fd0; --private:#f4effc;
  --override:#fff4d6; --flag:#fbe9e7; --ok:#1d7a46; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; color: var(--text); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
h1 { font-size: 1.6em; margin: 0 0 .2em; } h2 { font-size: 1.3em; margin: 1.4em 0 .5em;
  border-bottom: 2px solid var(--border); padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1em 0 .4em; } h4 { margin: .8em 0 .3em; font-size: .95em; }
p { margin: .3em 0 .6em; } .muted { color: var(--muted); } .hint { font-size: .9em; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 .8em; }
th, td { border: 1px solid var(--border); padding: 4px 7px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; font-weight: 600; }
table.kv th { width: 13em; }
ul { margin: .2em 0 .6em; padding-left: 1.3em; } li { margin: .1em 0; }
dl.generic { margin: .2em 0; display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; }
dl.generic dt { font-weight: 600; color: var(--muted); } dl.generic dd { margin: 0; }
a.ev { color: var(--accent); text-decoration: none; border-bottom: 1px dotted var(--accent); }
a.ev:hover { background: #eef2fb; }
.seqref { font-size: .8em; color: var(--muted); margin-left: .3em; white-space: nowrap; }
.score { font-weight: 600; white-space: nowrap; }
.override { background: var(--override); }
.override-note { font-size: .85em; }
.decision { font-size: 1.15em; font-weight: 700; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: .78em;
  border: 1px solid var(--border); color: var(--muted); }
.badge.private { background: var(--private); }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.card { border: 1px solid var(--border); border-radius: 8px; padding: 10px 14px; margin: .5em 0; }
pre { background: #f6f7f9; border: 1px solid var(--border); border-radius: 6px; padding: 8px;
  overflow-x: auto; font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  white-space: pre-wrap; word-break: break-word; margin: .3em 0 .6em; }
tr.private td { background: var(--private); }
tr.review td { background: var(--override); }
tr:target td, tr.jump td { outline: 2px solid var(--accent); background: #eef2fb; }
td.seq { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.text { white-space: pre-wrap; word-break: break-word; }
.pass { color: var(--ok); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .no-print { display: none !important; }
  a.ev { color: inherit; border-bottom: 1px dotted #888; }
  h2, h3, h4 { break-after: avoid; }
  tr, .card, pre, li { break-inside: avoid; }
  section.round { break-before: auto; }
  #transcript { break-before: page; }
  th, tr.private td, tr.review td, .override, .badge.private {
    -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def esc(value: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape("" if value is None else str(value), quote=True)


def when(ts: float | None) -> str:
    """An epoch time as UTC text."""
    if ts is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def score(value: Any) -> str:
    """A score as "3.5/5" (or the value as it is when not a number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}/5"
    return "—" if value is None else esc(value)


def decision(value: Any) -> str:
    """A recommendation decision in words."""
    return esc(_DECISIONS.get(str(value), value if value is not None else "—"))


class _Links:
    """Evidence quotes and flags → transcript seq, rendered as ``#seq-N`` links."""

    def __init__(self, view: ReviewedReport) -> None:
        self.quotes = {link.quote: link.seq for link in view.evidence}
        self.flags = {link.index: link.seq for link in view.flags}

    def quote(self, quote: Any) -> str:
        text = quote.get("quote") or quote.get("text") if isinstance(quote, dict) else quote
        seq = quote.get("seq") if isinstance(quote, dict) else None
        if not isinstance(text, str):
            return generic(quote)
        seq = seq if isinstance(seq, int) else self.quotes.get(text)
        # A quote found in the transcript is shown as one; anything else (a note) as it is.
        return anchor(seq, f"“{esc(text.strip('“”'))}”") if seq else esc(text)


def anchor(seq: int | None, inner: str) -> str:
    """``inner`` linked to the transcript line ``seq`` (a ``data-seq`` for the reviewer page)."""
    if seq is None:
        return inner
    return (
        f'<a class="ev" href="#seq-{seq}" data-seq="{seq}">{inner}'
        f'<span class="seqref">#{seq}</span></a>'
    )


# --- generic rendering ----------------------------------------------------------------------


def generic(value: Any, depth: int = 0) -> str:
    """Any JSON value as HTML: scalars as text, lists as lists or tables, objects as ``<dl>``."""
    if depth > 6:
        return f"<code>{esc(json.dumps(value, default=str)[:500])}</code>"
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">—</span>'
        rows = "".join(
            f"<dt>{esc(k)}</dt><dd>{generic(v, depth + 1)}</dd>" for k, v in value.items()
        )
        return f'<dl class="generic">{rows}</dl>'
    if isinstance(value, list):
        if not value:
            return '<span class="muted">none</span>'
        if all(isinstance(v, dict) for v in value):
            return table(value, depth)
        return "<ul>" + "".join(f"<li>{generic(v, depth + 1)}</li>" for v in value) + "</ul>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and "\n" in value:
        return f"<pre>{esc(value)}</pre>"
    return esc(value)


def table(rows: Sequence[dict[str, Any]], depth: int = 0) -> str:
    """A list of objects as a table over the union of their keys."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{esc(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{generic(r.get(k), depth + 1)}</td>" for k in keys) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _extras(obj: dict[str, Any], known: set[str], title: str = "Other fields") -> str:
    rest = {k: v for k, v in obj.items() if k not in known}
    if not rest:
        return ""
    return f"<h4>{esc(title)}</h4>{generic(rest)}"


# --- sections -------------------------------------------------------------------------------


def render_report(view: ReviewedReport, events: Sequence[Event], *, transcript: bool = True) -> str:
    """The whole page.

    ``transcript=False`` leaves the transcript out (the reviewer page shows it beside the
    report); evidence links carry ``data-seq`` for the page to follow either way.
    """
    report, s = view.report, view.interview
    links = _Links(view)
    reviews = {(c.round_id, c.competency_id): c for c in view.review.competencies}
    parts = [
        _head(view),
        _recommendation(view),
        _audit(view.review.audit),
    ]
    rounds = [r for r in report.get("rounds") or [] if isinstance(r, dict)]
    for index, round_ in enumerate(rounds, 1):
        parts.append(_round(index, round_, reviews, links, events))
    parts.append(_flags(report.get("integrity_flags"), links))
    parts.append(_overall_lists(report))
    parts.append(_usage(report.get("usage")))
    rest = {k: v for k, v in report.items() if k not in _REPORT_KNOWN}
    if rest:
        parts.append(f'<section id="other"><h2>Other report fields</h2>{generic(rest)}</section>')
    if transcript:
        parts.append(_transcript(events))
    title = f"Interview report — {s.user_id} — {s.interview_id}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f'<body data-interview="{esc(s.interview_id)}">' + "".join(parts) + "</body></html>"
    )


def _head(view: ReviewedReport) -> str:
    r, s = view.report, view.interview
    rubrics = r.get("rubric_versions")
    rubric_text = (
        ", ".join(f"{esc(k)} v{esc(v)}" for k, v in rubrics.items())
        if isinstance(rubrics, dict)
        else generic(rubrics)
    )
    rows = [
        ("Candidate", esc(s.user_id)),
        ("Interview", f"<code>{esc(s.interview_id)}</code>"),
        ("Role", esc(r.get("role"))),
        ("Plan", f"{esc(r.get('plan_id') or s.plan)} · version {esc(r.get('plan_version'))}"),
        ("Rubric versions", rubric_text),
        ("Engine", esc(r.get("engine"))),
        ("Status", f"{esc(s.status)}; {'completed' if r.get('completed') else 'ended early'}"),
        ("Started", when(s.created)),
        ("Ended", when(s.ended)),
        ("Report", f"event #{view.report_seq}"),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        '<header><h1>Interview report</h1><p class="muted">For the hiring team; confidential. '
        f"Generated {when(time.time())}.</p>"
        '<p class="muted hint no-print">Print this page (Ctrl+P) to save it as a PDF.</p>'
        f'<table class="kv" id="meta">{body}</table></header>'
    )


def _recommendation(view: ReviewedReport) -> str:
    rec = view.review.recommendation
    overall = view.report.get("overall")
    engine = (
        f'<div class="card"><h3>Engine</h3><p class="decision" data-testid="engine-decision">'
        f"{decision(rec.engine)}</p><p>Overall {score(overall)}</p>"
        f"<p class='muted'>{esc(rec.engine_rationale)}</p></div>"
    )
    if rec.override is not None:
        o = rec.override
        human = (
            f'<div class="card override" id="final-recommendation"><h3>Reviewer (final)</h3>'
            f'<p class="decision" data-testid="reviewed-decision">{decision(rec.reviewed)}</p>'
            f"<p>by <strong>{esc(o.by)}</strong>, {when(o.at)} (event #{o.seq})</p>"
            f"<p>Reason: {esc(o.reason)}</p></div>"
        )
    else:
        human = (
            '<div class="card" id="final-recommendation"><h3>Reviewer (final)</h3>'
            '<p class="muted">No reviewer recommendation recorded yet.</p></div>'
        )
    return (
        '<section id="recommendation"><h2>Recommendation</h2>'
        f'<div class="grid2">{engine}{human}</div></section>'
    )


def _audit(trail: Sequence[ReviewEntry]) -> str:
    if not trail:
        return (
            '<section id="review"><h2>Human review</h2>'
            '<p class="muted">No human review recorded.</p></section>'
        )
    rows = []
    for e in trail:
        what = (
            "Recommendation"
            if e.target == "recommendation"
            else f"{esc(e.competency_name or e.competency_id)} <span class='muted'>"
            f"({esc(e.round_id)})</span>"
        )
        fmt = decision if e.target == "recommendation" else score
        rows.append(
            f'<tr data-review-seq="{e.seq}"><td class="seq">#{e.seq}</td><td>{when(e.at)}</td>'
            f"<td>{esc(e.by)}</td><td>{what}</td><td>{fmt(e.engine)}</td>"
            f"<td>{fmt(e.before)}</td><td><strong>{fmt(e.after)}</strong></td>"
            f"<td>{esc(e.reason)}</td></tr>"
        )
    return (
        '<section id="review"><h2>Human review</h2>'
        "<p class=\"muted\">Every override is an event in the interview's log; the engine's "
        "values are kept and shown beside the reviewer's.</p>"
        '<table id="audit"><thead><tr><th>Event</th><th>When</th><th>Who</th><th>What</th>'
        "<th>Engine</th><th>Before</th><th>After</th><th>Reason</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _round(
    index: int,
    r: dict[str, Any],
    reviews: dict[tuple[str, str], CompetencyReview],
    links: _Links,
    events: Sequence[Event],
) -> str:
    rid = str(r.get("round_id", ""))
    out = [
        f'<section class="round" id="round-{esc(rid)}"><h2>Round {index}: {esc(r.get("title"))}'
        f' — <span class="score">{score(r.get("score"))}</span></h2>'
    ]
    if r.get("summary"):
        out.append(f"<p>{esc(r['summary'])}</p>")
    comps = [c for c in r.get("competencies") or [] if isinstance(c, dict)]
    names = {str(c.get("id")): str(c.get("name") or c.get("id")) for c in comps}
    if comps:
        out.append(
            "<h3>Competencies</h3><table class='competencies'><thead><tr><th>Competency</th>"
            "<th>Engine</th><th>Reviewer</th><th>Evidence</th></tr></thead><tbody>"
        )
        for c in comps:
            cid = str(c.get("id", ""))
            rv = reviews.get((rid, cid))
            cell = "<span class='muted'>—</span>"
            cls = ""
            if rv is not None and rv.override is not None:
                o = rv.override
                cls = ' class="override"'
                cell = (
                    f'<span class="score">{score(rv.reviewed_score)}</span>'
                    f'<div class="override-note">by {esc(o.by)}, {when(o.at)}: '
                    f"{esc(o.reason)} <span class='muted'>(was {score(o.before)}; "
                    f"event #{o.seq})</span></div>"
                )
            evidence = c.get("evidence")
            ev_html = (
                "<ul>" + "".join(f"<li>{links.quote(q)}</li>" for q in evidence) + "</ul>"
                if isinstance(evidence, list) and evidence
                else "<span class='muted'>none</span>"
            )
            extra = _extras(c, {"id", "name", "score", "evidence"}, "More")
            out.append(
                f'<tr data-competency="{esc(rid)}/{esc(cid)}"{cls}><td>{esc(names[cid])}</td>'
                f'<td class="score">{score(c.get("score"))}</td><td>{cell}</td>'
                f"<td>{ev_html}{extra}</td></tr>"
            )
        out.append("</tbody></table>")
    panel = [p for p in r.get("panelists") or [] if isinstance(p, dict)]
    if panel:
        out.append(
            "<h3>Panelists</h3><table class='panelists'><thead><tr><th>Panelist</th>"
            "<th>Scores</th><th>Rationale</th></tr></thead><tbody>"
        )
        for p in panel:
            scores = p.get("scores")
            score_html = (
                "<br>".join(f"{esc(names.get(k, k))}: {score(v)}" for k, v in scores.items())
                if isinstance(scores, dict) and scores
                else "<span class='muted'>not scored</span>"
            )
            extra = _extras(p, {"id", "name", "scores", "rationale"}, "More")
            out.append(
                f"<tr><td>{esc(p.get('name') or p.get('id'))}</td><td>{score_html}</td>"
                f"<td>{generic(p.get('rationale'))}{extra}</td></tr>"
            )
        out.append("</tbody></table>")
    assessed, missed = r.get("topics_assessed"), r.get("topics_not_reached")
    if assessed is not None or missed is not None:
        out.append(
            f"<p><strong>Topics assessed:</strong> {_inline(assessed)}. "
            f"<strong>Not reached:</strong> {_inline(missed)}.</p>"
        )
    coding = r.get("coding")
    if isinstance(coding, dict) and coding:
        out.append("<h3>Code</h3>")
        for qid, facts in coding.items():
            out.append(_coding(str(qid), facts, events))
    for key, title in (("strengths", "Strengths"), ("gaps", "Gaps")):
        if r.get(key):
            out.append(f"<h4>{title}</h4>{generic(r[key])}")
    out.append(_extras(r, _ROUND_KNOWN))
    out.append("</section>")
    return "".join(out)


def _inline(items: Any) -> str:
    if isinstance(items, list):
        return ", ".join(esc(i) for i in items) if items else "none"
    return generic(items)


def _coding(qid: str, facts: Any, events: Sequence[Event]) -> str:
    """One coding question: the engine's facts, every run/submit with results, the last code."""
    out = [f'<div class="card coding" data-question="{esc(qid)}"><h4>{esc(qid)}</h4>']
    if isinstance(facts, dict):
        if facts.get("summary"):
            out.append(f"<p>{esc(facts['summary'])}</p>")
        out.append(generic({k: v for k, v in facts.items() if k != "summary"}))
    else:
        out.append(generic(facts))
    attempts = list(_attempts(qid, events))
    if attempts:
        rows = "".join(
            f"<tr><td class='seq'>{anchor(code.seq, esc(code.data.get('action')))}</td>"
            f"<td>{when(code.ts)}</td>"
            f"<td>{esc(result.text if result else '—')}</td>"
            f"<td>{esc(brief.text if brief else '—')}</td></tr>"
            for code, result, brief in attempts
        )
        out.append(
            "<table class='attempts'><thead><tr><th>Attempt</th><th>When</th>"
            "<th>Candidate saw (visible tests)</th><th>Panel brief (incl. hidden tests)</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
        submits = [a for a in attempts if a[0].data.get("action") == "submit"]
        code, result, _ = (submits or attempts)[-1]
        label = "Last submission" if submits else "Last run"
        out.append(f"<p><strong>{label}</strong> (event #{code.seq}):</p>")
        out.append(f"<pre class='code'>{esc(code.data.get('code', ''))}</pre>")
        tests = result.data.get("tests") if result else None
        if isinstance(tests, list) and tests:
            out.append(_tests(tests))
        if result and result.data.get("output"):
            out.append(f"<p>Output:</p><pre>{esc(result.data['output'])}</pre>")
    out.append("</div>")
    return "".join(out)


def _attempts(
    qid: str, events: Sequence[Event]
) -> Iterable[tuple[Event, Event | None, Event | None]]:
    """Each run/submit of ``qid`` with the code_result and activity_brief that followed it."""
    for i, event in enumerate(events):
        if event.kind != "candidate_code" or event.data.get("question_id") != qid:
            continue
        if event.data.get("action") not in ("run", "submit"):
            continue
        later = events[i + 1 :]
        result = next(
            (e for e in later if e.kind == "code_result" and e.data.get("question_id") == qid),
            None,
        )
        brief = next(
            (e for e in later if e.kind == "activity_brief" and e.data.get("question_id") == qid),
            None,
        )
        yield event, result, brief


def _tests(tests: list[Any]) -> str:
    rows = []
    for t in tests:
        if not isinstance(t, dict):
            rows.append(f"<tr><td colspan='5'>{generic(t)}</td></tr>")
            continue
        ok = t.get("passed")
        verdict = "<span class='pass'>pass</span>" if ok else "<span class='fail'>fail</span>"
        got = t.get("error") or json.dumps(t.get("got"), default=str)
        args = json.dumps(t.get("args"), default=str)
        rows.append(
            f"<tr><td>{esc(t.get('name'))}</td><td><code>{esc(args)}"
            f"</code></td><td><code>{esc(json.dumps(t.get('expected'), default=str))}</code></td>"
            f"<td><code>{esc(got)}</code></td><td>{verdict}</td></tr>"
        )
    return (
        "<table class='tests'><thead><tr><th>Visible test</th><th>Input</th><th>Expected</th>"
        f"<th>Got</th><th>Result</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _flags(flags: Any, links: _Links) -> str:
    if not isinstance(flags, list) or not flags:
        return '<section id="integrity"><h2>Integrity and rules flags</h2><p>None.</p></section>'
    known = {"round_id", "turn", "kind", "evidence"}
    rows = []
    for i, f in enumerate(flags):
        if not isinstance(f, dict):
            rows.append(f"<tr><td colspan='5'>{generic(f)}</td></tr>")
            continue
        seq = links.flags.get(i)
        where = anchor(seq, f"turn {esc(f.get('turn'))}") if seq else esc(f.get("turn"))
        extra = generic({k: v for k, v in f.items() if k not in known}) if set(f) - known else ""
        rows.append(
            f"<tr><td>{esc(f.get('kind'))}</td><td>{esc(f.get('round_id'))}</td><td>{where}</td>"
            f"<td>{esc(f.get('evidence'))}</td><td>{extra}</td></tr>"
        )
    return (
        '<section id="integrity"><h2>Integrity and rules flags</h2>'
        '<p class="muted">Evidence for a human reviewer, never an automatic verdict.</p>'
        "<table><thead><tr><th>Flag</th><th>Round</th><th>Where</th><th>Evidence</th>"
        f"<th>More</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _overall_lists(report: dict[str, Any]) -> str:
    parts = [
        f"<h3>{title}</h3>{generic(report[key])}"
        for key, title in (("strengths", "Strengths"), ("gaps", "Gaps"))
        if report.get(key)
    ]
    return f'<section id="overall"><h2>Overall</h2>{"".join(parts)}</section>' if parts else ""


def _usage(usage: Any) -> str:
    if not isinstance(usage, dict):
        return (
            f'<section id="usage"><h2>Usage and cost</h2>{generic(usage)}</section>'
            if usage
            else ""
        )
    scalars = {k: v for k, v in usage.items() if not isinstance(v, dict | list)}
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{generic(v)}</td></tr>" for k, v in scalars.items())
    out = [f'<section id="usage"><h2>Usage and cost</h2><table class="kv">{rows}</table>']
    for key, value in usage.items():
        if key in scalars:
            continue
        if key == "by_turn" and isinstance(value, list):
            busy = [
                {"turn": i, **v}
                for i, v in enumerate(value, 1)
                if isinstance(v, dict) and any(x for x in v.values() if isinstance(x, int | float))
            ]
            out.append(
                f"<h4>by turn</h4><p class='muted'>{len(value)} turns, {len(busy)} "
                "with model calls.</p>"
            )
            if busy:
                out.append(table(busy))
            continue
        out.append(f"<h4>{esc(key.replace('_', ' '))}</h4>{generic(value)}")
    out.append("</section>")
    return "".join(out)


def _transcript(events: Sequence[Event]) -> str:
    rows = []
    for e in events:
        cls = "review" if e.kind == REVIEW_KIND else e.visibility
        text = e.text
        if e.kind == "candidate_code":
            text = f"[{e.data.get('action')} {e.data.get('question_id') or ''}]"
        body = esc(text) if text else f"<span class='muted'>{_describe(e)}</span>"
        if e.kind == "candidate_code" and e.data.get("action") in ("run", "submit"):
            body += f"<pre>{esc(e.data.get('code', ''))}</pre>"
        badge = '<span class="badge private">private</span>' if e.visibility == "private" else ""
        rows.append(
            f'<tr id="seq-{e.seq}" class="{cls}" data-seq="{e.seq}"><td class="seq">#{e.seq}</td>'
            f"<td>{time.strftime('%H:%M:%S', time.gmtime(e.ts))}</td>"
            f"<td>{esc(e.data.get('name') or e.speaker or '')}</td><td>{esc(e.kind)} {badge}</td>"
            f'<td class="text">{body}</td></tr>'
        )
    return (
        '<section id="transcript"><h2>Transcript</h2><p class="muted">Every event of the '
        "interview in order, public and private (private: what the candidate never saw).</p>"
        "<table><thead><tr><th>Seq</th><th>Time (UTC)</th><th>Who</th><th>Event</th>"
        f"<th>Text</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _describe(event: Event) -> str:
    """An event without text in words (known kinds), else its data in brief."""
    d = event.data
    index = d.get("index")
    number = index + 1 if isinstance(index, int) else "?"
    if event.kind == "interview_started":
        return esc(f"{d.get('title', 'Interview')} · engine {d.get('engine', '?')}")
    if event.kind == "round_started":
        return esc(f"Round {number}: {d.get('title', '')}")
    if event.kind == "round_ended":
        return esc(f"End of round {number}: {d.get('title', '')}")
    if event.kind == "candidate_integrity":
        size = f" ({d['size']} characters)" if d.get("size") else ""
        return esc(f"{d.get('signal')}{size}")
    if event.kind == "report":
        return "The engine's report (above)."
    if not d:
        return ""
    text = json.dumps({k: v for k, v in d.items() if k != "code"}, default=str)
    return esc(text if len(text) <= 240 else text[:239] + "…")
