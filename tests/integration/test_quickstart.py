"""The README's quickstart, as pasted, and `make try`'s script, against the real local stack."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from local.quickstart import HOMEWORK, run

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart_block() -> str:
    """The shell block the README marks `<!-- quickstart -->`."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- quickstart -->\n```sh\n(.*?)\n```", text, re.DOTALL)
    assert match, "README.md lost its quickstart block"
    return match.group(1)


def test_the_readme_quickstart_runs_as_pasted(api_url: str, tmp_path: Path) -> None:
    script = quickstart_block()
    assert script.startswith("API=http://127.0.0.1:8000\n")
    script = script.replace("API=http://127.0.0.1:8000", f"API={api_url}", 1)
    done = subprocess.run(["bash", "-eu", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "store: 204" in done.stdout
    assert '"status":"available"' in done.stdout
    assert "downloaded: the same bytes" in done.stdout
    assert (tmp_path / "downloaded.txt").read_bytes() == (tmp_path / "devoir.txt").read_bytes()


def test_make_try_grants_uploads_waits_and_downloads(api_url: str) -> None:
    said: list[str] = []
    assert run(api_url, say=said.append) == HOMEWORK
    assert said[-1].endswith("identical")
