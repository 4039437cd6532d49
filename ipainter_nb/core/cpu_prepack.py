"""oneDNN weight pre-packing: faster CPU convolutions for inference.

On CPU every ``nn.Conv2d`` call hands its plain OIHW weight to oneDNN, which first
reorders it into a blocked layout and only then convolves. For the places256 UNet that is
2.2 GB of weights re-laid out on every forward; at small resolutions (8×8 or 16×16 with
1024 channels) the reorder costs more than the arithmetic. Packing each weight once, at
load time, removes that work: about 1.1× on a places256 forward and 1.15× on the demo model
on top of channels_last (``benchmarks/unet_speed.py``). The numbers computed are the same
convolution (float32 results agree to ~1e-6 relative).

A packed convolution replaces its plain weight (no second copy is kept), is inference-only
(no autograd) and CPU-only. ``state_dict()`` still writes the plain weight under the usual
key, so saving and checking a packed network works as before; ``unpack_convolutions``
restores ordinary ``nn.Conv2d`` modules, e.g. before moving the network to a GPU.

The ops used (``torch.ops.mkldnn._reorder_convolution_weight`` and
``_convolution_pointwise``, the ones ``torch.compile`` uses for frozen CPU graphs) are
internal to PyTorch, so ``prepack_supported`` checks once, on a tiny convolution, that they
exist and agree with ``F.conv2d``; where they do not, callers keep the plain convolutions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..public import public_names

__all__ = ["PackedConv2d", "prepack_supported", "packing_pays", "prepack_convolutions", "unpack_convolutions"]


#: The input's side oneDNN is told to pack for. Without an input shape it may pick a layout that
#: its convolution then reorders again on every call (on AVX2 CPUs: many times slower than no
#: packing); any ordinary shape gives a layout the convolution uses as it is, at every side.
PACK_FOR_SIDE = 16


def _pack(weight: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_convolution_weight(
        weight.detach(), list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups,
        [1, conv.in_channels, PACK_FOR_SIDE, PACK_FOR_SIDE],
    )


@functools.cache
def prepack_supported(dtype: torch.dtype = torch.float32) -> bool:
    """Whether this PyTorch build can pack CPU convolution weights of ``dtype`` (checked once).

    Args:
        dtype: the dtype of the weights to pack.
    """
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        gen = torch.Generator().manual_seed(0)
        conv = nn.Conv2d(8, 8, 3, padding=1).to(dtype)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
        x = torch.randn(1, 8, 6, 6, generator=gen).to(dtype).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            packed = PackedConv2d(conv)
            want = F.conv2d(x, conv.weight, conv.bias, padding=1)
            got = packed(x)
        tol = 1e-4 if dtype == torch.float32 else 2e-2
        return bool(torch.allclose(got.float(), want.float(), rtol=tol, atol=tol * float(want.abs().max())))
    except Exception:  # a build without the ops, or ops with another signature
        return False


def packing_pays() -> bool:
    """Whether packing is worth turning on by default on this CPU: where it has AVX-512.

    Packing was measured faster there (``benchmarks/unet_speed.py``); on an AVX2-only CPU the
    packed demo UNet was slower than the plain one, so ``load_model`` packs there only when asked.
    """
    return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


class PackedConv2d(nn.Module):
    """An inference-only ``nn.Conv2d`` whose weight lives in oneDNN's blocked layout.

    ``bias`` stays an ordinary parameter; ``weight`` reads back a plain copy (OIHW).

    Args:
        conv: the convolution to pack (its weight is copied into the blocked layout).
        release: called with the plain weight once it is packed, or None.
    """

    def __init__(self, conv: nn.Conv2d, release: Callable[[torch.Tensor], None] | None = None):
        super().__init__()
        if conv.weight.device.type != "cpu":
            raise ValueError(f"only CPU convolutions can be packed; this one is on {conv.weight.device}")
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("only zero padding given as numbers can be packed")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride, self.padding = conv.kernel_size, conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups
        self.weight_shape = tuple(conv.weight.shape)
        self.packed_weight = _pack(conv.weight, conv)
        if release is not None:
            release(conv.weight)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach(), requires_grad=False)

    @property
    def weight(self) -> torch.Tensor:
        """A plain (OIHW) copy of the weight: reading it allocates."""
        return self.packed_weight.to_dense()

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the packed weight."""
        return self.packed_weight.dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution of ``x`` with the packed weight (channels_last float tensors).

        Args:
            x: the input, (N, C, H, W).
        """
        if x.dtype != self.packed_weight.dtype or x.device.type != "cpu":
            raise TypeError(
                f"this packed convolution takes {self.packed_weight.dtype} CPU input, got {x.dtype} on {x.device}; "
                "call unpack_convolutions(unet) before autocast, another dtype or another device"
            )
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.packed_weight, self.bias, list(self.padding), list(self.stride), list(self.dilation),
            self.groups, "none", [], "",
        )

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        destination[prefix + "weight"] = self.weight  # the key and layout of nn.Conv2d
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _load_from_state_dict(self, state_dict: Any, prefix: str, local_metadata: Any, strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str]) -> None:
        key = prefix + "weight"
        if key in state_dict:
            weight = state_dict[key]
            if tuple(weight.shape) != self.weight_shape:
                error_msgs.append(f"size mismatch for {key}: copying {tuple(weight.shape)}, expected {self.weight_shape}")
            else:
                self.packed_weight = _pack(weight.to(self.packed_weight.dtype), self)  # type: ignore[arg-type]
        elif strict:
            missing_keys.append(key)
        rest = {k: v for k, v in state_dict.items() if k != key}
        super()._load_from_state_dict(rest, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    def _apply(self, fn: Any, recurse: bool = True) -> PackedConv2d:
        # .to()/.half()/.cuda() would move the bias but not the opaque packed weight
        raise RuntimeError(
            "a packed convolution cannot be moved or cast: call "
            "ipainter_nb.core.cpu_prepack.unpack_convolutions(unet) first (DiffusionModel.to does it for you)"
        )

    def to_conv(self) -> nn.Conv2d:
        """An ordinary ``nn.Conv2d`` with the same weights (the plain weight is rebuilt)."""
        with torch.device("meta"):
            conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,
                             self.dilation, self.groups, bias=self.bias is not None)
        conv.weight = nn.Parameter(self.weight, requires_grad=False)
        if self.bias is not None:
            conv.bias = nn.Parameter(self.bias.detach(), requires_grad=False)
        return conv

    def __deepcopy__(self, memo: dict) -> PackedConv2d:
        # the opaque packed tensor has no storage to copy: rebuild it from the plain weight
        conv = self.to_conv()
        if conv.bias is not None:
            conv.bias = nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
        return PackedConv2d(conv)

    def extra_repr(self) -> str:
        """The convolution's settings, as ``nn.Conv2d`` shows them."""
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dtype={self.dtype}")


def _replace(module: nn.Module, kind: type, make: Callable[[Any], nn.Module]) -> int:
    count = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is kind:
                setattr(parent, name, make(child))
                count += 1
    return count


def prepack_convolutions(module: nn.Module, release: Callable[[torch.Tensor], None] | None = None) -> int:
    """Replace every ``nn.Conv2d`` inside ``module`` by a ``PackedConv2d``; returns how many.

    One convolution at a time, so the extra memory at any moment is one layer's weight.
    ``release(weight)`` is called with each plain weight once it is packed (``load_model``
    uses it to give back the pages of a memory-mapped checkpoint).

    Args:
        module: the network whose convolutions are packed in place.
        release: called with each plain weight once it is packed, or None.
    """
    return _replace(module, nn.Conv2d, lambda conv: PackedConv2d(conv, release))


def unpack_convolutions(module: nn.Module) -> int:
    """Turn every ``PackedConv2d`` inside ``module`` back into an ``nn.Conv2d``; returns how many.

    Args:
        module: the network whose packed convolutions are unpacked in place.
    """
    return _replace(module, PackedConv2d, lambda packed: packed.to_conv())


public_names(globals())  # after every public definition
