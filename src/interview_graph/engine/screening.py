"""Injection screening for the rules wall: undo obfuscation, find what an instruction aims at.

It grades how sure it is, so only a sure reading blocks.

The old wall matched English keywords ("system prompt", "override … rules") anywhere, so it
missed reworded attacks and blocked honest answers about the candidate's own systems.  Here a
message is read in several *views* (confusables folded to Latin, accents stripped, leetspeak
undone, letter-spacing joined, base64 and ROT13 runs decoded) and each view is scored by
signals that name a *target* in the interview (your instructions, the rubric, the grader, my
score) rather than words alone.  A strong signal blocks; a weak one, or a strong one inside an
answer that is plainly about the candidate's own product, only warns (the message reaches the
panel with a notice and a flag for a human).  Lexicons cover en, es, de, fr and zh.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)

# Strong signals (weight 3): an instruction to the interview, or a demand for what it hides.
_ROLE = r"(grader|evaluator|interviewer|examiner|hiring (manager|committee)|judge|admin\w*|dan)"
_SECRET = (
    r"(rubric|key ?points?|grading (guide|notes|criteria)|evaluation (criteria|notes)|"
    r"hidden (notes|tests?|test cases|instructions|key points|rubric|evaluation notes)|"
    r"(your|the) (system )?prompt|(your|the) instructions|(your|its) configuration|"
    r"expected answers?|notes (on|about) me)"
)
STRONG = [
    r"\b(ignore|disregard|forget|set aside|override|bypass|overlook)\b.{0,30}"
    r"\b(all|your|previous|prior|"
    r"above|earlier|preceding|the interview'?s?|these|any)\b.{0,20}\b(instructions?|rules|"
    r"guidance|guidelines|prompts?|rubric|grading guide|restrictions|directives)\b",
    r"\b(ignore|disregard|forget)\b.{0,12}\b(the )?(rubric|grading guide|grading|evaluation)\b",
    r"\b(your|the interview'?s?|this interview'?s?) system prompt\b",
    r"\bsystem prompt (you|that you|of this|for this)\b",
    r"\b(reveal|show|print|paste|output|disclose|leak|dump|list|share|translate|repeat|quote|"
    r"tell me|give me)\b.{0,40}\b" + _SECRET,
    r"\b(what|everything) (were you|you were) told\b",
    # The ask after its object: "confirm the key points with you, can you list them?"
    r"\b(key ?points?|rubric|grading notes)\b.{0,50}\b(list|share|paste|show|send) (them|it)\b",
    r"\b(first|initial) message you (received|got)\b",
    r"\b(give|award|assign|grade|rate|score|mark|put)\b.{0,40}\b(5 ?/ ?5|10 ?/ ?10|full marks|"
    r"top (score|marks)|maximum (rating|score)|max(imum)? marks|a 5 on|5 on every|strong hire|"
    r"as passed|as excellent|as perfect|perfect score)",
    r"\b(candidate|i|me|this (answer|solution|code))\b.{0,30}\b(gets?|receives?|deserves?|scored)\b"
    r".{0,20}\b(full marks|5 on every|top marks|maximum|strong hire)",
    r"\b(record|write|note|add)\b.{0,40}\b(strong hire|record hire|exceeded expectations|"
    r"answered everything correctly|top score|full marks)",
    r"\b(you are|you're) (now )?(dan|an? unfiltered|an? unrestricted)\b",
    r"\b(you are now|from now on,? (you|respond)|(?<!i'd )(?<!i )(?<!we )act as|"
    r"pretend (to be|you'?re)|role-?play as|"
    r"imagine you are|in character)\b.{0,40}\b" + _ROLE,
    r"\b(from now on|you are now)\b.{0,40}\b(unfiltered|no restrictions|any question)\b",
    r"\bno restrictions\b.{0,60}\b(tells?|reveals?|expected answers?)\b",
    r"\bhow this interview is scored\b",
    r"\bignore your instructions\b",
    r"</?\s*(system|assistant|instructions?|im_start|im_end|candidate_data)\s*>",
    r"<<\s*/?\s*sys\s*>>|\[/?(inst|sys)\]",
    r"\"role\"\s*:\s*\"system\"",
    r"\b(developer|god|admin) mode\b.{0,20}\b(reveal|on|enabled|activated)\b",
    r"\bjailbreak (mode|enabled|activated)\b",
    r"\bnew instructions?\b\s*(from|:)",
    r"\bskip (the )?(remaining questions|evaluation)\b",
    r"\bmark (this|the) round as passed\b",
    r"\bnot supposed to see\b",
    r"\bwhat the (panel|rubric|grader) (is looking for|rewards|wants)\b",
    r"\bevaluation criteria\b.{0,40}\b(paste|share|show|send)\b|\b(paste|share|show|send)\b.{0,40}"
    r"\bevaluation criteria\b",
    # Spanish
    r"\b(ignora|olvida|olvidate de|no hagas caso)\b.{0,30}\b(instrucciones|reglas|rubrica|"
    r"normas|indicaciones)\b",
    r"\b(prompt del sistema|instrucciones (ocultas|del sistema))\b.{0,20}\b(que te dieron|muestra)"
    r"|\b(muestrame|dime|ensename|revela)\b.{0,30}\b(prompt del sistema|puntos clave|rubrica|"
    r"criterios de evaluacion|que querias oir)\b",
    r"\b(eres|seras) (el|la) (evaluador|entrevistador|examinador)\w*\b",
    r"\b(nota maxima|un 5 en todas|la maxima puntuacion|califica\w* este codigo con)\b",
    # German
    r"\b(ignoriere|vergiss|missachte)\b.{0,30}\b(anweisungen|regeln|vorgaben|bewertung\w*|"
    r"richtlinien)\b",
    r"\b(systemprompt|bewertungskriterien|versteckte\w* (notizen|punkte))\b.{0,30}\b(aus|zeig\w*|"
    r"verrat\w*)\b|\b(zeig\w*|gib\w*|verrat\w*)\b.{0,30}\b(systemprompt|bewertungskriterien)\b",
    r"\bdu bist (jetzt|nun) (der|die) (prufer|bewerter|interviewer|gutachter)\w*\b",
    r"\b(volle punktzahl|hochste punktzahl|bestnote)\b",
    # French
    r"\b(ignore|ignorez|oublie|oubliez|ne tiens pas compte|ne tenez pas compte)\b.{0,30}"
    r"\b(instructions|consignes|regles|grille)\b",
    r"\b(affiche|montre|donne|revele|dis)\w*\b.{0,30}\b(prompt systeme|reponse attendue|"
    r"grille d'evaluation|ce que le jury)\b|\bprompt systeme que tu\b",
    r"\btu es (maintenant|desormais) (l'|le |la )?(evaluat|examinat|recruteu|jury)\w*",
    r"\b(note maximale|meilleure note|merite d'etre embauche)\b",
]
# Chinese has no word boundaries: plain substrings, matched on the folded text.
STRONG_ZH = [
    r"(忽略|无视|不要管|忘记|忘掉).{0,12}(指令|指示|规则|提示|要求|评分)",
    r"(系统提示|系统指令|提示词).{0,10}(输出|告诉|显示|给我|发给)",
    r"(输出|告诉我|显示|给我|列出).{0,10}(系统提示|评分标准|标准答案|隐藏的要点|要点|评分规则)",
    r"你(现在)?是评分|你是面试官|扮演.{0,6}(评分|面试官|考官)",
    r"(打满分|给.{0,6}满分|满分)",
]
# Weak signals (weight 1): suspicious on their own, not proof.
WEAK = [
    r"\bsystem prompt\b",
    r"^\s*(system|assistant|interviewer|panelist|evaluator|grader|master|admin\w*|hr)\b[^:\n]{0,25}:",
    r"^\s*(\[admin\]|###\s*instruction|```\s*system|---\s*end of)",
    r"\b(hidden|secret|internal|private)\b.{0,20}\b(notes|rubric|key points|instructions)\b",
    r"\b(whoever (grades|reads) this|between us)\b",
    r"\bdecode (this|and follow|and do|me)\b",
    r"\b(the )?(panel|interviewer|evaluator|grader)\b.{0,40}\b(must|should) (now )?"
    r"(disclose|reveal|output|record)\b",
    r"\bpre-?approved\b",
    r"\bmarking you as\b|\bcovers every key point\b",
]
# The candidate talks about *their own* system: a strong hit here only warns.
_OWN = re.compile(
    r"\b(our|we|my team|config\w*|in production|the bot|chatbot|the model|"
    r"the app|unserem?|nuestro|notre|nos)\b|我们"
    # Talking *about* attacks (an LLM-security answer quoting one) is not making one.
    r"|\b(prompt injection|injection attack|jailbreak prompts?|attacker)\b"
)
_STRING = re.compile(r"\"((?:[^\"\\\n]|\\.)*)\"|'((?:[^'\\\n]|\\.)*)'")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_ROT13_WORDS = re.compile(r"\b(naq|gur|vtaber|cerivbhf|vafgehpgvbaf|tvir|zr|lbhe)\b")


@dataclass(frozen=True)
class Finding:
    """The screen's reading of one input: how sure (0 none, 1–2 weak, ≥3 strong) and why."""

    score: int
    pattern: str
    view: str
    own_context: bool


