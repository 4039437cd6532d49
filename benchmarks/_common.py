"""Helpers shared by the benchmark scripts: tables, atomic result files, timing, pausing.

Each script in this folder prints a markdown table and writes it to
``benchmarks/results/<name>.md``. ``--quick`` runs write ``<name>.quick.md`` instead, so a
smoke run never overwrites measured numbers.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"

if str(ROOT) not in sys.path:  # run as `python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(ROOT))


def log(msg: str) -> None:
    """Progress lines go to stderr, so stdout carries only the table."""
    print(msg, file=sys.stderr, flush=True)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table; floats are written as given (format them first)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def write_result(name: str, text: str, results_dir: str | Path | None = None, quick: bool = False) -> Path:
    """Write ``text`` to ``<results_dir>/<name>.md`` atomically (temp file + rename)."""
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}{'.quick' if quick else ''}.md"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def median_time(fn: Callable[[], Any], k: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time of ``k`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(k):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def environment(pauser: Pauser | None = None) -> str:
    """One line describing where the numbers come from (for the table's footnote)."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = pauser.describe() if pauser is not None else training_state(None)
    avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores ({cpu}); "
            f"{load}; load average {avg:.1f} at the end")


def training_state(paused_pid: int | None) -> str:
    if paused_pid is not None:
        return f"background training (pid {paused_pid}) paused during the measurement"
    busy = _other_busy_pythons()
    if busy:
        return f"NOT paused: other busy processes {busy} were running (timings disturbed)"
    return "no other busy Python process seen"


def _other_busy_pythons() -> list[str]:
    """Running (state R) python processes other than this one: training disturbs timings."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            state = (proc / "stat").read_text().split(") ", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if "python" in cmd and "ipainter_nb.train" in cmd and state != "T":
            found.append(proc.name)
    return found


class Pauser:
    """Pause a process (the background training) around timed blocks, a few minutes at most.

    ``with pauser.block():`` sends SIGSTOP on entry and SIGCONT on exit. Between two blocks
    the process runs for at least ``gap`` seconds, so long benchmarks never hold it for
    long. SIGCONT is also sent on exceptions, on SIGINT/SIGTERM (which then raise) and at
    interpreter exit, so a failing benchmark never leaves the training frozen. (SIGKILL
    cannot be caught: wrap the command in a shell ``trap 'kill -CONT <pid>' EXIT`` too.)
    With ``pid=None`` every block is a no-op.
    """

    def __init__(self, pid: int | None, gap: float = 20.0):
        self.pid = pid
        self.gap = gap
        self.blocks: list[float] = []
        self.gone = False
        self._stopped = False
        self._last_resume = -float("inf")
        if pid is not None:
            atexit.register(self.resume)
            for sig in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(sig) != signal.SIG_IGN:  # ignored at start (nohup, a background job): stays so
                    signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.resume()
        raise KeyboardInterrupt(f"signal {signum}")

    def resume(self) -> None:
        if self.pid is not None and self._stopped:
            self._stopped = False
            self._last_resume = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)

    @contextlib.contextmanager
    def block(self) -> Iterator[None]:
        if self.pid is None:
            yield
            return
        wait = self.gap - (time.monotonic() - self._last_resume)
        if wait > 0:
            time.sleep(wait)  # let the training run between two paused blocks
        try:
            os.kill(self.pid, signal.SIGSTOP)
        except ProcessLookupError:  # it has finished: nothing left to pause
            self.gone = True
            yield
            return
        self._stopped = True
        start = time.monotonic()
        try:
            yield
        finally:
            self.resume()
            self.blocks.append(time.monotonic() - start)

    def describe(self) -> str:
        if self.pid is None:
            return training_state(None)
        longest = max(self.blocks, default=0.0)
        if self.gone:
            return (f"the process to pause (pid {self.pid}) had exited for some blocks ({len(self.blocks)} paused, "
                    f"longest {longest:.0f} s); " + training_state(None))
        return (f"background training (pid {self.pid}) paused during each timed block "
                f"({len(self.blocks)} blocks, longest {longest:.0f} s), resumed for ≥ {self.gap:.0f} s between them")


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a seconds-long smoke run")
    p.add_argument("--results-dir", default=None, help=f"where to write the table (default {RESULTS_DIR})")
    p.add_argument("--pause-pid", type=int, default=None,
                   help="SIGSTOP this process (the background training) during each timed block; always resumed")
    p.add_argument("--pause-gap", type=float, default=20.0,
                   help="seconds the paused process runs between two timed blocks")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    return p


def fmt(x: float, digits: int = 3) -> str:
    """Compact float formatting for tables (``digits`` significant digits)."""
    return "n/a" if x != x else f"{x:.{digits}g}"


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Run with ``torch.set_num_threads(n)`` (None: unchanged), restoring the count afterwards."""
    import torch

    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def threads_for(args: argparse.Namespace) -> int | None:
    """--threads, else 1 for --quick: tiny ops on a busy machine mostly wait at thread barriers."""
    return args.threads or (1 if args.quick else None)
