"""Refusal reasons are stable codes: each one the scanner can give is listed in openapi.yaml with a
sentence, and the web client has that sentence in French and English (never shows the code)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from chalicelib.domain.findings import Finding

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("fr", "en")


def listed_reasons() -> dict[str, str]:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    reasons: dict[str, str] = spec["components"]["schemas"]["Reason"]["x-cartable-reasons"]
    return reasons


def reasons_in_code() -> set[str]:
    """Every string literal given as the reason of a `Verdict(FileStatus.REJECTED, ...)` in chalicelib, and
    every finding of the archive and PDF inspectors (each becomes a rejection's reason)."""
    found: set[str] = {finding.value for finding in Finding}
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Verdict"
                and len(node.args) == 2
                and ast.unparse(node.args[0]) == "FileStatus.REJECTED"
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                found.add(node.args[1].value)
    return found


def web_sentences(language: str) -> dict[str, str]:
    """The REASONS table of web/i18n.js for one language."""
    source = (ROOT / "web" / "i18n.js").read_text(encoding="utf-8")
    block = source[source.index("const REASONS = {") :]
    block = block[block.index(f"  {language}: {{") :]
    block = block[: block.index("\n  },")]
    return dict(re.findall(r'^\s+(\w+): "((?:[^"\\]|\\.)*)",$', block, re.MULTILINE))


def test_every_reason_the_scanner_gives_is_listed_with_a_sentence() -> None:
    listed = listed_reasons()
    assert reasons_in_code() - set(listed) == set()
    for code, sentence in listed.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code), code
        assert sentence.endswith(".") and len(sentence) > 20, code


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_web_client_says_each_reason_as_a_sentence(language: str) -> None:
    sentences = web_sentences(language)
    assert set(listed_reasons()) - set(sentences) == set()
    assert {"infected", "unknown"} <= set(sentences)
    assert all("_" not in sentence for sentence in sentences.values())