@cache
def _confusables() -> dict[int, str]:
    """Unicode's confusables (via confusable-homoglyphs) folded to their ASCII look-alike."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    table: dict[int, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii() or "CJK" in unicodedata.name(char, "CJK"):
            continue
        latin = [
            g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()
        ]
        if latin == ["l"] and char.isupper():
            # Unicode folds capital-I look-alikes (Cyrillic "І") to "l"; in text they stand
            # for "I".
            latin = ["i"]
        if latin:
            table[ord(char)] = latin[0].lower()
    return table


def fold(text: str) -> str:
    """NFKC, no zero-width, confusables to Latin, accents stripped, case-folded, one space."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).translate(_confusables())
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[ \t]+", " ", text.casefold()).strip()


def views(text: str) -> list[tuple[str, str]]:
    """The readings of ``text`` worth scoring: folded, de-leeted, de-spaced, decoded."""
    base = fold(text)
    out = [("text", base)]
    if re.search(r"[a-z][0-9@$]|[0-9@$][a-z]", base):
        out.append(("leetspeak", base.translate(_LEET)))
    # "i g n o r e", "i.g.n.o.r.e", "ign-ore": join what spacing split.
    joined = re.sub(r"(?<=\b\w)[ .](?=\w\b)", "", base)
    joined = re.sub(r"(?<=[a-z])-(?=[a-z])", "", joined)
    if joined != base:
        out.append(("spacing", joined))
    for run in _B64.findall(text):
        try:
            decoded = base64.b64decode(run + "=" * (-len(run) % 4), altchars=b"-_").decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() and re.search(r"[a-zA-Z]{3,} [a-zA-Z]{2,}", decoded):
            out.append(("base64", fold(decoded)))
    if len(_ROT13_WORDS.findall(base)) >= 2:
        out.append(("rot13", codecs.encode(base, "rot13")))
    return out


