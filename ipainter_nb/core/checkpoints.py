"""Checkpoint files: safe reading, what a file says about its network, validation, saving.

Only two formats are read, neither of which can run code: PyTorch files through
``torch.load(weights_only=True)`` (memory-mapped when the file allows it) and safetensors.
Every problem with a file is a ``CheckpointError`` whose one-line message names the file,
what is wrong with it and what to do.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import re
import sys
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..checks import broken_link, check_path
from ..errors import IPainterError, UserInputError
from ..images import atomic_write, read_bounded
from ..public import public_names
from .arguments import check_flag
from .diffusion import VARIANCE_TYPES
from .exact_images import GaussianImageModel
from .presets import PAPER_SCHEDULE, PRESETS, WeightsNotFoundError, get_preset, preset_for_file
from .schedules import ScheduleConfig
from .unet import UNetConfig, UNetConfigError

__all__ = [
    "CheckpointError",
    "WeightsMismatchError",
    "read_checkpoint",
    "read_state_dict",
    "unwrap_state_dict",
    "check_state_dict",
    "read_unet_config",
    "recorded_settings",
    "check_unet_config",
    "checkpoint_format",
    "holds_safetensors",
    "read_checkpoint_info",
    "save_model",
    "MappedFile",
    "METADATA_KEY",
]

#: The safetensors metadata entry that ``save_model`` writes (a JSON object).
METADATA_KEY = "ipainter_nb"

SAFE_FORMATS = "a state dict saved with torch.save(model.state_dict()) or a .safetensors file"

# where training scripts keep the weights inside a bigger checkpoint; EMA copies first
_WRAPPER_KEYS = ("ema", "ema_state_dict", "model_ema", "ema_model", "state_dict", "model", "net", "params")


class CheckpointError(IPainterError, ValueError):
    """A file that cannot be used as a checkpoint: not one, damaged, unsafe, or of unknown network."""


class WeightsMismatchError(CheckpointError):
    """A readable state dict that does not fit the network it is loaded into."""


# --------------------------------------------------------------------------- reading


def _existing_file(path: str | Path) -> Path:
    path = check_path("path", path).expanduser()
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file: pass the .pt or .safetensors file inside it")
    if path.exists() and not path.is_file():
        raise CheckpointError(f"{path} is not a regular file (a device, pipe or socket): pass the .pt or .safetensors file")
    if not path.is_file():
        raise WeightsNotFoundError(f"checkpoint {path} does not exist: check the path")
    return path


def _is_safetensors(path: Path) -> bool:
    """By name, or by content."""
    return path.suffix == ".safetensors" or holds_safetensors(path)


def holds_safetensors(path: str | Path) -> bool:
    """Whether the file at ``path`` holds safetensors by its content: an 8-byte header length, shorter
    than the file, followed by a JSON object.

    Args:
        path: an existing file (only its first bytes are read).
    """
    path = check_path("path", path)
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size


# torch.save's pre-zip format opens with a pickled magic number (protocol 2, a 10-byte long)
_LEGACY_TORCH_HEAD = b"\x80\x02\x8a\x0a"


def checkpoint_format(path: str | Path) -> str | None:
    """``"safetensors"``, ``"zip"`` (torch.save), ``"legacy"`` (torch.save before 1.6) or None, from the first bytes.

    Args:
        path: the file to look at (only its first bytes are read).
    """
    path = _existing_file(path)
    if _is_safetensors(path):
        return "safetensors"
    with open(path, "rb") as f:
        head = f.read(len(_LEGACY_TORCH_HEAD))
    if head.startswith(b"PK\x03\x04"):  # a zip's first entry (a truncated one still starts so)
        return "zip"
    return "legacy" if head == _LEGACY_TORCH_HEAD else None


def _unreadable(path: Path, exc: BaseException) -> CheckpointError:
    """The one-line error for a file ``torch.load(weights_only=True)`` refused.

    torch's own message advises retrying with ``weights_only=False``, which would run
    whatever code the file holds; that advice is never passed on.
    """
    text = str(exc)
    refused = re.search(r"unsupported global:?(?: GLOBAL)? ([\w.]+)", text, re.IGNORECASE)
    if refused:
        return CheckpointError(
            f"{path} holds Python objects besides tensors ({refused.group(1)}); files that can run code are refused. "
            f"Use {SAFE_FORMATS}"
        )
    if isinstance(exc, EOFError) or any(sign in text for sign in ("central directory", "PytorchStreamReader", "EOF", "corrupted")):
        return CheckpointError(f"{path} is truncated or damaged: download or copy it again")
    return CheckpointError(
        f"{path} is not a PyTorch checkpoint (not written by torch.save, or damaged; {type(exc).__name__}). Use {SAFE_FORMATS}"
    )


def read_checkpoint(path: str | Path, *, mmap: bool = True) -> Any:
    """What a PyTorch checkpoint holds (tensors, dicts, lists, numbers), read without running code.

    Memory-mapped when the file is in torch's zip format and ``mmap`` is true; tensors stay
    on the CPU. Any failure is a ``CheckpointError``.

    Args:
        path: the checkpoint file.
        mmap: memory-map a zip-format file instead of reading it into memory.
    """
    path = _existing_file(path)
    # the old (pre-zip) serialisation cannot be memory-mapped
    use_mmap = mmap and zipfile.is_zipfile(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols while refusing them anyway
            return torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)
    except Exception as exc:  # on damaged bytes torch raises almost any type (OSError, AssertionError, ...)
        raise _unreadable(path, exc) from None


def unwrap_state_dict(obj: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: an EMA copy is preferred, ``module.`` prefixes are dropped.

    Args:
        obj: what the checkpoint holds (a state dict, or a dict that wraps one).
        path: the file it came from, named in errors.
    """
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = {str(k): v for k, v in obj.items()}
    elif isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], Mapping):
                return unwrap_state_dict(obj[key], path)
        keys = sorted(map(str, obj))[:8]
        raise CheckpointError(
            f"{path} holds a dict with keys {keys} but no state dict (a mapping of parameter names to tensors, at the top "
            f"or under one of {list(_WRAPPER_KEYS)}). Use {SAFE_FORMATS}"
        )
    else:
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict. Use {SAFE_FORMATS}")
    # checkpoints saved from DataParallel / DistributedDataParallel prefix every key
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _open_safetensors(path: Path) -> Any:
    from safetensors import safe_open

    try:
        return safe_open(str(path), framework="pt")
    except Exception as exc:  # safetensors raises its own error types
        why = "truncated or damaged" if "incomplete" in str(exc) or "too small" in str(exc) else "not a safetensors file"
        raise CheckpointError(f"{path} is {why} ({str(exc).splitlines()[0]}): download or copy it again") from None


