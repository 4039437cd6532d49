"""The ``ipainter`` command: the argument parser and ``main``; each command lives in ``ipainter_nb.commands``.

    ipainter paint -s SOURCE -d DEST --num-samples 5 --model places256   # as the original code's inference.py
    ipainter schedule --plot schedule.png                                 # NFE of a schedule
    ipainter demo --out demo_out                                          # the built-in scene, end to end
    ipainter train --steps 1000                                           # ipainter_nb.train
    ipainter models                                                       # presets and their weights
    ipainter download places256                                           # opt-in: fetch a preset's weights

``paint`` reads ``<name>.png`` (the composed picture) and ``<name>_mask.png`` (white =
keep) from SOURCE and writes ``<name>_<k>.png`` for k = 0..N-1 into DEST, each as soon as
it is painted. Outputs that exist (or that another run is painting) are skipped, so a
rerun resumes and several runs can share one DEST. Schedule flags left unset take the
model's own default schedule (the paper's 250 / 10 x 10 / stop at 100 for the published
checkpoints). Every argument is checked before anything is written. Errors are one line on
stderr (--debug shows the traceback); exit code 2 when the command cannot run as given, 1
when it ran and something failed (a batch in which some pictures failed exits with 1 after
painting the others), 128 + N when signal N stopped it (130 for Ctrl-C; 141 when the reader of
its output went away, as in ``ipainter models | head -1``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO, TypeVar

# Only light modules here: the commands (and torch, which takes seconds to import) are imported by
# main once its signal handlers are in place, so that a Ctrl-C at start-up is a clean stop too.
from ._version import __version__
from .checks import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OS_HINTS,
    PROG,
    CommandParser,
    int_at_least,
    int_in,
    one_line,
    path_text,
    seed_flag,
)
from .errors import IPainterError, RunFailedError, UserInputError
from .public import public_names
from .signals import stop_on_signals, stop_signal

#: The signal a program that writes to a closed pipe gets by default (its number where the platform has none).
EXIT_PIPE_SIGNAL = int(getattr(signal, "SIGPIPE", 13))

__all__ = ["main", "build_parser"]

T = TypeVar("T")
MAX_SAMPLES = 1_000_000  # per picture: its output names are listed up front


def _shard(text: str) -> tuple[int, int] | str:
    from .batch import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ipainter`` and its commands (``train`` parses its own flags).

    Returns:
        The parser; each command's namespace has ``func``, its ``cmd_*`` function.
    """
    from .batch import MAX_RUN_SEED
    from .commands.common import add_model_flags
    from .commands.demo import MAX_DEMO_SAMPLES, cmd_demo
    from .commands.download import cmd_download
    from .commands.info import cmd_models, cmd_schedule
    from .commands.paint import cmd_paint
    from .commands.schedule_args import add_schedule_flags

    parser = CommandParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (any command, any position)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("paint", help="paint a folder of <name>.png + <name>_mask.png pairs (as the original code's inference.py)",
                       description="Paint every <name>.png of SOURCE where <name>_mask.png is black; "
                                   "write <name>_<k>.png into DEST, each as soon as it is painted.")
    p.add_argument("-s", "--source", required=True, type=path_text, help="folder of <name>.png and <name>_mask.png (white = keep)")
    p.add_argument("-d", "--dest", required=True, type=path_text, help="folder for <name>_<k>.png (created; its parent must exist)")
    p.add_argument("--num-samples", "--num_samples", type=int_in(1, MAX_SAMPLES), default=5, metavar="N",
                   help="samples per picture (default: 5)")
    p.add_argument("--batch-size", type=int_at_least(1), default=None, metavar="B",
                   help="samples painted at once (default: chosen from the model and device); memory grows with it")
    add_model_flags(p, default="places256")
    add_schedule_flags(p, "the model's default schedule (paper: --t-T 250 --jump-length 10 --jump-n-sample 10 --stop-resampling-at 100)")
    p.add_argument("--seed", type=int_in(0, MAX_RUN_SEED, " (a larger seed would repeat the pictures of a smaller one)"),
                   default=0, help=f"each picture's seed derives from this and its name: 0..{MAX_RUN_SEED} (default: 0)")
    p.add_argument("--overwrite", action="store_true",
                   help="repaint outputs that exist (default: skip them and those another run is painting, so a rerun resumes)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="i/n",
                   help="paint only the sorted names whose index %% n == i (0-based); 'auto' reads RANK/WORLD_SIZE (torchrun)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-picture lines; errors and the summary only")
    p.set_defaults(func=cmd_paint)

    s = sub.add_parser("schedule", help="print a schedule's model calls (NFE) against full RePaint; plot it")
    add_schedule_flags(s, "the paper, or --model's default schedule")
    add_model_flags(s, default=None, loads_weights=False)
    s.add_argument("--plot", default=None, type=path_text, metavar="OUT.png", help="save the schedule's plot")
    s.set_defaults(func=cmd_schedule)

    d = sub.add_parser("demo", help="compose the built-in scene, paint it, write pictures, a GIF and frequency plots")
    d.add_argument("--out", default="demo_out", type=path_text, help="output folder (default: demo_out)")
    add_model_flags(d, default="demo")
    d.add_argument("--num-samples", type=int_in(1, MAX_DEMO_SAMPLES, " (the demo keeps them all for its grid; "
                                                 "ipainter paint paints more)"), default=4, metavar="N", help="default: 4")
    d.add_argument("--seed", type=seed_flag, default=0, help="a whole number in 0..2**63-1 (default: 0)")
    d.add_argument("--schedule-steps", type=int_at_least(1), default=None, metavar="N",
                   help="t_T instead of the model's (the jump length and the stop keep their proportion)")
    d.add_argument("--frames", type=int_at_least(2), default=60, help="steps kept for the GIF and spectra (default: 60)")
    d.add_argument("--overwrite", action="store_true", help="replace the files of an earlier demo in --out")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)

    # the real parsing happens in ipainter_nb.train; this entry only lists the command
    sub.add_parser("train", help="train a model (ipainter train --help)", add_help=False)

    m = sub.add_parser("models", help="list presets, whether their weights are found, and where")
    m.set_defaults(func=cmd_models)

    w = sub.add_parser("download", help="download a preset's published weights (opt-in; checked before they are installed)")
    w.add_argument("preset", metavar="PRESET", help="a downloadable preset (see `ipainter models`)")
    w.add_argument("--dest-dir", default=None, type=path_text, metavar="FOLDER",
                   help="where to install them (default: ~/.cache/ipainter_nb)")
    w.add_argument("--sha256", default=None, metavar="HEX", help="the file's expected SHA-256 (64 hexadecimal digits)")
    w.add_argument("--url", default=None, help="fetch from this address instead of the preset's (a mirror)")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=cmd_download)
    return parser


