"""What kind of file an output is: its name's suffix and its first bytes.

An output replaces only a file of its own kind (an earlier output): ``schedule --plot thesis.txt``
must not turn a thesis into a PNG. ``checks.writable_file`` refuses the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .public import public_names

__all__ = ["FileKind", "starts_with", "PNG_FILE", "GIF_FILE"]


@dataclass(frozen=True)
class FileKind:
    """What kind of file an output is, so that an existing file of another kind is not replaced by it.

    Attributes:
        what: its name in messages ("a PNG picture").
        suffixes: the suffixes its name may have (lower case, with the dot); empty: any name.
        test: whether an existing regular file is of this kind (e.g. :func:`starts_with`).
    """

    what: str
    suffixes: tuple[str, ...]
    test: Callable[[Path], bool]

    def holds(self, path: Path) -> bool:
        """Whether the file at ``path`` is of this kind (a file that cannot be read is not).

        Args:
            path: an existing regular file.
        """
        try:
            return bool(self.test(path))
        except OSError:
            return False


def starts_with(*magic: bytes) -> Callable[[Path], bool]:
    """The test of a kind whose files open with one of ``magic``.

    Args:
        magic: the first bytes each such file has, one of them.
    """
    def test(path: Path) -> bool:
        with open(path, "rb") as f:
            head = f.read(max(map(len, magic)))
        return head.startswith(magic)

    return test


PNG_FILE = FileKind("a PNG picture", (".png",), starts_with(b"\x89PNG\r\n\x1a\n"))
GIF_FILE = FileKind("a GIF animation", (".gif",), starts_with(b"GIF87a", b"GIF89a"))


public_names(globals())  # after every public definition
