"""What a reader checks first when a record sits next to its seed: the facts survived, and the text is a message.

The embedding checks compare meaning as a whole, so a fluent record that swaps "75 minutes" for "7.5 hours",
turns a question into a statement or has the airline speak instead of the customer passes them. These rules look
at exactly those facts. Each returns None or (reason, detail), the detail naming the fact, so a reject says what
changed. They are pure functions of (seed, record text): the stage runs them on the final text (after the
irregularity transfer) and `scripts/reader_defects.py` counts them in any run's kept records.

Calibrated on labelled pairs (audits/, `scripts/calibrate_reader.py`; README "What a reader keeps").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher

from semisynth import lexicon as lx
from semisynth.pii import PLACEHOLDERS

# -- facts: numbers, codes, placeholders, sentence type, negation, person ---------------------------------------

_NUMBER = re.compile(r"(?<![\w<])(?<!\d[.,:/])\d+(?:[.,:/]\d+)*")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {w: str(i) for i, w in enumerate(
    "_ first second third fourth fifth sixth seventh eighth ninth tenth".split()) if i} | {"half": "0.5"}
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# A flight, order or booking code (UA234, AA1234, 4K7XQ2) or an airport code (EWR, PHL): letters and digits
# mixed, or three capitals that are not an English word. Times ("6AM"), ordinals ("2nd") and units ("4hrs")
# are numbers, not codes.
_MIXED = re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{3,}\b")
_UNIT = re.compile(r"^\d+(?:am|pm|st|nd|rd|th|s|h|hr|hrs|min|mins|m|k|x|lbs?|kg|mi|km|yrs?|mo|wk|wks|days?)$", re.I)
_CAPS3 = re.compile(r"(?<![<\w])[A-Z]{3}(?![\w>])")
_TOKEN = re.compile(r"</?[^<>\s]{1,30}>|</?[A-Za-z_|][^<>\s]{0,30}(?=[<\s]|$)")  # <END>, </s>, <1K>, <#Title>, "<agent:<"
_SLOT = re.compile(r"\[[^\[\]\n]{2,80}\]|\{[^{}\n]{2,80}\}")  # [Customer_Name], {name}
_GLUED = re.compile(rf"(?:(?<=[^\W_])(?:{lx.PLACEHOLDER.pattern}))|(?:(?:{lx.PLACEHOLDER.pattern})(?=[^\W_]))")
_ROLE = re.compile(r"(?:^|\n|\s)(?:customer|agent|user|assistant|system|ai)\s*:", re.IGNORECASE)
_NARRATION = re.compile(r"\bthe (?:customer|user|assistant)\b", re.IGNORECASE)  # "the gate agent" is real
# What the company says to a customer, not what a customer writes: a paraphrase that says it flipped the speaker.
_AGENT_VOICE = re.compile(
    r"\b(?:i|we)(?:'ll| will|'m going to| am going to| are going to|'re going to| can| would be happy to) "
    r"(?:give|refund|rebook|compensate|help|assist|credit|reimburse|upgrade|contact|reach out to) (?:you|u)\b|"
    r"\bsorry for (?:the|any) inconvenience\b|\bwe apologi[sz]e\b|\bhow (?:can|may) (?:i|we) (?:help|assist)\b|"
    r"\bplease (?:dm|follow|contact|message) us\b|\bthank you for (?:contacting|reaching out|flying with) us\b",
    re.IGNORECASE)
_NEGATORS = frozenset("nah nope not no never nothing none nobody nowhere neither nor cannot without cant dont wont didnt "
                      "doesnt isnt wasnt arent werent havent hasnt hadnt couldnt wouldnt shouldnt aint".split())
_FIRST = frozenset("i me my mine myself we us our ours ourselves im ive id i'm i've i'd i'll we're we've "
                   "we'll we'd".split())


def _words(text: str) -> list[str]:
    return _WORD.findall(lx.PLACEHOLDER.sub(" ", text.replace("’", "'")).lower())


def numbers(text: str) -> set[str]:
    """The numbers a text states in digits ("1,000" as "1000", "6AM" as "6", "1st" as "1")."""
    return {re.sub(r"(?<=\d),(?=\d{3})", "", m) for m in _NUMBER.findall(lx.PLACEHOLDER.sub(" ", text))}


def number_words(text: str) -> set[str]:
    """The numbers a text states in words ("two", "first"): they can keep a seed's number, never add one
    ("one of us" states no number)."""
    return {_NUMBER_WORDS[w] for w in _words(text) if w in _NUMBER_WORDS}


def codes(text: str) -> set[str]:
    """Flight/order/booking and airport codes, upper-cased."""
    mixed = {m.upper() for m in _MIXED.findall(text) if not _UNIT.match(m) and not m.isdigit()}
    caps = {m for m in _CAPS3.findall(text) if lx.zipf(m.lower()) < 3.6}  # LAX 3.54, OMG 4.05
    return mixed | caps


_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]+(?:[A-Z][a-z]+)*\b")  # JetBlue, Stacey, Dallas: capitalised mid-sentence
# Title-case words that are no names: the calendar, and the airline corpus' own rewrites of "cancel"/"late"
# ("Cancelled Flightled", "Late Flightr", "Flight Booking Problems")
_NOT_NAMES = lx.WEEKDAYS | lx.MONTHS | frozenset("cancelled flight flights flightled flightlation flightr booking "
                                                 "problems late".split())


def names(text: str) -> set[str]:
    """Names a text uses mid-sentence (people, places, airlines), lower-cased: capitalised words that are not
    very common English words (wordfreq Zipf < 5), so "Flight" or "Thanks" in a tweet's title case is no name."""
    found = {m.lower() for m in _NAME.findall(lx.PLACEHOLDER.sub(" ", text))}
    return {n for n in found if n.rstrip("s") not in _NOT_NAMES and n not in _NOT_NAMES and lx.zipf(n) < 5.0}


