"""The packaged scan handler sniffs with the libmagic layer alone, as it would on Lambda.

Lambda's runtime has no libmagic and no magic database: the package's python-magic only works over
the layer `make package` builds (infra/libmagic.py). The layer tests build it (a second) and read
it; the Lambda test packages stage dev as `make package` does, unpacks `deployment.zip` as /var/task
and the layer the template attaches to `ScanUploads` as /opt, then, in a private mount namespace
where this machine's libmagic, the libraries it loads and its database are hidden (/dev/null bound
over them), runs the packaged `MagicSniffer` with the standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.sniff import LAYER_DATABASE, LAYER_LIBRARY
from chalicelib.domain.content import load_content_policy
from infra.libmagic import (
    DATABASE,
    LAMBDA_GLIBC,
    LAYER_ZIP,
    LIBRARY,
    MANIFEST,
    LayerError,
    build_layer,
    check_glibc,
    dependencies,
    glibc_needed,
    versions_needed,
)

CHALICE = Path(sys.executable).parent / "chalice"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PE = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x4c\x01\x01\x00" + b"\x00" * 200
# Lambda's python3.13 runtime, with /var/task moved to where the package is unpacked.
LAMBDA_LIBRARY_PATH = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:{task}:{task}/lib:/opt/lib"
# Run as `python -I -S`: the standard library and the unpacked package, nothing of this machine's venv.
PROBE = """
import json, os, sys
task, pdf, pe, *aliases = sys.argv[1:]
sys.path.insert(0, task)
import ctypes.util
searches = []
find_library = ctypes.util.find_library
ctypes.util.find_library = lambda name: searches.append(name) or find_library(name)
hidden = {path: os.path.getsize(path) for path in aliases}
try:
    from chalicelib.adapters.sniff import MagicSniffer
    sniffer = MagicSniffer()
    result = {"pdf": sniffer.sniff(bytes.fromhex(pdf)), "pe": sniffer.sniff(bytes.fromhex(pe))}
except (ImportError, OSError) as exc:
    result = {"error": f"{type(exc).__name__}: {exc}"}
maps = {line.split()[-1] for line in open("/proc/self/maps") if ".so" in line}
vendored = ("libmagic.", "liblzma.", "libbz2.", "libz.")
magic = sys.modules.get("magic")
print(json.dumps({
    **result,
    "hidden": hidden,
    "searches": searches,
    "modules": [m.__file__ for m in (sys.modules.get("chalicelib.adapters.sniff"), magic) if m],
    "libraries": sorted(path for path in maps if os.path.basename(path).startswith(vendored)),
}))
"""


# -- the layer ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_layer(tmp_path_factory.mktemp("layer") / LAYER_ZIP)


def test_layer_holds_libmagic_what_it_loads_and_its_database(layer: Path) -> None:
    with zipfile.ZipFile(layer) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(MANIFEST))
    libraries = {f"lib/{soname}" for soname in dependencies(LIBRARY)} | {LAYER_LIBRARY}
    assert {"lib/liblzma.so.5", "lib/libbz2.so.1.0", "lib/libz.so.1"} <= libraries
    assert names == sorted(libraries | {LAYER_DATABASE, MANIFEST}), "sorted, and nothing of glibc"
    packages = manifest["packages"]
    assert packages["libmagic1:amd64"] == packages["libmagic-mgc"], "a database of another release misreads"
    assert manifest["files"][LAYER_DATABASE]["source"] == str(DATABASE.resolve())


def test_every_vendored_library_runs_on_lambdas_glibc(layer: Path) -> None:
    with zipfile.ZipFile(layer) as archive:
        libraries = {name: archive.read(name) for name in archive.namelist() if name.startswith("lib/")}
    needs = {name: glibc_needed(data) for name, data in libraries.items()}
    assert all((2, 2, 5) <= need <= LAMBDA_GLIBC == (2, 34) for need in needs.values()), needs
    assert check_glibc(libraries) == max(needs.values())
    newest = max(needs, key=needs.__getitem__)
    with pytest.raises(LayerError, match=r"Lambda's runtime has glibc 2\.33") as refused:
        check_glibc(libraries, limit=(2, 33))
    assert f"{newest} needs GLIBC_{'.'.join(map(str, needs[newest]))}" in str(refused.value)


def test_versions_needed_reads_what_readelf_reads() -> None:
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) is not installed")
    listing = subprocess.run(["readelf", "-V", str(LIBRARY)], capture_output=True, text=True, check=True).stdout
    needs = listing.partition(".gnu.version_r")[2]
    expected = {line.split("Name: ")[1].split()[0] for line in needs.splitlines() if "Name: " in line}
    found = versions_needed(LIBRARY.read_bytes())
    assert set().union(*found.values()) == expected
    assert "libc.so.6" in found and {"XZ_5.0"} <= found["liblzma.so.5"]
    with pytest.raises(LayerError, match="not a 64-bit"):
        versions_needed(b"#!/bin/sh\n" + b"\0" * 64)


def test_layer_is_deterministic(layer: Path, tmp_path: Path) -> None:
    again = build_layer(tmp_path / LAYER_ZIP)
    assert again.read_bytes() == layer.read_bytes(), "same libmagic, same zip: no new layer version"
    with zipfile.ZipFile(again) as archive:
        entries = archive.infolist()
    assert {entry.date_time for entry in entries} == {(1980, 1, 1, 0, 0, 0)}
    modes = {entry.filename: entry.external_attr >> 16 for entry in entries}
    assert all(mode == (0o100755 if name.startswith("lib/") else 0o100644) for name, mode in modes.items())


# -- the package, as on Lambda -------------------------------------------------------------------------


def _hidden_files() -> list[Path]:
    """This machine's libmagic, the libraries it loads and its database: the files behind every alias."""
    return sorted({path.resolve() for path in [LIBRARY, DATABASE, *dependencies(LIBRARY).values()]})


