"""The Lambda layer that brings libmagic to the scan handler, built from this Debian machine's own.

Lambda's Python runtimes (Amazon Linux 2023) have neither libmagic nor its database, and the
deployment package only carries python-magic. The layer holds the machine's `libmagic.so.1` and the
libraries it needs beyond glibc (found by the loader, `ldd`) in `lib/`, and the compiled database of
the same Debian release in `share/misc/magic.mgc`; Lambda unpacks it under /opt, where
`chalicelib/adapters/sniff.py` looks. Every vendored library must run on the runtime's glibc
(2.34): the build reads the versions each one needs from its ELF version-needed section, and stops
if one is newer. The zip is deterministic (fixed times and modes, sorted entries), so a layer only
changes when Debian's libmagic does.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import struct
import subprocess
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from chalicelib.adapters.sniff import LAYER_DATABASE, LAYER_LIBRARY

LIBRARY = Path("/usr/lib/x86_64-linux-gnu/libmagic.so.1")
DATABASE = Path("/usr/lib/file/magic.mgc")
LAYER_ZIP = "libmagic-layer.zip"
MANIFEST = "share/cartable/libmagic-layer.json"
# Amazon Linux 2023, under every python3.12+ runtime (pyproject requires 3.12 or newer).
LAMBDA_GLIBC = (2, 34)
# What glibc itself provides: the runtime has its own, never vendored.
_GLIBC_SONAMES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libmvec.so.1",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libresolv.so.2",
        "libutil.so.1",
        "libanl.so.1",
        "libnsl.so.1",
        "libBrokenLocale.so.1",
        "linux-vdso.so.1",
        "ld-linux-x86-64.so.2",
    }
)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_EM_X86_64 = 62
_SHT_GNU_VERNEED = 0x6FFFFFFE
_GLIBC_VERSION = re.compile(r"GLIBC_(\d+(?:\.\d+)*)")
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(\S+)\s+\(0x[0-9a-f]+\)\s*$")


class LayerError(Exception):
    """The layer cannot be built from this machine; the message says why."""


# -- what an ELF file needs --------------------------------------------------------------------------


def versions_needed(data: bytes) -> dict[str, set[str]]:
    """The symbol versions an x86-64 ELF shared object needs, by library (its `.gnu.version_r`)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise LayerError("not a 64-bit little-endian ELF file")
    header = struct.unpack_from("<16sHHIQQQIHHHHHH", data)
    machine, shoff, shentsize, shnum = header[2], header[6], header[11], header[12]
    if machine != _EM_X86_64:
        raise LayerError(f"not an x86-64 ELF file (e_machine {machine})")
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    needed: dict[str, set[str]] = {}
    for section in sections:
        if section[1] != _SHT_GNU_VERNEED:
            continue
        strings = sections[section[6]][4]  # sh_link: the string table; [4]: its offset

        def name(offset: int, strings: int = strings) -> str:
            end = data.index(b"\0", strings + offset)
            return data[strings + offset : end].decode("ascii")

        entry = section[4]
        for _ in range(section[7]):  # sh_info: the number of entries
            _, count, file, aux, following = struct.unpack_from("<HHIII", data, entry)
            versions = needed.setdefault(name(file), set())
            at = entry + aux
            for _ in range(count):
                _, _, _, version, aux_next = struct.unpack_from("<IHHII", data, at)
                versions.add(name(version))
                at += aux_next
            entry += following
    return needed


def glibc_needed(data: bytes) -> tuple[int, ...]:
    """The newest GLIBC_x.y symbol version an ELF file needs, `()` when none."""
    found = [
        tuple(int(part) for part in match.group(1).split("."))
        for versions in versions_needed(data).values()
        for version in versions
        if (match := _GLIBC_VERSION.fullmatch(version))
    ]
    return max(found, default=())


def check_glibc(files: Mapping[str, bytes], limit: tuple[int, ...] = LAMBDA_GLIBC) -> tuple[int, ...]:
    """The newest glibc version the files need; LayerError if one needs more than `limit`."""
    needs = {name: glibc_needed(data) for name, data in files.items()}
    too_new = sorted(name for name, need in needs.items() if need > limit)
    if too_new:
        details = ", ".join(f"{name} needs GLIBC_{_dotted(needs[name])}" for name in too_new)
        raise LayerError(
            f"{details}: Lambda's runtime has glibc {_dotted(limit)}; build the layer on an older"
            " Debian (or Amazon Linux 2023)"
        )
    return max(needs.values(), default=())


