"""A UNet whose weights are interchangeable with guided-diffusion's ``UNetModel``.

The published checkpoints (RePaint's places256/celeba256, OpenAI's ImageNet models) are
state dicts of guided-diffusion's UNet. This module rebuilds the same network with the
same parameter names and shapes, so those files load with ``strict=True``, but is written
as a few small blocks instead of one flag-driven class.

Parameter naming (what the checkpoints require):
``time_embed.{0,2}``, ``label_emb``, ``input_blocks.i.j``, ``middle_block.{0,1,2}``,
``output_blocks.i.j``, ``out.{0,2}``; inside a residual block ``in_layers.{0,2}``,
``emb_layers.1``, ``out_layers.{0,3}``, ``skip_connection``; inside attention ``norm``,
``qkv`` and ``proj_out`` (1-D convolutions); a strided conv ``op``; an upsampling conv ``conv``.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserInputError
from ..public import public_names

__all__ = ["UNetConfig", "UNetConfigError", "UNet", "build_unet", "config_problem", "timestep_embedding"]


class UNetConfigError(UserInputError):
    """A UNet config whose sizes cannot build a network (``config_problem``); ``problem`` says what, without the fix.

    Args:
        problem: what is wrong with the config.
    """

    def __init__(self, problem: str):
        super().__init__(f"{problem}: fix the UNet config")
        self.problem = problem


#: Each whole-number key's range (-1 also means "derived" for the head keys): the smallest value a
#: network can have, and a largest far beyond any published one (a typo of 10**6 channels or blocks
#: would allocate until memory ran out, or build for hours).
_INT_KEYS = {"image_size": (8, 4096), "num_channels": (32, 4096), "num_res_blocks": (1, 64), "num_heads": (1, 1024),
             "num_classes": (1, 1_000_000), "in_channels": (1, 64), "num_head_channels": (-1, 4096),
             "num_heads_upsample": (-1, 1024)}
_BOOL_KEYS = ("learn_sigma", "use_scale_shift_norm", "resblock_updown", "use_new_attention_order", "class_cond", "use_fp16",
              "use_checkpoint")
#: The most levels (entries of channel_mult) a network may have: each halves the picture.
_MAX_LEVELS = 12


def config_problem(config: Mapping[str, Any]) -> str | None:
    """What is wrong with the types or ranges of a UNet config's values (None: nothing found).

    Args:
        config: guided-diffusion config keys and their values.
    """
    if not isinstance(config, Mapping):
        return f"a UNet config must be a dict of guided-diffusion config keys, got {type(config).__name__}"
    for key, (lowest, highest) in _INT_KEYS.items():
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return f"{key} must be an integer, got {value!r}"
        derived = lowest == -1  # -1 itself, or 1..highest
        if not (derived and value == -1) and not (1 if derived else lowest) <= value <= highest:
            allowed = f"-1 or 1..{highest}" if derived else f"{lowest}..{highest}"
            return f"{key} must be in {allowed}, got {value}"
    for key in _BOOL_KEYS:
        if key in config and not isinstance(config[key], bool):
            return f"{key} must be true or false, got {config[key]!r}"
    dropout = config.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        return f"dropout must be a number in [0, 1), got {dropout!r}"
    mult = config.get("channel_mult")
    levels = len(mult.split(",")) if isinstance(mult, str) else len(mult) if isinstance(mult, (list, tuple)) else 0
    if levels > _MAX_LEVELS:
        return f"channel_mult may hold at most {_MAX_LEVELS} levels, got {levels}"
    return None


@dataclass
class UNetConfig:
    """The guided-diffusion model flags, with the places256 values as defaults.

    attention_resolutions are spatial sizes (e.g. 32, 16, 8 for a 256² model), as in
    guided-diffusion's command-line flags, not downsampling factors.

    Args:
        image_size: the picture side the network is built for.
        num_channels: base channel width.
        num_res_blocks: residual blocks per resolution.
        channel_mult: width multipliers per resolution (empty: guided-diffusion's default for the size).
        attention_resolutions: downsampling rates (or sizes) with self-attention.
        num_heads: attention heads (when ``num_head_channels`` is -1).
        num_head_channels: channels per attention head (-1: use ``num_heads``).
        num_heads_upsample: heads in the upsampling path (-1: as ``num_heads``).
        learn_sigma: the network also predicts the variance (6 output channels).
        use_scale_shift_norm: FiLM-style timestep conditioning in the residual blocks.
        resblock_updown: residual blocks for up- and downsampling.
        use_new_attention_order: the newer q/k/v split order.
        class_cond: class-conditional (an embedding of ``y``).
        num_classes: number of classes when class-conditional.
        dropout: dropout rate.
        in_channels: input channels (3 for RGB).
        attention_impl: ``sdpa`` (fused attention) or ``einsum`` (the original formulation).
        use_fp16: guided-diffusion's flag, accepted and ignored (the dtype is chosen at load).
        use_checkpoint: guided-diffusion's flag, accepted and ignored (inference only).
    """

    image_size: int = 256
    num_channels: int = 256
    num_res_blocks: int = 2
    channel_mult: tuple[int, ...] | None = None  # None: guided-diffusion's default for image_size
    attention_resolutions: tuple[int, ...] = (32, 16, 8)
    num_heads: int = 4
    num_head_channels: int = 64  # -1: split channels into num_heads heads instead
    num_heads_upsample: int = -1  # -1: same as num_heads
    learn_sigma: bool = True  # 6 output channels: eps and the learned-range variance
    use_scale_shift_norm: bool = True
    resblock_updown: bool = True
    use_new_attention_order: bool = False
    class_cond: bool = False
    num_classes: int = 1000
    dropout: float = 0.0
    in_channels: int = 3
    # "sdpa" (fused scaled_dot_product_attention) or "einsum" (the original formulation,
    # kept as the speed baseline of benchmarks/unet_speed.py); both give the same numbers.
    attention_impl: str = "sdpa"
    # Accepted for compatibility with guided-diffusion configs; precision is chosen at load time.
    use_fp16: bool = False
    use_checkpoint: bool = False

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> UNetConfig:
        """A config from guided-diffusion config keys (unknown keys are refused).

        Args:
            config: the keys and values.
        """
        if not isinstance(config, Mapping):
            raise UserInputError(f"a UNet config must be a dict of guided-diffusion config keys, got {type(config).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise UserInputError(f"unknown UNet config key(s) {unknown}; expected some of {sorted(known)}")
        problem = config_problem(config)
        if problem is not None:
            raise UNetConfigError(problem)
        values = dict(config)
        for key in ("channel_mult", "attention_resolutions"):
            if key in values and values[key] is not None:
                values[key] = _parse_int_tuple(values[key], key)
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The config as guided-diffusion config keys."""
        out = asdict(self)
        out["channel_mult"] = list(self.resolved_channel_mult())
        out["attention_resolutions"] = list(self.attention_resolutions)
        return out

    def resolved_channel_mult(self) -> tuple[int, ...]:
        """``channel_mult``, or guided-diffusion's default for ``image_size`` when empty."""
        if self.channel_mult is not None:
            return tuple(self.channel_mult)
        defaults = {512: (0.5, 1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 128: (1, 1, 2, 3, 4), 64: (1, 2, 3, 4)}
        if self.image_size not in defaults:
            raise UserInputError(f"channel_mult must be given for image_size {self.image_size}")
        return defaults[self.image_size]  # type: ignore[return-value]

    @property
    def out_channels(self) -> int:
        """Output channels: 6 with ``learn_sigma``, else 3."""
        return 6 if self.learn_sigma else 3

    def validate(self) -> None:
        """Raise a ``UserInputError`` (a ``ValueError``) naming the first inconsistent key (sizes, heads, channels)."""
        if self.num_channels % 32:
            raise UserInputError(f"num_channels must be a multiple of 32 (GroupNorm of 32 groups), got {self.num_channels}")
        if self.num_heads_upsample == -1:
            self.num_heads_upsample = self.num_heads
        if self.num_head_channels == -1 and self.num_heads <= 0:
            raise UserInputError("num_heads must be positive when num_head_channels is -1")
        if self.attention_impl not in ("sdpa", "einsum"):
            raise UserInputError(f"attention_impl must be 'sdpa' or 'einsum', got {self.attention_impl!r}")
        mult = self.resolved_channel_mult()
        if not mult or any(isinstance(v, bool) or v <= 0 for v in [*mult, *self.attention_resolutions]):
            raise UserInputError(f"channel_mult and attention_resolutions must hold positive numbers (channel_mult at least "
                                 f"one), got {list(mult)} and {list(self.attention_resolutions)}")
        if self.image_size % 2 ** (len(mult) - 1):
            raise UserInputError(f"image_size {self.image_size} cannot be halved {len(mult) - 1} times (channel_mult {list(mult)})")


def _parse_int_tuple(value: Any, key: str) -> tuple:
    if isinstance(value, str):  # guided-diffusion flags write "32,16,8"
        value = [v for v in value.split(",") if v.strip()]
    try:
        # channel_mult may hold 0.5 (guided-diffusion's 512² default); keep whole numbers int
        return tuple(int(float(v)) if float(v).is_integer() else float(v) for v in value)
    except (TypeError, ValueError):
        raise UserInputError(f"{key} must be a list of integers, got {value!r}") from None


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) timesteps: [cos | sin] halves.

    Args:
        t: timesteps, (N,).
        dim: the embedding's width.
        max_period: the longest period of the sinusoids.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the activations' dtype (fp16 overflows)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.float()
        bias = None if self.bias is None else self.bias.float()
        return F.group_norm(x.float(), self.num_groups, weight, bias, self.eps).to(x.dtype)


def norm(channels: int) -> GroupNorm32:
    return GroupNorm32(32, channels)


class TimestepBlock(nn.Module):
    """A block that also takes the timestep embedding."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class EmbedSequential(nn.Sequential):
    """Sequential that hands the embedding to the blocks that want it."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, emb) if isinstance(layer, TimestepBlock) else layer(x)
        return x


class Downsample(nn.Module):
    """Halve the resolution: strided 3×3 conv (weights under ``op``) or 2×2 average pool."""

    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        if use_conv:
            self.op = nn.Conv2d(channels, out_channels, 3, stride=2, padding=1)
        else:
            if out_channels != channels:
                raise ValueError("pooling cannot change the channel count")
            self.op = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Double the resolution (nearest), optionally followed by a 3×3 conv (``conv``)."""

    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        self.use_conv = use_conv
        if use_conv:
            self.conv = nn.Conv2d(channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x) if self.use_conv else x


class ResBlock(TimestepBlock):
    """Two 3×3 convs with the timestep injected between them; optional up/down resampling."""

    def __init__(
        self,
        channels: int,
        emb_channels: int,
        out_channels: int,
        dropout: float = 0.0,
        use_scale_shift_norm: bool = False,
        up: bool = False,
        down: bool = False,
    ):
        super().__init__()
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(norm(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1))
        self.resample: nn.Module | None = None
        if up:
            self.resample = Upsample(channels, use_conv=False)
        elif down:
            self.resample = Downsample(channels, use_conv=False)
        # scale-shift norm needs a scale and a shift per channel, hence twice the width
        emb_out = 2 * out_channels if use_scale_shift_norm else out_channels
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, emb_out))
        self.out_layers = nn.Sequential(
            norm(out_channels), nn.SiLU(), nn.Dropout(p=dropout), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        )
        self.skip_connection = (
            nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        # Without autograd nothing needs the intermediate activations, so they are updated in
        # place: at 256² each fresh buffer is 64 MB of page faults and memory traffic (about
        # 7 % of a places256 forward on CPU). The norms' outputs are always new tensors.
        inplace = not torch.is_grad_enabled()
        if self.resample is not None:
            # resample between the norm/activation and the conv, on both paths
            h = self.in_layers[1](self.in_layers[0](x))
            h = self.in_layers[2](self.resample(h))
            x = self.resample(x)
        elif inplace:
            h = self.in_layers[2](F.silu(self.in_layers[0](x), inplace=True))
        else:
            h = self.in_layers(x)
        e = self.emb_layers(emb).to(h.dtype)[..., None, None]
        if self.use_scale_shift_norm:
            scale, shift = e.chunk(2, dim=1)
            h = self.out_layers[0](h)
            h = h.mul_(1 + scale).add_(shift) if inplace else h * (1 + scale) + shift
            h = F.silu(h, inplace=True) if inplace else self.out_layers[1](h)
            h = self.out_layers[3](self.out_layers[2](h))
        else:
            h = self.out_layers(h + e)
        skip = self.skip_connection(x)
        if inplace and skip.dtype == h.dtype:  # (under autocast a float32 skip must promote the sum)
            return h.add_(skip)
        return skip + h


class AttentionBlock(nn.Module):
    """Self-attention over all spatial positions.

    ``qkv`` packs queries, keys and values in one 1×1 conv. The legacy order interleaves
    them per head (``[head][q,k,v][c]``); the new order groups them (``[q,k,v][head][c]``).
    """

    def __init__(self, channels: int, num_heads: int, new_order: bool = False, impl: str = "sdpa"):
        super().__init__()
        if channels % num_heads:
            raise UserInputError(f"{channels} channels cannot be split into {num_heads} heads: choose num_heads that divides them")
        self.num_heads = num_heads
        self.new_order = new_order
        self.impl = impl
        self.norm = norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "sdpa":
            return self._forward_tokens(x)
        # the original formulation (channel-major, explicit softmax): the speed baseline
        b, c, hgt, wid = x.shape
        flat = x.reshape(b, c, hgt * wid)
        qkv = self.qkv(self.norm(flat))
        heads, ch = self.num_heads, c // self.num_heads
        if self.new_order:
            qkv = qkv.reshape(b, 3, heads, ch, -1).transpose(1, 2)
        else:
            qkv = qkv.reshape(b, heads, 3, ch, -1)
        q, k, v = (qkv[:, :, i].transpose(-1, -2) for i in range(3))  # (b, heads, tokens, ch)
        weights = torch.einsum("bhtc,bhsc->bhts", q, k) / math.sqrt(ch)
        weights = torch.softmax(weights.float(), dim=-1).to(q.dtype)
        out = torch.einsum("bhts,bhsc->bhtc", weights, v)
        out = out.transpose(-1, -2).reshape(b, c, -1)
        return (flat + self.proj_out(out)).reshape(b, c, hgt, wid)

    def _forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The same function computed token-major, with fused attention.

        A channels_last activation already lies in memory as (b, h·w, c) rows, so nothing
        is copied to change layout, and the 1×1 ``qkv``/``proj_out`` convolutions become
        plain matrix products on their (unchanged) weights. The result keeps x's layout.
        """
        b, c, hgt, wid = x.shape
        heads, ch = self.num_heads, c // self.num_heads
        tokens = self.norm(x).permute(0, 2, 3, 1).reshape(b, hgt * wid, c)  # GroupNorm is layout-blind
        qkv = F.linear(tokens, self.qkv.weight[..., 0], self.qkv.bias)  # (b, tokens, 3c)
        if self.new_order:  # channels [q,k,v][head][ch]
            qkv = qkv.reshape(b, -1, 3, heads, ch).permute(2, 0, 3, 1, 4)
        else:  # legacy: [head][q,k,v][ch]
            qkv = qkv.reshape(b, -1, heads, 3, ch).permute(3, 0, 2, 1, 4)
        q, k, v = qkv.unbind(0)  # (b, heads, tokens, ch), ch contiguous as fused kernels want
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, hgt * wid, c)
        out = F.linear(out, self.proj_out.weight[..., 0], self.proj_out.bias)
        return x + out.reshape(b, hgt, wid, c).permute(0, 3, 1, 2)


