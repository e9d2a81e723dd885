"""report.html renders in headless Chromium: every image loads and the summary table holds the run's numbers."""
from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess

import pytest

from runs_helpers import TINY, cli, only_run_dir, summary_of
from tutelage.runs.summary import columns

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None)

PROBE = """<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  const rows = [...document.querySelectorAll('#summary tbody tr')].map(
    tr => ({policy: tr.dataset.policy, cells: Object.fromEntries([...tr.querySelectorAll('td[data-key]')].map(td => [td.dataset.key, td.textContent]))}));
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({images: images.length, loaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
                                    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt), rows});
  document.body.appendChild(out);
});
</script>"""


def render_in_chromium(page, tmp_path) -> dict:
    """Open a copy of ``page`` with a probe script in headless Chromium; return what the probe saw."""
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=10000",
         "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; chromium printed: {dom[:500]!r}"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "runs"
    assert cli("run", str(TINY), "--out", str(out), "--quiet") == 0
    return only_run_dir(out)


def test_report_is_self_contained(finished_run):
    page = (finished_run / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == 2 + 1  # learning curves, success by edge case, the GIF
    assert all(src.startswith(("data:image/png;base64,", "data:image/gif;base64,")) for src in sources)
    assert base64.b64decode(sources[-1].split(",", 1)[1])[:6] == b"GIF89a"
    assert "http://" not in page and "https://" not in page


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (CI installs Debian's chromium)")
def test_report_renders_in_chromium_with_the_runs_numbers(finished_run, tmp_path):
    seen = render_in_chromium(finished_run / "report.html", tmp_path)
    assert seen["images"] == 3 and seen["loaded"] == 3, seen["broken"]
    summary = summary_of(finished_run)
    rows = {row["policy"]: row["cells"] for row in seen["rows"]}
    assert set(rows) == set(summary["policies"]) == {"oracle", "student", "int8"}
    for label, metrics in summary["policies"].items():
        for key, _, _, fmt in columns(summary):
            expected = fmt(metrics[key]) if metrics.get(key) is not None else "—"
            assert rows[label][key].split(" (")[0] == expected, (label, key)
    assert rows["student"]["success_rate"] == f"{100 * summary['policies']['student']['success_rate']:.1f} %"


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (CI installs Debian's chromium)")
def test_the_chromium_probe_sees_a_broken_image(finished_run, tmp_path):
    broken = tmp_path / "broken.html"
    page = (finished_run / "report.html").read_text()
    broken.write_text(re.sub(r'src="data:image/gif;base64,[^"]+"', 'src="data:image/gif;base64,AAAA"', page))
    seen = render_in_chromium(broken, tmp_path)
    assert seen["loaded"] == seen["images"] - 1


def test_language_stages_show_their_samples_before_and_after():
    from tutelage.runs.report import text_samples

    stages = [{"name": "teacher", "result": {"sample": "a <b> & c", "samples": "text/teacher.md"}},
              {"name": "critique", "result": {"sample_before": "SHOUTING (", "sample_after": "calm ()",
                                              "samples": "text/critique.md"}},
              {"name": "evaluation", "result": {"episodes": 10}}]
    section = text_samples({"stages": stages})
    assert "a &lt;b&gt; &amp; c" in section and "<code>text/teacher.md</code>" in section
    assert section.index("SHOUTING (") < section.index("calm ()") and "evaluation" not in section
    assert text_samples({"stages": stages[2:]}) == ""


def test_a_text_improve_stage_joins_the_reward_and_improvement_tables():
    from tutelage.runs.report import _preferences

    result = {"reward_labels": 80, "reward_val_accuracy": 0.75, "method": "best_of_n", "win_rate": 0.62,
              "win_interval": {"low": 0.52, "high": 0.71, "n": 100}}
    section = _preferences({"stages": [{"name": "judge-improve", "type": "text-improve", "result": result}]})
    assert "<td>80</td><td>75.0 %</td>" in section and "62.0 % [52.0, 71.0] (n=100)" in section
