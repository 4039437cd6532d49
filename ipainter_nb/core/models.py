"""Model presets, checkpoint discovery, safe loading and the opt-in download helper.

``load_model("places256")`` finds ``places256_300000.pt`` in ``$IPAINTER_WEIGHTS``, then
``~/.cache/ipainter_nb``, then ``./weights``; ``load_model("demo")`` loads the small model
shipped inside the package. Checkpoints are read with ``torch.load(weights_only=True)``
or safetensors, never an unrestricted pickle.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import mmap
import os
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ..images import atomic_write
from .cpu_prepack import PackedConv2d, prepack_convolutions, prepack_supported, unpack_convolutions
from .diffusion import DiffusionSchedule
from .schedules import ScheduleConfig
from .unet import UNet, UNetConfig, build_unet

__all__ = [
    "Preset",
    "PRESETS",
    "DiffusionModel",
    "load_model",
    "find_weights",
    "search_dirs",
    "WeightsNotFoundError",
    "WeightsMismatchError",
    "download_weights",
    "download_file",
    "read_state_dict",
    "save_model",
]

# The 256² guided-diffusion architecture shared by places256, celeba256 and OpenAI's
# unconditional ImageNet model (fixtures/reference/places256_unconditional_manifest.json).
GUIDED_DIFFUSION_256 = dict(
    image_size=256, num_channels=256, num_res_blocks=2, channel_mult=[1, 1, 2, 2, 4, 4],
    attention_resolutions=[32, 16, 8], num_heads=4, num_head_channels=64, num_heads_upsample=-1,
    learn_sigma=True, use_scale_shift_norm=True, resblock_updown=True, use_new_attention_order=False,
    class_cond=False, dropout=0.0,
)

# The paper's sampling settings: 250 respaced steps, jumps of 10 repeated 10 times, no
# resampling below t = 100 (1510 model calls instead of RePaint's 2410).
PAPER_SCHEDULE = ScheduleConfig(kind="truncated", t_T=250, jump_length=10, jump_n_sample=10, stop_resampling_at=100)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEMO_WEIGHTS = ASSETS / "demo_model.safetensors"


@dataclass(frozen=True)
class Preset:
    """A published (or shipped) checkpoint: where to find it and how to build its network."""

    name: str
    filename: str
    unet_config: Mapping[str, Any]
    description: str
    default_schedule: ScheduleConfig = PAPER_SCHEDULE
    beta_schedule: str = "linear"
    num_train_steps: int = 1000
    variance_type: str = "learned_range"
    sha256: str | None = None  # unknown here for the published files; recorded on first download
    gdrive_id: str | None = None
    url: str | None = None
    path: Path | None = None  # shipped inside the package

    def how_to_get(self) -> str:
        if self.path is not None:
            return f"it ships with the package at {self.path}; reinstall ipainter-nb"
        if self.gdrive_id:
            return (
                f"download it with `gdown https://drive.google.com/uc?id={self.gdrive_id}` into ./weights, "
                f"or call ipainter_nb.core.models.download_weights({self.name!r})"
            )
        return f"download {self.url} into ./weights, or call ipainter_nb.core.models.download_weights({self.name!r})"


PRESETS: dict[str, Preset] = {
    "places256": Preset(
        "places256", "places256_300000.pt", GUIDED_DIFFUSION_256,
        "RePaint's unconditional Places2 model (the Intelligent Painter's headline model)",
        gdrive_id="1QEl-btGbzQz6IwkXiFGd49uQNTUtTHsk",
    ),
    "celeba256": Preset(
        "celeba256", "celeba256_250000.pt", GUIDED_DIFFUSION_256,
        "RePaint's unconditional CelebA-HQ face model", gdrive_id="1norNWWGYP3EZ_o05DmoW1ryKuKMmhlCX",
    ),
    "imagenet256_uncond": Preset(
        "imagenet256_uncond", "256x256_diffusion_uncond.pt", GUIDED_DIFFUSION_256,
        "OpenAI's unconditional ImageNet model (guided-diffusion)",
        url="https://openaipublic.blob.core.windows.net/diffusion/jul-2021/256x256_diffusion_uncond.pt",
    ),
    "imagenet256": Preset(
        "imagenet256", "256x256_diffusion.pt", {**GUIDED_DIFFUSION_256, "class_cond": True},
        "OpenAI's class-conditional ImageNet model (needs class labels y)",
        url="https://openaipublic.blob.core.windows.net/diffusion/jul-2021/256x256_diffusion.pt",
    ),
}


def _register_demo() -> None:
    # The demo model's config travels inside its safetensors file; these are its values.
    PRESETS["demo"] = Preset(
        "demo", DEMO_WEIGHTS.name,
        dict(image_size=64, num_channels=32, num_res_blocks=2, channel_mult=[1, 2, 4, 4],
             attention_resolutions=[8], num_heads=4, num_head_channels=32, learn_sigma=False,
             use_scale_shift_norm=True, resblock_updown=False, class_cond=False, dropout=0.0),
        "small UNet trained on ipainter-nb's procedural 64x64 landscapes (ships with the package)",
        # 100 respaced steps fit a small model; jumps and the stop keep the paper's proportions
        default_schedule=ScheduleConfig(kind="truncated", t_T=100, jump_length=5, jump_n_sample=5, stop_resampling_at=40),
        variance_type="fixed_small",
        path=DEMO_WEIGHTS,
    )


_register_demo()


class WeightsNotFoundError(FileNotFoundError):
    pass


class WeightsMismatchError(ValueError):
    pass


# --------------------------------------------------------------------------- the model


@dataclass
class DiffusionModel:
    """A UNet with its diffusion process: what ``paint()`` needs to draw samples."""

    unet: UNet
    config: dict[str, Any]
    name: str
    beta_schedule: str = "linear"
    num_train_steps: int = 1000
    variance_type: str = "learned_range"
    default_schedule: ScheduleConfig = PAPER_SCHEDULE
    source: Path | None = None
    channels_last: bool = False
    autocast_dtype: torch.dtype | None = None  # compute dtype under autocast (bf16 on CPU, fp16 on CUDA)
    _schedules: dict[int, DiffusionSchedule] = field(default_factory=dict, repr=False)

    @property
    def image_size(self) -> int:
        return int(self.config["image_size"])

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    @property
    def prepacked(self) -> bool:
        """Whether convolutions hold oneDNN-packed weights (CPU inference only; see ``cpu_prepack``)."""
        return any(isinstance(m, PackedConv2d) for m in self.unet.modules())

    @property
    def num_parameters(self) -> int:
        packed = sum(math.prod(m.weight_shape) for m in self.unet.modules() if isinstance(m, PackedConv2d))
        return sum(p.numel() for p in self.unet.parameters()) + packed

    def schedule(self, t_T: int) -> DiffusionSchedule:
        """The training noise schedule respaced to ``t_T`` steps (cached)."""
        if not 1 <= t_T <= self.num_train_steps:
            raise ValueError(f"t_T must be in 1..{self.num_train_steps} for this model, got {t_T}")
        if t_T not in self._schedules:
            self._schedules[t_T] = DiffusionSchedule.create(
                self.beta_schedule, self.num_train_steps, str(t_T), self.variance_type
            )
        return self._schedules[t_T]

    def default_times(self) -> list[int]:
        return self.default_schedule.times()

    def __call__(self, x: torch.Tensor, t: torch.Tensor, schedule: DiffusionSchedule) -> torch.Tensor:
        """Raw model output at respaced levels ``t`` (the UNet sees the training timesteps)."""
        timesteps = schedule.model_timesteps(t).to(x.device)
        inp = x.to(self.dtype)
        if self.channels_last:
            inp = inp.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(
            device_type=x.device.type, dtype=self.autocast_dtype or torch.bfloat16, enabled=self.autocast_dtype is not None
        ):
            out = self.unet(inp, timesteps)
        return out.float()

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> DiffusionModel:
        """Move or cast the network (packed convolutions are unpacked first: they are CPU-only)."""
        unpack_convolutions(self.unet)
        self.unet.to(device=device, dtype=dtype)
        return self

    def __repr__(self) -> str:
        return (
            f"DiffusionModel({self.name!r}, {self.image_size}x{self.image_size}, "
            f"{self.num_parameters / 1e6:.1f}M parameters, {self.device}, {self.dtype})"
        )


# --------------------------------------------------------------------------- discovery


def search_dirs() -> list[Path]:
    """Where checkpoints are looked for, in order."""
    dirs: list[Path] = []
    env = os.environ.get("IPAINTER_WEIGHTS")
    if env:
        dirs.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    dirs.append(Path("~/.cache/ipainter_nb").expanduser())
    dirs.append(Path("weights"))
    return dirs


def find_weights(preset: Preset | str) -> Path:
    preset = PRESETS[preset] if isinstance(preset, str) else preset
    if preset.path is not None:
        if preset.path.is_file():
            return preset.path
        raise WeightsNotFoundError(f"the {preset.name!r} weights are missing from {preset.path}; {preset.how_to_get()}")
    tried = []
    for d in search_dirs():
        candidate = d / preset.filename
        tried.append(str(candidate.resolve() if not candidate.is_absolute() else candidate))
        if candidate.is_file():
            return candidate
    raise WeightsNotFoundError(
        f"{preset.filename} (preset {preset.name!r}) was not found. Looked in:\n  "
        + "\n  ".join(tried)
        + f"\nTo get it, {preset.how_to_get()}. Set IPAINTER_WEIGHTS to a folder holding it to use another place."
    )


# --------------------------------------------------------------------------- loading

_WRAPPER_KEYS = ("ema", "ema_state_dict", "model_ema", "ema_model", "state_dict", "model", "net", "params")


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """Find the state dict inside a checkpoint (an EMA copy is preferred when present)."""
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = dict(obj)
    elif isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], Mapping):
                return _unwrap(obj[key], path)
        raise WeightsMismatchError(
            f"{path} holds a dict with keys {sorted(obj)[:10]} but no state dict: expected a mapping of "
            f"parameter names to tensors, or one under one of {list(_WRAPPER_KEYS)}"
        )
    else:
        raise WeightsMismatchError(f"{path} does not hold a state dict (found {type(obj).__name__})")
    # checkpoints saved from DataParallel / DistributedDataParallel prefix every key
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def read_state_dict(path: str | Path, mmap: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a checkpoint safely: (state dict, metadata). Tensors stay on the CPU, memory-mapped where possible."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = dict(f.metadata() or {})
                return {k: f.get_tensor(k) for k in f.keys()}, meta
        except Exception as exc:  # safetensors raises its own error types
            raise WeightsMismatchError(f"{path} is not a readable safetensors file ({exc}); is it truncated?") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except RuntimeError as exc:
        if mmap and "mmap" in str(exc):  # old (non-zip) serialisation cannot be memory-mapped
            obj = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise WeightsMismatchError(f"{path} could not be read as a PyTorch checkpoint ({exc}); is it truncated?") from exc
    except Exception as exc:
        raise WeightsMismatchError(
            f"{path} could not be read safely ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
            "Only weights-only checkpoints (tensors) or .safetensors files are accepted; is the file truncated?"
        ) from exc
    return _unwrap(obj, path), {}


def _summarise(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def check_state_dict(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], path: Path | str) -> None:
    """Raise a short, readable error when a state dict does not fit the network."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [f"{k} {tuple(sd[k].shape)} (expected {expected[k]})" for k in expected if k in sd and tuple(sd[k].shape) != expected[k]]
    if missing or unexpected or wrong:
        lines = [f"{path} does not fit this network ({len(expected)} tensors expected, {len(sd)} found):"]
        if missing:
            lines.append(f"  missing {len(missing)} key(s): {_summarise(missing)}")
        if unexpected:
            lines.append(f"  unexpected {len(unexpected)} key(s): {_summarise(unexpected)}")
        if wrong:
            lines.append(f"  {len(wrong)} shape(s) differ: {_summarise(wrong, 3)}")
        lines.append("  Is it the right file for this preset or config (learn_sigma, class_cond, channel widths)? Or a truncated download?")
        raise WeightsMismatchError("\n".join(lines))


