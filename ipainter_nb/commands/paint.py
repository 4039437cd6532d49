"""``ipainter paint``: a folder of ``<name>.png`` + ``<name>_mask.png`` pairs into ``<name>_<k>.png``.

Two phases: ``check_paint`` checks every argument (folders, model, schedule) and writes
nothing; ``cmd_paint`` then creates DEST, removes what a killed run left there, and paints
each output as soon as its batch ends, claimed so that reruns resume and runs share DEST.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..batch import MASK_TAG, Entry, claimed_batches, image_seed, output_path, scan_source, shard_from_env, take_shard
from ..checks import broken_link, check_folder, checking, make_folder, printable, readable_folder
from ..core.models import DiffusionModel, check_t_T
from ..core.sampler import auto_batch_size, check_batch_memory, paint
from ..core.schedules import ScheduleConfig
from ..errors import IPainterError, UserInputError
from ..images import load_picture_and_mask, save_png_atomic
from ..progress import progress_bar
from ..public import public_names
from .common import EXIT_FAILED, PROG, describe_model, load, model_info, one_line, remove_leftovers, say_unless
from .schedule_args import auto_schedule, flags_of, schedule_from_args

__all__ = ["PaintPlan", "check_paint", "cmd_paint"]


@dataclass
class PaintPlan:
    """What ``paint`` will do, once every argument passed.

    Args:
        source: the folder of pictures and masks.
        dest: the output folder (may not exist yet).
        shard: (i, n): this process paints every n-th name from index i.
        entries: every name of SOURCE, sorted.
        mine: the entries of this shard.
        cfg: the schedule.
        model: the loaded model, or None when every output of this shard exists already.
    """

    source: Path
    dest: Path
    shard: tuple[int, int]
    entries: list[Entry]
    mine: list[Entry]
    cfg: ScheduleConfig
    model: DiffusionModel | None


def _has_work(entries: list[Entry], dest: Path, n: int, overwrite: bool) -> bool:
    """Whether any output of ``entries`` is still to paint (read only: nothing is written)."""
    return any(entry.problem is None and (overwrite or not all(output_path(dest, entry.name, k).exists() for k in range(n)))
               for entry in entries)


def check_paint(args: argparse.Namespace) -> PaintPlan:
    """Check every argument of ``paint``; nothing is created or written.

    The paths come first (a bad DEST is reported before a model is looked at), then the
    model and the schedule. The weights are loaded here when there is anything to paint, so
    a damaged checkpoint is refused before DEST is created; a finished folder needs none.

    Args:
        args: the parsed flags of ``ipainter paint``.

    Returns:
        The plan ``cmd_paint`` carries out.

    Raises:
        UserInputError: (or another ``IPainterError``) naming the argument and the fix.
    """
    source = readable_folder(Path(args.source), "--source", f"<name>.png and <name>{MASK_TAG}.png")
    dest = check_folder(Path(args.dest), "--dest")
    with checking(f"--dest {dest}"):
        same = dest.exists() and dest.resolve() == source.resolve()
    if same:
        # the outputs <name>_<k>.png would be read as new pictures by the next run
        raise UserInputError("--dest must be another folder than --source")
    shard = shard_from_env() if args.shard == "auto" else args.shard
    entries = scan_source(source)
    if not entries:
        raise UserInputError(f"{source} holds no pictures (expected <name>.png with <name>{MASK_TAG}.png, white = keep)")
    info = model_info(args)
    cfg = schedule_from_args(args, info["default_schedule"], info["origin"])
    check_t_T(cfg.t_T, info["num_train_steps"], info["name"])
    mine = take_shard(entries, shard)
    # --schedule auto's flags are checked by the planner, which needs the model: it is loaded even
    # when every output exists, so that a refusal never depends on what DEST holds
    auto = getattr(args, "schedule", None) == "auto"
    model = load(args) if auto or _has_work(mine, dest, args.num_samples, args.overwrite) else None
    if model is not None and args.batch_size is not None:
        check_batch_memory(model, min(args.batch_size, args.num_samples), dtype=model.dtype)  # before DEST, not at the first picture
    if auto and model is not None:
        cfg = auto_schedule(args, model, None)  # checks the planner's flags now; each picture gets its own plan
    return PaintPlan(source, dest, shard, entries, mine, cfg, model)


def cmd_paint(args: argparse.Namespace) -> int:
    """``ipainter paint``: check everything, then paint each picture's outputs into DEST.

    Args:
        args: the parsed flags.

    Returns:
        0, or 1 when some pictures failed (the others were painted).
    """
    plan = check_paint(args)
    source, dest, model, cfg = plan.source, plan.dest, plan.model, plan.cfg
    shard_i, shard_n = plan.shard
    dest = make_folder(dest, "--dest")
    remove_leftovers(dest)
    say = say_unless(args.quiet)
    mine = plan.mine
    where = f" (shard {shard_i}/{shard_n}: {len(mine)} of {len(plan.entries)} names)" if shard_n > 1 else ""
    n = args.num_samples
    say(f"{len(mine)} name(s) in {source}{where} -> {dest}, {n} sample(s) each")
    batch_size = 0
    if model is not None:
        batch_size = args.batch_size or auto_batch_size(model)
        say(f"model {describe_model(model)}, {batch_size} sample(s) per batch")
        say(f"schedule {cfg.describe()}  [{flags_of(cfg)}]")

    painted = skipped = failed = files = nfe = 0
    seconds = 0.0

    def fail(label: str, problem: object) -> None:
        nonlocal failed
        failed += 1
        print(f"{PROG}: skipping {printable(label)}: {one_line(problem)}", file=sys.stderr)

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
            # a link that leads nowhere does not exist, yet no output can be made at its name: never written through
            nowhere = next((problem for problem in map(broken_link, outputs) if problem is not None), None)
            if nowhere is not None:
                fail(entry.label, f"where its output goes, {nowhere}")
                continue
            if not args.overwrite and all(p.exists() for p in outputs):
                skipped += 1
                say(f"exists  {entry.name}: all {n} outputs are in {dest} (--overwrite to repaint)")
                continue
            if model is None:  # another run finished the last outputs after the check
                skipped += 1
                continue
            seed = image_seed(args.seed, entry.name)
            try:
                image, keep = load_picture_and_mask(entry.picture, entry.mask, model.image_size)
                plan = auto_schedule(args, model, keep) if args.schedule == "auto" else cfg
                if plan is not cfg:
                    say(f"plan    {entry.name}: {plan.describe()}  [{flags_of(plan)}]")
                done = _paint_entry(args, model, plan, image, keep, outputs, seed, batch_size, f"painting {entry.name}")
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
    except KeyboardInterrupt as exc:
        exc.args = (f"the {files} picture(s) written to {dest} are complete; rerun the same command to paint the rest",)
        raise
    rate = f", {seconds:.1f} s painting, {nfe} NFE" if painted else ""
    print(f"done{where}: {painted} painted, {skipped} skipped (outputs exist), {failed} failed{rate}")
    return EXIT_FAILED if failed else 0


def _paint_entry(args: argparse.Namespace, model: DiffusionModel, schedule: ScheduleConfig, image: torch.Tensor, keep: torch.Tensor,
                 outputs: list[Path], seed: int, batch_size: int, label: str) -> tuple[int, float, int]:
    """Paint the outputs this run may write, ``batch_size`` samples at a time, each file written at
    once; returns (files written, seconds, model calls). Sample k is the same picture whatever
    the batch (``paint(first_sample=k)``), so a rerun or a second process paints the same ones."""
    files, seconds, nfe = 0, 0.0, 0
    todo = sum(1 for p in outputs if args.overwrite or not p.exists())
    # one bar per picture over every step of its micro-batches: a log gets a few lines, not one per batch
    # closing: a stop ends the claims' iterator at once, which releases the claims it still holds
    times = schedule.times()
    with progress_bar((len(times) - 1) * math.ceil(todo / batch_size), label, enabled=not args.quiet) as bar, \
            contextlib.closing(claimed_batches(outputs, batch_size, overwrite=args.overwrite)) as batches:
        for batch in batches:
            with contextlib.ExitStack() as claims:
                for _, claim in batch:
                    if claim is not None:
                        claims.enter_context(claim)
                result = paint(model, image, keep, times=schedule, num_samples=len(batch), seed=seed, first_sample=batch[0][0],
                               batch_size=len(batch), progress=False, max_frames=0, callback=lambda step: bar.update(1))
                for (k, claim), sample in zip(batch, result.samples):
                    if claim is None:  # --overwrite of an existing file
                        save_png_atomic(sample, outputs[k])
                    else:
                        claim.save_png(sample)
                    files += 1
            seconds += result.elapsed_s
            nfe += result.nfe
    return files, seconds, nfe


public_names(globals())  # after every public definition
