"""The ``ipainter`` command: argparse and one ``cmd_*`` function per command over the library.

    ipainter paint -s SOURCE -d DEST --num-samples 5 --model places256   # as the original code's inference.py
    ipainter schedule --plot schedule.png                                 # NFE of a schedule
    ipainter demo --out demo_out                                          # the built-in scene, end to end
    ipainter train --steps 1000                                           # ipainter_nb.train
    ipainter models                                                       # presets and their weights

``paint`` reads ``<name>.png`` (the composed picture) and ``<name>_mask.png`` (white =
keep) from SOURCE and writes ``<name>_<k>.png`` for k = 0..N-1 into DEST, each as soon as
it is painted. Outputs that exist (or that another run is painting) are skipped, so a
rerun resumes and several runs can share one DEST. Schedule flags left unset take the
model's own default schedule (the paper's 250 / 10 x 10 / stop at 100 for the published
checkpoints). Errors are one line on stderr (--debug shows the traceback); exit code 2
when the command cannot run as given, 1 when it ran and something failed (a batch in
which some pictures failed exits with 1 after painting the others), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from .batch import (
    MASK_TAG,
    claimed_batches,
    image_seed,
    output_path,
    parse_shard,
    scan_source,
    shard_from_env,
    take_shard,
)
from .core.checkpoints import read_checkpoint_info
from .core.devices import as_device
from .core.models import DiffusionModel, check_t_T, load_model
from .core.plan import plan_schedule
from .core.presets import PRESETS, WeightsNotFoundError, find_weights, search_dirs
from .core.sampler import auto_batch_size, paint
from .core.schedules import ScheduleConfig, count_nfe, repaint, resampling_window
from .demo.composition import demo_composition
from .errors import IPainterError, UserInputError
from .images import load_picture_and_mask, make_grid, mask_to_pil, remove_stale_temps, save_png_atomic
from .progress import progress_bar
from .viz import frequency_figure, save_figure, schedule_figure, timesteps_gif

__all__ = ["main", "build_parser", "schedule_from_args"]

PROG = "ipainter"
SCHEDULE_FLAGS = ("t_T", "jump_length", "jump_n_sample", "stop_resampling_at", "start_resampling_at", "eta", "stride")
EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130
MAX_SAMPLES = 1_000_000  # per picture: its output names are listed up front
MAX_DEMO_SAMPLES = 64
# OS errors a user causes (a full disk, a read-only folder, a path that went away), with the fix
_OS_HINTS = {
    errno.ENOSPC: "free some space or write to another disk",
    errno.EDQUOT: "free some space or write to another disk",
    errno.EACCES: "check the permissions, or choose a folder you can write to",
    errno.EPERM: "check the permissions, or choose a folder you can write to",
    errno.EROFS: "the disk is read-only: write to another folder",
    errno.ENOENT: "check the path",
    errno.EISDIR: "name a file, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EFBIG: "the file is larger than this disk or a limit (ulimit -f) allows: write to another disk or raise the limit",
    errno.ENAMETOOLONG: "use a shorter file or folder name",
    errno.ELOOP: "a symbolic link in the path points at itself (a loop): fix or remove it",
    errno.EIO: "the disk reported an input/output error: check the disk, or write to another one",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _say(quiet: bool) -> Callable[..., None]:
    return (lambda *a, **k: None) if quiet else print


# --------------------------------------------------------------------------- checks made before any work


@contextlib.contextmanager
def _checking(what: str) -> Iterator[None]:
    """An OS error while a path is checked (a name too long, a link loop) is the user's path: one line, exit 2."""
    try:
        yield
    except OSError as exc:
        hint = _OS_HINTS.get(exc.errno, "choose another path")
        raise UserInputError(f"{what}: {exc.strerror or exc}; {hint}") from None


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_writable(folder: Path, what: str) -> None:
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".ipainter-probe-"):
            pass
    except OSError as exc:
        raise UserInputError(f"{what}: cannot write in {folder} ({exc.strerror}); "
                             "choose another folder or fix its permissions") from None