def read_state_dict(path: str | Path, mmap: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a checkpoint safely: (state dict, safetensors metadata or ``{}``); tensors on the CPU.

    Args:
        path: a ``.safetensors`` or torch checkpoint file.
        mmap: memory-map a zip-format torch file (tensors are read on first use).
    """
    path = _existing_file(path)
    if _is_safetensors(path):
        with _open_safetensors(path) as f:
            meta = dict(f.metadata() or {})
            try:
                return {k: f.get_tensor(k) for k in f.keys()}, meta
            except Exception as exc:
                raise CheckpointError(f"{path} is damaged ({str(exc).splitlines()[0]}): download or copy it again") from None
    return unwrap_state_dict(read_checkpoint(path, mmap=check_flag("mmap", mmap)), path), {}


def _summarise(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def check_state_dict(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], path: Path | str) -> None:
    """Raise a short ``WeightsMismatchError`` when a state dict does not fit the network.

    Args:
        model: the network the weights are meant for.
        sd: the state dict to check (names and shapes).
        path: the file it came from, named in the error.
    """
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [f"{k} {tuple(sd[k].shape)} (expected {expected[k]})" for k in expected if k in sd and tuple(sd[k].shape) != expected[k]]
    # a weight stored as integers or booleans would be cast to float without a word: garbage, not a model
    floating = {k for k, v in model.state_dict().items() if v.is_floating_point()}
    wrong += [f"{k} holds {str(sd[k].dtype).removeprefix('torch.')} (expected floating point)"
              for k in expected if k in sd and k in floating and not sd[k].is_floating_point()]
    if missing or unexpected or wrong:
        lines = [f"{path} does not fit this network ({len(expected)} tensors expected, {len(sd)} found):"]
        if missing:
            lines.append(f"  missing {len(missing)} key(s): {_summarise(missing)}")
        if unexpected:
            lines.append(f"  unexpected {len(unexpected)} key(s): {_summarise(unexpected)}")
        if wrong:
            lines.append(f"  {len(wrong)} tensor(s) of the wrong shape or type: {_summarise(wrong, 3)}")
        lines.append("  Pass the preset or config it was trained with (preset=/config=; CLI: --preset NAME / --config FILE.json),"
                     " or download it again if it is truncated.")
        raise WeightsMismatchError("\n".join(lines))


# --------------------------------------------------------------------------- what a file says


def check_unet_config(config: Any, source: str, error: type[IPainterError] = UserInputError) -> UNetConfig:
    """``config`` (guided-diffusion config keys) as a checked ``UNetConfig``, or ``error`` naming ``source`` and the key.

    Args:
        config: the network config to check (guided-diffusion keys).
        source: where it came from, named in the error (a file, a preset).
        error: the error type raised for a bad config.
    """
    if not isinstance(config, Mapping):
        raise error(f"{source}: the network config must be a JSON object of guided-diffusion config keys, "
                    f"got a {type(config).__name__}")
    try:
        return UNetConfig.from_dict(dict(config))  # validated: its sizes, levels and heads fit together
    except UNetConfigError as exc:
        problem = exc.problem
    except (TypeError, ValueError) as exc:
        problem = str(exc)
    raise error(f"{source}: {problem}; fix the config (CLI: --config FILE.json)")


def read_unet_config(config: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A UNet config given as a mapping or as a JSON file of guided-diffusion config keys, checked.

    Args:
        config: a mapping of guided-diffusion config keys, or the path of a JSON file holding one.
    """
    source = "config"
    if isinstance(config, (str, Path)):
        source = str(check_path("config", config))  # "" would be "." (a folder)
        nowhere = broken_link(Path(config).expanduser())
        if nowhere is not None:
            raise UserInputError(f"config file {nowhere}")
        if not Path(config).expanduser().exists():
            raise UserInputError(f"config file {source} does not exist: pass a JSON file of guided-diffusion config keys")
        text = read_bounded(Path(config).expanduser(), 1 << 20, f"config file {source}")
        try:
            config = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserInputError(
                f"config file {source} is not readable JSON ({exc}): write an object such as "
                '{"image_size": 256, "num_channels": 256, "learn_sigma": true, ...}'
            ) from None
    check_unet_config(config, source)
    return dict(config)


def recorded_settings(path: str | Path) -> dict[str, Any]:
    """The settings ``save_model`` recorded in a safetensors file (``{}`` for other files), read without the weights.

    Args:
        path: the checkpoint file.
    """
    path = _existing_file(path)
    if not _is_safetensors(path):
        return {}
    with _open_safetensors(path) as f:
        raw = (f.metadata() or {}).get(METADATA_KEY)
    if raw is None:
        return {}
    try:
        info = json.loads(raw)
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
        if "default_schedule" in info:
            info["default_schedule"] = ScheduleConfig.from_dict(info["default_schedule"])
        # a truth model exported before picture models were recorded carries its field, which is its pictures' model
        record = info.pop("picture_model", info.get("gaussian_field"))
        if record is not None:
            info["picture_model"] = GaussianImageModel.from_dict(record)
        return info
    except (ValueError, TypeError, UserInputError) as exc:
        raise CheckpointError(f"{path} records unreadable settings ({exc}): save it again with save_model") from None


def read_checkpoint_info(
    name_or_path: str | Path,
    *,
    preset: str | None = None,
    config: Mapping[str, Any] | str | Path | None = None,
) -> dict[str, Any]:
    """What is known about a model without loading its weights.

    ``name_or_path`` is a preset name or a checkpoint file. The settings come, later ones
    winning: from the preset (``preset=``, the name, or a file named like a preset's
    published file), from what the file records (``save_model`` writes it), and from an
    explicit ``config`` (a mapping or a JSON file) for the network.

    Returns a dict with ``name``, ``path`` (None for a preset whose file is looked up
    later), ``preset`` (its name or None), ``unet_config`` (None when unknown),
    ``variance_type`` (None when unknown), ``beta_schedule``, ``num_train_steps``,
    ``default_schedule`` (a ``ScheduleConfig``), ``picture_model`` (the Gaussian model of the pictures
    the weights were trained on, a ``GaussianImageModel``, or None when the file records none) and ``origin`` (where the schedule came from,
    in words).

    Args:
        name_or_path: a preset name or a checkpoint file.
        preset: the preset whose network and defaults a file under another name has.
        config: the network of a checkpoint that records none (a mapping or a JSON file).
    """
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():  # "" would be "." (a folder)
        raise UserInputError(f"the model must be a preset name ({', '.join(sorted(PRESETS))}) or a checkpoint path, "
                             f"got {type(name_or_path).__name__} {name_or_path!r}")
    key = str(name_or_path)
    path: Path | None = None
    if key in PRESETS:
        if preset is not None and preset != key:
            raise UserInputError(f"{key!r} is a preset; preset={preset!r} applies to checkpoint files only: drop one of them")
        base = PRESETS[key]
        path = base.path  # a shipped file records its own settings; others are found when loaded
        origin = f"preset {key!r}"
    else:
        candidate = Path(name_or_path).expanduser()
        nowhere = broken_link(candidate)
        if nowhere is not None:
            raise WeightsNotFoundError(f"the model {nowhere}")
        if not candidate.exists():
            raise WeightsNotFoundError(f"{key!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor an existing checkpoint file")
        path = _existing_file(candidate)
        if path.stat().st_size == 0:
            raise CheckpointError(f"{path} is empty (truncated or damaged): download or copy it again")
        if checkpoint_format(path) is None:
            raise CheckpointError(f"{path} is not a PyTorch checkpoint or safetensors file (its first bytes are neither's). "
                                  f"Use {SAFE_FORMATS}")
        base = get_preset(preset) if preset is not None else preset_for_file(path)
        origin = f"preset {base.name!r} ({path.name})" if base else f"the paper ({path.name} records no schedule)"
    info: dict[str, Any] = {
        "name": base.name if base else Path(key).stem,
        "path": path,
        "preset": base.name if base else None,
        "unet_config": dict(base.unet_config) if base else None,
        "variance_type": base.variance_type if base else None,
        "beta_schedule": base.beta_schedule if base else "linear",
        "num_train_steps": base.num_train_steps if base else 1000,
        "default_schedule": base.default_schedule if base else PAPER_SCHEDULE,
        "picture_model": None,
        "origin": origin,
    }
    recorded = recorded_settings(path) if path is not None and path.is_file() else {}
    for field in ("name", "unet_config", "variance_type", "beta_schedule", "num_train_steps", "default_schedule",
                  "picture_model"):
        if field in recorded:
            info[field] = recorded[field]
    if "default_schedule" in recorded and path is not None:
        info["origin"] = f"preset {key!r} ({path.name})" if key in PRESETS else path.name
    if config is not None:
        info["unet_config"] = read_unet_config(config)
    _check_settings(info, recorded, path)
    return info


def _check_settings(info: dict[str, Any], recorded: Mapping[str, Any], path: Path | None) -> None:
    """The settings a file recorded (or a preset gave) are usable, so that a bad file fails here and not mid-run."""
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{path} records {what}: save it again with save_model, or pass preset=/config= "
                               "(CLI: --preset NAME / --config FILE.json)")

    steps = info["num_train_steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 100_000:
        raise bad(f"num_train_steps={steps!r} (expected a whole number in 1..100000)")
    if info["variance_type"] is not None and info["variance_type"] not in VARIANCE_TYPES:
        raise bad(f"variance_type={info['variance_type']!r} (expected one of {', '.join(VARIANCE_TYPES)})")
    if info["beta_schedule"] not in ("linear", "cosine"):
        raise bad(f"beta_schedule={info['beta_schedule']!r} (expected 'linear' or 'cosine')")
    if not isinstance(info["name"], str) or not info["name"]:
        raise bad(f"name={info['name']!r} (expected a non-empty string)")
    if info["unet_config"] is not None:
        source = f"{path} (its recorded network)" if "unet_config" in recorded else "the network config"
        cfg = check_unet_config(info["unet_config"], source, CheckpointError if "unet_config" in recorded else UserInputError)
        if info["variance_type"] == "learned_range" and not cfg.learn_sigma:
            raise UserInputError(f"{path}: variance_type 'learned_range' needs a network with learn_sigma true (6 output "
                                 "channels), but the network config has learn_sigma false: pass the config the file was "
                                 "trained with (CLI: --config FILE.json or --preset NAME)")


# --------------------------------------------------------------------------- saving


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
    picture_model: GaussianImageModel | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a self-describing safetensors checkpoint (settings in its metadata), atomically.

    Args:
        unet: the network whose weights are saved.
        path: the ``.safetensors`` file to write (replaced atomically).
        name: the model's name, shown by ``load_model`` and the CLI.
        unet_config: the guided-diffusion config keys of ``unet``.
        variance_type: ``fixed_small``, ``fixed_large`` or ``learned_range``.
        default_schedule: the schedule ``paint`` uses when given none.
        beta_schedule: the noise schedule the model was trained with (``linear`` or ``cosine``).
        num_train_steps: the number of training timesteps.
        dtype: the dtype the weights are stored in.
        picture_model: the Gaussian model of the pictures the weights were trained on (the
            surrogate ``plan_schedule`` calibrates to; ``load_model`` gives it back as
            ``DiffusionModel.picture_model``), or None.
        extra: more metadata to record (JSON-serialisable values).
    """
    from safetensors.torch import save

    path = Path(path)
    info = {
        "name": name, "unet_config": dict(unet_config), "variance_type": variance_type,
        "beta_schedule": beta_schedule, "num_train_steps": num_train_steps,
        "default_schedule": default_schedule.to_dict(),
        **(dict(extra) if extra else {}),
    }
    if picture_model is not None:
        if not isinstance(picture_model, GaussianImageModel):
            raise UserInputError(f"picture_model must be an exact.GaussianImageModel (e.g. GaussianImageModel.fit(pictures)) "
                                 f"or None, got {type(picture_model).__name__}")
        info["picture_model"] = picture_model.to_dict()
    tensors = {k: v.detach().to("cpu", dtype=dtype if v.is_floating_point() else v.dtype).contiguous()
               for k, v in unet.state_dict().items()}
    atomic_write(path, lambda f: f.write(save(tensors, metadata={METADATA_KEY: json.dumps(info)})))
    return path


# --------------------------------------------------------------------------- memory


class MappedFile:
    """Where this process maps a checkpoint file, to give back pages of tensors already copied.

    ``torch.load(mmap=True)`` maps the file privately; every page read counts in the resident
    set until the mapping goes away, which is only after the last tensor of the file is
    released. Converting 2.2 GB of weights to another dtype or to channels_last would
    otherwise hold the file's pages and the copies at once. ``madvise(MADV_DONTNEED)`` drops
    the pages of a tensor that has been copied; a later read would fetch them from the file
    again, so it never changes what a tensor holds. Only whole pages inside the tensor's own
    bytes are dropped, and only inside a mapping of this file. Linux only; elsewhere a no-op.

    Args:
        path: the checkpoint file that ``torch.load(mmap=True)`` maps.
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
        """Give back the file pages under ``tensor`` (call it once the tensor has been copied).

        Args:
            tensor: a tensor that lies in the mapped file and has been copied elsewhere.
        """
        if not self.ranges or tensor.device.type != "cpu":
            return
        start = tensor.data_ptr()
        end = start + tensor.numel() * tensor.element_size()
        lo = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE  # round inwards: pages shared with a neighbour stay
        hi = end // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo and any(a <= lo and hi <= b for a, b in self.ranges):
            self._madvise(lo, hi - lo, self.MADV_DONTNEED)


public_names(globals())  # after every public definition
