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


BANK = """name: bank_intents
version: "0.1.0"
domain: a bank's customer-support team
labels:
  - {id: card.lost, definition: The customer's debit or credit card is lost or stolen., examples: ["I lost my card."]}
  - {id: transfer.failed, definition: A money transfer did not arrive.}
"""


def test_taxonomy_domain_is_read_and_fingerprinted(tmp_path):
    p = tmp_path / "bank.yaml"
    p.write_text(BANK)
    bank = load_taxonomy(p)
    assert bank.domain == "a bank's customer-support team"
    p.write_text(BANK.replace("a bank's", "a credit union's"))
    assert load_taxonomy(p).fingerprint != bank.fingerprint  # the domain is part of what a version pins
    assert load_taxonomy("intents").domain.startswith("an airline")
    p.write_text(BANK.replace("domain: a bank's customer-support team", "domain: ''"))
    with pytest.raises(UserError, match="'domain' must be a non-empty string"):
        load_taxonomy(p)


def test_a_bank_taxonomy_yields_bank_prompts_that_never_mention_airlines(tmp_path):
    from semisynth.backends import SamplingParams
    from semisynth.generation.generators import GeneratorSpec, plan_tasks, render_prompt
    from semisynth.generation.prompts import load_template
    from semisynth.records import Origin, Record

    p = tmp_path / "bank.yaml"
    p.write_text(BANK)
    tax = {str(p): load_taxonomy(p)}
    seeds = [Record.create(Origin.REAL, text="my card got declined twice today wtf", language="en")]
    specs = [GeneratorSpec(kind="pure_synthetic", variants=2, taxonomy=str(p)),
             GeneratorSpec(kind="seeded_synthetic", variants=1, taxonomy=str(p)),
             GeneratorSpec(kind="paraphrase", variants=1)]
    templates = {s.template_name(): load_template(s.template_name()) for s in specs}
    tasks = plan_tasks(seeds, specs, templates, tax, SamplingParams(), 0)
    prompts = [render_prompt(t) for t in tasks]
    assert len(prompts) == 2 * 2 + 1 + 1
    for t, prompt in zip(tasks, prompts, strict=True):
        assert "airline" not in prompt.lower() and "flight" not in prompt.lower(), prompt
        if t.kind != "paraphrase":
            assert "a bank's customer-support team" in prompt
    # a config's domain overrides the taxonomy's
    spec = GeneratorSpec(kind="pure_synthetic", variants=1, taxonomy=str(p), domain="a dental clinic's front desk")
    task = plan_tasks(seeds, [spec], templates, tax, SamplingParams(), 0)[0]
    assert "a dental clinic's front desk" in render_prompt(task) and "bank" not in render_prompt(task)
