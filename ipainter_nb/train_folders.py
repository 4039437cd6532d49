"""A training run's folder: the files a run writes there, and what it must not replace.

``train`` checks its ``--out`` (``check_run_files``, ``check_out_apart``) and an export's place
(``check_export_apart``) here, before anything is written.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .core.checkpoints import holds_safetensors
from .errors import UserInputError
from .file_kinds import PNG_FILE, FileKind, starts_with
from .public import public_names

__all__ = ["LOSS_HEADER", "CHECKPOINT_NAME", "RUN_FILES", "EXPORT_FILE", "check_run_files", "check_out_apart", "check_export_apart"]

LOSS_HEADER = "step,loss,seconds"
CHECKPOINT_NAME = "last.pt"
#: What a run writes in its folder besides the sample grids (in samples/).
RUN_FILES = (CHECKPOINT_NAME, "config.json", "loss.csv")


def _is_run_config(path: Path) -> bool:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return isinstance(record, dict) and {"out", "steps", "unet"} <= set(record)


_RUN_CONFIG = FileKind("a run's config", (".json",), _is_run_config)
_LOSS_LOG = FileKind("a run's loss log", (".csv",), starts_with(LOSS_HEADER.encode()))
#: What ``train --export`` writes, told by the checkpoint reader's own content test (any name: scripts name exports .pt too).
EXPORT_FILE = FileKind("a safetensors file", (), holds_safetensors)


def check_run_files(out: Path) -> None:
    """Refuse a run folder holding, under the names a run writes, files that no run wrote: the run
    would replace them (``config.json``, ``loss.csv``, ``samples/stepNNNNNN.png``). A folder a run
    has used, or one without those names, is fine.

    Args:
        out: the run's folder.
    """
    def foreign(path: Path) -> bool:
        if not path.is_file():
            return path.exists() or path.is_symlink()
        return not {"config.json": _RUN_CONFIG, "loss.csv": _LOSS_LOG}.get(path.name, PNG_FILE).holds(path)  # PNG: a grid

    names = [out / "config.json", out / "loss.csv"]
    if (out / "samples").is_dir():
        names += sorted(p for p in (out / "samples").iterdir() if re.fullmatch(r"step[0-9]{6,}\.png", p.name))
    found = [path for path in names if foreign(path)]
    if found:
        shown = ", ".join(str(path.relative_to(out)) for path in found[:3]) + (" ..." if len(found) > 3 else "")
        raise UserInputError(f"--out {out} holds {shown}, which a training run did not write and would replace: "
                             "choose a new or empty folder for the run")


def check_out_apart(out: Path, data: str | None, sample_every: int) -> None:
    """Refuse a run folder in the training pictures' folder when the run writes sample grids: the
    folder is read with its subfolders, so a resumed run would train on its own grids.

    Args:
        out: the run's folder.
        data: the training pictures' folder, or None.
        sample_every: how often the run writes a grid (0: never).
    """
    if data is None or not sample_every:
        return
    # realpath, not resolve: a link loop at --data is named by the folder's own check, later
    pictures, run = Path(os.path.realpath(Path(data).expanduser())), Path(os.path.realpath(out))
    if pictures == run or pictures in run.parents:
        raise UserInputError(f"--out {out} is inside --data {data}: the run's sample grids would be read as training "
                             f"pictures when it resumes; put the run elsewhere (e.g. {pictures.parent / 'runs'}), "
                             "or write no grids (--sample-every 0)")


def check_export_apart(dest: Path, out: Path, flag: str = "dest") -> None:
    """Refuse ``dest`` when it is a file the training run in ``out`` writes itself: the export would
    replace its checkpoint (which the next run then cannot resume from), its config, its loss log or a sample grid.

    Args:
        dest: where the export goes.
        out: the run's folder.
        flag: the argument's name in messages.
    """
    place = dest.parent.resolve() / dest.name  # a link at dest is replaced, never written through: follow its folder only
    home = out.resolve()
    if (place.parent == home and place.name in RUN_FILES) or home / "samples" in place.parents:
        raise UserInputError(f"{flag} {dest} is a file the training run in {out} writes itself ({place.relative_to(home)}): "
                             f"export to another file, e.g. {out / 'model.safetensors'}")


public_names(globals())  # after every public definition
