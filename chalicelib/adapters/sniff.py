"""Type sniffing from the bytes with libmagic; imported only by the scan handler."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# On Lambda, our layer (built by `make package`, infra/libmagic.py) lands under /opt: libmagic and the
# database of the same Debian release, which must go together. Elsewhere python-magic finds the machine's.
LAYER = Path("/opt")
LAYER_LIBRARY = "lib/libmagic.so.1"
LAYER_DATABASE = "share/misc/magic.mgc"


class MagicSniffer:
    """The Sniffer port over python-magic; the libmagic handle is opened on first use."""

    def __init__(self, layer: Path = LAYER) -> None:
        self._layer = layer
        self._magic: Any = None

    def sniff(self, head: bytes) -> str:
        """The MIME type libmagic gives the first bytes of a file."""
        if self._magic is None:
            self._magic = _open_magic(self._layer)
        return str(self._magic.from_buffer(head))


def _open_magic(layer: Path) -> Any:
    """A python-magic handle: over the layer's libmagic and database when the layer is there."""
    library = layer / LAYER_LIBRARY
    if not library.is_file():
        import magic  # heavy (loads libmagic and its database): only where a scan runs

        return magic.Magic(mime=True)
    magic = _import_magic_over(library)
    return magic.Magic(mime=True, magic_file=str(layer / LAYER_DATABASE))


def _import_magic_over(library: Path) -> Any:
    """python-magic bound to `library`, without its search for the library.

    python-magic's loader asks `ctypes.util.find_library`, which spawns `ldconfig`, `gcc` and `ld`
    (a cold start pays for it, and on Lambda it finds nothing); its package imports
    `magic.loader` for one call, `load_lib()`, so a module answering our handle stands in for it.
    """
    if "magic" not in sys.modules:
        import ctypes
        import types

        handle = ctypes.CDLL(str(library))  # by path: a libmagic of the system's never pairs with our database
        loader = types.ModuleType("magic.loader")
        loader.__dict__["load_lib"] = lambda: handle
        sys.modules["magic.loader"] = loader
    import magic

    return magic
