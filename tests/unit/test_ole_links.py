"""Linked objects as a table (CVE-2017-0199 and its kin: Office fetches what the link names when the document
opens, and runs it): a compound file of StdOleLink's class, or whose `\\x01Ole` stream says linked, wherever
the compound reader walks (a bare .doc, a docx's oleObject1.bin, a .ppt's records, an RTF's object), and an
`oleObject` relationship with TargetMode External in a docx, xlsx or pptx's `.rels` → `linked_object`, as
rtf.py refuses an OLE2Link, unless its target is a path on the writer's own drive (Paste Special > Paste link).
Embedded objects and external hyperlinks (every school document has some) stay clean; a `.rels` part that
cannot be read as Office reads it (or an `\\x01Ole` stream too short to say) is `archive_malformed`. Each case
is fed whole and in odd chunks: the verdict is the same.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable
from dataclasses import replace

import pytest

from chalicelib.domain.content import load_content_policy
from chalicelib.domain.findings import Finding
from chalicelib.domain.inspection import Inspection
from chalicelib.domain.office import TOKEN_LIMIT
from tests import corpus, ole
from tests.inspecting import inspected
from tests.zips import zipped

POLICY = load_content_policy()
URL = "http://exemple.invalid/cours.hta"
WORD = bytes([0xEC, 0xA5, 0xC1, 0x00]) + os.urandom(6000)
HARMLESS = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
LINKED = ole.linked_object(URL)
MALFORMED = Finding.MALFORMED
LINK_FOUND = Finding.LINKED

PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
OLE_TYPE = corpus.OLE_RELATIONSHIP
HYPERLINK_TYPE = corpus.HYPERLINK_RELATIONSHIP


def rels(*relationships: str, head: str = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n') -> str:
    """A relationships part as Office writes one, around these `Relationship` elements (or anything)."""
    return f'{head}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">{"".join(relationships)}</Relationships>'


def relationship(kind: str, target: str, mode: str | None = "External", rid: str = "rId9") -> str:
    external = "" if mode is None else f' TargetMode="{mode}"'
    return f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"{external}/>'


def with_member(name: str, data: bytes | str, container: bytes | None = None) -> bytes:
    """A docx (python-docx) with one member more, or one replaced (its rels), as an attacker repacks one."""
    raw = data.encode() if isinstance(data, str) else data
    source = container or corpus.docx_with_hyperlinks(*corpus.SOURCES)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename != name:
                new.writestr(info, old.read(info.filename))
        new.writestr(name, raw)
    return out.getvalue()


DOCUMENT_RELS = "word/_rels/document.xml.rels"
HYPERLINKS = [
    relationship(HYPERLINK_TYPE, u.replace("&", "&amp;"), rid=f"rId{i + 20}") for i, u in enumerate(corpus.SOURCES)
]


def document_rels(*relationships: str, **kwargs: str) -> bytes:
    return with_member(DOCUMENT_RELS, rels(*HYPERLINKS, *relationships, **kwargs))


def slide_object(blob: bytes) -> bytes:
    return ole.ppt(ole.object_record(blob))


def rtf_carrying(blob: bytes, class_name: str) -> bytes:
    return ole.rtf_document(ole.rtf_object(ole.ole1(class_name, blob), class_name, update=True))


LINK = relationship(OLE_TYPE, URL)


def long_url(length: int) -> str:
    return "https://a.fr/" + os.urandom(length // 2).hex()  # random: a bomb's ratio is not what is tested


# id, the file, what the inspection finds (None: nothing)
COMPOUNDS: list[tuple[str, Callable[[], bytes], Finding | None]] = [
    # -- compound files: by the root's class, by the \x01Ole stream's flags, or both
    ("class-and-flag", lambda: LINKED, LINK_FOUND),
    ("class-only", lambda: ole.compound({"\x01Ole": ole.OLE_STREAM}, clsid=ole.STD_OLE_LINK), LINK_FOUND),
    ("flag-only", lambda: ole.linked_object(URL, link_class=False), LINK_FOUND),
    ("flag-in-upper-case-name", lambda: ole.compound({"\x01OLE": ole.ole_stream(URL)}), LINK_FOUND),
    ("flag-in-a-large-stream", lambda: ole.compound({"\x01Ole": ole.ole_stream(URL) + bytes(9000)}), LINK_FOUND),
    ("ole-stream-too-short", lambda: ole.compound({"\x01Ole": b"\x01\x00\x00\x02\x01"}), MALFORMED),
    ("doc-object-pool-flag", lambda: ole.compound({"WordDocument": WORD,
                                                   "ObjectPool/_18/\x01Ole": ole.ole_stream(URL)}), LINK_FOUND),
    ("doc-object-pool-class", lambda: ole.compound({"WordDocument": WORD, "ObjectPool/_18/\x01Ole": ole.OLE_STREAM},
                                                   storages={"_18": ole.STD_OLE_LINK}), LINK_FOUND),
    ("xls-object", lambda: ole.compound({"Workbook": os.urandom(5000), "MBD0001A2B3/\x01Ole": ole.ole_stream(URL)}),
     LINK_FOUND),
    ("ppt-record", lambda: slide_object(LINKED), LINK_FOUND),
    ("compound-in-a-compound", lambda: ole.compound({"CONTENTS": LINKED}), LINK_FOUND),
    ("rtf-ole2link-class", lambda: rtf_carrying(LINKED, "OLE2Link"), LINK_FOUND),
    ("rtf-other-class", lambda: rtf_carrying(LINKED, "Word.Document.8"), LINK_FOUND),  # named otherwise: read
    ("zip-of-a-doc", lambda: zipped({"cours.doc": ole.compound({"WordDocument": WORD,
                                                                "\x01Ole": ole.ole_stream(URL)})}), LINK_FOUND),
    # -- embedded objects, not linked: clean
    ("embedded-pdf", lambda: ole.embedded_pdf(HARMLESS), None),
    ("word-97-object", lambda: ole.word_97(HARMLESS), None),
    ("ole-stream-other-flags", lambda: ole.compound({"\x01Ole": struct.pack("<IIIII", 0x02000001, 8, 0, 0, 0)}),
     None),  # 0x8: a hint for the object's server, not a link
    ("ppt-embedded", lambda: slide_object(ole.embedded_pdf(HARMLESS)), None),
    ("rtf-embedded", lambda: rtf_carrying(ole.embedded_pdf(HARMLESS), ole.ACROBAT_PROG_ID), None),
]  # fmt: skip
RELATIONSHIPS: list[tuple[str, Callable[[], bytes], Finding | None]] = [
    # -- relationships of an OOXML package
    ("docx-linked-object", lambda: corpus.docx_linking(URL), LINK_FOUND),
    ("docx-hyperlinks", lambda: corpus.docx_with_hyperlinks(*corpus.SOURCES), None),
    ("docx-embedded-object", lambda: corpus.docx_with_object(ole.embedded_pdf(HARMLESS), ole.ACROBAT_PROG_ID), None),
    ("pptx-embedded-object", lambda: corpus.pptx_with_object(ole.packaged("a.pdf", HARMLESS), "Package"), None),
    ("ole-object-internal", lambda: document_rels(relationship(OLE_TYPE, "embeddings/oleObject1.bin", None)), None),
    ("ole-object-mode-internal", lambda: document_rels(relationship(OLE_TYPE, URL, "Internal")), None),
    ("hyperlink-with-gt-in-its-target", lambda: document_rels(relationship(HYPERLINK_TYPE, "https://a.fr/?q=a&gt;b")),
     None),
    ("ole-link-among-hyperlinks", lambda: document_rels(LINK), LINK_FOUND),
    ("strict-namespace", lambda: document_rels(relationship(
        "http://purl.oclc.org/ooxml/officeDocument/relationships/oleObject", URL)), LINK_FOUND),
    ("other-case-and-spaces", lambda: document_rels(relationship(OLE_TYPE.upper() + " ", URL, " external ")),
     LINK_FOUND),
    ("single-quotes", lambda: document_rels(LINK.replace('"', "'")), LINK_FOUND),
    ("character-references", lambda: document_rels(relationship(OLE_TYPE.replace("oleObject", "&#x6F;le&#79;bject"),
                                                                URL, "Ex&#116;ernal")), LINK_FOUND),
    ("prefixed", lambda: with_member(DOCUMENT_RELS, f'<pr:Relationships xmlns:pr="{PACKAGE_RELATIONSHIPS}">'
                                                    f'{LINK.replace("<Relationship", "<pr:Relationship")}'
                                                    "</pr:Relationships>"), LINK_FOUND),
    ("gt-in-a-value-before", lambda: document_rels(
        f'<Relationship Id="rId9" Target="{URL}?a>b" Type="{OLE_TYPE}" TargetMode="External"/>'), LINK_FOUND),
    ("after-a-comment-with-a-quote", lambda: document_rels("<!-- l'objet -->", LINK, "<!-- ' -->"), LINK_FOUND),
    ("in-cdata-text", lambda: document_rels(f"<![CDATA[{LINK}]]>"), None),  # text, no element: Office reads none
    ("utf-16", lambda: with_member(DOCUMENT_RELS, rels(LINK, head='<?xml version="1.0" encoding="UTF-16"?>')
                                   .encode("utf-16")), LINK_FOUND),
    ("utf-16-hyperlinks", lambda: with_member(DOCUMENT_RELS, rels(*HYPERLINKS, head='<?xml version="1.0" '
                                                                   'encoding="UTF-16"?>').encode("utf-16")), None),
    ("doctype", lambda: document_rels(head='<?xml version="1.0"?><!DOCTYPE r [<!ENTITY t "oleObject">]>'),
     MALFORMED),
    ("not-xml", lambda: with_member(DOCUMENT_RELS, b"\x00\x01 not xml <<"), MALFORMED),
    ("undefined-entity", lambda: document_rels(relationship(HYPERLINK_TYPE, "https://a.fr/&nbsp;")), MALFORMED),
    ("empty-rels", lambda: with_member(DOCUMENT_RELS, b""), None),
    ("xlsx-sheet-rels", lambda: with_member("xl/worksheets/_rels/sheet1.xml.rels", rels(LINK)), LINK_FOUND),
    ("pptx-slide-rels", lambda: with_member("ppt/slides/_rels/slide1.xml.rels", rels(LINK)), LINK_FOUND),
    ("name-in-upper-case", lambda: with_member("word/_rels/header1.xml.RELS", rels(LINK)), LINK_FOUND),
    ("name-percent-escaped", lambda: with_member("word/_rels/header1.xml%2Erels", rels(LINK)), LINK_FOUND),
    ("docx-in-a-zip", lambda: zipped({"expose.docx": corpus.docx_linking(URL)}), LINK_FOUND),
    ("long-hyperlink", lambda: document_rels(relationship(HYPERLINK_TYPE, long_url(100_000))),
     None),  # longer than any browser's URL, and read
    # Paste Special > Paste link: Word relates the spreadsheet on the writer's own drive; nothing is fetched
    ("paste-link-to-a-local-workbook", lambda: document_rels(relationship(
        OLE_TYPE, "file:///C:\\Users\\prof\\Documents\\Notes%205B.xlsx!Feuil1!L1C1:L5C3")), None),
    ("paste-link-drive-path", lambda: document_rels(relationship(OLE_TYPE, "D:\\cours\\classeur.xlsx")), None),
    ("link-to-a-unc-share", lambda: document_rels(relationship(OLE_TYPE, "\\\\serveur\\partage\\a.xlsx")),
     LINK_FOUND),  # Windows sends the user's credentials to that server
    ("link-to-a-file-url-host", lambda: document_rels(relationship(OLE_TYPE, "file://serveur/partage/a.xlsx")),
     LINK_FOUND),
    ("link-drive-then-unc", lambda: document_rels(relationship(OLE_TYPE, "file:///C:\\\\serveur\\a.xlsx")),
     LINK_FOUND),
    ("link-to-mhtml", lambda: document_rels(relationship(OLE_TYPE, "mhtml:http://a.invalid/x!x-usc:a")),
     LINK_FOUND),
    ("two-targets", lambda: with_member(DOCUMENT_RELS, rels(
        f'<Relationship Id="rId9" Type="{OLE_TYPE}" Target="C:\\a.xlsx" xmlns:x="urn:x" x:Target="{URL}" '
        'TargetMode="External"/>')), LINK_FOUND),
    ("token-too-long", lambda: document_rels(relationship(HYPERLINK_TYPE, long_url(TOKEN_LIMIT))), MALFORMED),
]  # fmt: skip
CASES = COMPOUNDS + RELATIONSHIPS


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return {}


@pytest.mark.parametrize(("case", "make", "finding"), CASES, ids=[c[0] for c in CASES])
def test_a_linked_object_is_refused_wherever_it_is(
    built: dict[str, bytes], case: str, make: Callable[[], bytes], finding: Finding | None
) -> None:
    data = built.setdefault(case, make())
    expected = () if finding is None else (finding.value,)
    assert inspected(data) == expected
    assert inspected(data, size=4093) == expected
    if len(data) < 40_000:
        assert inspected(data, size=7) == expected


@pytest.mark.parametrize(("case", "make", "finding"), COMPOUNDS, ids=[c[0] for c in COMPOUNDS])
def test_a_linked_object_embedded_in_a_docx_is_refused_alike(
    built: dict[str, bytes], case: str, make: Callable[[], bytes], finding: Finding | None
) -> None:
    data = corpus.docx_with_object(built.setdefault(case, make()), "Word.Document.8")
    expected = () if finding is None else (finding.value,)
    assert inspected(data) == expected
    assert inspected(data, size=4093) == expected


def test_a_school_that_allows_active_content_still_refuses_links() -> None:
    allowing = replace(POLICY, pdf=replace(POLICY.pdf, reject_active=False))
    for data in (LINKED, corpus.docx_linking(URL)):
        inspection = Inspection(allowing)
        inspection.feed(data)
        assert inspection.finish() == ("linked_object",)