def _check_parent(path: Path, what: str) -> None:
    """``path``'s parent folder exists (it is not created: a typo should not make a tree)."""
    parent = path.absolute().parent
    if parent.is_dir():
        return
    existing = _nearest_existing(parent)
    if existing.is_dir():
        raise UserInputError(f"{what}: the folder {parent} does not exist; create it first (mkdir -p {parent})")
    raise UserInputError(f"{what}: {existing} is a file, so {path} cannot be created under it; choose another path")


def writable_folder(folder: Path, flag: str, parents: bool = False) -> Path:
    """Make ``folder`` (its parent must exist unless ``parents``) and prove a file can be written in it."""
    with _checking(f"{flag} {folder}"):
        return _writable_folder(folder, flag, parents)


def _writable_folder(folder: Path, flag: str, parents: bool) -> Path:
    what = f"{flag} {folder}"
    if folder.exists() and not folder.is_dir():
        raise UserInputError(f"{what} is a file, not a folder: pass a folder (or another name)")
    if not folder.exists():
        existing = _nearest_existing(folder)
        if not existing.is_dir():
            raise UserInputError(f"{what}: {existing} is a file, so {folder} cannot be created under it; choose another path")
        if not parents:
            _check_parent(folder, what)
        try:
            folder.mkdir(parents=parents)
        except FileExistsError:
            pass  # another run made it meanwhile
        except OSError as exc:
            raise UserInputError(f"{what}: cannot create it ({exc.strerror}); choose a folder you can write to") from None
    _probe_writable(folder, what)
    return folder


def writable_file(path: Path, flag: str) -> Path:
    """``path`` can be written: not a folder, in an existing folder that takes files."""
    what = f"{flag} {path}"
    with _checking(what):
        if path.is_dir():
            raise UserInputError(f"{what} is a folder: name a file in it, e.g. {path / 'out.png'}")
        _check_parent(path, what)
        _probe_writable(path.absolute().parent, what)
    return path


def readable_folder(folder: Path, flag: str) -> Path:
    with _checking(f"{flag} {folder}"):
        return _readable_folder(folder, flag)


def _readable_folder(folder: Path, flag: str) -> Path:
    if not folder.exists():
        raise UserInputError(f"{flag} {folder} does not exist: pass the folder of <name>.png and <name>{MASK_TAG}.png")
    if not folder.is_dir():
        raise UserInputError(f"{flag} {folder} is a file, not a folder: pass the folder that holds it")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise UserInputError(f"{flag} {folder} is not readable: check its permissions")
    return folder


# --------------------------------------------------------------------------- flags