# Days, months and "tonight"/"tomorrow"; not the ones that are also common words or names ("may", "sun", "jan")
_CALENDAR = (lx.WEEKDAYS | lx.MONTHS) - {"may", "mar", "sun", "sat", "wed", "mon", "jan"}


def calendar_words(text: str) -> set[str]:
    """When a text says something happens ("tonight", "Sunday", "March"); a plural is its day ("Sundays")."""
    return {w.removesuffix("s") if w.removesuffix("s") in _CALENDAR else w for w in _words(text)
            if w in _CALENDAR or w.removesuffix("s") in _CALENDAR}


def _has_name(name: str, text: str) -> bool:
    """Any word of `text` that starts as `name` does (its first 5 letters: "Sunday" keeps "Sundays")."""
    return any(w.startswith(name[:5]) or name.startswith(w) and len(w) >= 3 for w in _words(text))


def _has_code(code: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(code)}(?![A-Za-z0-9])", text, re.IGNORECASE) is not None


def _changes(lost: set[str], added: set[str]) -> str:
    """A fact rule's detail: "drops 75; adds 7.5"."""
    parts = [f"drops {', '.join(sorted(lost))}" if lost else "", f"adds {', '.join(sorted(added))}" if added else ""]
    return "; ".join(p for p in parts if p)


def fact_change(seed: str, text: str, language: str = "en") -> tuple[str, str] | None:
    """The first fact of `seed` a paraphrase `text` changed, as (reason, detail), or None.

    Numbers, codes and placeholders in any language; sentence type (a question stays a question), negation and
    grammatical person (who speaks to whom) for English seeds, whose function words the rules know."""
    sn, tn = numbers(seed), numbers(text)
    lost, added = sn - tn - number_words(text), tn - sn - number_words(seed)
    if lost or added:
        return "number_changed", _changes(lost, added)
    sc = codes(seed)
    lost = {c for c in sc if not _has_code(c, text)}
    added = {c for c in codes(text) if not _has_code(c, seed)}
    if lost or added:
        return "code_changed", _changes(lost, added)
    lost = {n for n in names(seed) if not _has_name(n, text)}
    added = {n for n in names(text) if not _has_name(n, seed)}
    if lost or added:
        return "name_changed", _changes(lost, added)
    lost, added = calendar_words(seed) - calendar_words(text), calendar_words(text) - calendar_words(seed)
    if lost or added:
        return "time_changed", _changes(lost, added)
    sp, tp = Counter(lx.PLACEHOLDER.findall(seed)), Counter(lx.PLACEHOLDER.findall(text))
    if sp != tp:
        return "placeholder_changed", f"seed has {dict(sp) or 'none'}, record has {dict(tp) or 'none'}"
    if language not in ("en", "und"):
        return None
    if "?" in seed and "?" not in text:  # the other way is mostly a question the seed asked without its "?"
        return "sentence_type_changed", "seed asks, the record does not"
    sw, tw = set(_words(seed)), set(_words(text))
    s_neg = bool(sw & _NEGATORS) or any(w.endswith("n't") for w in sw)
    t_neg = bool(tw & _NEGATORS) or any(w.endswith("n't") for w in tw)
    if s_neg != t_neg:
        return "negation_changed", "seed negates, the record does not" if s_neg else \
            "record negates, the seed does not"
    if sw & _FIRST and not tw & _FIRST:
        return "speaker_changed", "seed speaks as I/we, the record does not"
    voice = _AGENT_VOICE.search(text)
    if voice and not _AGENT_VOICE.search(seed):
        return "speaker_changed", f"the record speaks as the company: '{voice.group(0)}'"
    return None


