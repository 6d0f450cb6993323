from __future__ import annotations

import pytest

from chalicelib.domain.names import check_name, check_title, normalize_path, parent_chain
from chalicelib.errors import BadRequestError


@pytest.mark.parametrize("name", ["devoir.pdf", "Été 2026.docx", "a" * 255, "émoji 📚.txt", "..hidden", "a.b.c"])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "a/b",
        "a\x00b",
        "a\x1fb",
        "a\x7fb",
        "a" * 256,
        "x\u202ey",
        "x\u2066y",
        "a\ud800b",
        "\udfff",
        None,
        3,
    ],
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


def test_a_name_typed_on_an_ipad_is_stored_in_nfc() -> None:
    # iPadOS and macOS write `é` as `e` + U+0301 (NFD): the same name as the precomposed one
    assert check_name("re\u0301daction.pdf") == "r\u00e9daction.pdf"
    assert normalize_path("/E\u0301te\u0301/") == "/\u00c9t\u00e9/"


@pytest.mark.parametrize(
    ("title", "stored"), [("  Rédaction  ", "Rédaction"), ("5e B \u2014 Fran\u0063\u0327ais", "5e B \u2014 Français")]
)
def test_titles_are_trimmed_nfc(title: str, stored: str) -> None:
    assert check_title(title, "title", 200) == stored


@pytest.mark.parametrize("title", ["", "   ", "a\ud800", "tab\there", "x\u202ey", "a" * 201, None, 7])
def test_bad_titles_answer_400(title: object) -> None:
    with pytest.raises(BadRequestError):
        check_title(title, "title", 200)