class _MappedFile:
    """Where this process maps a checkpoint file, to give back pages of tensors already copied.

    ``torch.load(mmap=True)`` maps the file privately; every page read counts in the resident
    set until the mapping goes away, which is only after the last tensor of the file is
    released. Converting 2.2 GB of weights to another dtype or to channels_last would
    otherwise hold the file's pages and the copies at once. ``madvise(MADV_DONTNEED)`` drops
    the pages of a tensor that has been copied; a later read would fetch them from the file
    again, so it never changes what a tensor holds. Only whole pages inside the tensor's own
    bytes are dropped, and only inside a mapping of this file. Linux only; elsewhere a no-op.
    """

    MADV_DONTNEED = 4

    def __init__(self, path: Path):
        self.ranges: list[tuple[int, int]] = []
        self._madvise: Any = None
        if not sys.platform.startswith("linux"):
            return
        try:
            target = os.path.realpath(path)
            with open("/proc/self/maps") as maps:
                for line in maps:
                    parts = line.split(maxsplit=5)
                    if len(parts) == 6 and parts[5].rstrip("\n") == target:
                        lo, hi = (int(v, 16) for v in parts[0].split("-"))
                        self.ranges.append((lo, hi))
            if self.ranges:
                self._madvise = ctypes.CDLL(None, use_errno=True).madvise
                self._madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        except (OSError, AttributeError, ValueError):
            self.ranges = []

    def release(self, tensor: torch.Tensor) -> None:
        if not self.ranges or tensor.device.type != "cpu":
            return
        start = tensor.data_ptr()
        end = start + tensor.numel() * tensor.element_size()
        lo = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE  # round inwards: pages shared with a neighbour stay
        hi = end // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo and any(a <= lo and hi <= b for a, b in self.ranges):
            self._madvise(lo, hi - lo, self.MADV_DONTNEED)