def int_at_least(lowest: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``lowest`` (argparse reports a refusal, exit 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
        return value

    return parse


def _int_in(lowest: int, highest: int, why: str = "") -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int_at_least(lowest)(text)
        if value > highest:
            raise argparse.ArgumentTypeError(f"must be at most {highest}{why}, got {value}")
        return value

    return parse


SEED = _int_in(0, 2**63 - 1)


def _shard(text: str) -> tuple[int, int] | str:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_schedule_flags(parser: argparse.ArgumentParser, defaults_from: str) -> None:
    group = parser.add_argument_group(
        "schedule", f"time-travel schedule; every flag left unset takes its value from {defaults_from}, "
                    "and when --t-T differs from it, the jump length and the stop keep their proportion of t_T"
    )
    group.add_argument("--t-T", dest="t_T", type=int_at_least(1), metavar="N", help="respaced diffusion steps (paper: 250)")
    group.add_argument("--jump-length", type=int_at_least(1), metavar="J", help="steps travelled back up on each jump (paper: 10)")
    group.add_argument("--jump-n-sample", type=int_at_least(1), metavar="R",
                       help="times each stretch is denoised; 1 = no resampling (paper: 10)")
    group.add_argument("--stop-resampling-at", type=int_at_least(0), metavar="S", help="no jump starts below this t (paper: 100)")
    group.add_argument("--start-resampling-at", type=int_at_least(0), metavar="U",
                       help="no jump starts above this t (default: no upper limit)")
    group.add_argument("--eta", type=float, metavar="ETA",
                       help="stochasticity of the down steps, 0..1: 1 = DDPM steps (paper), 0 = deterministic DDIM steps")
    group.add_argument("--stride", type=int_at_least(1), metavar="K",
                       help="levels skipped per model call above the resampling (a strided walk; default 1)")
    kinds = group.add_mutually_exclusive_group()
    kinds.add_argument("--schedule", choices=["auto"], default=None,
                       help="auto: plan the schedule for each mask (ipainter_nb.plan_schedule: strided walk, low window, "
                            "short jumps, eta); --t-T and --eta still apply")
    kinds.add_argument("--no-resampling", action="store_true", help="plain descent: t_T model calls, no jumps")
    kinds.add_argument("--full-repaint", action="store_true", help="RePaint's schedule: resample down to t=0")


def schedule_from_args(args: argparse.Namespace, base: ScheduleConfig, source: str = "the model's default schedule") -> ScheduleConfig:
    """The schedule the flags ask for; unset values come from ``base`` (scaled to ``--t-T`` when it is given)."""
    given = {k: getattr(args, k) for k in SCHEDULE_FLAGS if getattr(args, k, None) is not None}
    if getattr(args, "no_resampling", False):
        extra = sorted(set(given) - {"t_T"})
        if extra:
            raise UserInputError("--no-resampling takes no " + ", ".join(_flag(k) for k in extra) + ": drop them")
        given["jump_n_sample"] = 1
    if getattr(args, "full_repaint", False):
        if "stop_resampling_at" in given or "start_resampling_at" in given:
            raise UserInputError("--full-repaint resamples everywhere: drop --stop-resampling-at / --start-resampling-at "
                                 "(or drop --full-repaint)")
        given["stop_resampling_at"] = given["start_resampling_at"] = None
    if "t_T" in given and given["t_T"] != base.t_T:
        base = ScheduleConfig.for_t_T(given["t_T"], like=base)
        source = f"{source}, scaled to --t-T {given['t_T']}"
    values = base.to_dict() | given
    if values == base.to_dict():
        return base  # keeps what for_t_T says it scaled
    asked_for_jumps = given.keys() & {"jump_length", "stop_resampling_at", "start_resampling_at"}
    if values["jump_n_sample"] == 1 and asked_for_jumps and "jump_n_sample" not in given:
        raise UserInputError(f"{source} does not resample (jump_n_sample 1), so "
                             f"{', '.join(_flag(k) for k in sorted(asked_for_jumps))} changes nothing: add --jump-n-sample R")
    try:
        return ScheduleConfig(**values)
    except (TypeError, ValueError) as exc:
        inherited = [f"{_flag(k)} {values[k]}" for k in SCHEDULE_FLAGS if k not in given and values[k] is not None]
        hint = f" ({', '.join(inherited)} came from {source}; set them explicitly)" if inherited else ""
        raise UserInputError(f"{exc}{hint}") from None


def flags_of(cfg: ScheduleConfig) -> str:
    """The flags that reproduce ``cfg``, for logs a user can copy."""
    if cfg.kind == "plain":
        return f"--t-T {cfg.t_T} --no-resampling" + _step_flags(cfg)
    flags = f"--t-T {cfg.t_T} --jump-length {cfg.jump_length} --jump-n-sample {cfg.jump_n_sample}"
    if cfg.stop_resampling_at is not None:
        flags += f" --stop-resampling-at {cfg.stop_resampling_at}"
    elif cfg.start_resampling_at is None:
        flags += " --full-repaint"
    if cfg.start_resampling_at is not None:
        flags += f" --start-resampling-at {cfg.start_resampling_at}"
    return flags + _step_flags(cfg)


def _step_flags(cfg: ScheduleConfig) -> str:
    return (f" --eta {cfg.eta:g}" if cfg.eta != 1 else "") + (f" --stride {cfg.stride}" if cfg.stride != 1 else "")


def auto_schedule(args: argparse.Namespace, model: DiffusionModel, keep: torch.Tensor | None) -> ScheduleConfig:
    """``--schedule auto``: the plan for this mask (``keep``; None: a typical hole).

    Args:
        args: the parsed flags (``--t-T`` and ``--eta`` go to the planner; other schedule
            flags are refused).
        model: the model the plan is for.
        keep: the mask, 1 = keep.

    Returns:
        The planned ``ScheduleConfig``.

    Raises:
        UserInputError: schedule flags the planner chooses itself.
    """
    chosen = [k for k in ("jump_length", "jump_n_sample", "stop_resampling_at", "start_resampling_at", "stride")
              if getattr(args, k, None) is not None]
    if chosen:
        raise UserInputError(f"--schedule auto chooses {', '.join(_flag(k) for k in chosen)} itself: drop them "
                             "(or drop --schedule auto)")
    return plan_schedule(model, keep, t_T=getattr(args, "t_T", None), eta=getattr(args, "eta", None))


def _add_model_flags(parser: argparse.ArgumentParser, default: str | None, loads_weights: bool = True) -> None:
    parser.add_argument("--model", default=default, metavar="NAME_OR_PATH",
                        help=f"a preset ({', '.join(sorted(PRESETS))}) or a .pt/.safetensors checkpoint"
                        + (f" (default: {default})" if default else ""))
    parser.add_argument("--preset", default=None, metavar="NAME", choices=sorted(PRESETS),
                        help="the network and defaults of this preset, for a checkpoint file under another name")
    parser.add_argument("--config", default=None, metavar="FILE.json",
                        help="the network of a checkpoint that records none: a JSON object of guided-diffusion config keys")
    if loads_weights:
        parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
        parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                            help="precision of the network's weights (default: float32)")


def _resolve_device(requested: str | None) -> str | None:
    """``--device``; under torchrun each process takes the GPU of its LOCAL_RANK."""
    local_rank = os.environ.get("LOCAL_RANK")
    if requested is None:
        if torch.cuda.is_available() and local_rank is not None:
            return f"cuda:{int(local_rank)}"
        return None  # load_model picks CUDA when available, else the CPU
    device = as_device(requested, "--device")
    if device.type == "cuda" and device.index is None and local_rank is not None:
        return f"cuda:{int(local_rank)}"
    return str(device)


def _load(args: argparse.Namespace) -> DiffusionModel:
    return load_model(args.model, device=_resolve_device(args.device), dtype=args.dtype, preset=args.preset, config=args.config)


def _describe_model(model: DiffusionModel) -> str:
    size, dtype = model.image_size, str(model.dtype).removeprefix("torch.")
    return f"{model.name} ({size}x{size}, {model.device}, {dtype})"


def _model_and_schedule(args: argparse.Namespace) -> tuple[DiffusionModel, ScheduleConfig]:
    model = _load(args)
    cfg = auto_schedule(args, model, None) if getattr(args, "schedule", None) == "auto" else \
        schedule_from_args(args, model.default_schedule)
    model.check_t_T(cfg.t_T)
    return model, cfg


# --------------------------------------------------------------------------- paint


def cmd_paint(args: argparse.Namespace) -> int:
    source, dest = readable_folder(Path(args.source), "--source"), Path(args.dest)
    with _checking(f"--dest {dest}"):
        same = dest.exists() and dest.resolve() == source.resolve()
    if same:
        # the outputs <name>_<k>.png would be read as new pictures by the next run
        raise UserInputError("--dest must be another folder than --source")
    shard_i, shard_n = shard_from_env() if args.shard == "auto" else args.shard
    entries = scan_source(source)
    if not entries:
        raise UserInputError(f"{source} holds no pictures (expected <name>.png with <name>{MASK_TAG}.png, white = keep)")
    writable_folder(dest, "--dest")
    say = _say(args.quiet)
    stale = remove_stale_temps(dest)
    if stale:
        say(f"removed {stale} temporary file(s) an interrupted run left in {dest}")
    mine = take_shard(entries, (shard_i, shard_n))
    where = f" (shard {shard_i}/{shard_n}: {len(mine)} of {len(entries)} names)" if shard_n > 1 else ""
    n = args.num_samples
    say(f"{len(mine)} name(s) in {source}{where} -> {dest}, {n} sample(s) each")

    painted = skipped = failed = files = nfe = 0
    seconds = 0.0
    model: DiffusionModel | None = None  # loaded once there is work: a finished folder needs no weights

    def fail(label: str, problem: object) -> None:
        nonlocal failed
        failed += 1
        print(f"{PROG}: skipping {label}: {one_line(problem)}", file=sys.stderr)

    try:
        for entry in mine:
            if entry.problem is not None:
                fail(entry.label, entry.problem)
                continue
            outputs = [output_path(dest, entry.name, k) for k in range(n)]
            in_the_way = next((p for p in outputs if p.exists() and not p.is_file()), None)
            if in_the_way is not None:  # not a picture this tool wrote: never counted as done, never replaced
                fail(entry.label, f"{in_the_way} is a folder (or another non-file) where its output goes: move it away")
                continue
            if not args.overwrite and all(p.exists() for p in outputs):
                skipped += 1
                say(f"exists  {entry.name}: all {n} outputs are in {dest} (--overwrite to repaint)")
                continue
            if model is None:
                model, cfg = _model_and_schedule(args)
                batch_size = args.batch_size or auto_batch_size(model)
                say(f"model {_describe_model(model)}, {batch_size} sample(s) per batch")
                say(f"schedule {cfg.describe()}  [{flags_of(cfg)}]")
            seed = image_seed(args.seed, entry.name)
            try:
                image, keep = load_picture_and_mask(entry.picture, entry.mask, model.image_size)
                plan = auto_schedule(args, model, keep) if args.schedule == "auto" else cfg
                if plan is not cfg:
                    say(f"plan    {entry.name}: {plan.describe()}  [{flags_of(plan)}]")
                done = _paint_entry(args, model, plan.times(), image, keep, outputs, seed, batch_size, f"painting {entry.name}",
                                    plan.eta)
            except IPainterError as exc:
                fail(entry.label, exc)
                continue
            except (torch.cuda.OutOfMemoryError, MemoryError):
                fail(entry.label, f"out of memory: try a smaller --batch-size (it was {batch_size})"
                     + (" or --dtype float16" if model.device.type == "cuda" else ""))
                continue
            except OSError as exc:
                if exc.errno != errno.ENAMETOOLONG:
                    raise  # a full disk or a lost folder ends the run: the next picture would fail the same way
                fail(entry.label, f"its output names are too long for the file system ({exc.filename}): rename the picture")
                continue
            if done[0] == 0:
                skipped += 1
                say(f"busy    {entry.name}: its outputs exist or another run is painting them (it holds hidden "
                    f".<output>.claim files in {dest}; if no run is painting, delete them)")
                continue
            painted += 1
            files, seconds, nfe = files + done[0], seconds + done[1], nfe + done[2]
            say(f"painted {entry.name}: {done[0]} file(s), {done[1]:.2f} s, {done[2]} NFE, seed {seed}")
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"the {files} picture(s) written to {dest} are complete; "
                                "rerun the same command to paint the rest") from None
    rate = f", {seconds:.1f} s painting, {nfe} NFE" if painted else ""
    print(f"done{where}: {painted} painted, {skipped} skipped (outputs exist), {failed} failed{rate}")
    return EXIT_FAILED if failed else 0