class UNet(nn.Module):
    """The guided-diffusion UNet: ``model(x, t, y=None)`` → (N, 3 or 6, H, W).

    Args:
        config: the network's ``UNetConfig``.
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        mc = config.num_channels
        emb_ch = 4 * mc
        mult = config.resolved_channel_mult()
        attention_ds = {config.image_size // r for r in config.attention_resolutions}

        def heads_for(ch: int, num_heads: int) -> int:
            if config.num_head_channels == -1:
                return num_heads
            if ch % config.num_head_channels:
                raise UserInputError(
                    f"num_head_channels={config.num_head_channels} does not divide the {ch} channels "
                    "of an attention block; choose a divisor or set num_head_channels=-1 and use num_heads"
                )
            return ch // config.num_head_channels

        def attention(ch: int, num_heads: int) -> AttentionBlock:
            return AttentionBlock(ch, heads_for(ch, num_heads), config.use_new_attention_order, config.attention_impl)

        def resblock(ch: int, out: int, **kw: bool) -> ResBlock:
            return ResBlock(ch, emb_ch, out, config.dropout, config.use_scale_shift_norm, **kw)

        self.time_embed = nn.Sequential(nn.Linear(mc, emb_ch), nn.SiLU(), nn.Linear(emb_ch, emb_ch))
        if config.class_cond:
            self.label_emb = nn.Embedding(config.num_classes, emb_ch)

        ch = int(mult[0] * mc)
        self.input_blocks = nn.ModuleList([EmbedSequential(nn.Conv2d(config.in_channels, ch, 3, padding=1))])
        skip_channels = [ch]
        ds = 1
        for level, m in enumerate(mult):
            for _ in range(config.num_res_blocks):
                layers: list[nn.Module] = [resblock(ch, int(m * mc))]
                ch = int(m * mc)
                if ds in attention_ds:
                    layers.append(attention(ch, config.num_heads))
                self.input_blocks.append(EmbedSequential(*layers))
                skip_channels.append(ch)
            if level != len(mult) - 1:
                down = resblock(ch, ch, down=True) if config.resblock_updown else Downsample(ch, use_conv=True)
                self.input_blocks.append(EmbedSequential(down))
                skip_channels.append(ch)
                ds *= 2

        self.middle_block = EmbedSequential(resblock(ch, ch), attention(ch, config.num_heads), resblock(ch, ch))

        self.output_blocks = nn.ModuleList()
        for level, m in reversed(list(enumerate(mult))):
            for i in range(config.num_res_blocks + 1):
                layers = [resblock(ch + skip_channels.pop(), int(mc * m))]
                ch = int(mc * m)
                if ds in attention_ds:
                    layers.append(attention(ch, config.num_heads_upsample))
                if level and i == config.num_res_blocks:
                    layers.append(resblock(ch, ch, up=True) if config.resblock_updown else Upsample(ch, use_conv=True))
                    ds //= 2
                self.output_blocks.append(EmbedSequential(*layers))

        self.out = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, config.out_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The noise prediction (and variance values with ``learn_sigma``) for ``x`` at timesteps ``t``.

        Args:
            x: noisy pictures, (N, C, H, W).
            t: training timesteps, (N,).
            y: class labels, (N,), for a class-conditional network.
        """
        if self.config.class_cond and y is None:
            raise ValueError("this model is class-conditional: pass class labels y")
        if not self.config.class_cond and y is not None:
            raise ValueError("this model is unconditional: y must be None")
        param = self.time_embed[0].weight
        emb = self.time_embed(timestep_embedding(t, self.config.num_channels).to(param.dtype))
        if y is not None:
            emb = emb + self.label_emb(y)
        h = x.to(param.dtype)
        skips = []
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h).to(x.dtype)


def build_unet(
    config: dict[str, Any] | UNetConfig,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> UNet:
    """Build the UNet from guided-diffusion config keys (see ``UNetConfig``).

    Pass ``device="meta"`` to get the structure without allocating memory (for checking
    names and shapes, or to load a big checkpoint with ``assign=True``).

    Args:
        config: a ``UNetConfig`` or a dict of guided-diffusion config keys.
        device: where to build it.
        dtype: the weights' dtype.
    """
    cfg = config if isinstance(config, UNetConfig) else UNetConfig.from_dict(config)
    cfg.validate()
    with torch.device(device) if device is not None else contextlib.nullcontext():
        model = UNet(cfg)
    if dtype is not None:
        model = model.to(dtype=dtype)
    return model


public_names(globals())  # after every public definition
