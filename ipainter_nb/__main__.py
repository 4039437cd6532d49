"""``python -m ipainter_nb ...`` is the ``ipainter`` command (``run`` is also its console script)."""

import os
import signal
import sys


def _interrupted_early(signum: int, frame: object) -> None:
    # Ctrl-C while the command's modules load: nothing is written yet, so end as a stopped run ends,
    # without the KeyboardInterrupt traceback of an import cut short
    try:
        os.write(2, b"ipainter: interrupted\n")
    except OSError:  # no stderr to tell
        pass
    os._exit(128 + signum)


def run() -> int:
    """Run the ``ipainter`` command; returns its exit code."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # an inherited "ignore" stays
        signal.signal(signal.SIGINT, _interrupted_early)
    from .cli import main  # the command's own handlers replace the early one while it runs

    return main()


if __name__ == "__main__":
    sys.exit(run())