def _aliases() -> list[str]:
    """Paths where this machine offers them (usrmerge: /lib is /usr/lib; /usr/share/misc/magic.mgc a link)."""
    names = [LIBRARY.name, *dependencies(LIBRARY)]
    found = [f"{base}/{name}" for base in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu") for name in names]
    found += [str(DATABASE), "/usr/share/misc/magic.mgc"]
    return [path for path in found if os.path.exists(path)]


def _unshare_problem(tmp: Path) -> str | None:
    """Why a private mount namespace cannot hide a file here, or None when it can."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare or mount (util-linux) is not installed"
    target = tmp / "probe"
    target.write_text("visible")
    answer = subprocess.run(
        ["unshare", "-m", "sh", "-c", f'mount --bind /dev/null "{target}" && test ! -s "{target}"'],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if answer.returncode == 0 else f"unshare -m with mount --bind is not permitted: {answer.stderr.strip()}"


@pytest.fixture(scope="module")
def lambda_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deployment.zip unpacked as `task/`, the layer ScanUploads carries as `opt/`."""
    if not CHALICE.exists():
        pytest.skip("chalice is not installed in this environment")
    root = tmp_path_factory.mktemp("lambda")
    problem = _unshare_problem(root)
    if problem:
        pytest.skip(problem)
    from infra.package import package

    template_path = package("dev", tmp_path_factory.mktemp("package"))
    resources: dict[str, Any] = json.loads(template_path.read_text(encoding="utf-8"))["Resources"]
    function = resources["ScanUploads"]["Properties"]
    (layer_ref,) = function["Layers"]
    with zipfile.ZipFile(template_path.parent / function["CodeUri"]) as code:
        code.extractall(root / "task")
    with zipfile.ZipFile(template_path.parent / resources[layer_ref["Ref"]]["Properties"]["ContentUri"]) as content:
        content.extractall(root / "opt")
    return root


def run_as_lambda(root: Path, *, layer: bool = True, library_path: bool = True) -> dict[str, Any]:
    """The probe, in a private mount namespace where this machine's libmagic is hidden.

    `layer`: the unpacked layer is bound on /opt (else /opt is this machine's, without libmagic);
    `library_path`: LD_LIBRARY_PATH as Lambda sets it (else unset).
    """
    mounts = [f'mount --bind /dev/null "{path}"' for path in _hidden_files()]
    if layer:
        mounts.append(f'mount --bind "{root / "opt"}" /opt')
    python = [sys.executable, "-I", "-S", "-c", PROBE, str(root / "task"), PDF.hex(), PE.hex(), *_aliases()]
    script = " && ".join([*mounts, 'exec "$@"'])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if library_path:
        env["LD_LIBRARY_PATH"] = LAMBDA_LIBRARY_PATH.format(task=root / "task")
    answer = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "probe", *python], capture_output=True, text=True, env=env, check=False
    )
    assert answer.returncode == 0, answer.stderr
    result: dict[str, Any] = json.loads(answer.stdout)
    assert result["hidden"] and set(result["hidden"].values()) == {0}, "every alias of the machine's copy is empty"
    return result


def test_packaged_sniffer_finds_pdf_and_pe_with_the_layer_alone(lambda_root: Path) -> None:
    result = run_as_lambda(lambda_root)
    assert "error" not in result, result["error"]
    assert result["pdf"] == "application/pdf"
    assert result["pe"] in load_content_policy().executable, "a Windows program is refused whatever it claims"
    task = str(lambda_root / "task")
    assert result["modules"] and all(path.startswith(task) for path in result["modules"]), "the packaged code"
    assert result["searches"] == [], "the layer's libmagic is loaded by path, with no ldconfig/gcc/ld search"
    assert {Path(path).name for path in result["libraries"]} >= {"libmagic.so.1", "liblzma.so.5", "libz.so.1"}
    assert all(path.startswith("/opt/lib/") for path in result["libraries"]), result["libraries"]


def test_without_the_layer_the_packaged_sniffer_cannot_load(lambda_root: Path) -> None:
    """The control: this machine's libmagic really is hidden."""
    result = run_as_lambda(lambda_root, layer=False)
    assert result["error"].startswith("ImportError: failed to find libmagic"), result


def test_without_the_layers_lib_dir_on_the_path_its_libmagic_cannot_load(lambda_root: Path) -> None:
    """libmagic comes from /opt by path, but what it loads (liblzma...) only through LD_LIBRARY_PATH."""
    result = run_as_lambda(lambda_root, library_path=False)
    assert result["error"].startswith("OSError:") and "liblzma.so.5" in result["error"], result
