"""One real local Argilla stack per test session (no mocked Argilla), plus item builders."""

from __future__ import annotations

import pytest

from semisynth.preference.curation import Item, preference_item
from semisynth.records import Lineage, Record


@pytest.fixture(scope="session")
def argilla_stack(tmp_path_factory):
    from semisynth.preference.stack import LocalStack

    stack = LocalStack(tmp_path_factory.mktemp("argilla-state"))
    stack.up()
    yield stack
    stack.down()


@pytest.fixture(scope="session")
def conn(argilla_stack):
    from semisynth.preference.client import Connection

    c = Connection(argilla_stack.url(), argilla_stack.credentials()["api_key"])
    c.check()
    return c


def make_pref_items(n: int, prefix: str = "p", language: str = "en", origin: str = "synthetic") -> list[Item]:
    out = []
    for i in range(n):
        prompt = Record.create(origin, text=f"{prefix} question {i}: how do I change my flight?", language=language,
                               lineage=Lineage(generator="seeded_synthetic", model="tiny", seed=i))
        cands = [{"text": f"{prefix} good answer {i}", "model": "m-a", "sampling": {"temperature": 0.7}},
                 {"text": f"{prefix} weak answer {i}", "model": "m-b", "sampling": {"temperature": 1.2}}]
        out.append(preference_item(prompt, cands))
    return out


@pytest.fixture(scope="session")
def make_items():
    """Factory for preference items whose first candidate is the good one."""
    return make_pref_items