# --------------------------------------------------------------------------- main: one line per error


def _error(message: object, hint: str | None = None) -> None:
    try:
        print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
        if hint:
            print(f"{PROG}: hint: {hint}", file=sys.stderr)
    except OSError:  # stderr is full or gone: nobody to tell, and the exit code still says it
        _output_to_devnull(("stderr",))


class StreamError(OSError):
    """Writing to standard output or standard error failed (a full disk, a device's error).

    Args:
        stream: ``"stdout"`` or ``"stderr"``.
        error: the error of the write.
    """

    def __init__(self, stream: str, error: OSError) -> None:
        super().__init__(error.errno, error.strerror)
        self.stream = stream

    def __str__(self) -> str:
        name = {"stdout": "standard output", "stderr": "standard error"}[self.stream]
        return f"cannot write to {name} ({self.strerror}): send it to a file or device that can take it"


class _NamedStream:
    """``sys.stdout`` or ``sys.stderr``, whose failed writes raise ``StreamError``: a bare OSError
    read as if an output file could not be written ("No space left on device", free some space)."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream, self._name = stream, name

    def _guard(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except BrokenPipeError:
            raise  # the reader went away: main's quiet ending
        except OSError as exc:
            raise StreamError(self._name, exc) from exc

    def write(self, text: str) -> int:
        return self._guard(lambda: self._stream.write(text))

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._stream, attr)


class _ClosedStdout:
    """Standard output whose descriptor was closed when Python started (``>&-``): Python leaves it None,
    to which ``print`` writes nothing at all, so ``ipainter models >&-`` said nothing and exited 0. A
    write raises ``StreamError``, as one to a stdout that fails does."""

    def write(self, text: str) -> int:
        if text:
            raise StreamError("stdout", OSError(errno.EBADF, os.strerror(errno.EBADF)))
        return 0

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))


class _ClosedStderr:
    """Standard error whose descriptor was closed when Python started (``2>&-``): what is said there is
    dropped, since nobody can be told and a warning must not end the run. Left None, it was worse:
    ``print(..., file=sys.stderr)`` with None writes to stdout, which a pipeline may be reading."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _named_streams() -> Iterator[None]:
    """Within the block, a failed write to stdout or stderr raises ``StreamError`` (see ``_NamedStream``),
    and so does a write to a stdout that was closed when Python started (``_ClosedStdout``). What is
    said on a stderr closed when Python started is dropped (``_ClosedStderr``)."""
    before = {name: getattr(sys, name) for name in ("stdout", "stderr")}
    for name, stream in before.items():
        if stream is not None:
            setattr(sys, name, _NamedStream(stream, name))
    if before["stdout"] is None:
        sys.stdout = _ClosedStdout()
    if before["stderr"] is None:
        sys.stderr = _ClosedStderr()
    try:
        yield
    finally:
        for name, stream in before.items():
            setattr(sys, name, stream)


