"""Shipped taxonomies as raters see them: leaves with definition, examples and severity, the version
stored with every moderation item; bad files fail in one line."""

from __future__ import annotations

import pytest

from semisynth.errors import UserError
from semisynth.preference.curation import moderation_item, taxonomy_guidelines
from semisynth.records import Record
from semisynth.taxonomy import load_taxonomy


def test_trust_safety_has_definition_examples_and_severity_per_leaf():
    ts = load_taxonomy("trust_safety")
    ids = [lab.id for lab in ts.leaves]
    assert ts.version and "harassment.threat" in ids and "harassment" not in ids
    for lab in ts.leaves:
        assert lab.definition and lab.examples and lab.severity
    assert "severity: high" in taxonomy_guidelines(ts)
    item = moderation_item(Record.create("real", text="hello"), ts)
    assert item.payload["taxonomy_version"] == ts.version and item.payload["taxonomy"] == ts.name


def test_intents_leaves_are_airline_customer_service():
    intents = load_taxonomy("intents")
    assert len(intents.leaves) >= 10 and {"refund", "baggage.lost", "booking.change"} <= {lab.id for lab in intents.leaves}
    assert intents.version == "1.0.0" and all(lab.examples for lab in intents.leaves)


@pytest.mark.parametrize("labels,needle", [
    ("  - {id: a, definition: x}\n  - {id: a, definition: y}\n", "duplicate label id"),
    ("  - {id: a}\n", "missing definition"),
    ("  - {id: a, definition: x, parent: b}\n  - {id: b, definition: y, parent: a}\n", "cycle"),
    ("  - {id: a, definition: x, parent: zz}\n", "parent 'zz' does not exist"),
])
def test_invalid_taxonomies_fail_with_one_clear_line(tmp_path, labels, needle):
    p = tmp_path / "t.yaml"
    p.write_text("name: t\nversion: 1\nlabels:\n" + labels)
    with pytest.raises(UserError) as e:
        load_taxonomy(p)
    assert needle in str(e.value) and "fix:" in str(e.value) and "\n" not in str(e.value)


def test_unknown_shipped_name_lists_the_choices():
    with pytest.raises(UserError, match="trust_safety"):
        load_taxonomy("nope")
