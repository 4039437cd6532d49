"""Opt-in download of weights: timeouts and retries, size and SHA-256 checks, atomic install.

Nothing here runs unless called. A download streams into a hidden ``.part`` file beside
the destination and replaces the destination only once the file is complete (as many bytes
as the server announced, the transfer ended cleanly), its SHA-256 matches when one is known,
and, for weights, it reads as a checkpoint of the preset's network. Any failure or Ctrl-C
(and, under the ``ipainter download`` command, SIGTERM, SIGHUP and SIGQUIT) removes the
``.part`` file and leaves an existing file as it was. The library installs no signal
handler: a process killed outright leaves its ``.part`` file, named after its host and pid,
and the next download into that folder removes it. Every argument is checked
(``check_download``) before any folder or file is created.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..checks import check_path, undone_on_failure, writable_folder
from ..errors import IPainterError, RunFailedError, UserInputError
from ..images import clean_leftovers, temp_file, write_text_atomic
from ..public import public_names
from .presets import PRESETS, Preset, default_download_dir

__all__ = ["DownloadError", "check_download", "download_file", "download_weights", "sha256_of"]

CHUNK = MIB = 1 << 20


class DownloadError(RunFailedError):
    """A download that did not produce a complete, verified file (nothing was installed)."""


def sha256_of(path: str | Path) -> str:
    """The SHA-256 of a file, as 64 hexadecimal digits.

    Args:
        path: the file.
    """
    digest = hashlib.sha256()
    with open(check_path("path", path), "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sum_file(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _recorded_sum(dest: Path) -> str | None:
    try:
        return _sum_file(dest).read_text().split()[0]
    except (OSError, IndexError):
        return None


def _make_folder(folder: Path) -> Path:
    """``folder`` created if needed, or a ``UserInputError`` naming it (a file in its place or on the way, a link
    there or on the way that leads nowhere, no permission): ``checks.writable_folder``, the command line's rules."""
    return writable_folder(folder, "the download folder", parents=True)


def _install(part: Path, dest: Path, actual: str, known: bool) -> None:
    """Move the verified ``part`` over ``dest`` and record its sum beside it."""
    # a sum left from an earlier file must never describe the new one, even if we are killed in between
    _sum_file(dest).unlink(missing_ok=True)
    os.chmod(part, 0o644)  # mkstemp made it private; give it what a plain open() would
    os.replace(part, dest)
    write_text_atomic(_sum_file(dest), f"{actual}  {dest.name}\n")
    if not known:
        print(f"recorded SHA-256 {actual} of {dest.name} in {_sum_file(dest)} (no known sum to check against)")


# --------------------------------------------------------------------------- temp file


def _remove_stale_parts(dest: Path, older_than_s: float) -> None:
    """``.part`` files (and other temps) of ended downloads beside ``dest``; an unknown writer's after a while."""
    clean_leftovers(dest.parent, max_age_s=older_than_s)


@contextlib.contextmanager
def _part_file(dest: Path) -> Iterator[Path]:
    """A hidden temp file beside ``dest`` (same file system, so the final rename is atomic), always removed;
    a device or a pipe at ``dest``, which the rename would replace, is refused (``temp_file``) before anything is fetched."""
    part = temp_file(dest, ".part")
    try:
        yield part
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()


# --------------------------------------------------------------------------- HTTP


class _ShortRead(Exception):
    pass


def _set_read_timeout(response: Any, seconds: float) -> None:
    """Switch the socket of an open response from the connect timeout to the read timeout.

    urllib has one timeout for everything; the body of a large file needs its own. The
    socket sits under http.client's buffered reader; if it is not where expected, the
    connect timeout simply stays in force.
    """
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


