from __future__ import annotations

import pytest

from chalicelib.domain.names import check_name, normalize_path, parent_chain
from chalicelib.errors import BadRequestError


@pytest.mark.parametrize("name", ["devoir.pdf", "Été 2026.docx", "a" * 255, "émoji 📚.txt", "..hidden", "a.b.c"])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "a\x00b", "a\x1fb", "a\x7fb", "a" * 256, "x\u202ey", "x\u2066y", "e\u0301", None, 3]
)
def test_bad_names(name: object) -> None:
    with pytest.raises(BadRequestError):
        check_name(name)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [(None, "/"), ("/", "/"), ("/a", "/a/"), ("/a/", "/a/"), ("/a/b c/", "/a/b c/"), ("/Été/", "/Été/")],
)
def test_paths_are_canonical(path: object, canonical: str) -> None:
    assert normalize_path(path) == canonical


@pytest.mark.parametrize("path", ["", "a/", "//", "/a//b", "/../", "/a/./b", "/a\x00/", 5, "/" + "a/" * 33])
def test_bad_paths(path: object) -> None:
    with pytest.raises(BadRequestError):
        normalize_path(path)


def test_parent_chain() -> None:
    assert parent_chain("/") == []
    assert parent_chain("/a/b/") == [("/", "a"), ("/a/", "b")]