def _paint_entry(args: argparse.Namespace, model: DiffusionModel, times: list[int], image: torch.Tensor, keep: torch.Tensor,
                 outputs: list[Path], seed: int, batch_size: int, label: str, eta: float = 1.0) -> tuple[int, float, int]:
    """Paint the outputs this run may write, ``batch_size`` samples at a time, each file written at
    once; returns (files written, seconds, model calls). Sample k is the same picture whatever
    the batch (``paint(first_sample=k)``), so a rerun or a second process paints the same ones."""
    files, seconds, nfe = 0, 0.0, 0
    todo = sum(1 for p in outputs if args.overwrite or not p.exists())
    # one bar per picture over every step of its micro-batches: a log gets a few lines, not one per batch
    with progress_bar((len(times) - 1) * math.ceil(todo / batch_size), label, enabled=not args.quiet) as bar:
        for batch in claimed_batches(outputs, batch_size, overwrite=args.overwrite):
            with contextlib.ExitStack() as claims:
                for _, claim in batch:
                    if claim is not None:
                        claims.enter_context(claim)
                result = paint(model, image, keep, times=times, num_samples=len(batch), seed=seed, first_sample=batch[0][0],
                               batch_size=len(batch), progress=False, max_frames=0, callback=lambda step: bar.update(1),
                               eta=eta)
                for (k, claim), sample in zip(batch, result.samples):
                    if claim is None:  # --overwrite of an existing file
                        save_png_atomic(sample, outputs[k])
                    else:
                        claim.save_png(sample)
                    files += 1
            seconds += result.elapsed_s
            nfe += result.nfe
    return files, seconds, nfe