# -- what this machine has ---------------------------------------------------------------------------


def dependencies(library: Path) -> dict[str, Path]:
    """The libraries `library` loads beyond glibc, by soname, as the loader resolves them (`ldd`)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LD_")}
    try:
        command = ["ldd", str(library)]
        listing = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LayerError(f"ldd could not list what {library} needs: {exc}") from exc
    if "not found" in listing:
        raise LayerError(f"{library} needs a library this machine lacks:\n{listing}")
    found = {}
    for line in listing.splitlines():
        match = _LDD_LINE.match(line)
        if match and match.group(1) not in _GLIBC_SONAMES:
            found[match.group(1)] = Path(match.group(2))
    return found


def package_versions(packages: Iterable[str]) -> dict[str, str]:
    """The installed version of each Debian package (`dpkg-query`)."""
    owners = sorted(set(packages))
    try:
        command = ["dpkg-query", "-W", "-f", "${binary:Package} ${Version}\\n", *owners]
        listing = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LayerError(f"dpkg-query could not tell the versions of {', '.join(owners)}: {exc}") from exc
    return dict(line.split(" ", 1) for line in listing.splitlines() if line)


def owner(path: Path) -> str:
    """The package that installed `path` (dpkg knows it by /lib/... or /usr/lib/..., usrmerge or not)."""
    real = str(path.resolve())
    candidates = [str(path), real, re.sub(r"^/usr/lib/", "/lib/", real), re.sub(r"^/lib/", "/usr/lib/", real)]
    for candidate in dict.fromkeys(candidates):
        command = ["dpkg-query", "-S", candidate]
        answer = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if answer.returncode == 0:
            return answer.stdout.split(": ", 1)[0].split(", ", 1)[0]
    raise LayerError(f"no Debian package owns {path}: the layer is built from Debian's libmagic1 and libmagic-mgc")


# -- the layer --------------------------------------------------------------------------------------------


def layer_files(library: Path = LIBRARY, database: Path = DATABASE) -> dict[str, Path]:
    """What the layer holds, by its path in the zip: libmagic, what it loads beyond glibc, the database."""
    if platform.machine() != "x86_64":
        raise LayerError(f"the layer is built for x86_64 functions, on an x86_64 machine (not {platform.machine()})")
    for path, package in ((library, "libmagic1"), (database, "libmagic-mgc")):
        if not path.is_file():
            raise LayerError(f"{path} is missing: apt-get install {package}")
    files = {LAYER_LIBRARY: library}
    for soname, path in dependencies(library).items():
        files[f"{Path(LAYER_LIBRARY).parent}/{soname}"] = path
    files[LAYER_DATABASE] = database
    return files


def build_layer(output: Path, library: Path = LIBRARY, database: Path = DATABASE) -> Path:
    """Write the layer zip to `output` (checked for glibc, database and library of one release)."""
    files = layer_files(library, database)
    contents = {name: path.read_bytes() for name, path in files.items()}
    newest = check_glibc({name: data for name, data in contents.items() if name != LAYER_DATABASE})
    owners = {name: owner(path) for name, path in files.items()}
    packages = package_versions(owners.values())
    library_version, database_version = packages[owners[LAYER_LIBRARY]], packages[owners[LAYER_DATABASE]]
    if library_version != database_version:
        raise LayerError(
            f"libmagic {library_version} and its database {database_version} differ: install both from one"
            " release (apt-get install libmagic1 libmagic-mgc)"
        )
    manifest = {
        "packages": packages,
        "glibc_needed": _dotted(newest),
        "lambda_glibc": _dotted(LAMBDA_GLIBC),
        "files": {
            name: {
                "source": str(files[name].resolve()),
                "package": owners[name],
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
            for name, data in contents.items()
        },
    }
    contents[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w") as layer:
        for name in sorted(contents):
            entry = zipfile.ZipInfo(name, _ZIP_TIME)
            entry.create_system = 3  # unix: keep the modes below
            entry.external_attr = (0o100755 if name.startswith("lib/") else 0o100644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            layer.writestr(entry, contents[name], compresslevel=9)
    partial.replace(output)
    return output


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version) or "none"
