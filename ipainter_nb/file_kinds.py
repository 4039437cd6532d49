"""What kind of file an output is: its name's suffix and its first bytes.

An output replaces only a file of its own kind (an earlier output): ``schedule --plot thesis.txt``
must not turn a thesis into a PNG. ``checks.writable_file`` refuses the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .public import public_names

__all__ = ["FileKind", "PNG_FILE", "GIF_FILE", "SAFETENSORS_FILE"]


@dataclass(frozen=True)
class FileKind:
    """What kind of file an output is, so that an existing file of another kind is not replaced by it.

    Attributes:
        what: its name in messages ("a PNG picture").
        suffixes: the suffixes its name may have (lower case, with the dot); empty: any name.
        magic: the bytes every such file starts with, one of them.
        offset: where in the file the magic bytes are.
    """

    what: str
    suffixes: tuple[str, ...]
    magic: tuple[bytes, ...]
    offset: int = 0

    def holds(self, path: Path) -> bool:
        """Whether the file at ``path`` is of this kind (by its first bytes).

        Args:
            path: an existing regular file.
        """
        try:
            with open(path, "rb") as f:
                head = f.read(self.offset + max(map(len, self.magic)))
        except OSError:
            return False
        return any(head[self.offset:].startswith(magic) for magic in self.magic)


PNG_FILE = FileKind("a PNG picture", (".png",), (b"\x89PNG\r\n\x1a\n",))
GIF_FILE = FileKind("a GIF animation", (".gif",), (b"GIF87a", b"GIF89a"))
# any name: weights are read by their content, and scripts name exports .pt too; the magic follows the header's length
SAFETENSORS_FILE = FileKind("a safetensors file", (), (b"{",), offset=8)


public_names(globals())  # after every public definition