def _fetch_once(url: str, out: BinaryIO, connect_timeout: float, read_timeout: float,
                opener: Callable[..., Any], bar: Any) -> int:
    """Stream ``url`` into ``out``; the number of bytes, or an exception when the body is short."""
    out.seek(0)
    out.truncate()
    received = 0
    with opener(url, timeout=connect_timeout) as response:
        _set_read_timeout(response, read_timeout)
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if bar is not None:
            bar.reset(total)
        # read1 returns what has arrived (read would wait for a whole chunk); http.client raises
        # IncompleteRead when a chunked body or one with a length is cut short
        read = getattr(response, "read1", response.read)
        for chunk in iter(lambda: read(CHUNK), b""):
            out.write(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if total is not None and received != total:
        raise _ShortRead(f"received {received} of the {total} bytes announced")
    return received


# what a transfer can fail with (a full disk or a bad destination is not among them: those propagate as they are)
_NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, _ShortRead, ValueError)


def _transient(exc: BaseException) -> bool:
    """Worth another try: network trouble, a cut transfer, a busy server (not 404, not a bad URL)."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 429)
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, _LOCAL_FILE_ERRORS):
        return False  # a file:// URL to a file that is not there: no later try finds it
    return not isinstance(exc, ValueError)


_LOCAL_FILE_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def _what_happened(exc: BaseException, connect_timeout: float, read_timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"no answer within the timeout ({connect_timeout:g} s to connect and answer, {read_timeout:g} s between reads)"
    if isinstance(exc, _ShortRead):
        return f"the transfer was cut short ({exc})"
    if isinstance(exc, http.client.IncompleteRead):
        return f"the connection closed before the end of the file ({len(exc.partial)} bytes in the last read)"
    if isinstance(reason, _LOCAL_FILE_ERRORS):
        return f"the file cannot be read ({reason.strerror or reason})"
    if isinstance(exc, urllib.error.URLError):
        return f"could not connect ({reason})"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'connection lost'}"


class _Bar:
    """Progress in MiB over ``progress_bar``, new for each attempt (none when the size is unknown)."""

    def __init__(self, desc: str):
        self.desc = desc
        self.bar: Any = None
        self.received = 0

    def reset(self, total: int | None) -> None:
        from ..progress import progress_bar

        self.close()
        self.received = 0
        if total:
            self.bar = progress_bar(-(-total // MIB), f"{self.desc} (MiB)", enabled=True)

    def update(self, n: int) -> None:
        if self.bar is not None:
            before = self.received // MIB
            self.received += n
            self.bar.update(min(self.received // MIB, self.bar.total) - before)

    def close(self) -> None:
        if self.bar is not None:
            if self.received % MIB:  # the last, partial MiB
                self.bar.update(1)
            self.bar.close()
            self.bar = None


def download_file(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    progress: bool = True,
    opener: Callable[..., Any] | None = None,
    *,
    connect_timeout: float = 30.0,
    read_timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 2.0,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """Fetch ``url`` into ``dest``; ``dest`` is replaced only by a complete, verified file.

    Args:
        url: the address (http, https or file).
        dest: the file to install.
        sha256: the expected SHA-256, checked when given. The sum of the installed file is
            recorded beside it (``dest.sha256``), and printed when none was known.
        opener: ``urllib.request.urlopen`` or a function like it (``opener(url, timeout=...)``).
        connect_timeout: seconds to connect and get the server's answer.
        read_timeout: seconds without data before a transfer counts as stalled.
        retries: further tries after a network failure, a cut transfer or a 5xx answer,
            ``retry_wait`` seconds apart (doubling); not after a 4xx answer or a bad sum.
        retry_wait: seconds before the first retry.
        check: called with the complete temporary file before it is installed; it raises
            (any ``IPainterError``) to refuse the file.
        progress: show a progress bar.

    Returns:
        ``dest``.

    Raises:
        DownloadError: naming the URL, what happened and what to do.
    """
    dest = Path(dest).expanduser()
    check_url(url)
    if dest.is_dir():
        raise UserInputError(f"{dest} is a folder: name the file to download into, e.g. {dest / Path(url).name or 'weights.pt'}")
    with undone_on_failure(dest.parent):  # a failed first download leaves no new folder behind
        _make_folder(dest.parent)
        _remove_stale_parts(dest, older_than_s=max(900.0, 2 * read_timeout))
        kept = f"{dest} was left as it was" if dest.exists() else "nothing was written"
        bar = _Bar(dest.name) if progress else None
        with _part_file(dest) as part:
            try:
                with open(part, "wb") as out:
                    for attempt in range(retries + 1):
                        try:
                            _fetch_once(url, out, connect_timeout, read_timeout, opener or urllib.request.urlopen, bar)
                            break
                        except _NETWORK_ERRORS as exc:
                            if not _transient(exc) or attempt == retries:
                                tries = f" after {attempt + 1} tries" if attempt else ""
                                raise DownloadError(
                                    f"could not download {url}{tries}: {_what_happened(exc, connect_timeout, read_timeout)}; "
                                    f"{kept}. Check the URL and the network, then run it again"
                                ) from None
                            time.sleep(retry_wait * 2**attempt)
            finally:
                if bar is not None:
                    bar.close()
            actual = _verify(part, url, sha256, check, kept)
            _install(part, dest, actual, known=sha256 is not None)
        return dest


def _verify(part: Path, source: str, sha256: str | None, check: Callable[[Path], None] | None, kept: str) -> str:
    """The file's SHA-256 once it passed ``check`` and matches ``sha256`` (when given)."""
    if check is not None:
        try:
            check(part)
        except IPainterError as exc:
            why = str(exc).splitlines()[0].replace(f"{part} ", "it ")  # the temp file's name means nothing to a user
            raise DownloadError(f"the file from {source} is not usable ({why}); it was discarded and {kept}") from None
    actual = sha256_of(part)
    if sha256 is not None and actual.lower() != sha256.lower():
        raise DownloadError(
            f"SHA-256 of the download from {source} is {actual}, expected {sha256}: the file was discarded (corrupt or "
            f"changed upstream) and {kept}"
        )
    return actual


