"""Taxonomies are validated data: unique ids, definitions, no cycles."""

import pytest

from semisynth.errors import UserError
from semisynth.taxonomy import builtin_taxonomies, load_taxonomy


def test_builtin_taxonomies_load_with_versions():
    assert {"intents", "trust_safety"} <= set(builtin_taxonomies())
    intents = load_taxonomy("intents")
    assert intents.version == "1.0.0"
    assert all(leaf.definition for leaf in intents.leaves)
    assert intents.labels["baggage.lost"].parent == "baggage"
    leaf_ids = {leaf.id for leaf in intents.leaves}
    assert "baggage.lost" in leaf_ids and "baggage" not in leaf_ids  # flat `parent:` files have leaves too
    ts = load_taxonomy("trust_safety")
    assert {lab.severity for lab in ts.labels.values()} >= {"none", "high"}


@pytest.mark.parametrize(
    "body,needle",
    [
        ("name: x\nversion: 1\nlabels:\n - {id: a, definition: d}\n - {id: a, definition: e}\n", "duplicate label id 'a'"),
        ("name: x\nversion: 1\nlabels:\n - {id: a}\n", "label 'a': missing definition"),
        ("name: x\nversion: 1\nlabels:\n - {id: a, definition: d, parent: b}\n - {id: b, definition: d, parent: a}\n",
         "cycle"),
        ("name: x\nlabels: []\n", "missing top-level field 'version'"),
        ("name: x\nversion: 1\nlabels:\n - {id: a, definition: d, severity: huge}\n", "severity 'huge' unknown"),
    ],
)
def test_invalid_taxonomies_fail_with_one_line(tmp_path, body, needle):
    p = tmp_path / "t.yaml"
    p.write_text(body)
    with pytest.raises(UserError, match=needle):
        load_taxonomy(p)


def test_non_utf8_taxonomy_is_a_user_error_not_a_traceback(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_bytes(b"name: x\nversion: 1\nlabels:\n - {id: a, definition: caf\xe9}\n")
    with pytest.raises(UserError, match=r"t.yaml: not UTF-8 text; fix: save the file as UTF-8"):
        load_taxonomy(p)
