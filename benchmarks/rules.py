"""Rules wall over the labelled corpus (issue 13 part 4): detection and false-positive rates.

Old wall vs new, dev and held-out splits, per-technique misses and time per message.

Run: ``.venv/bin/python benchmarks/rules.py`` (prints a Markdown section for RESULTS.md).
The old wall is the pattern list the offline engine used before the screening module,
kept here verbatim so the comparison stays reproducible.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any

import yaml

from interview_graph.engine.offline import OfflineBrain

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "rules"
_OLD_INJECTION = [
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|guidelines)\b",
    r"\bsystem prompt\b",
    r"\byou are (now|no longer)\b",
    r"\b(act|behave|pretend) (as|like|to be) (the |an? )?"
    r"(interviewer|admin|system|grader|evaluator)",
    r"\b(reveal|show|print|repeat|leak|tell me|give me)\b.{0,30}"
    r"\b(hidden|secret|internal|private)\b",
    r"\b(reveal|show|print|repeat|leak)\b.{0,30}\b(notes|instructions|prompt|rubric|scores?)\b",
    r"\b(give|award|assign|set|mark|rate|score|grade)\b.{0,20}\b(5|five|10|ten|full|perfect|top|"
    r"max(imum)?)\b.{0,20}\b(marks?|scores?|points?|rating|out of|/ ?5|/ ?10|stars?)",
    r"\b(give|award|assign) (me|this( answer)?) (a )?(strong hire|hire|pass)\b",
    r"\bnew instructions?\b",
    r"</?\s*(system|assistant|instructions?|im_start|im_end)\s*>",
    r"\[/?(inst|sys)\]",
    r"\b(developer|god|admin) mode\b",
    r"\bjailbreak",
]
_OLD_OTHER = [
    r"\b(tell|give|show|send) me the (answer|solution|correct answer|expected answer)",
    r"\bwhat (is|was|'s) the (right|correct|expected) answer\b",
    r"\bwhat('s| is| was) my (score|grade|rating|mark)\b",
    r"\bhow (am i|did i|have i) (do|doing|done|perform)",
    r"\bf+u+c+k+",
    r"\bsh[i1]t\b",
    r"\bidiots?\b",
    r"\bshut up\b",
    r"\bdumb(ass)?\b",
]


def old_wall(text: str, source: str) -> str:
    """The previous check_rules, reduced to its action."""
    norm = unicodedata.normalize("NFKC", text).lower()
    hit = any(re.search(p, norm) for p in _OLD_INJECTION)
    if source == "code":
        return "warn" if hit else "allow"
    return "block" if hit or any(re.search(p, norm) for p in _OLD_OTHER) else "allow"


def new_wall(text: str, source: str) -> str:
    """The offline engine's check_rules now, reduced to its action."""
    verdict = asyncio.run(OfflineBrain().check_rules(text, None, source=source))
    return verdict.action if verdict.category not in ("ok", "silence") else "allow"


def load(name: str) -> list[dict[str, Any]]:
    """One corpus file (a missing split is empty)."""
    path = CORPUS / f"{name}.yaml"
    return yaml.safe_load(path.read_text("utf-8")) if path.exists() else []


def rates(wall: Any, split: str) -> dict[str, Any]:
    """Caught, blocked and warned attacks; blocked and warned honest answers."""
    attacks, honest = load(f"{split}_attacks"), load(f"{split}_honest")
    a = [wall(e["text"], e["source"]) for e in attacks]
    h = [wall(e["text"], e["source"]) for e in honest]
    misses = Counter(e["technique"] for e, v in zip(attacks, a, strict=True) if v == "allow")
    blocked = [e for e, v in zip(honest, h, strict=True) if v == "block"]
    return {
        "attacks": len(a),
        "honest": len(h),
        "blocked": a.count("block"),
        "warned": a.count("warn"),
        "caught": (a.count("block") + a.count("warn")) / max(1, len(a)),
        "false_block": len(blocked) / max(1, len(h)),
        "false_warn": h.count("warn") / max(1, len(h)),
        "misses": dict(misses),
        "blocked_honest": [e["text"][:70] for e in blocked],
    }


def timing() -> tuple[float, float]:
    """Median and p95 milliseconds of check_rules per message."""
    brain = OfflineBrain()
    texts = [e["text"] for n in ("heldout_attacks", "heldout_honest") for e in load(n)]

    async def run() -> list[float]:
        out = []
        for _ in range(5):
            for t in texts:
                t0 = time.perf_counter()
                await brain.check_rules(t, None, source="message")
                out.append((time.perf_counter() - t0) * 1000)
        return out

    samples = sorted(asyncio.run(run()))
    return median(samples), samples[int(0.95 * len(samples))]


def main() -> None:
    """Print the Markdown table and the misses."""
    print(
        "| split | wall | attacks | caught (block + warn) | blocked | warned | honest | "
        "honest blocked | honest warned |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    detail = []
    for split in ("dev", "heldout", "blind"):
        for name, wall in (("old", old_wall), ("new", new_wall)):
            r = rates(wall, split)
            print(
                f"| {split} | {name} | {r['attacks']} | {r['caught']:.1%} | {r['blocked']} | "
                f"{r['warned']} | {r['honest']} | {r['false_block']:.1%} | {r['false_warn']:.1%} |"
            )
            detail.append((split, name, r))
    for split, name, r in detail:
        if name == "new":
            print(
                f"\n{split}, new wall — missed by technique: {r['misses'] or 'none'}; "
                f"honest blocked: {r['blocked_honest'] or 'none'}"
            )
    med, p95 = timing()
    print(f"\ncheck_rules per message (held-out texts ×5): median {med:.3f} ms, p95 {p95:.3f} ms")


if __name__ == "__main__":
    sys.exit(main())
