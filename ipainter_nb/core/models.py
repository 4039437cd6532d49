"""``DiffusionModel`` (a UNet with its noise process) and ``load_model``.

``load_model("places256")`` finds the preset's weights (``presets.find_weights``) and reads
them safely (``checkpoints``); ``load_model("demo")`` loads the small model shipped inside
the package; ``load_model(path, preset=...)`` or ``load_model(path, config="net.json")``
loads a checkpoint whose file name and contents do not say which network it holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UserInputError
from ..public import public_names
from .arguments import check_flag, check_float_dtype
from .checkpoints import (
    CheckpointError,
    MappedFile,
    check_state_dict,
    check_unet_config,
    read_checkpoint_info,
    read_state_dict,
)
from .cpu_prepack import PackedConv2d, packing_pays, prepack_convolutions, prepack_supported, unpack_convolutions
from .devices import as_device
from .diffusion import DiffusionSchedule
from .exact_images import GaussianImageModel
from .presets import (
    PAPER_SCHEDULE,
    PRESETS,
    find_weights,
)
from .schedules import ScheduleConfig
from .unet import UNet, UNetConfig, build_unet

__all__ = ["DiffusionModel", "load_model", "check_t_T"]


@dataclass
class DiffusionModel:
    """A UNet with its diffusion process: what ``paint()`` needs to draw samples.

    Args:
        unet: the network (``model(x, t)``).
        config: its guided-diffusion config keys.
        name: a name for logs (a preset name or the file name).
        beta_schedule: ``linear`` or ``cosine``.
        num_train_steps: the training schedule's number of steps.
        variance_type: ``learned_range``, ``fixed_small`` or ``fixed_large``.
        default_schedule: the schedule ``paint`` uses when given no times.
        source: where the weights came from (a path), or None.
        channels_last: whether inputs are passed in channels_last layout.
        autocast_dtype: the autocast dtype of each call, or None.
        picture_model: the Gaussian model of the pictures the weights were trained on, when the
            checkpoint records one (``ipainter train`` exports it): what ``plan_schedule``
            calibrates to. None: not recorded.
    """

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
    picture_model: GaussianImageModel | None = None
    _schedules: dict[int, DiffusionSchedule] = field(default_factory=dict, repr=False)

    @property
    def image_size(self) -> int:
        """The picture side the network was trained on."""
        return int(self.config["image_size"])

    @property
    def device(self) -> torch.device:
        """The device of the network's weights."""
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the network's weights."""
        return next(self.unet.parameters()).dtype

    @property
    def prepacked(self) -> bool:
        """Whether convolutions hold oneDNN-packed weights (CPU inference only; see ``cpu_prepack``)."""
        return any(isinstance(m, PackedConv2d) for m in self.unet.modules())

    @property
    def num_parameters(self) -> int:
        """The number of the network's parameters."""
        packed = sum(math.prod(m.weight_shape) for m in self.unet.modules() if isinstance(m, PackedConv2d))
        return sum(p.numel() for p in self.unet.parameters()) + packed

    def check_t_T(self, t_T: int) -> int:
        """``t_T`` as an int if this model can walk that many steps; else a ``UserInputError`` saying why.

        The one place the rule lives: a schedule may have at most as many steps as the model
        was trained with (respacing picks ``t_T`` of its ``num_train_steps`` levels).

        Args:
            t_T: the number of respaced steps asked for.
        """
        return check_t_T(t_T, self.num_train_steps, self.name)

    def schedule(self, t_T: int) -> DiffusionSchedule:
        """The training noise schedule respaced to ``t_T`` steps (cached).

        Args:
            t_T: the number of respaced steps.
        """
        t_T = self.check_t_T(t_T)
        if t_T not in self._schedules:
            self._schedules[t_T] = DiffusionSchedule.create(
                self.beta_schedule, self.num_train_steps, str(t_T), self.variance_type
            )
        return self._schedules[t_T]

    def alphas_cumprod(self, t_T: int) -> np.ndarray:
        """ᾱ_t for t = 0..t_T-1 of the schedule respaced to ``t_T`` steps (a copy, float64).

        Args:
            t_T: the number of respaced steps.
        """
        return np.array(self.schedule(t_T).alphas_cumprod, dtype=np.float64)

    def default_times(self) -> list[int]:
        """The times of the model's default schedule."""
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
        """Move or cast the network (packed convolutions are unpacked first: they are CPU-only).

        Args:
            device: the new device, or None to keep it.
            dtype: the new dtype, or None to keep it.
        """
        device = None if device is None else as_device(device)
        dtype = None if dtype is None else check_float_dtype(dtype)
        unpack_convolutions(self.unet)
        self.unet.to(device=device, dtype=dtype)
        return self

    def __repr__(self) -> str:
        return (
            f"DiffusionModel({self.name!r}, {self.image_size}x{self.image_size}, "
            f"{self.num_parameters / 1e6:.1f}M parameters, {self.device}, {self.dtype})"
        )


