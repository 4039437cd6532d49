"""Conversions at the edges: tensors <-> PIL, masks, robust cutout loading, atomic writes."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ipainter_nb.images import (
    ImageLoadError,
    ImageLoadWarning,
    load_mask,
    load_rgba,
    make_grid,
    mask_to_pil,
    pil_to_tensor,
    save_png_atomic,
    tensor_to_pil,
    tensor_to_uint8,
    write_bytes_atomic,
    write_text_atomic,
)


def red_disc(size: int = 32) -> Image.Image:
    """A red disc on a transparent square: the typical cutout."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((4, 4, size - 5, size - 5), fill=(255, 0, 0, 255))
    return img


def png_bytes(img: Image.Image, **save_args) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **save_args)
    return buf.getvalue()


# --------------------------------------------------------------------------- tensors


def test_pil_tensor_round_trip_is_exact():
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    t = pil_to_tensor(Image.fromarray(arr))
    assert t.shape == (3, 5, 7) and t.dtype == torch.float32
    assert t.min() >= -1 and t.max() <= 1
    assert np.array_equal(np.asarray(tensor_to_pil(t)), arr)


def test_pil_to_tensor_maps_black_and_white_to_the_ends():
    img = Image.new("RGB", (2, 1))
    img.putpixel((0, 0), (0, 0, 0))
    img.putpixel((1, 0), (255, 255, 255))
    t = pil_to_tensor(img)
    assert torch.equal(t[:, 0, 0], torch.full((3,), -1.0))
    assert torch.equal(t[:, 0, 1], torch.full((3,), 1.0))


def test_tensor_to_pil_accepts_a_batch_of_one_and_clamps():
    t = torch.full((1, 3, 4, 4), 5.0)  # out of range
    t[0, :, 0, 0] = -5.0
    img = tensor_to_pil(t)
    assert img.mode == "RGB" and img.size == (4, 4)
    assert img.getpixel((1, 1)) == (255, 255, 255)
    assert img.getpixel((0, 0)) == (0, 0, 0)
    with pytest.raises(ValueError, match="batch of 2"):
        tensor_to_pil(torch.zeros(2, 3, 4, 4))


def test_tensor_to_uint8_shapes():
    assert tensor_to_uint8(torch.zeros(3, 4, 5)).shape == (4, 5, 3)
    batch = tensor_to_uint8(torch.zeros(2, 3, 4, 5))
    assert batch.shape == (2, 4, 5, 3) and batch.dtype == np.uint8
    assert batch[0, 0, 0, 0] == 128  # 0.0 is mid-grey


# --------------------------------------------------------------------------- masks


def test_mask_round_trip_through_png(tmp_path):
    keep = torch.zeros(1, 6, 8)
    keep[:, 1:4, 2:7] = 1
    img = mask_to_pil(keep)
    assert img.mode == "L" and img.getpixel((2, 1)) == 255 and img.getpixel((0, 0)) == 0
    save_png_atomic(img, tmp_path / "mask.png")
    back = load_mask(tmp_path / "mask.png")
    assert back.shape == (1, 6, 8) and back.dtype == torch.float32
    assert torch.equal(back, keep)


@pytest.mark.parametrize("mode", ["L", "1", "RGB", "RGBA"])
def test_load_mask_accepts_common_modes(tmp_path, mode):
    white = {"L": 255, "1": 1, "RGB": (255, 255, 255), "RGBA": (255, 255, 255, 255)}[mode]
    img = Image.new(mode, (5, 4), 0)
    img.putpixel((3, 2), white)
    img.save(tmp_path / "m.png")
    keep = load_mask(tmp_path / "m.png")
    assert keep.sum() == 1 and keep[0, 2, 3] == 1


def test_load_mask_thresholds_at_127_and_resizes_nearest(tmp_path):
    img = Image.new("L", (2, 1))
    img.putpixel((0, 0), 127)
    img.putpixel((1, 0), 128)
    img.save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png").tolist() == [[[0.0, 1.0]]]
    big = load_mask(tmp_path / "m.png", size=(4, 2))
    assert big.shape == (1, 2, 4) and set(big.unique().tolist()) == {0.0, 1.0}


def test_transparent_pixels_of_an_rgba_mask_are_not_kept(tmp_path):
    img = Image.new("RGBA", (2, 1), (255, 255, 255, 0))  # white but transparent
    img.putpixel((1, 0), (255, 255, 255, 255))
    img.save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png").tolist() == [[[0.0, 1.0]]]


# --------------------------------------------------------------------------- load_rgba


def test_rgba_png_loads_unchanged_and_silently(tmp_path):
    disc = red_disc()
    disc.save(tmp_path / "disc.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        img = load_rgba(tmp_path / "disc.png")
    assert img.mode == "RGBA"
    assert np.array_equal(np.asarray(img), np.asarray(disc))


def test_bytes_and_pil_images_are_accepted():
    disc = red_disc()
    assert load_rgba(png_bytes(disc)).size == (32, 32)
    copy = load_rgba(disc)
    assert copy is not disc and np.array_equal(np.asarray(copy), np.asarray(disc))


def test_rgb_becomes_opaque_with_a_warning(tmp_path):
    Image.new("RGB", (10, 8), (0, 128, 255)).save(tmp_path / "photo.png")
    with pytest.warns(ImageLoadWarning, match="no alpha channel.*opaque"):
        img = load_rgba(tmp_path / "photo.png")
    assert img.mode == "RGBA"
    assert img.getchannel("A").getextrema() == (255, 255)
    assert img.getpixel((3, 3)) == (0, 128, 255, 255)


def test_greyscale_becomes_opaque_with_a_warning():
    with pytest.warns(ImageLoadWarning, match="greyscale"):
        img = load_rgba(png_bytes(Image.new("L", (6, 6), 90)))
    assert img.getpixel((0, 0)) == (90, 90, 90, 255)


def test_palette_transparency_is_respected():
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)  # index 0 black, index 1 green
    ImageDraw.Draw(pal).rectangle((2, 2, 5, 5), fill=1)
    with pytest.warns(ImageLoadWarning, match="palette.*transparency is kept"):
        img = load_rgba(png_bytes(pal, transparency=0))
    assert img.getpixel((0, 0))[3] == 0
    assert img.getpixel((3, 3)) == (0, 200, 0, 255)