# --------------------------------------------------------------------------- schedule


def cmd_schedule(args: argparse.Namespace) -> int:
    if args.plot:
        writable_file(Path(args.plot), "--plot")
    if args.config is not None and args.model is None:
        raise UserInputError("--config describes the network of a --model file: give --model FILE too (or drop --config)")
    if args.model is None and args.preset is None:
        base, source = ScheduleConfig(), "the paper (250 steps, jumps 10 x 10, stop at 100)"
    else:
        info = read_checkpoint_info(args.model or args.preset, preset=args.preset if args.model else None, config=args.config)
        base, source = info["default_schedule"], info["origin"]
    if args.schedule == "auto":
        if args.model is None and args.preset is None:
            raise UserInputError("--schedule auto plans for a model's noise schedule: give --model (e.g. --model demo)")
        planner = load_model(args.model or args.preset, device="cpu", preset=args.preset if args.model else None,
                             config=args.config)
        cfg = auto_schedule(args, planner, None)
    else:
        cfg = schedule_from_args(args, base, source)
    if args.model is not None or args.preset is not None:
        check_t_T(cfg.t_T, info["num_train_steps"], info["name"])
    times = cfg.times()
    nfe = count_nfe(times)
    print(f"schedule: {cfg.describe()}")
    print(f"flags: {flags_of(cfg)}")
    print(f"model calls (NFE): {nfe}   steps: {len(times) - 1}")
    if cfg.kind != "plain":
        full = count_nfe(repaint(cfg.t_T, cfg.jump_length, cfg.jump_n_sample))
        print(f"full RePaint (t_T={cfg.t_T}, jumps {cfg.jump_length} x {cfg.jump_n_sample}): {full} NFE; "
              f"this schedule needs {100 * nfe / full:.0f}% of it")
    print(f"no resampling (t_T={cfg.t_T}): {cfg.t_T} NFE")
    window = resampling_window(times)
    if window is not None:
        print(f"resampling between t={window[0]} and t={window[1]}")
    if args.plot:
        save_figure(schedule_figure(cfg), Path(args.plot))
        print(f"plot: {args.plot}")
    return 0


