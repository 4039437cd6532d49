"""The preset table: the published (and shipped) models, and where their weights are looked for.

``find_weights("places256")`` looks for ``places256_300000.pt`` in ``$IPAINTER_WEIGHTS``, then
``~/.cache/ipainter_nb``, then ``./weights``; the ``demo`` model ships inside the package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checks import check_path
from ..errors import IPainterError, UserInputError
from ..public import public_names
from .schedules import ScheduleConfig

__all__ = [
    "Preset",
    "PRESETS",
    "GUIDED_DIFFUSION_256",
    "PAPER_SCHEDULE",
    "DEMO_WEIGHTS",
    "WeightsNotFoundError",
    "search_dirs",
    "default_download_dir",
    "find_weights",
    "get_preset",
    "preset_for_file",
]

# The 256² guided-diffusion architecture shared by places256, celeba256 and OpenAI's
# unconditional ImageNet model (tests/fixtures/reference/places256_unconditional_manifest.json).
GUIDED_DIFFUSION_256: Mapping[str, Any] = dict(
    image_size=256, num_channels=256, num_res_blocks=2, channel_mult=[1, 1, 2, 2, 4, 4],
    attention_resolutions=[32, 16, 8], num_heads=4, num_head_channels=64, num_heads_upsample=-1,
    learn_sigma=True, use_scale_shift_norm=True, resblock_updown=True, use_new_attention_order=False,
    class_cond=False, dropout=0.0,
)

# The paper's sampling settings: 250 respaced steps, jumps of 10 repeated 10 times, no
# resampling below t = 100.
PAPER_SCHEDULE = ScheduleConfig(t_T=250, jump_length=10, jump_n_sample=10, stop_resampling_at=100)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEMO_WEIGHTS = ASSETS / "demo_model.safetensors"


class WeightsNotFoundError(IPainterError, FileNotFoundError):
    """A preset's weights, or a checkpoint file, are not where they were looked for."""