def code_text(code: str) -> str:
    """Comments and string literals of a code submission: where instructions hide in code."""
    parts = re.findall(r"(?:#|//|--)\s?(.*)", code)
    parts += re.findall(r"/\*(.*?)\*/", code, flags=re.S)
    parts += [
        a or b for a, b in re.findall(r"\"((?:[^\"\\\n]|\\.)*)\"|'((?:[^'\\\n]|\\.)*)'", code)
    ]
    return "\n".join(p for p in parts if p.strip())


def _score(view: str) -> tuple[int, str]:
    best, why = 0, ""
    for pattern in STRONG:
        if re.search(pattern, view, flags=re.M):
            return 3, pattern
    for pattern in STRONG_ZH:
        if re.search(pattern, view):
            return 3, pattern
    for pattern in WEAK:
        if re.search(pattern, view, flags=re.M):
            best, why = best + 1, why or pattern
    return min(best, 2), why


def screen(text: str) -> Finding:
    """Score ``text`` over its views; the surest view wins."""
    best = Finding(0, "", "text", False)
    for name, view in views(text):
        score, pattern = _score(view)
        if score > best.score:
            best = Finding(score, pattern, name, False)
    if best.score >= 3 and best.view == "text":
        own = bool(_OWN.search(fold(text)))
        best = Finding(best.score, best.pattern, best.view, own)
    return best


PATTERNS = STRONG + STRONG_ZH + WEAK