# --------------------------------------------------------------------------- demo

def demo_files(num_samples: int) -> dict[str, str]:
    """What ``demo`` writes, in order, with what each file holds."""
    return {
        "composition.png": "the composed picture, generated region grey",
        "mask.png": "keep mask, white = keep",
        "composition.json": "the scene, reloadable with Composition.from_json",
        **{f"sample_{k}.png": f"sample {k}" for k in range(num_samples)},
        "samples_grid.png": "all samples side by side",
        "timesteps.gif": "predicted x0 step by step",
        "frequency.png": "band SNR and x0 spectra",
    }


def cmd_demo(args: argparse.Namespace) -> int:
    out = writable_folder(Path(args.out), "--out")
    files = demo_files(args.num_samples)
    existing = [name for name in files if (out / name).exists()]
    if existing and not args.overwrite:
        shown = ", ".join(existing[:4]) + (f" and {len(existing) - 4} more" if len(existing) > 4 else "")
        raise UserInputError(f"--out {out} already holds {shown}: pass --overwrite to replace them, or another --out")
    remove_stale_temps(out)
    model = _load(args)
    cfg = model.default_schedule
    if args.schedule_steps is not None:
        cfg = ScheduleConfig.for_t_T(args.schedule_steps, like=cfg)
    model.check_t_T(cfg.t_T)
    comp = demo_composition(model.image_size)
    image, keep = comp.render()
    say = _say(args.quiet)
    say(f"model {_describe_model(model)}; schedule {cfg.describe()}")

    result = paint(model, image, keep, times=cfg, num_samples=args.num_samples, seed=args.seed,
                   progress=not args.quiet, max_frames=args.frames)
    tick = time.perf_counter()
    save_png_atomic(comp.render_preview(), out / "composition.png")
    save_png_atomic(mask_to_pil(keep), out / "mask.png")
    settings = {"model": model.name, "schedule": cfg.to_dict(), "num_samples": args.num_samples}
    comp.to_json(out / "composition.json", settings=settings, seed=args.seed)
    for k in range(args.num_samples):
        save_png_atomic(result.samples[k], out / f"sample_{k}.png")
    save_png_atomic(make_grid(result.samples, nrow=4), out / "samples_grid.png")
    timesteps_gif(result, out / "timesteps.gif", known=(image, keep), final=result.samples, nrow=4, captions=True)
    save_figure(frequency_figure(model, cfg, image, result), out / "frequency.png")
    write_s = time.perf_counter() - tick

    print(f"painted {args.num_samples} sample(s) in {result.elapsed_s:.1f} s ({result.nfe} NFE, "
          f"{1000 * result.seconds_per_nfe:.1f} ms/NFE); files written in {write_s:.1f} s")
    print(f"wrote {len(files)} files to {out}/:")
    for name, what in files.items():
        print(f"  {name:<18} {what}")
    return 0