def _resolve_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "half": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype not in names:
        raise ValueError(f"dtype must be one of {sorted(names)}, got {dtype!r}")
    return names[dtype]


def _resolve_prepack(prepack: bool | None, device: torch.device, dtype: torch.dtype,
                     autocast: torch.dtype | None, compile: bool) -> bool:
    if prepack is False:  # (not even the support check: it initialises oneDNN)
        return False
    why_not = None
    if device.type != "cpu":
        why_not = f"the model goes to {device} (packed weights are for CPU)"
    elif dtype != torch.float32:
        why_not = f"dtype is {dtype} (packing is used for float32 weights)"
    elif autocast is not None:
        why_not = "autocast is on (autocast casts plain weights per call)"
    elif compile:
        why_not = "compile=True (torch.compile packs weights itself)"
    elif not prepack_supported(torch.float32):
        why_not = "this PyTorch build has no working oneDNN weight packing"
    if prepack and why_not:
        raise ValueError(f"prepack=True cannot be used: {why_not}; leave prepack unset")
    return why_not is None


def load_model(
    name_or_path: str | Path = "demo",
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    preset: str | None = None,
    channels_last: bool | None = None,
    autocast: torch.dtype | str | None = None,
    compile: bool = False,
    prepack: bool | None = None,
) -> DiffusionModel:
    """Load a preset by name or a checkpoint by path.

    Args:
        name_or_path: a preset (``demo``, ``places256``, ``celeba256``, ``imagenet256_uncond``,
            ``imagenet256``) or a ``.pt``/``.safetensors`` file.
        device: default CUDA when available, else CPU.
        dtype: parameter dtype (``torch.float16`` halves memory on GPUs); default float32.
        config: UNet config for a checkpoint that is neither a preset's file nor carries its
            config (safetensors saved by ``save_model`` do).
        preset: take config and sampling defaults from this preset for a file at another path.
        channels_last: NHWC memory layout (faster convolutions on CPU); default on for CPU.
        autocast: run the UNet under autocast in this dtype (bf16 on CPU, fp16 on CUDA).
        compile: wrap the UNet with ``torch.compile``.
        prepack: keep the convolution weights in oneDNN's blocked layout (``cpu_prepack``):
            about 1.1× faster on CPU, inference only. Default on for float32 on CPU without
            autocast or compile, where this PyTorch build supports it.
    The network is built on the ``meta`` device and the weights are assigned into it, so a
    2.2 GB checkpoint does not need a second copy in memory.
    """
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = _resolve_dtype(dtype) or torch.float32
    autocast = _resolve_dtype(autocast)
    key = str(name_or_path)
    if key in PRESETS:
        chosen = PRESETS[key]
        path = find_weights(chosen)
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"{key!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor an existing checkpoint file"
            )
        chosen = PRESETS[preset] if preset else next((p for p in PRESETS.values() if p.filename == path.name), None)

    sd, meta = read_state_dict(path)
    if "ipainter_nb" in meta:
        info = json.loads(meta["ipainter_nb"])
        base = chosen or PRESETS["demo"]
        chosen = replace(
            base, name=info.get("name", base.name), unet_config=info["unet_config"],
            variance_type=info.get("variance_type", base.variance_type),
            beta_schedule=info.get("beta_schedule", base.beta_schedule),
            num_train_steps=int(info.get("num_train_steps", base.num_train_steps)),
            default_schedule=ScheduleConfig(**info["default_schedule"]) if "default_schedule" in info else base.default_schedule,
        )
    unet_config = dict(config) if config is not None else (dict(chosen.unet_config) if chosen else None)
    if unet_config is None:
        raise ValueError(
            f"don't know the network of {path}: pass preset='places256' (or another preset) or config={{...}} "
            "with the guided-diffusion flags it was trained with"
        )
    cfg = UNetConfig.from_dict(unet_config)
    unet = build_unet(cfg, device="meta")
    check_state_dict(unet, sd, path)
    # convert each tensor once, straight to the target dtype and device; assign=True makes
    # the module use these tensors instead of copying into freshly allocated ones
    float_keys = {k for k, v in unet.state_dict().items() if v.is_floating_point()}
    if channels_last is None:
        channels_last = device.type == "cpu"
    prepack = _resolve_prepack(prepack, device, dtype, autocast, compile)
    # a tensor already in the target dtype and layout stays a view of the memory-mapped file;
    # one that must be copied gives its file pages back at once, so the peak stays near one copy
    mapped = _MappedFile(path) if path.suffix != ".safetensors" else None
    converted = {}
    for k in list(sd):
        src = sd.pop(k)
        # (a weight about to be packed keeps its layout: packing copies it anyway)
        layout = torch.channels_last if channels_last and src.dim() == 4 and not prepack else torch.preserve_format
        out = src.to(device=device, dtype=dtype if k in float_keys else None, memory_format=layout)
        if mapped is not None and out.data_ptr() != src.data_ptr():
            mapped.release(src)
        converted[k] = out
        del src
    unet.load_state_dict(converted, strict=True, assign=True)
    del converted
    unet.eval().requires_grad_(False)
    if prepack:
        prepack_convolutions(unet, release=mapped.release if mapped is not None else None)
    model = DiffusionModel(
        unet=unet,
        config=cfg.to_dict(),
        name=chosen.name if chosen else path.stem,
        beta_schedule=chosen.beta_schedule if chosen else "linear",
        num_train_steps=chosen.num_train_steps if chosen else 1000,
        variance_type=(chosen.variance_type if chosen else ("learned_range" if cfg.learn_sigma else "fixed_small")),
        default_schedule=chosen.default_schedule if chosen else PAPER_SCHEDULE,
        source=path,
        channels_last=channels_last,
        autocast_dtype=autocast,
    )
    if compile:
        model.unet = torch.compile(model.unet)  # type: ignore[assignment]
    return model