# -- form: a message, not machinery ---------------------------------------------------------------------------

_STRIP = re.compile(rf"{lx.PLACEHOLDER.pattern}|@\w+|#\w+|https?://\S+")


def _repeat_loop(text: str) -> str | None:
    """A unit of 1-4 words said 4+ times in a row (1 word) or 3+ times (2-4 words), or one word that is over a
    third of a 12+ word text: what a decoding loop writes."""
    words = _words(text)
    for n in (1, 2, 3, 4):
        need = 4 if n == 1 else 3
        for i in range(len(words) - n * need + 1):
            unit = words[i:i + n]
            if all(words[i + k * n:i + (k + 1) * n] == unit for k in range(1, need)):
                return " ".join(unit)
    if len(words) >= 12:
        word, count = Counter(w for w in words if w not in lx.STOPWORDS).most_common(1)[0] if \
            any(w not in lx.STOPWORDS for w in words) else ("", 0)
        if count * 3 > len(words):
            return word
    return None


_TAGLIKE = re.compile(rf"#\w+|@\w+|{lx.PLACEHOLDER.pattern}")


def _tokens_added_twice(text: str, seed: str) -> str | None:
    """A hashtag, handle or placeholder the text has twice or more, more often than its seed (`#kudos #kudos`)."""
    have, had = Counter(t.lower() for t in _TAGLIKE.findall(text)), Counter(t.lower() for t in _TAGLIKE.findall(seed))
    return next((t for t, k in have.items() if k >= 2 and k > had[t]), None)


def _scripts(text: str) -> set[str]:
    """The writing systems of a text's letters, by their Unicode names' first word (LATIN, CJK, CYRILLIC, ...)."""
    return {unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha()}


def form_defect(text: str, seed: str | None) -> tuple[str, str] | None:
    """Why `text` is not a message a person wrote, beside `seed` (None: no seed), or None.

    Something the seed has too is never a defect (a seed that is a <HANDLE> and a URL may be copied as one)."""
    seed = seed or ""
    if not any(len(w) >= 2 for w in _words(_STRIP.sub(" ", text))) and any(len(w) >= 2 for w in
                                                                          _words(_STRIP.sub(" ", seed))):
        return "nothing_said", "only placeholders, handles or punctuation"
    if seed and (new_scripts := _scripts(text) - _scripts(seed)):  # "电话" for "Phone": any length, unlike langid
        return "wrong_language", f"writes {', '.join(sorted(new_scripts))} letters; the seed has none"
    invented = [t for t in dict.fromkeys(_TOKEN.findall(text)) if t not in seed and t not in PLACEHOLDERS]
    if invented:
        return "invented_token", ", ".join(invented[:3])
    slots = [s for s in dict.fromkeys(_SLOT.findall(text)) if s not in seed]
    if slots:
        return "invented_token", ", ".join(slots[:3])
    if len(_GLUED.findall(text)) > len(_GLUED.findall(seed)):
        return "placeholder_glued", _GLUED.search(text).group(0) + " touches a word"
    twice = _tokens_added_twice(text, seed)
    if twice:
        return "token_repeated", f"{twice} more often than in the seed"
    if _ROLE.search(text) and not _ROLE.search(seed):
        return "role_prefix", _ROLE.search(text).group(0).strip()
    if _NARRATION.search(text) and not _NARRATION.search(seed):
        return "narrates", _NARRATION.search(text).group(0)
    loop = _repeat_loop(text)
    if loop is not None and _repeat_loop(seed) != loop:
        return "repetition_loop", f"'{loop}' repeated"
    return None


def _norm(text: str) -> str:
    return " ".join(_words(text))


def closest(text: str, others: Sequence[str]) -> tuple[float, str]:
    """The highest SequenceMatcher ratio of `text` to any of `others` (words only, lower-cased), and that text."""
    nt = _norm(text)
    best = (0.0, "")
    for other in others:
        r = SequenceMatcher(None, nt, _norm(other), autojunk=False).ratio()
        best = max(best, (r, other))
    return best