# --------------------------------------------------------------------------- models


def cmd_models(args: argparse.Namespace) -> int:
    print("weights are looked for in: " + ", ".join(str(d) for d in search_dirs()) + " (set IPAINTER_WEIGHTS to add folders)")
    for name in sorted(PRESETS):
        preset = PRESETS[name]
        size = preset.unet_config["image_size"]
        try:
            path = find_weights(preset)
            status = f"found {path} ({path.stat().st_size / 2**20:.1f} MiB)"
        except WeightsNotFoundError:
            status = f"not found: {preset.how_to_get()}"
        print(f"{name:<20} {f'{size}x{size}':<8} {preset.default_schedule.nfe:>5} NFE by default  {status}")
        print(f"{'':<20} {preset.description}")
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (any command, any position)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("paint", help="paint a folder of <name>.png + <name>_mask.png pairs (as the original code's inference.py)",
                       description="Paint every <name>.png of SOURCE where <name>_mask.png is black; "
                                   "write <name>_<k>.png into DEST, each as soon as it is painted.")
    p.add_argument("-s", "--source", required=True, help="folder of <name>.png and <name>_mask.png (white = keep)")
    p.add_argument("-d", "--dest", required=True, help="folder for <name>_<k>.png (created; its parent must exist)")
    p.add_argument("--num-samples", "--num_samples", type=_int_in(1, MAX_SAMPLES), default=5, metavar="N",
                   help="samples per picture (default: 5)")
    p.add_argument("--batch-size", type=int_at_least(1), default=None, metavar="B",
                   help="samples painted at once (default: chosen from the model and device); memory grows with it")
    _add_model_flags(p, default="places256")
    _add_schedule_flags(p, "the model's default schedule (paper: --t-T 250 --jump-length 10 --jump-n-sample 10 --stop-resampling-at 100)")
    p.add_argument("--seed", type=int, default=0, help="each picture's seed derives from this and its name (default: 0)")
    p.add_argument("--overwrite", action="store_true",
                   help="repaint outputs that exist (default: skip them and those another run is painting, so a rerun resumes)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="i/n",
                   help="paint only the sorted names whose index %% n == i (0-based); 'auto' reads RANK/WORLD_SIZE (torchrun)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-picture lines; errors and the summary only")
    p.set_defaults(func=cmd_paint)

    s = sub.add_parser("schedule", help="print a schedule's model calls (NFE) against full RePaint; plot it")
    _add_schedule_flags(s, "the paper, or --model's default schedule")
    _add_model_flags(s, default=None, loads_weights=False)
    s.add_argument("--plot", default=None, metavar="OUT.png", help="save the schedule's plot")
    s.set_defaults(func=cmd_schedule)

    d = sub.add_parser("demo", help="compose the built-in scene, paint it, write pictures, a GIF and frequency plots")
    d.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    _add_model_flags(d, default="demo")
    d.add_argument("--num-samples", type=_int_in(1, MAX_DEMO_SAMPLES, " (the demo keeps them all for its grid; "
                                                  "ipainter paint paints more)"), default=4, metavar="N", help="default: 4")
    d.add_argument("--seed", type=SEED, default=0, help="a whole number in 0..2**63-1 (default: 0)")
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
    return parser


