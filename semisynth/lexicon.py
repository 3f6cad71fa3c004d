"""Shared lexicons and patterns for irregular text (slang, contractions, emoticons, casing, placeholders).

One definition, so what the generation stage puts back and what the monitor measures are the same
things. The monitor (collapse/monitor/irregularity/) imports these patterns from here (
stages import the core, never each other). Resources with a package behind them (codespell's typo
list, wordfreq's vocabulary) load lazily and are cached.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

SLANG = frozenset(
    "lol lmao lmfao rofl u ur r pls plz idk omg btw thx thnx tbh imo imho brb gonna wanna gotta ya yall "
    "cuz coz bc b4 gr8 ty tysm smh ikr jk nvm omw np fyi asap wtf wth af tho thru nite luv k kk ok okay "
    "dunno lemme gimme yep yup nope srsly prolly bday pic pics msg txt ppl".split()
)
# Contractions written without the apostrophe; ambiguous ones ("its", "were", "well", "ill", "id") left out.
MISSING_APOSTROPHE = frozenset(
    "dont cant wont didnt doesnt isnt wasnt werent arent couldnt shouldnt wouldnt havent hasnt hadnt "
    "im ive youre youve youll theyre theyve thats whats wheres theres heres hows lets shes hes aint "
    "wouldve couldve shouldve mustnt neednt yall".split()
)
NOT_TYPOS = SLANG | MISSING_APOSTROPHE

# Standard spelling -> the slang people write for it (one-word swaps; phrases are matched case-insensitively).
SLANG_FOR: dict[str, tuple[str, ...]] = {
    "you": ("u",), "your": ("ur",), "you're": ("ur",), "are": ("r",), "please": ("pls", "plz"),
    "thanks": ("thx", "thnx"), "thank you": ("ty", "thx"), "okay": ("ok", "k"), "because": ("bc", "cuz", "coz"),
    "going to": ("gonna",), "want to": ("wanna",), "got to": ("gotta",), "have to": ("gotta",),
    "i don't know": ("idk",), "by the way": ("btw",), "to be honest": ("tbh",), "people": ("ppl",),
    "message": ("msg",), "picture": ("pic",), "pictures": ("pics",), "probably": ("prolly",),
    "before": ("b4",), "great": ("gr8",), "though": ("tho",), "through": ("thru",), "tonight": ("tonite",),
    "on my way": ("omw",), "never mind": ("nvm",), "let me": ("lemme",), "give me": ("gimme",),
    "don't know": ("dunno",), "yes": ("yep", "yup"), "no": ("nope",), "seriously": ("srsly",),
    "birthday": ("bday",), "text": ("txt",), "as soon as possible": ("asap",), "in my opinion": ("imo",),
    "for your information": ("fyi",), "oh my god": ("omg",), "oh my gosh": ("omg",), "you all": ("yall",),
}
# Slang with no standard word behind it: people add it (at a sentence end), never swap it in.
INTERJECTION_SLANG = frozenset("lol lmao lmfao rofl omg smh ikr jk wtf wth af".split())

# A sentence starts at a line start or after terminal punctuation; leading @handles, #tags and PII placeholders
# ("<HANDLE> thanks...") are skipped, so a masked seed's first sentence counts like the unmasked one's.
SENTENCE_START = re.compile(r"(?m)(?:^|(?<=[.!?])[ \t]+)(?:(?:[@#]\w+|<[A-Z][A-Z_]*>)[ \t]+)*([A-Za-z])")
# Tokens: a PII placeholder, a handle, a hashtag or a URL is one token and not a word (see `is_word`).
TOKEN = re.compile(r"<[A-Z][A-Z_]*>|[@#]\w+|https?://\S+|www\.\S+|[A-Za-z]+(?:'[A-Za-z]+)?")
WORD = re.compile(r"(?<![\w@#<'])[A-Za-z]+(?:'[A-Za-z]+)?(?![\w>])")
HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
HASHTAG = re.compile(r"(?<![\w#&])#[A-Za-z_]\w*")
URL = re.compile(r"https?://\S+|www\.\S+")
# A handle or URL as a reader sees it, written out or masked by semisynth.pii ("@united" and "<HANDLE>" alike).
HANDLE_OR_MASK = re.compile(r"(?<![\w@])@\w{1,30}|<HANDLE>")
URL_OR_MASK = re.compile(r"https?://\S+|www\.\S+|<URL>")
ALLCAPS = re.compile(r"(?<![\w@#<])[A-Z]{3,}(?![\w'>])")  # <HANDLE> is a placeholder, not a shout
PRONOUN_I = re.compile(r"(?<![\w'@#])[iI](?=[ ,.!?']|$)", re.M)
LOWER_I = re.compile(r"(?<![\w'@#])i(?=[ ,.!?']|$)", re.M)
ELONGATION = re.compile(r"\b\w*([A-Za-z])\1{2,}\w*\b")
REPEATED_PUNCT = re.compile(r"[!?]{2,}|[!?]\.+|\.{4,}|,{2,}")
EMOJI = re.compile(
    "[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U00002b00-\U00002bff\U0000fe0f]+"
)
EMOTICON = re.compile(r"(?<![\w:])(?:[:;=8xX][-o*'^]?[)(\]\[dDpP/\\|oO3*]|<3|\^_\^|[)(]:|-_-|T_T|:'\()(?![\w])")
# What semisynth.pii's masker writes in place of PII (<EMAIL>, <URL>, <HANDLE>, <PHONE>, <CARD>, ...).
PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*>")



def is_word(token: str) -> bool:
    """A TOKEN that is a word: not a placeholder, handle, hashtag or URL (what every per-word rate divides by)."""
    return token[:1] not in ("@", "#", "<") and not (token.startswith(("http", "www.")) and ("/" in token or "." in token))


MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split())
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
                     "fri sat sun today tomorrow yesterday tonight".split())
STOPWORDS = frozenset(
    "the a an and or but if of to in on at by for from with as is are was were be been has have had do does did "
    "it its this that these those there here he she they we you your our their his her my me him them us who "
    "which what when where how than then so not can will would should could just also into out up about".split())
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion half quarter first second third fourth fifth once twice dozen am pm".split())

# Keys next to each letter on a QWERTY keyboard (same row and the rows above and below).
KEYBOARD_NEIGHBOURS: dict[str, str] = {
    "q": "wa", "w": "qeas", "e": "wrsd", "r": "etdf", "t": "ryfg", "y": "tugh", "u": "yihj", "i": "uojk",
    "o": "ipkl", "p": "ol", "a": "qwsz", "s": "awedxz", "d": "serfcx", "f": "drtgvc", "g": "ftyhbv",
    "h": "gyujnb", "j": "huikmn", "k": "jiolm", "l": "kop", "z": "asx", "x": "zsdc", "c": "xdfv",
    "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}


@lru_cache(maxsize=1)
def codespell_pairs() -> tuple[tuple[str, str], ...]:
    """codespell's curated (misspelling, correction) pairs, lowercase, single words, alphabetic."""
    import codespell_lib

    path = Path(codespell_lib.__file__).parent / "data" / "dictionary.txt"
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "->" not in line:
            continue
        typo, fixes = line.split("->", 1)
        typo = typo.strip().lower()
        if not typo.isalpha() or typo in NOT_TYPOS:
            continue
        for fix in fixes.split(","):
            fix = fix.strip().lower()
            if fix.isalpha() and fix != typo:
                pairs.append((typo, fix))
    return tuple(pairs)


@lru_cache(maxsize=1)
def typo_dictionary() -> frozenset[str]:
    """codespell's misspellings (what the monitor counts as a typo)."""
    return frozenset(t for t, _ in codespell_pairs())


@lru_cache(maxsize=4)
def vocabulary(lang: str = "en", size: int = 100_000) -> frozenset[str]:
    """The `size` most frequent words of `lang` per wordfreq: a word outside it is out-of-vocabulary."""
    from wordfreq import top_n_list

    return frozenset(w.lower() for w in top_n_list(lang, size))


def zipf(word: str, lang: str = "en") -> float:
    """wordfreq's Zipf frequency (log10 per billion words; 0 for unknown words)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, lang)
