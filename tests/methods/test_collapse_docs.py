"""docs/collapse.md's Python examples run as written (in a scratch folder, one process, each in a fresh namespace)."""
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "collapse.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)

RUNNER = """
import sys
for index, code in enumerate(sys.argv[1:]):
    try:
        exec(compile(code, f"docs/collapse.md example {index}", "exec"), {"__name__": "__main__"})
    except Exception:
        print(f"example {index} failed", file=sys.stderr)
        raise
"""


def test_doc_examples_run(tmp_path):
    assert len(EXAMPLES) == 4
    result = subprocess.run([sys.executable, "-c", RUNNER, *EXAMPLES], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "vae.safetensors").exists() and (tmp_path / "gen3" / "meta" / "info.json").exists()
