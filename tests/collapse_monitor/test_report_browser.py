"""report.html renders in a real browser: every plot decodes (naturalWidth > 0) in headless Chromium.
Under CI=true a missing browser is a failure, not a skip."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from semisynth.collapse.monitor.config import MonitorConfig
from semisynth.collapse.monitor.pipeline import run_monitor

CHROMIUM = Path("/usr/bin/chromium")
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-probe', ok + '/' + imgs.length);
});
</script></body>"""


def _need_browser() -> None:
    if not CHROMIUM.exists():
        msg = f"needs {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.browser
@pytest.mark.slow
def test_report_plots_decode_in_headless_chromium(small_corpus, tmp_path):
    _need_browser()
    c = small_corpus
    cfg = MonitorConfig(n_boot=60, subsample_n=200, subsample_repeats=3, langdetect_sample=30, cache_dir=None)
    run_monitor(c["real"], c["synthetic"], cfg, tmp_path, c["real_emb"], c["syn_emb"])
    page = (tmp_path / "report.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE))
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-probe="(\d+)/(\d+)"', dom)
    assert m, f"probe did not run; DOM head: {dom[:300]!r}"
    ok, total = int(m.group(1)), int(m.group(2))
    assert total >= 4 and ok == total


def test_a_missing_browser_fails_under_ci_and_skips_only_outside_it(monkeypatch):
    import sys

    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium"):
        _need_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _need_browser()