def save_model(
    unet: torch.nn.Module,
    path: str | Path,
    *,
    name: str,
    unet_config: Mapping[str, Any],
    variance_type: str,
    default_schedule: ScheduleConfig,
    beta_schedule: str = "linear",
    num_train_steps: int = 1000,
    dtype: torch.dtype = torch.float16,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a self-describing safetensors checkpoint (config in its metadata), atomically."""
    from safetensors.torch import save

    path = Path(path)
    info = {
        "name": name, "unet_config": dict(unet_config), "variance_type": variance_type,
        "beta_schedule": beta_schedule, "num_train_steps": num_train_steps,
        "default_schedule": {k: getattr(default_schedule, k) for k in ("kind", "t_T", "jump_length", "jump_n_sample", "stop_resampling_at")},
        **(dict(extra) if extra else {}),
    }
    tensors = {k: v.detach().to("cpu", dtype=dtype if v.is_floating_point() else v.dtype).contiguous()
               for k, v in unet.state_dict().items()}
    atomic_write(path, lambda f: f.write(save(tensors, metadata={"ipainter_nb": json.dumps(info)})))
    return path


# --------------------------------------------------------------------------- download (opt-in)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sum(actual: str, expected: str | None) -> None:
    if expected is not None and actual.lower() != expected.lower():
        raise ValueError(
            f"SHA-256 of the download is {actual}, expected {expected}: the file was discarded (corrupt or changed upstream)"
        )


def _record_sum(dest: Path, actual: str, expected: str | None) -> None:
    if expected is None:
        Path(str(dest) + ".sha256").write_text(f"{actual}  {dest.name}\n")
        print(f"recorded SHA-256 {actual} of {dest.name} in {dest}.sha256 (no known sum to check against)")


def download_file(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    progress: bool = True,
    opener: Callable[[str], Any] | None = None,
) -> Path:
    """Fetch ``url`` into ``dest`` atomically, verifying its SHA-256 when known.

    The file is written to a temporary name beside ``dest`` and renamed only once complete
    and verified, so an interrupted or corrupt download never replaces a good file.
    When ``sha256`` is None the computed sum is recorded in ``dest + '.sha256'`` and printed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()

    def fetch(out: Any) -> None:
        with (opener or urllib.request.urlopen)(url) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=dest.name)
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                digest.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        _check_sum(digest.hexdigest(), sha256)  # raising here discards the temp file

    atomic_write(dest, fetch)
    _record_sum(dest, digest.hexdigest(), sha256)
    return dest


