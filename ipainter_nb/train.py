"""Train a small guided-diffusion-format UNet: the shipped demo model, or one on your images.

    python -m ipainter_nb.train --out runs/demo                 # procedural landscapes
    python -m ipainter_nb.train --data my_photos/ --out runs/mine
    python -m ipainter_nb.train --out runs/demo --export ipainter_nb/assets/demo_model.safetensors

Training is seeded and resumable: every ``--save-every`` steps the model, its EMA copy, the
optimiser and the step are written atomically to ``<out>/last.pt``; running the same
command again continues from there. The loss goes to ``<out>/loss.csv`` and sample grids
to ``<out>/samples/``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .core.diffusion import DiffusionSchedule
from .core.models import PRESETS, save_model
from .core.schedules import ScheduleConfig
from .core.unet import build_unet
from .images import atomic_write

__all__ = ["TrainConfig", "train", "ImageFolder", "ProceduralScenes", "export", "main"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


@dataclass
class TrainConfig:
    """Training settings; the defaults produce the shipped demo model."""

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
    bf16: bool = True  # autocast bf16 on CPU: ~1.6x faster per step here, loss in float32
    threads: int | None = None
    device: str | None = None


class ProceduralScenes:
    """Endless fresh landscapes; batch k is a pure function of (seed, k), so resuming is exact."""

    def __init__(self, seed: int, image_size: int):
        from .demo.scenes import make_scenes

        self._make = make_scenes
        self.seed = seed
        self.size = image_size

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        images = self._make(batch_size, seed=self.seed * 1_000_003 + step, size=self.size)
        return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


class ImageFolder:
    """A folder of pictures, centre-cropped and resized to the model's size, held in memory."""

    def __init__(self, folder: str | Path, image_size: int, seed: int):
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"training folder {folder} does not exist")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"no images in {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}, in subfolders too)")
        images, skipped, sizes = [], [], set()
        for path in files:
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    sizes.add(im.size)
                    images.append(np.asarray(_centre_square(im).resize((image_size, image_size), Image.BICUBIC)))
            except Exception as exc:  # unreadable files are skipped, not fatal
                skipped.append(f"{path.name} ({type(exc).__name__})")
        if skipped:
            warnings.warn(f"skipped {len(skipped)} unreadable file(s) of {len(files)}: {', '.join(skipped[:5])}")
        if not images:
            raise ValueError(f"none of the {len(files)} image files in {folder} could be read")
        if len(sizes) > 1:
            print(f"{len(images)} images of {len(sizes)} different sizes: each is centre-cropped to a square and resized to {image_size}")
        self.images = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        self.seed = seed
        self.skipped = len(skipped)

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        idx = torch.randint(len(self.images), (batch_size,), generator=g)
        x = self.images[idx].float() / 127.5 - 1
        flip = torch.rand(batch_size, generator=g) < 0.5
        x[flip] = x[flip].flip(-1)  # horizontal flips double a small folder
        return x


def _centre_square(im: Image.Image) -> Image.Image:
    w, h = im.size
    s = min(w, h)
    return im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))


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


def train(config: TrainConfig, progress: bool = True) -> Path:
    """Train (or resume) and return the checkpoint path."""
    out = Path(config.out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(config.seed)
    model = build_unet(config.unet).to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    step = 0
    ckpt_path = out / "last.pt"
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        if state["config"]["unet"] != config.unet:
            raise ValueError(f"{ckpt_path} was trained with another UNet config; use another --out")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
        print(f"resuming from {ckpt_path} at step {step}")
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2))
    data = ImageFolder(config.data, config.unet["image_size"], config.seed) if config.data else \
        ProceduralScenes(config.seed, config.unet["image_size"])
    schedule = DiffusionSchedule.create("linear", 1000, None, "fixed_small")
    ac = torch.as_tensor(schedule.alphas_cumprod, dtype=torch.float32, device=device)
    model.train()
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    log = open(out / "loss.csv", "a")
    if log.tell() == 0:
        log.write("step,loss,seconds\n")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=step, desc="training", unit="step")
    recent: list[float] = []
    try:
        while step < config.steps:
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
            if bar is not None:
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{np.mean(recent[-50:]):.4f}")
            if step % config.save_every == 0 or step == config.steps:
                log.flush()
                atomic_write(ckpt_path, lambda f: torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                              "step": step, "config": asdict(config)}, f))
            if config.sample_every and step % config.sample_every == 0:
                _sample_grid(ema, config, out / "samples" / f"step{step:06d}.png")
    finally:
        log.close()
        if bar is not None:
            bar.close()
    return ckpt_path


def export(checkpoint: str | Path, dest: str | Path, schedule: ScheduleConfig | None = None) -> Path:
    """Write the EMA weights of a training checkpoint as a self-describing safetensors file (fp16)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    unet_config = state["config"]["unet"]
    model = build_unet(unet_config)
    model.load_state_dict(state["ema"])
    return save_model(
        model, dest, name="demo", unet_config=unet_config, variance_type="fixed_small",
        default_schedule=schedule or PRESETS["demo"].default_schedule,
        extra={"trained_steps": int(state["step"]), "data": state["config"].get("data") or "procedural landscapes"},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ipainter train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = TrainConfig()
    parser.add_argument("--out", default=defaults.out, help="folder for the checkpoint, loss log and sample grids")
    parser.add_argument("--data", default=None, help="folder of training images (default: procedural landscapes)")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--save-every", type=int, default=defaults.save_every)
    parser.add_argument("--sample-every", type=int, default=defaults.sample_every)
    parser.add_argument("--image-size", type=int, default=None, help="train at another size (a power of two ≥ 16)")
    parser.add_argument("--no-bf16", action="store_true", help="train in float32")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--export", default=None, metavar="FILE.safetensors",
                        help="after training (or at once if --steps is reached), write the EMA weights here")
    args = parser.parse_args(argv)
    unet = dict(defaults.unet)
    if args.image_size:
        unet["image_size"] = args.image_size
    config = TrainConfig(out=args.out, data=args.data, unet=unet, steps=args.steps, batch_size=args.batch_size,
                         lr=args.lr, seed=args.seed, save_every=args.save_every, sample_every=args.sample_every,
                         bf16=not args.no_bf16, threads=args.threads, device=args.device)
    try:
        ckpt = train(config, progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.export:
        print(f"wrote {export(ckpt, args.export)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