@dataclass(frozen=True)
class Preset:
    """A published (or shipped) checkpoint: where to find it and how to build its network.

    Args:
        name: the preset's name (``places256``, ``demo``, ...).
        filename: the published file name of its weights.
        unet_config: the network's guided-diffusion config keys.
        description: one line for ``ipainter models``.
        default_schedule: the schedule ``paint`` uses by default.
        beta_schedule: ``linear`` or ``cosine``.
        num_train_steps: the training schedule's number of steps.
        variance_type: ``learned_range``, ``fixed_small`` or ``fixed_large``.
        sha256: the file's SHA-256 when known.
        gdrive_id: the Google Drive id of the published file, if it is there.
        url: an HTTPS address of the file, if any.
        path: a file shipped inside the package (the demo weights), or None.
    """

    name: str
    filename: str
    unet_config: Mapping[str, Any]
    description: str
    default_schedule: ScheduleConfig = PAPER_SCHEDULE
    beta_schedule: str = "linear"
    num_train_steps: int = 1000
    variance_type: str = "learned_range"
    sha256: str | None = None  # unknown for the published files; recorded beside them on first download
    gdrive_id: str | None = None
    url: str | None = None
    path: Path | None = None  # shipped inside the package

    @property
    def downloadable(self) -> bool:
        """Whether ``download_weights`` can fetch this preset's file."""
        return self.path is None and bool(self.gdrive_id or self.url)

    def how_to_get(self) -> str:
        """One sentence telling a user how to obtain the weights."""
        if self.path is not None:
            return f"it ships with the package at {self.path}; reinstall ipainter-nb"
        call = f"ipainter_nb.core.download.download_weights({self.name!r})"
        if self.gdrive_id:
            return f"download it with `gdown https://drive.google.com/uc?id={self.gdrive_id}` into ./weights, or call {call}"
        return f"download {self.url} into ./weights, or call {call}"


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
    # The demo model's config also travels inside its safetensors file; these are its values.
    "demo": Preset(
        "demo", DEMO_WEIGHTS.name,
        dict(image_size=64, num_channels=32, num_res_blocks=2, channel_mult=[1, 2, 4, 4],
             attention_resolutions=[8], num_heads=4, num_head_channels=32, learn_sigma=False,
             use_scale_shift_norm=True, resblock_updown=False, class_cond=False, dropout=0.0),
        "small UNet trained on ipainter-nb's procedural 64x64 landscapes (ships with the package)",
        # Resampling only at small t (the window core.schedules.rule.frequency_schedule proposes for a
        # typical hole on the demo scenes' spectrum) beat the paper's truncation on benchmarks/quality.py;
        # the same window over half the levels kept a seam interval overlapping RePaint's on two
        # independent sets of compositions at about half the calls, so it is the default.
        default_schedule=ScheduleConfig(t_T=50, jump_length=3, jump_n_sample=5, stop_resampling_at=0, start_resampling_at=22),
        variance_type="fixed_small",
        path=DEMO_WEIGHTS,
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is a ``UserInputError`` listing the known ones.

    Args:
        name: a preset name.
    """
    if not isinstance(name, str) or name not in PRESETS:
        raise UserInputError(f"unknown preset {name!r}: use one of {', '.join(sorted(PRESETS))} (CLI: --preset NAME)")
    return PRESETS[name]


def preset_for_file(path: str | Path) -> Preset | None:
    """The preset whose published file name ``path`` carries (``places256_300000.pt``), if any.

    Args:
        path: a checkpoint file.
    """
    name = check_path("path", path).name
    return next((p for p in PRESETS.values() if p.filename == name), None)


def search_dirs() -> list[Path]:
    """Where checkpoints are looked for, in order."""
    dirs: list[Path] = []
    env = os.environ.get("IPAINTER_WEIGHTS")
    if env:
        dirs.extend(_expand(Path(p)) for p in env.split(os.pathsep) if p)
    try:
        dirs.append(default_download_dir())
    except UserInputError:
        pass  # no home folder (a container user without one): the other places remain
    dirs.append(Path("weights"))
    return dirs


def _expand(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError:  # "~" without a home folder: the path stays as written
        return path


def default_download_dir() -> Path:
    """Where ``download_weights`` puts files unless told otherwise (one of ``search_dirs()``)."""
    try:
        return Path("~/.cache/ipainter_nb").expanduser()
    except RuntimeError:
        raise UserInputError("this user has no home folder (HOME is unset and the system knows none), so there is no "
                             "~/.cache/ipainter_nb: set HOME, or keep weights in IPAINTER_WEIGHTS or ./weights "
                             "(download_weights(..., dest_dir=FOLDER))") from None


def find_weights(preset: Preset | str) -> Path:
    """The file holding a preset's weights; ``WeightsNotFoundError`` names every place searched.

    Args:
        preset: a preset or its name.
    """
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    if preset.path is not None:
        if preset.path.is_file():
            return preset.path
        raise WeightsNotFoundError(f"the {preset.name!r} weights are missing from {preset.path}; {preset.how_to_get()}")
    tried = []
    for folder in search_dirs():
        if _is_file(folder):
            if folder.name == preset.filename:  # IPAINTER_WEIGHTS naming the file itself
                return folder
            tried.append(f"{folder} (a file, not a folder: IPAINTER_WEIGHTS lists folders, separated by {os.pathsep!r})")
            continue
        candidate = folder / preset.filename
        # abspath, not resolve(): a link loop on the way must be a place looked in, not a RuntimeError
        tried.append(os.path.abspath(candidate) + _why_not_a_file(candidate))
        if _is_file(candidate):
            return candidate
    raise WeightsNotFoundError(
        f"{preset.filename} (preset {preset.name!r}) was not found. Looked in:\n  "
        + "\n  ".join(tried)
        + f"\nTo get it, {preset.how_to_get()}. Set IPAINTER_WEIGHTS to a folder holding it to use another place."
    )


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long, a loop: not a file that can be read
        return False


def _why_not_a_file(path: Path) -> str:
    """What is at ``path`` when it is there but is no readable file (`` (a folder)``), else ``""``."""
    try:
        if path.is_dir():
            return " (a folder, not the weights file)"
        os.stat(path)
    except FileNotFoundError:
        return " (a symbolic link to nowhere)" if os.path.islink(path) else ""
    except OSError as exc:
        return f" ({exc.strerror.lower()})" if exc.strerror else ""
    return ""


public_names(globals())  # after every public definition
