"""PII masking before prompts, and deterministic language id."""

from semisynth.langid import detect_language
from semisynth.pii import mask_pii


def test_masks_each_kind_and_counts_it():
    text = ("mail jane.doe@example.com or call +1 415-555-0134, card 4111 1111 1111 1111, "
            "see https://t.co/abc?x=1 @united")
    res = mask_pii(text)
    assert "jane.doe" not in res.text and "4111" not in res.text and "t.co" not in res.text and "@united" not in res.text
    assert res.counts == {"EMAIL": 1, "PHONE": 1, "CARD": 1, "URL": 1, "HANDLE": 1}
    assert "<EMAIL>" in res.text and "<HANDLE>" in res.text


def test_card_needs_luhn_and_flight_numbers_survive():
    res = mask_pii("booking 1234 5678 9012 3456 on flight UA1289 at 10:45")
    assert "1234 5678 9012 3456" in res.text  # not Luhn-valid: not a card
    assert "UA1289" in res.text and "10:45" in res.text


def test_keeps_irregular_text_otherwise_intact():
    t = "sooo annoyed!!! ur app is brokn lol 😡"
    assert mask_pii(t).text == t


def test_language_detection_is_deterministic():
    texts = ["my bag never made it to PHL with me, what now", "¿Dónde está mi maleta? llevo dos horas esperando",
             "Wo ist mein Koffer? Ich warte seit zwei Stunden"]
    first = [detect_language(t) for t in texts]
    again = [detect_language(t) for t in reversed(texts)][::-1]
    assert first == again
    assert [lang for lang, _ in first] == ["en", "es", "de"]
    assert detect_language("!!! 123")[0] == "und"