def test_palette_without_transparency_is_opaque():
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    with pytest.warns(ImageLoadWarning, match="palette image without transparency"):
        img = load_rgba(png_bytes(pal))
    assert img.getchannel("A").getextrema() == (255, 255)


def test_la_keeps_its_alpha():
    la = Image.new("LA", (6, 6), (200, 0))
    la.putpixel((2, 2), (200, 255))
    with pytest.warns(ImageLoadWarning, match="LA"):
        img = load_rgba(png_bytes(la))
    assert img.getpixel((2, 2)) == (200, 200, 200, 255)
    assert img.getpixel((0, 0))[3] == 0


def test_16_bit_greyscale_is_scaled_to_8_bits(tmp_path):
    arr = np.array([[0, 128 * 257, 65535, 65535]] * 4, dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "depth.png")
    with Image.open(tmp_path / "depth.png") as check:
        assert check.mode in ("I;16", "I")  # really a 16-bit file
    with pytest.warns(ImageLoadWarning, match="16-bit.*8 bits"):
        img = load_rgba(tmp_path / "depth.png")
    assert [img.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]
    assert img.getpixel((0, 0))[3] == 255


def test_huge_image_is_downscaled_keeping_aspect():
    big = Image.new("RGBA", (1200, 600), (10, 20, 30, 255))
    with pytest.warns(ImageLoadWarning, match="1200x600.*downscaled to 512x256"):
        img = load_rgba(png_bytes(big), max_size=512)
    assert img.size == (512, 256)
    assert load_rgba(png_bytes(big), max_size=None).size == (1200, 600)


def test_not_an_image_names_the_file(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    with pytest.raises(ImageLoadError, match=r"notes\.png: not a readable image.*PNG"):
        load_rgba(bad)
    with pytest.raises(ImageLoadError, match="upload.png: not a readable image"):
        load_rgba(b"\x89PNG truncated", name="upload.png")


def test_missing_file_is_an_image_load_error(tmp_path):
    with pytest.raises(ImageLoadError, match="ghost.png: file not found"):
        load_rgba(tmp_path / "ghost.png")


def test_tiny_image_is_rejected_with_its_size_and_the_minimum():
    with pytest.raises(ImageLoadError, match=r"3x10 px.*at least 4x4"):
        load_rgba(png_bytes(Image.new("RGBA", (3, 10), (255, 0, 0, 255))), name="dot.png")


def test_fully_transparent_image_is_rejected():
    with pytest.raises(ImageLoadError, match="ghost.png: image is fully transparent"):
        load_rgba(png_bytes(Image.new("RGBA", (16, 16), (255, 0, 0, 0))), name="ghost.png")


def test_image_load_error_is_a_value_error():
    assert issubclass(ImageLoadError, ValueError)


# --------------------------------------------------------------------------- atomic writes


def test_save_png_atomic_accepts_tensors_and_leaves_no_temp_file(tmp_path):
    t = torch.zeros(3, 4, 6)
    t[0] = 1.0  # red
    out = save_png_atomic(t, tmp_path / "red.png")
    assert out == tmp_path / "red.png"
    assert os.listdir(tmp_path) == ["red.png"]
    with Image.open(out) as back:
        assert back.getpixel((0, 0)) == (255, 128, 128)


def test_failed_save_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "picture.png"
    save_png_atomic(red_disc(), target)
    before = target.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"half a png")  # the crash happens mid-write
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_png_atomic(Image.new("RGB", (4, 4)), target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["picture.png"]


def test_atomic_text_and_bytes_replace_content(tmp_path):
    p = tmp_path / "settings.json"
    write_text_atomic(p, "{}")
    write_text_atomic(p, '{"seed": 3}')
    assert p.read_text() == '{"seed": 3}'
    write_bytes_atomic(tmp_path / "blob.bin", b"\x00\x01")
    assert (tmp_path / "blob.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["blob.bin", "settings.json"]
    # A fresh file gets ordinary permissions, not mkstemp's private 0600.
    assert p.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


# --------------------------------------------------------------------------- grids


def test_make_grid_tiles_with_a_2px_gap():
    imgs = torch.full((3, 3, 4, 5), -1.0)  # three black 5x4 images
    imgs[1] = 0.0  # the second one grey
    grid = make_grid(imgs, nrow=2)
    # 2 columns of 5 px + 2 px gap; 2 rows of 4 px + 2 px gap.
    assert grid.size == (12, 10)
    assert grid.getpixel((4, 0)) == (0, 0, 0)  # first image
    assert grid.getpixel((5, 0)) == grid.getpixel((6, 0)) == (255, 255, 255)  # the gap
    assert grid.getpixel((7, 0)) == (128, 128, 128)  # second image
    assert grid.getpixel((0, 4)) == (255, 255, 255)  # gap between rows
    assert grid.getpixel((0, 6)) == (0, 0, 0)  # third image starts the second row
    assert grid.getpixel((11, 9)) == (255, 255, 255)  # empty cell is left as background