def _flush_streams() -> None:
    """Write out what stdout and stderr hold, here where a failure can be said, not at the interpreter's exit."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def _flush_or_drop() -> None:
    """After an error (said already): what a stream still holds is written, or dropped if it cannot be."""
    for name in ("stdout", "stderr"):
        try:
            if getattr(sys, name) is not None:
                getattr(sys, name).flush()
        except OSError:
            _output_to_devnull((name,))


def _stream_failed(exc: StreamError, debug: bool) -> int:
    _output_to_devnull((exc.stream,))  # nothing more goes there, not even the interpreter's last flush
    if debug:
        traceback.print_exc()
    if exc.stream == "stdout":  # a failing stderr leaves nobody to tell: the exit code says it
        _error(exc)
    return EXIT_FAILED


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """A library warning is one ``ipainter: warning:`` line, said once, not Python's two-line format."""
    said: set[str] = set()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file=None, line=None) -> None:
        text = one_line(message)
        if text not in said:
            said.add(text)
            print(f"{PROG}: warning: {text}", file=sys.stderr)

    previous = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


@contextlib.contextmanager
def _printable_names() -> Iterator[None]:
    """A file name that is not valid UTF-8 prints as ``\\udcXX`` escapes instead of failing."""
    streams = [s for s in (sys.stdout, sys.stderr) if hasattr(s, "reconfigure") and getattr(s, "errors", None) == "strict"]
    for stream in streams:
        stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream in streams:
            with contextlib.suppress(ValueError):  # closed meanwhile
                stream.reconfigure(errors="strict")


def _output_to_devnull(streams: tuple[str, ...] = ("stdout", "stderr")) -> None:
    """Send what is left of ``streams`` to /dev/null, so the interpreter's final flush prints no second error."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        for name in streams:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(devnull, getattr(sys, name).fileno())


def _quiet_broken_pipe() -> int:
    # the reader (``| head``) went away; stderr still reaches the user. 128 + SIGPIPE, the code of
    # a program that SIGPIPE ended (``yes | head -1``), which scripts under ``set -o pipefail`` expect
    _output_to_devnull(("stdout",))
    return 128 + EXIT_PIPE_SIGNAL


def _run(argv: list[str]) -> int:
    _check_working_folder()  # before torch loads (the parser's modules load it)
    if argv and argv[0] == "train":
        from .train import main as train_main

        return int(train_main(argv[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(args.func(args))


def _check_working_folder() -> None:
    """A shell still in a folder that was deleted (``rm -r`` from another terminal) gives the command a
    current folder that does not exist: torch cannot load there (its math library ends the process
    with exit 2 and a line about a library), and no relative path can be read or written."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise UserInputError("the current folder no longer exists (it was deleted or moved after the shell "
                             "entered it): cd to a folder that exists and run the command again") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ipainter`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    The project's errors and the expected OS errors are one line on stderr (plus a hint);
    ``--debug`` (anywhere in ``argv``) shows their traceback too. Any other exception is a
    bug and keeps its traceback. SIGINT, SIGTERM, SIGHUP and SIGQUIT stop a run cleanly
    (finished outputs kept, temp and claim files removed) with exit code 128 + the signal.

    Args:
        argv: the arguments after the program name.

    Returns:
        The exit code.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    with stop_on_signals(), _printable_names(), _named_streams(), _warnings_as_lines():
        code = _ended(argv, debug)
        _flush_or_drop()
        return code


def _ended(argv: list[str], debug: bool) -> int:
    """Run the command; its errors as one line each, and its exit code."""
    try:
        try:
            code = _run(argv)
        except SystemExit as exc:  # argparse: --help or --version (0) or a bad argument (2, message printed)
            if sys.stdout is not None:
                sys.stdout.flush()  # --help into a closed pipe fails here, as other output does
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
        _flush_streams()
        return code
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        signum = stop_signal()  # also when a writer re-raised the stop as its own KeyboardInterrupt
        how = "interrupted" if signum in (None, signal.SIGINT) else f"stopped by {signal.Signals(signum).name}"
        try:
            print(f"{PROG}: {how}" + (f": {exc}" if str(exc) else ""), file=sys.stderr)
        except OSError:  # the terminal has gone (SIGHUP): nobody to tell, and the exit code still says it
            _output_to_devnull()
        return 128 + signum if signum else EXIT_INTERRUPTED
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except StreamError as exc:
        return _stream_failed(exc, debug)
    except IPainterError as exc:
        if debug:
            traceback.print_exc()
        _error(exc)
        return EXIT_FAILED if isinstance(exc, RunFailedError) else EXIT_USAGE
    except OSError as exc:
        if exc.errno not in OS_HINTS:
            raise
        if debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        _error(f"{exc.strerror or exc}{where}", OS_HINTS[exc.errno])
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())


public_names(globals())  # after every public definition