# --------------------------------------------------------------------------- presets


def _checks_network(preset: Preset) -> Callable[[Path], None]:
    """A check that a file reads as a checkpoint of the preset's network (cheap: memory-mapped, meta shapes)."""

    def check(path: Path) -> None:
        from .checkpoints import check_state_dict, read_state_dict
        from .unet import build_unet

        sd, _ = read_state_dict(path)
        check_state_dict(build_unet(dict(preset.unet_config), device="meta"), sd, path)

    return check


def _gdown(preset: Preset) -> Any:
    """The gdown module, or a ``UserInputError`` saying how to install it."""
    try:
        import gdown  # type: ignore[import-not-found]
    except ImportError:
        raise UserInputError(
            f"downloading {preset.name!r} from Google Drive needs gdown: pip install 'ipainter-nb[download]'"
        ) from None
    return gdown


def _gdown_into(part: Path, preset: Preset, progress: bool) -> None:
    gdown = _gdown(preset)
    source = f"Google Drive (id {preset.gdrive_id})"
    try:
        with open(part, "wb") as out:  # gdown writes into an open file without a temp file of its own
            result = gdown.download(id=preset.gdrive_id, output=out, quiet=not progress)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        raise DownloadError(f"could not download {preset.filename} from {source}: {str(exc).splitlines()[0]}; "
                            "try again later or fetch it by hand") from None
    if result is None or part.stat().st_size == 0:
        raise DownloadError(f"could not download {preset.filename} from {source} (gdown gave up, see its message above); "
                            "try again later or fetch it by hand")


