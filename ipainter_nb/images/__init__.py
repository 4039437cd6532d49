"""Conversions at the edges: PIL / numpy / files <-> the core's tensors, and safe file writes.

The core works on float tensors in [-1, 1] (images) and {0, 1} (keep masks, 1 = keep the
known pixel, 0 = generate, as RePaint's ``gt_keep_mask``). Everything that touches PIL,
uint8 arrays or the file system goes through this module so the conventions live in one
place:

- tensors: ``pil_to_tensor``, ``tensor_to_pil``, ``tensor_to_uint8`` (numpy, HWC),
  ``quantize_uint8`` / ``uint8_to_tensor`` (the uint8 frames a run keeps), ``make_grid``,
  ``upscale_nearest``;
- files: ``open_image`` (every PIL mode by its real range, EXIF orientation applied),
  ``load_picture``, ``load_mask``, ``load_picture_and_mask``, ``load_rgba`` (cutouts),
  ``centre_square``, ``IMAGE_SUFFIXES``;
- safe writes: ``atomic_write`` & co, ``clean_leftovers`` / ``remove_stale_temps``,
  ``claim_output``.

The package is split by idea: ``convert`` (tensors and modes), ``load`` (reading files),
``writes`` (atomic writes), ``leftovers`` (claims and what killed runs left); every public
name is importable from ``ipainter_nb.images``.

How PIL modes are read (pictures, masks and cutouts alike):

- ``I;16``, ``I;16B``, ``I;16L``, ``I;16N``: 16-bit greyscale, 0..65535.
- ``I`` (32-bit integer): a PNG can only hold 16-bit data there (older Pillow opens 16-bit
  PNGs as ``I``), so a PNG is read as 0..65535; from other formats, values up to 255 are
  read as 8-bit data and anything larger as 16-bit data (0..65535, clipped).
- ``F`` (float): 0..1 when no value exceeds 1, otherwise 0..255 (clipped); NaN reads as 0.
- palette, ``LA``, ``CMYK``, ``YCbCr``, ...: converted by PIL, alpha kept where there is one.

An animated image (GIF, APNG, WebP with several frames) is refused: which frame is meant is
ambiguous. A still GIF is a valid picture, so ``.gif`` is in ``IMAGE_SUFFIXES``.

Interruptions: ``atomic_write`` removes its temp file when the write raises, including
``KeyboardInterrupt`` and ``SystemExit``. SIGTERM, SIGHUP and SIGQUIT kill a Python process
without running ``except``/``finally`` blocks unless a handler turns them into an exception:
the ``ipainter`` command installs one (``ipainter_nb.signals``); the library installs none.
Temp and claim files left by a hard kill are removed later by ``clean_leftovers``.
"""

from ipainter_nb.signals import signals_deferred

from .convert import (
    MASK_THRESHOLD,
    make_grid,
    mask_to_pil,
    pil_to_tensor,
    quantize_uint8,
    tensor_to_pil,
    tensor_to_uint8,
    uint8_to_tensor,
    upscale_nearest,
)
from .leftovers import Leftovers, OutputClaim, claim_output, clean_leftovers, remove_stale_temps
from .load import (
    IMAGE_SUFFIXES,
    MAX_IMAGE_FILE_BYTES,
    MAX_PICTURE_SIDE,
    MIN_CUTOUT_SIZE,
    ImageLoadError,
    ImageLoadWarning,
    ImageSizeError,
    centre_square,
    check_cutout,
    load_mask,
    load_picture,
    load_picture_and_mask,
    load_rgba,
    open_image,
    picture_size,
    read_bounded,
)
from .writes import _HOST, atomic_write, png_bytes, save_png_atomic, temp_file, write_bytes_atomic, write_text_atomic

__all__ = [
    "png_bytes",
    "IMAGE_SUFFIXES",
    "ImageLoadError",
    "ImageLoadWarning",
    "ImageSizeError",
    "Leftovers",
    "MASK_THRESHOLD",
    "MAX_IMAGE_FILE_BYTES",
    "MAX_PICTURE_SIDE",
    "MIN_CUTOUT_SIZE",
    "OutputClaim",
    "atomic_write",
    "centre_square",
    "check_cutout",
    "claim_output",
    "clean_leftovers",
    "load_mask",
    "load_picture",
    "load_picture_and_mask",
    "load_rgba",
    "picture_size",
    "make_grid",
    "mask_to_pil",
    "open_image",
    "pil_to_tensor",
    "quantize_uint8",
    "read_bounded",
    "remove_stale_temps",
    "save_png_atomic",
    "signals_deferred",
    "temp_file",
    "tensor_to_pil",
    "tensor_to_uint8",
    "uint8_to_tensor",
    "upscale_nearest",
    "write_bytes_atomic",
    "write_text_atomic",
]
_HOST = _HOST  # which machine wrote a temp or claim file (tests fake leftovers with it)