# --------------------------------------------------------------------------- main: one line per error


def one_line(message: object) -> str:
    """A message of several lines (a list of places searched, of mismatched tensors) as one line for a log."""
    parts = [part.strip() for part in str(message).splitlines() if part.strip()]
    text = parts[0] if parts else ""
    for part in parts[1:]:
        text += (" " if text.endswith((":", ".")) else ". " if part[0].isupper() else "; ") + part
    return text


def _error(message: object, hint: str | None = None) -> None:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    if hint:
        print(f"{PROG}: hint: {hint}", file=sys.stderr)


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """SIGTERM raises SystemExit, so ``finally`` blocks run and temp files are removed."""
    if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread

        def stop(signum: int, frame: object) -> None:
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
    else:
        yield


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


def _quiet_broken_pipe() -> int:
    # the reader (``| head``) went away: send what is left to /dev/null so the
    # interpreter's final flush does not print a second error
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FAILED


def _run(argv: list[str]) -> int:
    if argv and argv[0] == "train":
        from .train import main as train_main

        return int(train_main(argv[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(args.func(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ipainter`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    The project's errors and the expected OS errors are one line on stderr (plus a hint);
    ``--debug`` (anywhere in ``argv``) shows their traceback too. Any other exception is a
    bug and keeps its traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    with _sigterm_exits(), _printable_names():
        try:
            return _run(argv)
        except SystemExit as exc:  # argparse: --help (0) or a bad argument (2, message printed); SIGTERM
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
        except KeyboardInterrupt as exc:
            if debug:
                traceback.print_exc()
            print(f"{PROG}: interrupted" + (f": {exc}" if str(exc) else ""), file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            return _quiet_broken_pipe()
        except IPainterError as exc:
            if debug:
                traceback.print_exc()
            _error(exc)
            return EXIT_USAGE
        except OSError as exc:
            if exc.errno not in _OS_HINTS:
                raise
            if debug:
                traceback.print_exc()
            where = f": {exc.filename}" if exc.filename else ""
            _error(f"{exc.strerror or exc}{where}", _OS_HINTS[exc.errno])
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
