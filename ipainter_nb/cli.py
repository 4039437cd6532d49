"""The ``ipainter`` command: a thin shell over the core's public functions.

    ipainter paint -s SOURCE -d DEST --num-samples 5 --model places256   # the seed's inference.py
    ipainter schedule --plot schedule.png                                 # NFE of a schedule
    ipainter demo --out demo_out                                          # the built-in scene, end to end
    ipainter train --steps 1000                                           # ipainter_nb.train
    ipainter models                                                       # presets and their weights

``paint`` reads ``<name>.png`` (the composed picture) and ``<name>_mask.png`` (white =
keep) from SOURCE and writes ``<name>_<k>.png`` for k = 0..N-1 into DEST. Schedule flags
left unset take the model's own default schedule (the paper's 250 / 10 x 10 / stop at
100 for the published checkpoints). User errors are one line on stderr and exit code 2;
a batch in which some pictures failed exits with 1 after painting the others.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageDraw

from .core.composition import Composition, CompositionError, Layer
from .core.models import (
    PRESETS,
    DiffusionModel,
    WeightsMismatchError,
    WeightsNotFoundError,
    find_weights,
    load_model,
    search_dirs,
)
from .core.sampler import NonFiniteOutputError, PaintResult, paint
from .core.schedules import ScheduleConfig, count_nfe, repaint, resampling_window
from .images import ImageLoadError, load_mask, make_grid, mask_to_pil, save_png_atomic, write_bytes_atomic

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["main", "build_parser", "schedule_from_args", "image_seed", "scan_source", "parse_shard", "UserError"]

PROG = "ipainter"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MASK_TAG = "_mask"
SCHEDULE_KEYS = ("t_T", "jump_length", "jump_n_sample", "stop_resampling_at")
# which knobs each kind actually uses (for naming the inherited ones in an error)
_USED_KEYS = {"plain": ("t_T",), "repaint": SCHEDULE_KEYS[:3], "truncated": SCHEDULE_KEYS}


class UserError(Exception):
    """Something the user can fix: printed as one line on stderr, exit code 2, no traceback."""


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


# --------------------------------------------------------------------------- schedule flags


def _int_at_least(lowest: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be >= {lowest}, got {value}")
        return value

    return parse


def _add_schedule_flags(parser: argparse.ArgumentParser, defaults_from: str) -> None:
    group = parser.add_argument_group(
        "schedule", f"time-travel schedule; every flag left unset takes its value from {defaults_from}"
    )
    group.add_argument("--t-T", dest="t_T", type=_int_at_least(1), metavar="N",
                       help="respaced diffusion steps (paper: 250)")
    group.add_argument("--jump-length", type=_int_at_least(1), metavar="J",
                       help="steps travelled back up on each jump (paper: 10)")
    group.add_argument("--jump-n-sample", type=_int_at_least(1), metavar="R",
                       help="times each stretch is denoised; 1 = no resampling (paper: 10)")
    group.add_argument("--stop-resampling-at", type=_int_at_least(0), metavar="S",
                       help="no jump starts below this t (paper: 100)")
    kinds = group.add_mutually_exclusive_group()
    kinds.add_argument("--no-resampling", action="store_true", help="plain descent: t_T model calls, no jumps")
    kinds.add_argument("--full-repaint", action="store_true", help="RePaint's schedule: resample down to t=0")


def schedule_from_args(args: argparse.Namespace, base: ScheduleConfig, source: str = "the model's default schedule") -> ScheduleConfig:
    """The schedule the flags ask for, unset values taken from ``base``.

    The kind follows the flags: ``--no-resampling`` is plain, ``--full-repaint`` is
    RePaint's, an explicit ``--stop-resampling-at`` is truncated, jump flags on a plain
    base turn resampling on (RePaint's jumps); otherwise the base's kind is kept.
    """
    given = {k: getattr(args, k) for k in SCHEDULE_KEYS if getattr(args, k, None) is not None}
    if getattr(args, "no_resampling", False):
        extra = sorted(set(given) - {"t_T"})
        if extra:
            raise UserError("--no-resampling takes no " + ", ".join("--" + k.replace("_", "-") for k in extra))
        kind = "plain"
    elif getattr(args, "full_repaint", False):
        if "stop_resampling_at" in given:
            raise UserError("--full-repaint resamples down to t=0: drop --stop-resampling-at (or drop --full-repaint)")
        kind = "repaint"
    elif "stop_resampling_at" in given:
        kind = "truncated"
    elif base.kind == "plain" and given.keys() & {"jump_length", "jump_n_sample"}:
        kind = "repaint"
    else:
        kind = base.kind
    values = {k: getattr(base, k) for k in SCHEDULE_KEYS} | given
    try:
        return ScheduleConfig(kind=kind, **values)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        inherited = [f"--{k.replace('_', '-')} {values[k]}" for k in _USED_KEYS[kind] if k not in given]
        hint = f" ({', '.join(inherited)} came from {source}; set them explicitly)" if inherited else ""
        raise UserError(f"{exc}{hint}") from None


def _flags_of(cfg: ScheduleConfig) -> str:
    """The flags that reproduce ``cfg``, for logs a user can copy."""
    if cfg.kind == "plain":
        return f"--t-T {cfg.t_T} --no-resampling"
    flags = f"--t-T {cfg.t_T} --jump-length {cfg.jump_length} --jump-n-sample {cfg.jump_n_sample}"
    return flags + (" --full-repaint" if cfg.kind == "repaint" else f" --stop-resampling-at {cfg.stop_resampling_at}")


def _check_schedule_fits(model: DiffusionModel, cfg: ScheduleConfig) -> None:
    try:
        model.schedule(cfg.t_T)
    except ValueError as exc:
        raise UserError(f"--t-T {cfg.t_T}: {exc}") from None


# --------------------------------------------------------------------------- model, device


def _resolve_device(requested: str | None) -> str | None:
    """``--device``; under torchrun each process takes the GPU of its LOCAL_RANK."""
    local_rank = os.environ.get("LOCAL_RANK")
    if requested is None:
        if torch.cuda.is_available() and local_rank is not None:
            return f"cuda:{int(local_rank)}"
        return None  # load_model picks CUDA when available, else the CPU
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise UserError(f"--device {requested!r} is not a device (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {requested}: CUDA is not available in this PyTorch ({torch.__version__}); use --device cpu")
        if device.index is None and local_rank is not None:
            return f"cuda:{int(local_rank)}"
    return str(device)


def _load(name_or_path: str, device: str | None, dtype: str | None) -> DiffusionModel:
    # WeightsNotFoundError / WeightsMismatchError propagate to main(), which prints them.
    return load_model(name_or_path, device=_resolve_device(device), dtype=dtype)


def _add_model_flags(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument("--model", default=default, required=default is None, metavar="NAME_OR_PATH",
                        help=f"a preset ({', '.join(sorted(PRESETS))}) or a .pt/.safetensors checkpoint"
                        + (f" (default: {default})" if default else ""))
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                        help="precision of the network's weights (default: float32)")


# --------------------------------------------------------------------------- paint: inputs


@dataclass(frozen=True)
class Entry:
    """One name in SOURCE: a picture with its mask, or a file that cannot be painted."""

    name: str
    picture: Path | None = None
    mask: Path | None = None
    problem: str | None = None  # why it cannot be painted, found from the names alone

    @property
    def label(self) -> str:
        return self.picture.name if self.picture is not None else self.name


def scan_source(folder: Path) -> list[Entry]:
    """Pair ``<name>.<ext>`` with ``<name>_mask.<ext>``; everything else becomes a problem entry.

    Hidden files (temporary files of atomic writes) and sub-folders are ignored. Sorted by
    name, so every process of a sharded run sees the same order.
    """
    pictures: dict[str, list[Path]] = {}
    masks: dict[str, Path] = {}
    others: list[Path] = []
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            others.append(path)
        elif path.stem.endswith(MASK_TAG) and len(path.stem) > len(MASK_TAG):
            masks[path.stem[: -len(MASK_TAG)]] = path
        else:
            pictures.setdefault(path.stem, []).append(path)
    entries = []
    for name, paths in pictures.items():
        if len(paths) > 1:
            listed = ", ".join(sorted(p.name for p in paths))
            entries.append(Entry(name, sorted(paths)[0], problem=f"several pictures are named {name!r} ({listed}); keep one"))
        elif name not in masks:
            entries.append(Entry(name, paths[0], problem=f"no mask {name}{MASK_TAG}.png beside it (white = keep)"))
        else:
            entries.append(Entry(name, paths[0], masks[name]))
    for name, mask in masks.items():
        if name not in pictures:
            entries.append(Entry(mask.name, mask=mask, problem=f"mask without a picture {name}.png"))
    for path in others:
        entries.append(Entry(path.name, problem=f"not an image (expected <name>.png with <name>{MASK_TAG}.png)"))
    return sorted(entries, key=lambda e: e.name)


class BadInput(Exception):
    """One picture cannot be painted; the batch goes on with the others."""


def _load_pair(entry: Entry, size: int, model_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(image (3,H,W) in [-1,1], keep (1,H,W)) or ``BadInput`` naming the file and the reason."""
    assert entry.picture is not None and entry.mask is not None
    try:
        with Image.open(entry.picture) as im:
            im.load()
            rgb = im.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadInput(f"{entry.picture.name} is not a readable image ({type(exc).__name__})") from None
    try:
        keep = load_mask(entry.mask)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadInput(f"{entry.mask.name} is not a readable image ({type(exc).__name__})") from None
    w, h = rgb.size
    mh, mw = keep.shape[-2:]
    if (mw, mh) != (w, h):
        raise BadInput(f"mask {entry.mask.name} is {mw}x{mh} but picture {entry.picture.name} is {w}x{h}")
    if (w, h) != (size, size):
        raise BadInput(
            f"{entry.picture.name} is {w}x{h} but model {model_name!r} paints {size}x{size}: "
            f"resize the picture and its mask to {size}x{size}"
        )
    arr = np.asarray(rgb, dtype=np.float32)
    image = torch.from_numpy(arr / 127.5 - 1.0).permute(2, 0, 1).contiguous()
    return image, keep


def image_seed(seed: int, name: str) -> int:
    """The seed of one picture: depends only on ``--seed`` and its name, so shards,
    reruns and machines paint identical pictures whatever else is in the folder."""
    return (seed * 2**32 + zlib.crc32(name.encode("utf-8"))) % 2**63


def parse_shard(text: str) -> tuple[int, int] | str:
    """``"i/n"`` (0 <= i < n) or ``"auto"`` (from torchrun's RANK / WORLD_SIZE)."""
    if text == "auto":
        return "auto"
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected i/n with 0 <= i < n (e.g. 0/2) or 'auto', got {text!r}")
    i, n = int(match.group(1)), int(match.group(2))
    if n < 1 or i >= n:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= i < n (shards are numbered from 0)")
    return i, n


def _resolve_shard(shard: tuple[int, int] | str) -> tuple[int, int]:
    if shard != "auto":
        return shard  # type: ignore[return-value]
    rank, world = os.environ.get("RANK", "0"), os.environ.get("WORLD_SIZE", "1")
    try:
        i, n = int(rank), int(world)
    except ValueError:
        raise UserError(f"--shard auto: RANK={rank!r} / WORLD_SIZE={world!r} are not integers") from None
    if not 0 <= i < n:
        raise UserError(f"--shard auto: need 0 <= RANK < WORLD_SIZE, got RANK={i}, WORLD_SIZE={n}")
    return i, n


# --------------------------------------------------------------------------- paint: command


def cmd_paint(args: argparse.Namespace) -> int:
    source, dest = Path(args.source), Path(args.dest)
    if not source.is_dir():
        raise UserError(f"source folder {source} does not exist" if not source.exists() else f"source {source} is not a folder")
    if dest.exists() and dest.resolve() == source.resolve():
        # the outputs <name>_<k>.png would be read as new pictures by the next run
        raise UserError("DEST must be another folder than SOURCE")
    shard_i, shard_n = _resolve_shard(args.shard)
    entries = scan_source(source)
    if not entries:
        raise UserError(f"{source} holds no pictures (expected <name>.png with <name>{MASK_TAG}.png, white = keep)")
    mine = [e for index, e in enumerate(entries) if index % shard_n == shard_i]
    where = f" (shard {shard_i}/{shard_n}: {len(mine)} of {len(entries)} names)" if shard_n > 1 else ""
    n = args.num_samples
    say = (lambda *a: None) if args.quiet else print
    say(f"{len(mine)} name(s) in {source}{where} -> {dest}, {n} sample(s) each")

    painted = skipped = failed = 0
    total_s, total_nfe = 0.0, 0
    model: DiffusionModel | None = None
    times: list[int] = []
    for entry in mine:
        if entry.problem is not None:
            failed += 1
            print(f"{PROG}: skipping {entry.label}: {entry.problem}", file=sys.stderr)
            continue
        outputs = [dest / f"{entry.name}_{k}.png" for k in range(n)]
        todo = [k for k, p in enumerate(outputs) if args.overwrite or not p.exists()]
        if not todo:
            skipped += 1
            say(f"exists  {entry.name}: all {n} outputs are in {dest} (--overwrite to repaint)")
            continue
        if model is None:
            # loaded only once there is work: a finished folder resumes without touching the weights
            model = _load(args.model, args.device, args.dtype)
            cfg = schedule_from_args(args, model.default_schedule)
            _check_schedule_fits(model, cfg)
            times = cfg.times()
            dest.mkdir(parents=True, exist_ok=True)
            say(f"model {model.name} ({model.image_size}x{model.image_size}, {model.device}, {str(model.dtype).removeprefix('torch.')})")
            say(f"schedule {cfg.describe()}  [{_flags_of(cfg)}]")
        try:
            image, keep = _load_pair(entry, model.image_size, model.name)
            seed = image_seed(args.seed, entry.name)
            result = paint(model, image, keep, times=times, num_samples=n, seed=seed,
                           progress=not args.quiet, max_frames=0)
        except (BadInput, NonFiniteOutputError) as exc:
            failed += 1
            print(f"{PROG}: skipping {entry.label}: {exc}", file=sys.stderr)
            continue
        except torch.cuda.OutOfMemoryError:
            failed += 1
            print(f"{PROG}: skipping {entry.label}: out of GPU memory (try a smaller --num-samples or --dtype float16)", file=sys.stderr)
            continue
        # all N are painted even when only some are missing: sample k's noise comes from its
        # own generator, so the existing files are the pictures this run would have drawn
        for k in todo:
            save_png_atomic(result.samples[k], outputs[k])
        painted += 1
        total_s += result.elapsed_s
        total_nfe += result.nfe
        files = outputs[todo[0]].name if len(todo) == 1 else f"{len(todo)} files {entry.name}_<k>.png"
        say(f"painted {entry.name}: {files}, {result.elapsed_s:.2f} s, "
            f"{result.nfe} NFE ({1000 * result.seconds_per_nfe:.1f} ms/NFE), seed {seed}")
    rate = f", {total_s:.1f} s painting, {total_nfe} NFE" if painted else ""
    print(f"done{where}: {painted} painted, {skipped} skipped (outputs exist), {failed} failed{rate}")
    return 1 if failed else 0


# --------------------------------------------------------------------------- schedule


def _schedule_base(model: str | None) -> tuple[ScheduleConfig, str]:
    """Defaults for ``ipainter schedule``: the paper's, or a model's (without loading its weights)."""
    if model is None:
        return ScheduleConfig(), "the paper (250 steps, jumps 10 x 10, stop at 100)"
    if model in PRESETS:
        return PRESETS[model].default_schedule, f"preset {model!r}"
    path = Path(model).expanduser()
    if path.suffix == ".safetensors" and path.is_file():
        import json

        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            info = json.loads((f.metadata() or {}).get("ipainter_nb", "{}"))
        if "default_schedule" in info:
            return ScheduleConfig(**info["default_schedule"]), f"{path.name}"
        return ScheduleConfig(), f"the paper ({path.name} records no schedule)"
    if path.is_file():
        # as load_model does: a file named like a preset's checkpoint takes that preset's defaults
        preset = next((p for p in PRESETS.values() if p.filename == path.name), None)
        if preset is not None:
            return preset.default_schedule, f"preset {preset.name!r} ({path.name})"
        return ScheduleConfig(), f"the paper ({path.name} records no schedule)"
    raise WeightsNotFoundError(f"{model!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor an existing checkpoint file")


def _save_figure(fig: Figure, path: Path, dpi: int = 110) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    write_bytes_atomic(path, buf.getvalue())


def cmd_schedule(args: argparse.Namespace) -> int:
    base, source = _schedule_base(args.model)
    cfg = schedule_from_args(args, base, source)
    times = cfg.times()
    nfe = count_nfe(times)
    print(f"schedule: {cfg.describe()}")
    print(f"flags: {_flags_of(cfg)}")
    print(f"model calls (NFE): {nfe}   steps: {len(times) - 1}")
    if cfg.kind != "plain":
        full = count_nfe(repaint(cfg.t_T, cfg.jump_length, cfg.jump_n_sample))
        print(f"full RePaint (t_T={cfg.t_T}, jumps {cfg.jump_length} x {cfg.jump_n_sample}): {full} NFE; "
              f"this schedule needs {100 * nfe / full:.0f}% of it")
    print(f"no resampling (t_T={cfg.t_T}): {cfg.t_T} NFE")
    window = resampling_window(times)
    if window is not None:
        print(f"jumps start from t={window[0]}..{window[1]}")
    if args.plot:
        from matplotlib.figure import Figure  # no pyplot: renders with Agg, touches no GUI backend

        from .core.schedules import plot_schedule

        fig = Figure(figsize=(8, 3))
        plot_schedule(times, ax=fig.subplots(), stop_resampling_at=cfg.stop_resampling_at if cfg.kind == "truncated" else None,
                      title=cfg.describe())
        _save_figure(fig, Path(args.plot))
        print(f"plot: {args.plot}")
    return 0


# --------------------------------------------------------------------------- demo


def demo_composition(size: int) -> Composition:
    """The built-in scene (``demo_layout``, laid out for 64x64) scaled to a ``size`` canvas."""
    from .demo.cutouts import demo_layout, list_cutouts

    cutouts = list_cutouts()
    k = size / 64
    comp = Composition(size)
    for spec in demo_layout():
        path = cutouts.get(spec["name"])
        if path is None:
            raise UserError(f"the demo cutout {spec['name']!r} is missing from the cutout pack; "
                            "regenerate it with `python -m ipainter_nb.demo.cutouts`")
        comp.add(Layer.from_file(path, x=round(spec["x"] * k), y=round(spec["y"] * k),
                                 scale=spec["scale"] * k, name=spec["name"]))
    return comp


def _with_steps(cfg: ScheduleConfig, steps: int) -> ScheduleConfig:
    """``cfg`` over ``steps`` levels: the stop keeps its proportion of t_T, jumps still fit."""
    if cfg.kind == "plain" or steps < 2:
        return ScheduleConfig(kind="plain", t_T=steps)
    stop = min(steps, round(cfg.stop_resampling_at * steps / cfg.t_T))
    return ScheduleConfig(cfg.kind, steps, min(cfg.jump_length, steps - 1), cfg.jump_n_sample, stop)


def _upscale(img: Image.Image, min_side: int = 128) -> Image.Image:
    factor = max(1, min_side // max(1, min(img.size)))
    return img if factor == 1 else img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)


def _captioned(img: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + 14), (255, 255, 255))
    out.paste(img, (0, 0))
    ImageDraw.Draw(out).text((3, img.height + 2), text, fill=(0, 0, 0))
    return out