def check_t_T(t_T: int, num_train_steps: int, model_name: str) -> int:
    """The rule behind ``DiffusionModel.check_t_T``, for a model known only by its settings
    (``read_checkpoint_info``): ``t_T`` as an int, or a ``UserInputError`` naming the limit.

    Args:
        t_T: the number of respaced steps asked for.
        num_train_steps: the model's training steps (the most a walk can have).
        model_name: the model's name, for the message.
    """
    whole = isinstance(t_T, (int, np.integer)) and not isinstance(t_T, bool)
    if not whole or not 1 <= int(t_T) <= num_train_steps:
        raise UserInputError(
            f"t_T={t_T!r} is not possible with model {model_name!r}: it was trained with {num_train_steps} diffusion steps, "
            f"so t_T must be a whole number in 1..{num_train_steps}; choose a t_T of at most {num_train_steps} (CLI: --t-T)"
        )
    return int(t_T)


def _resolve_dtype(dtype: torch.dtype | str | None, what: str = "dtype") -> torch.dtype | None:
    if dtype is None:
        return dtype
    if isinstance(dtype, torch.dtype):
        return check_float_dtype(dtype, what)
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "half": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if not isinstance(dtype, str) or dtype not in names:
        raise UserInputError(f"{what} must be one of {sorted(names)}, got {dtype!r}")
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
        raise UserInputError(f"prepack=True cannot be used: {why_not}; leave prepack unset")
    return why_not is None and (bool(prepack) or packing_pays())


def _network_config(info: Mapping[str, Any], path: Path) -> UNetConfig:
    if info["unet_config"] is None:
        read_state_dict(path)  # a damaged or unsafe file says so first: knowing its network would not help
        raise CheckpointError(
            f"{path} does not say which network it holds (no recorded config, and its name matches no preset's file): "
            f"pass preset=NAME (one of {', '.join(sorted(PRESETS))}) or config='net.json' (a JSON of guided-diffusion "
            "config keys); CLI: --preset NAME or --config FILE.json"
        )
    return check_unet_config(info["unet_config"], str(path), CheckpointError)


def load_model(
    name_or_path: str | Path = "demo",
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    *,
    config: Mapping[str, Any] | str | Path | None = None,
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
        config: the UNet config (a mapping, or a JSON file of guided-diffusion config keys)
            for a checkpoint that is neither a preset's file nor carries its config
            (safetensors saved by ``save_model`` do).
        preset: take config and sampling defaults from this preset for a file at another path.
        channels_last: NHWC memory layout (faster convolutions on CPU); default on for CPU.
        autocast: run the UNet under autocast in this dtype (bf16 on CPU, fp16 on CUDA).
        compile: wrap the UNet with ``torch.compile``.
        prepack: keep the convolution weights in oneDNN's blocked layout (``cpu_prepack``):
            inference only. Default on for float32 on a CPU with AVX-512 (where it is faster;
            ``cpu_prepack.packing_pays``) without autocast or compile, where this PyTorch build
            supports it; True packs on any CPU.

    The network is built on the ``meta`` device and the weights are assigned into it, so a
    2.2 GB checkpoint does not need a second copy in memory. Every check (file, network,
    settings) comes before anything is built, and nothing is kept from a failed load.
    """
    device = as_device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = _resolve_dtype(dtype) or torch.float32
    autocast = _resolve_dtype(autocast, "autocast")
    compile = check_flag("compile", compile)
    channels_last = None if channels_last is None else check_flag("channels_last", channels_last)
    prepack = None if prepack is None else check_flag("prepack", prepack)
    info = read_checkpoint_info(name_or_path, preset=preset, config=config)
    # a preset's file is looked up (a missing shipped file then says how to get it back)
    path = find_weights(info["preset"]) if str(name_or_path) in PRESETS else info["path"]
    cfg = _network_config(info, path)
    if channels_last is None:
        channels_last = device.type == "cpu"
    prepack = _resolve_prepack(prepack, device, dtype, autocast, compile)

    sd, _ = read_state_dict(path)
    unet = build_unet(cfg, device="meta")
    check_state_dict(unet, sd, path)
    # convert each tensor once, straight to the target dtype and device; assign=True makes
    # the module use these tensors instead of copying into freshly allocated ones
    float_keys = {k for k, v in unet.state_dict().items() if v.is_floating_point()}
    # a tensor already in the target dtype and layout stays a view of the memory-mapped file;
    # one that must be copied gives its file pages back at once, so the peak stays near one copy
    mapped = MappedFile(path) if path.suffix != ".safetensors" else None
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
        name=info["name"],
        beta_schedule=info["beta_schedule"],
        num_train_steps=info["num_train_steps"],
        variance_type=info["variance_type"] or ("learned_range" if cfg.learn_sigma else "fixed_small"),
        default_schedule=info["default_schedule"],
        source=path,
        channels_last=channels_last,
        autocast_dtype=autocast,
        picture_model=info["picture_model"],
    )
    if compile:
        model.unet = torch.compile(model.unet)  # type: ignore[assignment]
    return model


public_names(globals())  # after every public definition
