"""Train a small guided-diffusion-format UNet: the shipped demo model, or one on your images.

    ipainter train --out runs/demo                 # procedural landscapes
    ipainter train --data my_photos/ --out runs/mine
    ipainter train --out runs/more --init-from ipainter_nb/assets/demo_model.safetensors
    ipainter train --out runs/demo --export my_model.safetensors

Training is seeded and resumable: every ``--save-every`` steps the model, its EMA copy, the
optimiser and the step are written atomically to ``<out>/last.pt``; running the same
command again continues from there. ``--init-from`` starts from exported weights (the
shipped demo model, or a file another machine exported) with a fresh optimiser. The loss
goes to ``<out>/loss.csv`` (one row per step, also after a resume) and sample grids to
``<out>/samples/``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checks import (
    CommandParser,
    apart_from,
    check_folder,
    check_path,
    int_at_least,
    int_in,
    make_folder,
    number_flag,
    path_text,
    whole_number,
    writable_file,
)
from .core.arguments import check_batch, check_flag, check_real, check_whole
from .core.checkpoints import CheckpointError, read_checkpoint, save_model
from .core.devices import as_device
from .core.diffusion import DiffusionSchedule
from .core.models import load_model
from .core.presets import PRESETS
from .core.sampler import batch_fits
from .core.schedules import ScheduleConfig
from .core.unet import UNetConfig, build_unet
from .errors import IPainterError, RunFailedError, UserInputError, warn_caller
from .exits import run_step
from .images import (
    Leftovers,
    atomic_write,
    clean_leftovers,
    signals_deferred,
    write_text_atomic,
)
from .progress import progress_bar
from .public import public_names
from .train_data import ImageFolder, ProceduralScenes, TrainingDataNotFoundError, training_pictures
from .train_fields import field_model
from .train_folders import CHECKPOINT_NAME, EXPORT_FILE, LOSS_HEADER, check_export_apart, check_out_apart, check_run_files

__all__ = ["TrainConfig", "TrainingInterrupted", "TrainingDiverged", "TrainingDataNotFoundError", "train", "ImageFolder",
           "ProceduralScenes", "export", "check_trainable", "main"]


# the smallest value each integer setting accepts (the CLI's flags refuse the same values)
_MINIMUMS = {"steps": 1, "batch_size": 1, "save_every": 1, "sample_every": 0, "warmup": 1, "threads": 1}
#: The most CPU threads a run may use: this machine's cores (torch crashed, exit 139, asked for 100000).
MAX_THREADS = os.cpu_count() or 1


#: The largest training size: the UNet's own limit (``core.unet``'s image_size) as a power of two.
MAX_TRAIN_SIZE = 4096


def check_image_size(size: int) -> int:
    """A training size: a power of two of at least 16 (every level of the UNet halves it).

    Args:
        size: the side in pixels.

    Returns:
        ``size``.

    Raises:
        UserInputError: naming the size and the sizes allowed.
    """
    if size < 16 or size & (size - 1) or size > MAX_TRAIN_SIZE:
        raise UserInputError(f"image size {size} is not a power of two in 16..{MAX_TRAIN_SIZE}: use 16, 32, 64, 128 or 256")
    return size


@dataclass
class TrainConfig:
    """Training settings; the defaults produce the shipped demo model.

    Args:
        out: folder for the checkpoint, the loss log and sample grids.
        data: folder of training pictures, or None for procedural landscapes.
        gaussian_field: train on draws of this Gaussian field instead (``train_fields.field_model``'s spec).
        unet: the UNet's guided-diffusion config keys.
        steps: train up to this step.
        batch_size: pictures per step.
        lr: the learning rate (after ``warmup`` steps of linear warm-up).
        warmup: steps of learning-rate warm-up.
        ema_decay: decay of the weights' exponential moving average, in [0, 1).
        seed: seeds the network, the data order and the noise.
        save_every: write the checkpoint every N steps.
        sample_every: write a sample grid every N steps (0: never).
        bf16: autocast to bfloat16 (faster per step; the loss stays float32).
        threads: CPU threads (None: torch's choice).
        device: cpu, cuda or cuda:N (None: CUDA when available).
        init_from: exported weights to start from, or None.
    """

    out: str = "runs/demo"
    data: str | None = None  # a folder of images; None: procedural landscapes
    unet: dict[str, Any] = field(default_factory=lambda: dict(PRESETS["demo"].unet_config))
    steps: int = 20000
    batch_size: int = 32
    lr: float = 2e-4
    warmup: int = 200
    ema_decay: float = 0.999
    seed: int = 0
    save_every: int = 250
    sample_every: int = 1000
    bf16: bool = True  # autocast bf16 on CPU: faster per step, loss in float32
    threads: int | None = None
    device: str | None = None
    init_from: str | None = None  # exported weights to start from; their network replaces ``unet``
    gaussian_field: str | None = None  # e.g. "demo,std=0.25": a field whose exact conditional is known


    def __post_init__(self) -> None:
        # the argument checks every public function shares: "5", True, 2.5 or NaN is one UserInputError
        check_path("out", self.out, "folder")
        if self.data is not None:
            check_path("data", self.data, "folder")
        for name, lowest in _MINIMUMS.items():
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, check_whole(name, value, lowest, MAX_THREADS + 1 if name == "threads" else None))
        self.lr = check_real("lr", self.lr, 0.0, low_open=True, hint="the learning rate, --lr")
        self.seed = check_whole("seed", self.seed, 0, 2**32)
        self.ema_decay = check_real("ema_decay", self.ema_decay, 0.0, 1.0, high_open=True)
        self.bf16 = check_flag("bf16", self.bf16)
        check_image_size(int(self.unet["image_size"]))
        check_batch(self.batch_size, int(self.unet["image_size"]), "batch_size")  # a step's pictures are made at once
        if self.gaussian_field is not None:
            if self.data is not None:
                raise UserInputError("--data and --gaussian-field both name the training pictures: drop one of the two")
            field_model(self.gaussian_field)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: says which step was reached and where the last checkpoint is.

    Args:
        step: the step reached.
        saved_step: the step of the last checkpoint written.
        checkpoint: the checkpoint to resume from.
    """

    def __init__(self, step: int, saved_step: int | None, checkpoint: Path):
        self.step, self.saved_step, self.checkpoint = step, saved_step, checkpoint
        if saved_step is None:
            where = f"no checkpoint was written yet ({checkpoint} appears every --save-every steps)"
        else:
            where = f"the last checkpoint (step {saved_step}) is {checkpoint}; run the same command to resume"
        super().__init__(f"training stopped at step {step}: {where}")


class TrainingDiverged(RunFailedError, FloatingPointError):
    """The loss became NaN or inf: the run stops before the weights (or a checkpoint) take it in.

    Args:
        step: the step whose loss was not finite (0-based).
        lr: the learning rate, for the hint.
        saved_step: the step of the last checkpoint written, or None.
        checkpoint: the checkpoint file.
    """

    def __init__(self, step: int, lr: float, saved_step: int | None, checkpoint: Path):
        kept = f"the last checkpoint (step {saved_step}) is {checkpoint}" if saved_step is not None else "no checkpoint was written"
        super().__init__(f"the loss became NaN or inf at step {step + 1}, so training stopped ({kept}): "
                         f"lower --lr (it was {lr:g}), or train in float32 (--no-bf16)")


def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.lerp_(p, 1 - decay)


def _sample_grid(ema: torch.nn.Module, config: TrainConfig, path: Path, n: int = 16, steps: int = 50) -> None:
    """Unconditional samples (plain schedule) from the EMA weights, as a 4x4 grid PNG."""
    from .core.models import DiffusionModel
    from .core.sampler import paint
    from .core.schedules import plain
    from .images import make_grid, save_png_atomic

    size = config.unet["image_size"]
    model = DiffusionModel(ema, dict(config.unet), "training", variance_type="fixed_small")
    result = paint(model, torch.zeros(3, size, size), torch.zeros(1, size, size), times=plain(steps),
                   num_samples=n, seed=1234, progress=False, max_frames=0)
    save_png_atomic(make_grid(result.samples, nrow=4), path)


def read_training_checkpoint(path: Path) -> dict[str, Any]:
    """A training checkpoint (``last.pt``) on the CPU, or ``CheckpointError`` naming the file and the fix.

    Args:
        path: the checkpoint file.

    Returns:
        Its dict (step, config, model, ema, optimiser, ...).
    """
    fix = f"delete {path} to start over, or pass another --out"
    try:
        state = read_checkpoint(path, mmap=False)
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}; as the training checkpoint of --out: {fix}") from None
    missing = [k for k in ("model", "ema", "opt", "step", "config") if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a checkpoint of ipainter train (no {', '.join(missing)}): {fix}")
    return state


def _save_state(state: dict[str, Any], f: Any, path: Path) -> None:
    """``torch.save`` of ``state`` into the open file ``f``; a failed write (a full disk) is the file system's
    ``OSError`` naming ``path``, not the ``RuntimeError`` torch's zip writer raises over it."""
    try:
        torch.save(state, f)
    except (RuntimeError, OSError) as exc:
        cause = exc if isinstance(exc, OSError) else exc.__context__
        if isinstance(cause, OSError) and cause.errno is not None:
            raise OSError(cause.errno, cause.strerror, str(path)) from None
        raise


def _trim_loss_log(path: Path, step: int) -> None:
    """Keep the header and the rows of steps 1..``step``: the rows past the checkpoint are redone."""
    kept = [LOSS_HEADER]
    if path.exists():
        for line in path.read_text().splitlines()[1:]:
            head = line.split(",", 1)[0]
            if head.isdigit() and int(head) <= step:
                kept.append(line)
    write_text_atomic(path, "\n".join(kept) + "\n")


def _full_unet_config(unet: dict[str, Any]) -> dict[str, Any]:
    """``unet`` with every default filled in, as a loaded model reports its config."""
    return UNetConfig.from_dict(unet).to_dict()


def check_trainable(unet: dict[str, Any], source: str) -> None:
    """Refuse a network this trainer cannot train: it fits the noise alone (a fixed variance) without
    class labels, so a network that also predicts its variance or needs a class ``y`` would fail at its
    first step (a shape error, or a missing ``y``).

    Args:
        unet: the network's config.
        source: where the network comes from, for the message (``--init-from X``, ``TrainConfig.unet``).
    """
    problems = [what for key, what in (("learn_sigma", "learns its variance (learn_sigma, 6 output channels)"),
                                       ("class_cond", "is class-conditional (class_cond)")) if unet.get(key)]
    if problems:
        raise UserInputError(f"{source}: the network {' and '.join(problems)}, and ipainter train fits an unconditional "
                             "network's noise prediction only: start from weights ipainter train exported, or a fresh network")


def _initial_weights(init_from: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The float32 state dict and the network config of the weights ``--init-from`` names."""
    model = load_model(init_from, device="cpu", dtype=torch.float32, prepack=False)
    return {k: v.detach().clone() for k, v in model.unet.state_dict().items()}, dict(model.config)


def _network_of(config: TrainConfig, state: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """The UNet config to train and, for a fresh run from ``init_from``, its starting weights.

    A resumed run keeps the checkpoint's network; it must be the one asked for (the same
    ``unet``, or the same ``init_from`` when the run started from exported weights).
    """
    if state is None:
        if config.init_from is None:
            return config.unet, None
        weights, unet = _initial_weights(config.init_from)
        return unet, weights
    saved = state["config"]
    if config.init_from is not None:
        if saved.get("init_from") != config.init_from:
            raise UserInputError(f"{Path(config.out) / CHECKPOINT_NAME} was not started from {config.init_from}; "
                                 "use another --out (or drop --init-from to resume it)")
        return saved["unet"], None
    if _full_unet_config(saved["unet"]) != _full_unet_config(config.unet):
        raise UserInputError(f"{Path(config.out) / CHECKPOINT_NAME} was trained with another UNet config; use another --out")
    return config.unet, None


def _say_removed(left: Leftovers) -> None:
    """One line saying what an earlier run killed outright left (and what was removed), if anything."""
    if len(left):
        print(left.notice())


def train(config: TrainConfig, progress: bool = True) -> Path:
    """Train (or resume) and return the checkpoint path.

    Ctrl-C raises ``TrainingInterrupted`` (a ``KeyboardInterrupt``) naming the last checkpoint.

    Args:
        config: the settings.
        progress: show a progress bar.

    Returns:
        The path of the checkpoint (``last.pt`` in ``config.out``).

    Raises:
        UserInputError: a bad setting, before anything is written.
        TrainingDiverged: the loss became NaN or inf.
    """
    out = check_folder(Path(config.out), "--out", parents=True)
    check_out_apart(out, config.data, config.sample_every)
    check_run_files(out)
    device = as_device(("cuda" if torch.cuda.is_available() else "cpu") if config.device is None else config.device, "--device")
    ckpt_path = out / CHECKPOINT_NAME
    # half-written checkpoints and sample grids of a run that was killed outright: one line for both folders
    _say_removed(clean_leftovers(out).merge(clean_leftovers(out / "samples")))
    state = read_training_checkpoint(ckpt_path) if ckpt_path.exists() else None
    unet, initial = _network_of(config, state)
    check_trainable(unet, f"--init-from {config.init_from}" if initial is not None else "the unet config")
    config = replace(config, unet=unet)
    network = UNetConfig.from_dict(unet)
    batch_fits(config.batch_size, network.num_channels, network.image_size, device, torch.float32, "one training step")
    size = config.unet["image_size"]
    data = training_pictures(config.data, config.gaussian_field, config.seed, size)

    make_folder(out / "samples", "--out", parents=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = build_unet(config.unet).to(device)
    if initial is not None:
        model.load_state_dict(initial)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
        print(f"resuming from {ckpt_path} at step {step}")
    elif initial is not None:
        print(f"starting from the weights of {config.init_from} with a fresh optimiser")
    write_text_atomic(out / "config.json", json.dumps(asdict(config), indent=2))
    log_path = out / "loss.csv"
    _trim_loss_log(log_path, step)

    schedule = DiffusionSchedule.create("linear", 1000, None, "fixed_small")
    ac = torch.as_tensor(schedule.alphas_cumprod, dtype=torch.float32, device=device)
    model.train()
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    saved_step = step if state is not None else None
    recent: list[float] = []
    log = open(log_path, "a")
    bar = progress_bar(config.steps, "training", enabled=progress)
    bar.update(step)
    try:
        while step < config.steps:
            with run_step():  # the interpreter's exit parks a daemon thread between two steps
                tick = time.perf_counter()
                g = torch.Generator().manual_seed(config.seed * 7919 + step)
                x0 = data.batch(step, config.batch_size).to(device)
                t = torch.randint(0, 1000, (config.batch_size,), generator=g).to(device)
                noise = torch.randn(x0.shape, generator=g).to(device)
                a = ac[t].view(-1, 1, 1, 1)
                x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
                if device.type == "cpu":
                    x_t = x_t.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
                    pred = model(x_t, t)
                loss = (pred.float() - noise).pow(2).mean()
                if not torch.isfinite(loss):
                    raise TrainingDiverged(step, config.lr, saved_step, ckpt_path)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                for group in opt.param_groups:
                    group["lr"] = config.lr * min(1.0, (step + 1) / config.warmup)
                opt.step()
                # EMA warm-up: early on, a long average would mostly remember random weights
                _ema_update(ema, model, min(config.ema_decay, (1 + step) / (10 + step)))
                step += 1
                recent.append(loss.item())
                log.write(f"{step},{loss.item():.5f},{time.perf_counter() - tick:.3f}\n")
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{np.mean(recent[-50:]):.4f}")
                if step % config.save_every == 0 or step == config.steps:
                    log.flush()
                    with signals_deferred():  # torch.save turns an interrupt mid-write into an error of its own
                        atomic_write(ckpt_path, lambda f: _save_state(
                            {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                             "step": step, "config": asdict(config)}, f, ckpt_path))
                        saved_step = step  # a stop held during the write arrives at the block's end: it is on disk
                if config.sample_every and step % config.sample_every == 0:
                    _sample_grid(ema, config, out / "samples" / f"step{step:06d}.png")
    except KeyboardInterrupt:
        raise TrainingInterrupted(step, saved_step, ckpt_path) from None
    finally:
        log.close()
        bar.close()
    return ckpt_path


def export(checkpoint: str | Path, dest: str | Path, schedule: ScheduleConfig | None = None, name: str = "demo") -> Path:
    """Write the EMA weights of a training checkpoint as a self-describing safetensors file (fp16).

    Args:
        checkpoint: the training checkpoint (``last.pt``).
        dest: the ``.safetensors`` file to write.
        schedule: the default schedule recorded with the weights (None: the demo preset's).
        name: the model's name recorded with the weights.

    Returns:
        ``dest``.
    """
    checkpoint, dest = check_path("checkpoint", checkpoint), check_path("dest", dest)
    check_export_apart(Path(dest).expanduser(), Path(checkpoint).expanduser().parent)
    apart_from(Path(dest).expanduser(), "dest", {"checkpoint": Path(checkpoint).expanduser()})
    state = read_training_checkpoint(Path(checkpoint))
    unet_config = state["config"]["unet"]
    spec = state["config"].get("gaussian_field")
    data = {"data": f"Gaussian field {spec}", "gaussian_field": field_model(spec).to_dict()} if spec else \
        {"data": state["config"].get("data") or "procedural landscapes"}
    try:  # the model of the training pictures travels with the weights: plan_schedule calibrates to it
        picture_model = training_pictures(state["config"].get("data"), spec, int(state["config"].get("seed", 0)),
                                          int(unet_config["image_size"])).picture_model()
    except (IPainterError, OSError) as exc:
        picture_model = None
        warn_caller(f"{dest} records no picture model: the training pictures could not be read again ({exc}); "
                    "plan_schedule will calibrate this model to a natural-picture default")
    model = build_unet(unet_config)
    model.load_state_dict(state["ema"])
    return save_model(
        model, dest, name=name, unet_config=unet_config, variance_type="fixed_small",
        default_schedule=schedule or PRESETS["demo"].default_schedule, picture_model=picture_model,
        extra={"trained_steps": int(state["step"]), **data},
    )


# --------------------------------------------------------------------------- command line


def _int_flag(name: str) -> Callable[[str], int]:
    """An argparse type for setting ``name``: an integer of at least ``_MINIMUMS[name]``."""
    return int_at_least(_MINIMUMS[name])


#: batch k draws from seed * 1_000_003 + k: a seed below 2**32 keeps it inside torch's 64-bit seeds
_seed_flag = int_in(0, 2**32 - 1)


def _image_size_flag(text: str) -> int:
    try:
        return check_image_size(whole_number(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(text: str) -> float:
    value = number_flag(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ipainter train``.

    Returns:
        The parser.
    """
    parser = CommandParser(prog="ipainter train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = TrainConfig()
    parser.add_argument("--out", default=defaults.out, type=path_text, help="folder for the checkpoint, loss log and sample grids")
    parser.add_argument("--data", default=None, type=path_text, help="folder of training images (default: procedural landscapes)")
    parser.add_argument("--gaussian-field", default=None, metavar="SPEC",
                        help="train on draws of a Gaussian field whose exact answers are known: 'demo' or "
                             "'beta=2.0,knee=0.06', optionally ',std=0.2' (see docs/guide/exact-benchmark.md)")
    parser.add_argument("--init-from", default=None, type=path_text, metavar="WEIGHTS",
                        help="start from these exported weights (a preset name such as 'demo' or a .safetensors file) "
                             "with a fresh optimiser; ignored when --out already holds a checkpoint")
    parser.add_argument("--steps", type=_int_flag("steps"), default=defaults.steps, help="train up to this step")
    parser.add_argument("--batch-size", type=_int_flag("batch_size"), default=defaults.batch_size)
    parser.add_argument("--lr", type=_positive_float, default=defaults.lr)
    parser.add_argument("--seed", type=_seed_flag, default=defaults.seed, help="a whole number in 0..2**32-1")
    parser.add_argument("--save-every", type=_int_flag("save_every"), default=defaults.save_every)
    parser.add_argument("--sample-every", type=_int_flag("sample_every"), default=defaults.sample_every,
                        help="write a sample grid every N steps (0: never)")
    parser.add_argument("--image-size", type=_image_size_flag, default=None, help="train at another size (a power of two >= 16)")
    parser.add_argument("--no-bf16", action="store_true", help="train in float32")
    parser.add_argument("--threads", type=int_in(1, MAX_THREADS, " (this machine's CPU cores)"), default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--export", default=None, type=path_text, metavar="FILE.safetensors",
                        help="after training (or at once if --steps is reached), write the EMA weights here")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``ipainter train``: every argument is checked before ``--out`` is created or anything written.

    Errors propagate to the caller (``ipainter_nb.cli.main`` prints them as one line).

    Args:
        argv: the arguments after ``ipainter train``.

    Returns:
        0 (errors raise).
    """
    args = build_parser().parse_args(argv)
    # every output location is checked before hours of training, not after
    if args.export is not None:
        args.export = writable_file(Path(args.export), "--export")  # ~ expanded
    if args.init_from is not None and args.image_size:
        raise UserInputError("--image-size would change the network of --init-from: drop one of the two")
    unet = dict(TrainConfig().unet)
    if args.image_size:
        unet["image_size"] = args.image_size
    out = check_folder(Path(args.out), "--out", parents=True)  # train() creates it once its own checks passed
    if args.export is not None:
        check_export_apart(args.export, out, "--export")
        apart_from(args.export, "--export", {"--init-from": args.init_from})  # the weights the run starts from
        writable_file(args.export, "--export", EXPORT_FILE)  # after the run's own files, which say more
    config = TrainConfig(out=str(out), data=args.data, unet=unet, steps=args.steps, batch_size=args.batch_size,
                         lr=args.lr, seed=args.seed, save_every=args.save_every, sample_every=args.sample_every,
                         bf16=not args.no_bf16, threads=args.threads, device=args.device, init_from=args.init_from,
                         gaussian_field=args.gaussian_field)
    ckpt = train(config, progress=not args.no_progress)
    if args.export:
        _say_removed(clean_leftovers(Path(args.export).absolute().parent))  # a killed earlier export's temp file
        print(f"wrote {export(ckpt, args.export)}")
    return 0


if __name__ == "__main__":
    # ``python -m ipainter_nb.train ...`` is ``ipainter train ...``. The command line (which owns the
    # signal handlers and prints errors as one line) sits above this module, so it is run by name
    # as ``python -m ipainter_nb`` would run it, not imported from here.
    import runpy
    import sys

    sys.argv[1:1] = ["train"]
    runpy.run_module("ipainter_nb", run_name="__main__", alter_sys=True)


public_names(globals())  # after every public definition