def write_timesteps_gif(result: PaintResult, path: Path, known: tuple[torch.Tensor, torch.Tensor] | None = None,
                        nrow: int = 4, seconds: float = 4.0) -> int:
    """Animated GIF of the predicted x0 at each kept down step (all samples in a grid per
    frame), ending on the finished samples. ``known`` = (image, keep) pastes the kept pixels
    over each prediction, so the frames show the painted region around the landmarks.
    Written atomically; returns the frame count."""
    pictures = []
    for f in result.steps:
        if f.x0_pred is None:
            continue
        x0 = f.x0_pred.float() / 127.5 - 1.0
        if known is not None:
            image, keep = known
            x0 = keep * image + (1 - keep) * x0
        pictures.append(_captioned(_upscale(make_grid(x0, nrow=nrow)), f"t={f.t}  predicted x0"))
    pictures.append(_captioned(_upscale(make_grid(result.samples, nrow=nrow)), "finished"))
    each_ms = max(40, int(1000 * seconds / len(pictures)))
    durations = [each_ms] * (len(pictures) - 1) + [2000]  # hold the result
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    write_bytes_atomic(path, buf.getvalue())
    return len(pictures)


def frequency_figure(model: DiffusionModel, cfg: ScheduleConfig, image: torch.Tensor, result: PaintResult,
                     max_curves: int = 10) -> Figure:
    """Left: forward SNR per band of the composition under the model's noise schedule, with
    the resampling window shaded and the stop marked. Right: the radial spectrum of the
    predicted x0 as t falls (coarse structure first, fine detail last)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    from .core.frequency import band_snr, plot_band_snr, plot_spectrum_evolution, radial_power_spectrum

    times = cfg.times()
    snr = band_snr(image, model.schedule(cfg.t_T).alphas_cumprod)
    window = resampling_window(times)
    if window is not None:  # shade up to the highest time a jump reaches, not just where it starts
        window = (window[0], min(cfg.t_T - 1, window[1] + cfg.jump_length))
    fig = Figure(figsize=(11, 3.8))
    left, right = fig.subplots(1, 2)
    plot_band_snr(snr, stop_resampling_at=cfg.stop_resampling_at if cfg.kind == "truncated" else None,
                  resampling_window=window, ax=left)
    left.set_title(f"composition: forward SNR per band (t_T={cfg.t_T})")
    down = [f for f in result.steps if f.x0_pred is not None]
    if down:
        picks = sorted({round(i) for i in np.linspace(0, len(down) - 1, min(max_curves, len(down)))})
        spectra = [(down[i].t, *radial_power_spectrum(down[i].x0_pred.float() / 127.5 - 1.0)) for i in picks]
        plot_spectrum_evolution(spectra, ax=right)
        right.xaxis.set_minor_formatter(NullFormatter())  # minor log labels overlap at this width
    right.set_title("spectrum of the predicted x0 as t falls")
    fig.tight_layout()
    return fig


def cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        model = _load(args.model, args.device, args.dtype)
    except WeightsNotFoundError as exc:
        hint = ""
        if args.model == "demo":
            hint = (" -- train them with `ipainter train --export ipainter_nb/assets/demo_model.safetensors`, "
                    "or pass --model NAME_OR_PATH")
        raise UserError(f"{exc}{hint}") from None
    cfg = model.default_schedule if args.schedule_steps is None else _with_steps(model.default_schedule, args.schedule_steps)
    _check_schedule_fits(model, cfg)
    comp = demo_composition(model.image_size)
    image, keep = comp.render()
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if args.quiet else print
    say(f"model {model.name} ({model.image_size}x{model.image_size}, {model.device}); schedule {cfg.describe()}")

    result = paint(model, image, keep, times=cfg.times(), num_samples=args.num_samples, seed=args.seed,
                   progress=not args.quiet, max_frames=args.frames)
    tick = time.perf_counter()
    written: list[tuple[str, str]] = []

    def note(name: str, what: str) -> Path:
        written.append((name, what))
        return out / name

    save_png_atomic(comp.render_preview(), note("composition.png", "the composed picture, generated region grey"))
    save_png_atomic(mask_to_pil(keep), note("mask.png", "keep mask, white = keep"))
    settings = {"model": model.name, "schedule": {k: getattr(cfg, k) for k in ("kind", *SCHEDULE_KEYS)},
                "num_samples": args.num_samples}
    comp.to_json(note("composition.json", "the scene, reloadable with Composition.from_json"), settings=settings, seed=args.seed)
    for k in range(args.num_samples):
        save_png_atomic(result.samples[k], note(f"sample_{k}.png", f"sample {k}"))
    save_png_atomic(make_grid(result.samples, nrow=4), note("samples_grid.png", "all samples side by side"))
    frames = write_timesteps_gif(result, note("timesteps.gif", "predicted x0 step by step"), known=(image, keep))
    _save_figure(frequency_figure(model, cfg, image, result), note("frequency.png", "band SNR and x0 spectra"))
    write_s = time.perf_counter() - tick

    print(f"painted {args.num_samples} sample(s) in {result.elapsed_s:.1f} s ({result.nfe} NFE, "
          f"{1000 * result.seconds_per_nfe:.1f} ms/NFE); files written in {write_s:.1f} s")
    print(f"wrote {len(written)} files to {out}/ (timesteps.gif: {frames} frames):")
    for name, what in written:
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


# --------------------------------------------------------------------------- parser, main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("paint", help="paint a folder of <name>.png + <name>_mask.png pairs (the seed's inference.py)",
                       description="Paint every <name>.png of SOURCE where <name>_mask.png is black; "
                                   "write <name>_<k>.png into DEST.")
    p.add_argument("-s", "--source", required=True, help="folder of <name>.png and <name>_mask.png (white = keep)")
    p.add_argument("-d", "--dest", required=True, help="folder for <name>_<k>.png")
    p.add_argument("--num-samples", "--num_samples", type=_int_at_least(1), default=5, metavar="N",
                   help="samples per picture (default: 5)")
    _add_model_flags(p, default="places256")
    _add_schedule_flags(p, "the model's default schedule (paper: --t-T 250 --jump-length 10 --jump-n-sample 10 --stop-resampling-at 100)")
    p.add_argument("--seed", type=int, default=0, help="each picture's seed derives from this and its name (default: 0)")
    p.add_argument("--overwrite", action="store_true", help="repaint outputs that exist (default: skip them, so a rerun resumes)")
    p.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="i/n",
                   help="paint only the sorted names whose index %% n == i (0-based); 'auto' reads RANK/WORLD_SIZE (torchrun)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-picture lines; errors and the summary only")
    p.set_defaults(func=cmd_paint)

    s = sub.add_parser("schedule", help="print a schedule's model calls (NFE) against full RePaint; plot it")
    _add_schedule_flags(s, "the paper, or --model's default schedule")
    s.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="take unset values from this model's default schedule")
    s.add_argument("--plot", default=None, metavar="OUT.png", help="save the schedule's plot")
    s.set_defaults(func=cmd_schedule)

    d = sub.add_parser("demo", help="compose the built-in scene, paint it, write pictures, a GIF and frequency plots")
    d.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    _add_model_flags(d, default="demo")
    d.add_argument("--num-samples", type=_int_at_least(1), default=4, metavar="N", help="default: 4")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--schedule-steps", type=_int_at_least(1), default=None, metavar="N",
                   help="t_T instead of the model's (the stop keeps its proportion)")
    d.add_argument("--frames", type=_int_at_least(2), default=60, help="steps kept for the GIF and spectra (default: 60)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)

    # the real parsing happens in ipainter_nb.train; this entry only lists the command
    sub.add_parser("train", help="train a model (ipainter train --help)", add_help=False)

    m = sub.add_parser("models", help="list presets, whether their weights are found, and where")
    m.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ipainter`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "train":
            from .train import main as train_main

            return int(train_main(argv[1:]) or 0)
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args))
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2, message already printed)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except (UserError, WeightsNotFoundError, WeightsMismatchError, CompositionError, ImageLoadError) as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _error("interrupted; finished pictures are on disk, rerun to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
