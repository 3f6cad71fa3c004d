"""The stage's vocabulary: the kinds of irregularity it transfers, which generators get it, and the text
patterns more than one room reads."""

from __future__ import annotations

import re
from functools import lru_cache

KINDS = ("handle", "hashtag", "url", "slang", "lowercase_i", "missing_apostrophe", "lowercase_sentence_start",
         "allcaps", "elongation", "typo", "repeated_punct", "emoticon", "emoji")
ENGLISH_ONLY = frozenset({"slang", "lowercase_i", "missing_apostrophe", "typo"})
# Generators that get the stage by default; the clean paraphrase never does.
TRANSFER_GENERATORS = ("paraphrase:keep_irregularities", "seeded_synthetic", "pure_synthetic")

INNER_CAP = re.compile(r"\b[A-Za-z]+[A-Z][A-Za-z]*\b")  # PHL, iPhone, McDonald, LUV
CONTRACTION = re.compile(r"(?<![\w@#])([A-Za-z]+)(['’])([A-Za-z]+)(?![\w'’])")
LEAD = re.compile(r"^(?:\s*(?:@\w+|<HANDLE>)[ \t]*)+")
VOWELS = "aeiou"
PLACEHOLDERS = ("<HANDLE>", "<URL>")  # what the PII masker leaves for a handle or a link: many may stand in one text

# Common words that, written in capitals, name a place or a body rather than raise the voice: airport codes
# and acronyms ("flying LAX to SEA", "the TSA", "USA"). A seed writing them is not shouting; they are never
# shouted either. (Codes that are not common words, "SFO", "PHL", "UA234", are not words to begin with.)
CODES = frozenset(
    "atl lax ord dfw den jfk sfo sea las mco ewr clt phx iah mia bos msp fll dtw phl lga bwi slc san iad dca mdw tpa "
    "pdx hnl bna aus dal stl hou rdu msy sjc oak smf mci sna cle ind pit cmh sat rsw cvg pbi jax mke abq bdl bur ont "
    "ogg elp tul okc buf alb orf ric sdf mem chs sav bhm gsp dsm boi geg tus rno lgb sba pvd anc sju sti puj mbj "
    "nas bda yyz yvr yul yyc mex cun gdl hkg nrt hnd pek pvg icn sin syd mel bne per akl dxb doh auh ist lhr lgw cdg "
    "ory fra muc ams bcn fco mxp zrh gva dub edi gla cph osl arn hel vie bru lis ath tlv del bom bkk kul mnl cgk gru "
    "bog lim scl eze "
    "usa tsa faa ntsb dot ceo cfo cto coo nyc atm gps faq pdf tv dvd cnn nba nfl nhl mlb fbi cia nsa nasa api url "
    "sms vip diy rip aka lgbt eta tba tbd rsvp aarp aaa abc cbs nbc fox bbc espn hbo mtv nyse ipo llc inc ltd pnr "
    "ssn dob pin ada wifi usb".split())


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Words common enough in lowercase (wordfreq's top 30k for English) to be read as words."""
    from wordfreq import top_n_list

    return frozenset(top_n_list("en", 30_000))