def download_weights(
    name: str,
    dest_dir: str | Path | None = None,
    sha256: str | None = None,
    progress: bool = True,
    url: str | None = None,
) -> Path:
    """Opt-in: download a preset's checkpoint (gdown for Google Drive, HTTPS otherwise).

    Never called implicitly. ``dest_dir`` defaults to ``~/.cache/ipainter_nb``. ``url``
    overrides the preset's source (a mirror, or a local server in tests).
    """
    if name not in PRESETS or PRESETS[name].path is not None:
        downloadable = sorted(n for n, p in PRESETS.items() if p.path is None)
        raise ValueError(f"no download for {name!r}; downloadable presets: {downloadable}")
    preset = PRESETS[name]
    dest = Path(dest_dir).expanduser() if dest_dir else Path("~/.cache/ipainter_nb").expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / preset.filename
    if target.is_file() and (sha256 or preset.sha256) and _sha256(target) == (sha256 or preset.sha256):
        return target
    expected = sha256 or preset.sha256
    if url is None and preset.gdrive_id:
        try:
            import gdown  # type: ignore[import-not-found]
        except ImportError:
            raise ImportError("downloading from Google Drive needs gdown: pip install 'ipainter-nb[download]'") from None
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{preset.filename}.", suffix=".part")
        os.close(fd)
        try:
            gdown.download(id=preset.gdrive_id, output=tmp, quiet=not progress)
            actual = _sha256(Path(tmp))
            _check_sum(actual, expected)
            os.chmod(tmp, 0o644)  # mkstemp made it private
            os.replace(tmp, target)
            _record_sum(target, actual, expected)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target
    return download_file(url or preset.url or "", target, expected, progress)
