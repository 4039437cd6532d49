"""The one place a device given by a user (a string or a ``torch.device``) is read and checked."""

from __future__ import annotations

import torch

from ..errors import UserInputError
from ..public import public_names

__all__ = ["as_device"]


def as_device(device: torch.device | str, what: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` that this PyTorch can use, or a ``UserInputError`` naming ``what``.

    A CUDA device is refused where CUDA is not available, and any other device this build of
    PyTorch cannot use (``mps`` off a Mac, ``meta``), before any tensor is moved (torch would fail
    later, deep inside a call).

    Args:
        device: a ``torch.device`` or a string such as ``cpu``, ``cuda`` or ``cuda:1``.
        what: how the value is named in the error (a flag, an argument).
    """
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UserInputError(f"{what}={device!r} is not a device: use 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise UserInputError(f"{what}={device!r}: CUDA is not available in this PyTorch ({torch.__version__}); use 'cpu'")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise UserInputError(f"{what}={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                                 f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    elif resolved.type == "meta":
        raise UserInputError(f"{what}={device!r}: the meta device holds no data, so nothing can be painted on it; use 'cpu' or 'cuda'")
    elif resolved.type != "cpu":  # mps, xpu...: a device this build may lack, found by making an empty tensor there
        try:
            torch.empty(0, device=resolved)
        except Exception:  # torch says it in many ways (RuntimeError, AssertionError, a missing module)
            raise UserInputError(f"{what}={device!r}: this PyTorch ({torch.__version__}) cannot make tensors on "
                                 f"'{resolved.type}' devices (a build without them, or no such device here); "
                                 "use 'cpu' or 'cuda'") from None
    return resolved


public_names(globals())  # after every public definition