_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def check_url(url: str) -> str:
    """``url`` is one a download can fetch (http, https or file); nothing is fetched.

    Args:
        url: the address.

    Returns:
        ``url``.

    Raises:
        UserInputError: naming the address and what is expected.
    """
    expected = "give an http://, https:// or file:// address"
    if not isinstance(url, str):
        raise UserInputError(f"cannot download from {url!r}: {expected}")
    # refused here, not after every retry, what no fetch can read (or a ValueError from urlsplit)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (read for its check: a port out of 0..65535 is a ValueError)
    except ValueError as exc:
        raise UserInputError(f"cannot download from {url!r}: {exc}; {expected}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise UserInputError(f"cannot download from {url!r}: {expected}")
    if scheme != "file" and not parts.hostname:
        raise UserInputError(f"cannot download from {url!r}: it names no host; {expected}")
    if scheme != "file" and any(c.isspace() or not c.isprintable() for c in url):
        raise UserInputError(f"cannot download from {url!r}: a web address holds no spaces or control characters "
                             "(write a space as %20)")
    return url


def check_download(name: str, dest_dir: str | Path | None = None, sha256: str | None = None,
                   url: str | None = None) -> tuple[Preset, Path]:
    """Check the arguments of ``download_weights``; nothing is created, written or fetched.

    Args:
        name: a downloadable preset.
        dest_dir: the folder to download into (None: ``~/.cache/ipainter_nb``).
        sha256: the expected SHA-256 (64 hexadecimal digits), or None.
        url: another address to fetch the preset's file from, or None.

    Returns:
        (the preset, the folder).

    Raises:
        UserInputError: naming the argument and the fix.
    """
    preset = PRESETS.get(name) if isinstance(name, str) else None
    if preset is None or not preset.downloadable:
        downloadable = sorted(n for n, p in PRESETS.items() if p.downloadable)
        raise UserInputError(f"no download for {name!r}: downloadable presets are {', '.join(downloadable)}")
    if sha256 is not None and not _SHA256.match(sha256):
        raise UserInputError(f"SHA-256 {sha256!r} is not 64 hexadecimal digits: copy the whole sum")
    if url is not None:
        check_url(url)
    elif preset.gdrive_id:
        _gdown(preset)
    folder = Path(dest_dir).expanduser() if dest_dir else default_download_dir()
    if folder.exists() and not folder.is_dir():
        raise UserInputError(f"the download folder {folder} is a file: choose a folder (dest_dir=...)")
    if (folder / preset.filename).is_dir():
        raise UserInputError(f"{folder / preset.filename} is a folder where the weights go: move it away")
    return preset, folder


def download_weights(
    name: str,
    dest_dir: str | Path | None = None,
    sha256: str | None = None,
    progress: bool = True,
    url: str | None = None,
    *,
    verify: bool = True,
    **http_options: Any,
) -> Path:
    """Opt-in: download a preset's checkpoint (gdown for Google Drive, HTTPS otherwise).

    Never called implicitly. ``dest_dir`` defaults to ``~/.cache/ipainter_nb``. ``url``
    overrides the preset's source (a mirror, or a local server in tests). A file already
    there whose SHA-256 matches the known or recorded sum is kept as is. With ``verify``
    the download must read as a checkpoint of the preset's network before it is installed
    (a half file or an error page never is). ``http_options`` go to ``download_file``
    (timeouts, retries).

    Args:
        name: a downloadable preset.
        dest_dir: the folder to install into (None: ``~/.cache/ipainter_nb``).
        sha256: the expected SHA-256, or None for the preset's known sum.
        progress: show a progress bar.
        url: another address to fetch from, or None.
        verify: check that the file reads as a checkpoint of the preset's network.
        **http_options: passed to ``download_file`` (timeouts, retries).

    Returns:
        The installed file.

    Raises:
        UserInputError: a bad argument, before anything is created.
        DownloadError: naming the address, what happened and what to do.
    """
    preset, folder = check_download(name, dest_dir, sha256, url)
    with undone_on_failure(folder):  # "nothing was written": a failed download leaves no new folder either
        return _download_preset(preset, folder, sha256, progress, url, verify, http_options)


def _download_preset(preset: Preset, folder: Path, sha256: str | None, progress: bool, url: str | None, verify: bool,
                     http_options: dict[str, Any]) -> Path:
    folder = _make_folder(folder)
    target = folder / preset.filename
    expected = sha256 or preset.sha256
    known = expected or _recorded_sum(target)
    if known and target.is_file() and sha256_of(target) == known.lower():
        return target
    check = _checks_network(preset) if verify else None
    if url is None and preset.gdrive_id:
        kept = f"{target} was left as it was" if target.exists() else "nothing was written"
        _remove_stale_parts(target, older_than_s=900.0)
        with _part_file(target) as part:
            _gdown_into(part, preset, progress)
            actual = _verify(part, f"Google Drive (id {preset.gdrive_id})", expected, check, kept)
            _install(part, target, actual, known=expected is not None)
        return target
    return download_file(url or preset.url or "", target, expected, progress, check=check, **http_options)


public_names(globals())  # after every public definition
