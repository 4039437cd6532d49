"""The pictures a model trains on, and the Gaussian model of them that its weights then carry.

Three sources, each giving batch k as a pure function of (seed, k) so that a resumed run is
exact: procedural landscapes (:class:`ProceduralScenes`, the demo model's), a folder of
pictures (:class:`ImageFolder`) and draws of a Gaussian field
(:class:`~ipainter_nb.train_fields.GaussianFields`, the neural truth models'). Each also says
which Gaussian picture model stands for its pictures (``picture_model()``): ``train.export``
records it with the weights, and ``plan_schedule`` calibrates to it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .checks import broken_link
from .core.exact import GaussianImageModel
from .errors import IPainterError, UserInputError, warn_caller
from .images import IMAGE_SUFFIXES, ImageLoadError, load_picture, open_image, quantize_uint8, uint8_to_tensor
from .public import public_names
from .train_fields import GaussianFields, batch_seed

__all__ = ["ProceduralScenes", "ImageFolder", "TrainingDataNotFoundError", "training_pictures", "FIT_PICTURES"]

#: Pictures a source's picture model is fitted to.
FIT_PICTURES = 64


class TrainingDataNotFoundError(IPainterError, FileNotFoundError):
    """``--data`` names no folder."""


class ProceduralScenes:
    """Endless fresh landscapes; batch k is a pure function of (seed, k), so resuming is exact.

    Args:
        seed: the seed every batch derives from.
        image_size: the side of the pictures in pixels.
    """

    def __init__(self, seed: int, image_size: int):
        from .demo.scenes import make_scenes

        self._make = make_scenes
        self.seed = seed
        self.size = image_size

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        """The batch of ``step``: (batch_size, 3, size, size) in [-1, 1], the same for the same step.

        Args:
            step: the training step.
            batch_size: pictures in the batch.
        """
        images = self._make(batch_size, seed=batch_seed(self.seed, step), size=self.size)
        return uint8_to_tensor(torch.from_numpy(images).permute(0, 3, 1, 2))

    def picture_model(self) -> GaussianImageModel:
        """The Gaussian fit of :data:`FIT_PICTURES` of these landscapes (those of the first batches)."""
        return GaussianImageModel.fit(self.batch(0, FIT_PICTURES))


class ImageFolder:
    """A folder of pictures, centre-cropped and resized to the model's size, held in memory as uint8.

    Args:
        folder: the folder of pictures (sub-folders too).
        image_size: the side they are resized to.
        seed: seeds which pictures make each batch.
    """

    def __init__(self, folder: str | Path, image_size: int, seed: int):
        folder = Path(folder)
        if not folder.is_dir():
            problem = "does not exist" if not folder.exists() else "is not a folder"
            problem = broken_link(folder) or f"{folder} {problem}: pass a folder of pictures to --data"
            raise TrainingDataNotFoundError(f"training folder {problem}")
        # a link that leads nowhere is listed, so that the warning of skipped files counts it
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and (p.is_file() or broken_link(p)))
        if not files:
            raise UserInputError(f"no images in {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}, in subfolders too)")
        images, skipped, sizes, first_problem = [], [], set(), ""
        for path in files:
            try:
                if nowhere := broken_link(path):
                    raise ImageLoadError(nowhere)
                picture = open_image(path)
                sizes.add(picture.size)
                images.append(quantize_uint8(load_picture(picture, image_size, fit="crop", name=path.name)))
            except ImageLoadError as exc:  # unreadable files are skipped, not fatal
                skipped.append(repr(path.name))
                first_problem = first_problem or str(exc)
        if skipped:
            warn_caller(f"skipped {len(skipped)} unreadable file(s) of {len(files)}: {', '.join(skipped[:5])} "
                        f"(the first: {first_problem})")
        if not images:
            raise UserInputError(f"none of the {len(files)} image files in {folder} could be read (the first: {first_problem}); "
                                 "pass a folder of PNG or JPEG pictures to --data")
        if len(sizes) > 1:
            print(f"{len(images)} images of {len(sizes)} different sizes: each is centre-cropped to a square and resized to {image_size}")
        self.images = torch.stack(images)  # uint8 keeps a large folder small in memory
        self.seed = seed
        self.skipped = len(skipped)

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        """The batch of ``step``: (batch_size, 3, size, size) in [-1, 1], the same for the same step.

        Args:
            step: the training step.
            batch_size: pictures in the batch.
        """
        g = torch.Generator().manual_seed(batch_seed(self.seed, step))
        idx = torch.randint(len(self.images), (batch_size,), generator=g)
        x = uint8_to_tensor(self.images[idx])
        flip = torch.rand(batch_size, generator=g) < 0.5
        x[flip] = x[flip].flip(-1)  # horizontal flips double a small folder
        return x

    def picture_model(self) -> GaussianImageModel:
        """The Gaussian fit of up to :data:`FIT_PICTURES` of the folder's pictures, spread over it."""
        step = max(1, len(self.images) // FIT_PICTURES)
        return GaussianImageModel.fit(uint8_to_tensor(self.images[::step][:FIT_PICTURES]))


def training_pictures(data: str | Path | None, gaussian_field: str | None, seed: int, size: int
                      ) -> ProceduralScenes | ImageFolder | GaussianFields:
    """The source of a run's pictures: the folder ``data``, else draws of ``gaussian_field``, else landscapes.

    Args:
        data: a folder of pictures, or None.
        gaussian_field: a field spec (``train_fields.field_model``), or None.
        seed: the seed every batch derives from.
        size: the side of the pictures in pixels.
    """
    if data:
        return ImageFolder(data, size, seed)
    if gaussian_field:
        return GaussianFields(gaussian_field, seed, size)
    return ProceduralScenes(seed, size)


public_names(globals())  # after every public definition
