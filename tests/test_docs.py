"""The documentation (issue 23): a short README (what it is, the two set-up commands, a Python and a CLI example,
where to read on) and the docs/ site, which `mkdocs build --strict` builds with no broken link or anchor and no
page left out of the nav."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_the_docs_site_builds_strict(tmp_path):
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                          "-d", str(site)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (site / "figures" / "index.html").is_file()  # the measured figures have their own page


def test_the_readme_is_short_and_sets_up_with_two_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text) < 12_000, len(text)
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)
    commands = [line.split("#")[0].split() for block in blocks for line in block.splitlines()
                if line.lstrip().startswith("make ")]
    assert commands == [["make", "demo"], ["make", "test"]]
    assert "import semisynth" in text and "semisynth generate" in text


def test_the_readme_links_to_pages_that_exist():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert any(link.startswith("docs/") for link in local)
    assert [link for link in local if not (ROOT / link).exists()] == []
