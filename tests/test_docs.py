"""Every Python and shell snippet in README.md and docs/*.md runs as written, each in a fresh folder.

A snippet that cannot run in a test is marked in the Markdown by an HTML comment on the line before its
fence: ``<!-- docs-test: skip (why) -->`` (never run) or ``<!-- docs-test: slow -->`` (runs under
``-m slow``). Python snippets run with this interpreter; shell ones with bash, this environment's bin
first on PATH (``console`` snippets: the lines after ``$ ``).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"python", "bash", "sh", "console"}
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
MARK = re.compile(r"<!--\s*docs-test:\s*(skip|slow)\b[^>]*-->\s*$")
TIMEOUT = {False: 300, True: 1800}
ABORT_AT_EXIT = "terminate called without an active exception"


@dataclass(frozen=True)
class Snippet:
    document: Path
    line: int
    language: str
    code: str
    mark: str  # "", "skip" or "slow"

    @property
    def id(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def snippets(document: Path) -> list[Snippet]:
    text = document.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = [line for line in text[: match.start()].splitlines() if line.strip()]
        marked = MARK.search(before[-1]) if before else None
        line = text.count("\n", 0, match.start()) + 1
        found.append(Snippet(document, line, match.group(1).lower(), match.group(2), marked.group(1) if marked else ""))
    return found


ALL = [s for document in DOCUMENTS for s in snippets(document)]


def params() -> list:
    out = []
    for snippet in ALL:
        if snippet.language not in RUN or snippet.mark == "skip":
            continue
        marks = [pytest.mark.slow] if snippet.mark == "slow" else []
        out.append(pytest.param(snippet, id=snippet.id, marks=marks))
    return out


def shell_code(snippet: Snippet) -> str:
    if snippet.language != "console":
        return snippet.code
    return "\n".join(line[2:] for line in snippet.code.splitlines() if line.startswith("$ "))


@pytest.mark.parametrize("snippet", params())
def test_snippet_runs(snippet: Snippet, tmp_path):
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if snippet.language == "python":
        command = [sys.executable, "-c", snippet.code]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", shell_code(snippet)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT[snippet.mark == "slow"])
    if result.returncode == -signal.SIGABRT and result.stderr.strip() == ABORT_AT_EXIT:
        # A known, rare abort of the interpreter at exit after a snippet finished (a native thread
        # still joinable; seen twice in about ten suite runs, cause not yet found): run it again once
        # in a fresh folder, so the snippet itself is still judged, and say so.
        warnings.warn(f"{snippet.id}: the interpreter aborted at exit ({ABORT_AT_EXIT!r}); rerun once")
        rerun = tmp_path / "rerun"
        rerun.mkdir()
        result = subprocess.run(command, cwd=rerun, env=env, capture_output=True, text=True,
                                timeout=TIMEOUT[snippet.mark == "slow"])
    assert result.returncode == 0, f"{snippet.id} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"


def test_snippets_are_found():
    ids = {s.id.split(":")[0] for s in ALL if s.language == "python"}
    assert {"README.md", "docs/plugins.md"} <= ids
    assert sum(s.language == "python" for s in snippets(ROOT / "docs" / "plugins.md")) >= 6


def test_marks_are_read(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n<!-- docs-test: skip (installs the package) -->\n```bash\npip install .\n```\n\n"
                    "<!-- docs-test: slow -->\n\n```python\nprint(1)\n```\n\n```console\n$ echo hi\nhi\n```\n")
    found = snippets(page)
    assert [(s.language, s.mark) for s in found] == [("bash", "skip"), ("python", "slow"), ("console", "")]
    assert shell_code(found[2]) == "echo hi"
