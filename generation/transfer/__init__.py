"""Irregularity transfer: put back the kinds of mess the parent seed had and the model smoothed away.

Small and large models both "clean up" when they rewrite, whatever the prompt says. This stage runs
after a variant passed the output checks. It profiles the parent seed (how often it writes sentences
without a capital, "i", ALL CAPS, "dont", "sooo", "!!", emoticons, slang, handles, typos), measures the
same on the model's output, and adds the deficit, at the parent's rate per opportunity (per word, per
sentence start, per pronoun "I", per contraction). Pure synthetic records, having no parent, draw from
the profile of all seeds pooled.

Typos are real kinds: the seeds' own misspellings (an out-of-vocabulary token one edit away from a
frequent word, or a codespell entry) teach the mix of edit types (deletion, doubling, transposition,
keyboard-adjacent substitution, phonetic) and the frequency band of the words people misspell; the
misspelling itself is, in order of preference, the parent's own, one seen in the seeds, codespell's list
read backwards (correct word -> its common misspellings), or an edit of the drawn type.

What it adds is what people write: never a token the text already holds, nor the same one twice
(no "#kudos #kudos"); the parent's handles, hashtags and URLs only where and as often as the parent has
them (its trailing run at the end, in its order; an inline tag back on its word); capitals only on words
that carry the voice (a word the parent shouted, or one people shout), and a parent's codes and acronyms
(LAX, USA, UA234) are not shouting; punctuation runs that keep each sentence's type (a statement never gets
"??"); slang only as a swap of a word the text has, never an appended "lol"/"wtf". A transfer that would
make the text its parent again (the output checks' copy rules: `rebuilds_seed`) steps back, last edits first.

Never edited: numbers, amounts, dates, codes (any token with a digit or an inner capital, ALL-CAPS),
names (capitalised words not at a sentence start, and any word the parent capitalised mid-sentence),
PII placeholders (<EMAIL>, <URL>, ...), @handles, #hashtags, URLs, and a conversation's roles (only a
turn's content is edited). Every edit is an `Edit` in `lineage.transfer`, in the order applied, with its
position in the text as it was at that moment; `undo_edits` replays them backwards to the clean model
output, byte for byte. Deterministic: the rng is seeded from the run seed and the task id.
"""

from .document import Document, draw_count, protected_mask
from .edits import Edit, undo_edits, undo_transfer, undo_transfer_record
from .kinds import ENGLISH_ONLY, KINDS, TRANSFER_GENERATORS
from .model import TransferModel, keeps_sentence_type
from .near_seed import NEAR_COPY_SIMILARITY, rebuilds_seed
from .profile import Profile, is_shouting, learn_codes, names_in, pool_profiles, profile_text, tail_tokens
from .typos import BANDS, EDIT_TYPES, TypoModel, band_of, classify_typo

__all__ = [
    "BANDS", "EDIT_TYPES", "ENGLISH_ONLY", "KINDS", "NEAR_COPY_SIMILARITY", "TRANSFER_GENERATORS", "Document", "Edit",
    "Profile", "TransferModel", "TypoModel", "band_of", "classify_typo", "draw_count", "is_shouting",
    "keeps_sentence_type", "learn_codes", "names_in", "pool_profiles", "profile_text", "protected_mask",
    "rebuilds_seed", "tail_tokens", "undo_edits", "undo_transfer", "undo_transfer_record",
]
