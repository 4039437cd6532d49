"""Conversions at the edges: tensors <-> PIL, masks, robust cutout loading, atomic writes."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ipainter_nb import images
from ipainter_nb.errors import UserInputError
from ipainter_nb.images import (
    IMAGE_SUFFIXES,
    ImageLoadError,
    ImageLoadWarning,
    centre_square,
    claim_output,
    load_mask,
    load_picture,
    load_picture_and_mask,
    load_rgba,
    make_grid,
    mask_to_pil,
    open_image,
    pil_to_tensor,
    quantize_uint8,
    remove_stale_temps,
    save_png_atomic,
    tensor_to_pil,
    tensor_to_uint8,
    uint8_to_tensor,
    upscale_nearest,
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


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_picture_with_non_finite_values_is_refused_not_written_as_black(tmp_path, bad):
    picture = torch.zeros(3, 4, 4)
    picture[1, 2, 3] = bad
    for write in (lambda: tensor_to_pil(picture), lambda: save_png_atomic(picture, tmp_path / "out.png"),
                  lambda: make_grid(picture[None].repeat(2, 1, 1, 1))):
        with pytest.raises(UserInputError, match=r"holds [12] non-finite values \(NaN or inf\)"):
            write()
    assert not list(tmp_path.iterdir())  # nothing written


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


def test_a_warning_points_at_the_line_of_the_users_call_however_deep_it_is_said(tmp_path):
    """The library's wrappers and helpers add frames; the warning still names the user's line."""
    import inspect

    import ipainter_nb as ip

    Image.new("RGB", (10, 8), (0, 128, 255)).save(tmp_path / "photo.png")
    comp = ip.Composition(size=16)
    comp.observe(lambda _: 1 / 0)
    for act in (lambda: load_rgba(tmp_path / "photo.png"), lambda: ip.Layer.from_file(tmp_path / "photo.png"),
                lambda: comp.clear()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            act()
        assert [(w.filename, w.lineno) for w in caught] == [(__file__, inspect.getsourcelines(act)[1])]


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


# --------------------------------------------------------------------------- conversions of every kind


def test_tensor_to_uint8_takes_uint8_frames_and_quantize_round_trips():
    images = torch.rand(2, 3, 4, 5) * 2 - 1
    frames = quantize_uint8(images)
    assert frames.dtype == torch.uint8 and frames.shape == images.shape
    assert np.array_equal(tensor_to_uint8(frames), tensor_to_uint8(images))
    assert torch.equal(quantize_uint8(uint8_to_tensor(frames)), frames)
    assert (uint8_to_tensor(frames) - images).abs().max() <= 1 / 127.5


def test_upscale_nearest_keeps_pixels_crisp():
    img = Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8))
    big = upscale_nearest(img, 3)
    assert big.size == (6, 6)
    assert set(np.unique(np.asarray(big))) == {0, 255}  # no blended values
    with pytest.raises(ValueError, match="factor"):
        upscale_nearest(img, 0)


def test_centre_square_crops_the_middle():
    img = Image.new("L", (10, 4))
    img.putpixel((3, 0), 255)  # first column of the centred 4x4 square
    square = centre_square(img)
    assert square.size == (4, 4) and square.getpixel((0, 0)) == 255


def _grey_file(tmp_path, mode: str, fraction: float) -> str:
    """A greyscale file at ``fraction`` of white, stored in ``mode`` at that mode's full range."""
    if mode == "I;16":
        img, name = Image.fromarray(np.full((8, 8), round(fraction * 65535), np.uint16)), "grey.png"
    elif mode == "I;16B":
        raw = np.full((8, 8), round(fraction * 65535), ">u2").tobytes()
        img, name = Image.frombytes("I;16B", (8, 8), raw), "grey.tif"
    elif mode == "I":
        img, name = Image.fromarray(np.full((8, 8), round(fraction * 65535), np.int32)), "grey.tif"
    elif mode == "F":
        img, name = Image.fromarray(np.full((8, 8), fraction, np.float32)), "grey.tif"
    elif mode == "I (8-bit values)":  # 32-bit integers holding 0..255 data, outside a PNG
        img, name, mode = Image.fromarray(np.full((8, 8), round(fraction * 255), np.int32)), "grey.tif", "I"
    else:
        img, name = Image.new("L", (8, 8), round(fraction * 255)), "grey.png"
    path = tmp_path / name
    img.save(path)
    with Image.open(path) as check:
        assert check.mode == mode or (mode == "I;16B" and check.mode.startswith("I;16"))
    return str(path)


@pytest.mark.parametrize("mode", ["L", "I;16", "I;16B", "I", "F", "I (8-bit values)"])
def test_a_picture_at_46_percent_grey_reads_as_46_percent_grey_in_every_mode(tmp_path, mode):
    image = load_picture(_grey_file(tmp_path, mode, 0.46))
    grey = (image + 1) / 2
    assert image.shape == (3, 8, 8)
    assert torch.allclose(grey, torch.full_like(grey, 0.46), atol=1 / 255)


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_a_high_bit_depth_mask_is_thresholded_by_its_real_range(tmp_path, mode):
    assert load_mask(_grey_file(tmp_path, mode, 0.30)).max() == 0  # dark grey: generate
    assert load_mask(_grey_file(tmp_path, mode, 0.70)).min() == 1  # light grey: keep


def test_palette_la_and_cmyk_pictures_keep_their_colours():
    red = (200, 30, 30)
    palette = Image.new("RGB", (4, 4), red).convert("P", palette=Image.Palette.ADAPTIVE)
    la = Image.new("LA", (4, 4), (90, 10))
    cmyk = Image.new("RGB", (4, 4), red).convert("CMYK")
    for img, want in ((palette, red), (la, (90, 90, 90)), (cmyk, red)):
        assert tuple(tensor_to_uint8(pil_to_tensor(img))[0, 0]) == want


def _oriented(img: Image.Image, path, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation  # the EXIF Orientation tag
    img.save(path, exif=exif)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_orientation_turns_the_picture_and_its_mask_the_same_way(tmp_path, suffix):
    # Stored 8 wide x 4 high, white on the left; orientation 6 = shown turned 90° clockwise.
    stored = np.zeros((4, 8), np.uint8)
    stored[:, :4] = 255
    picture, mask = tmp_path / f"p{suffix}", tmp_path / "p_mask.png"
    _oriented(Image.fromarray(stored).convert("RGB"), picture, 6)
    _oriented(Image.fromarray(stored), mask, 6)
    image, keep = load_picture_and_mask(picture, mask, size=(4, 8))
    assert image.shape == (3, 8, 4) and keep.shape == (1, 8, 4)
    # The white left side is now the top: picture and mask agree pixel for pixel.
    assert keep[0, :4].min() == 1 and keep[0, 4:].max() == 0
    assert torch.equal((image[0] > 0).float(), keep[0])


def test_picture_and_mask_of_different_sizes_are_refused_with_both_sizes(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    Image.new("L", (8, 6)).save(tmp_path / "a_mask.png")
    with pytest.raises(ImageLoadError, match=r"a_mask\.png is 8x6 but picture .*a\.png is 8x8"):
        load_picture_and_mask(tmp_path / "a.png", tmp_path / "a_mask.png")


def test_a_picture_of_the_wrong_size_names_the_size_needed_or_is_cropped(tmp_path):
    Image.new("RGB", (12, 8), (255, 0, 0)).save(tmp_path / "wide.png")
    with pytest.raises(ImageLoadError, match=r"wide\.png is 12x8 but 8x8 is needed: resize"):
        load_picture(tmp_path / "wide.png", 8)
    assert load_picture(tmp_path / "wide.png", 4, fit="crop").shape == (3, 4, 4)
    assert issubclass(ImageLoadError, UserInputError)


@pytest.mark.parametrize("size", ["64", True, 0, -3, 100_000, 2.5, (8,), (8, 8, 8), (8, None), None])
def test_a_size_that_is_no_size_is_refused_by_name_before_anything_is_read(tmp_path, size):
    Image.new("L", (6, 4), 255).save(tmp_path / "mask.png")
    for load in (lambda: load_mask(tmp_path / "mask.png", size=size), lambda: load_picture(tmp_path / "mask.png", size, fit="crop"),
                 lambda: open_image(tmp_path / "mask.png", expect_size=size)):
        if size is None:  # None: the file's own size
            assert load() is not None
            continue
        with pytest.raises(UserInputError, match=r"(size|expect_size)=.* is invalid: it must be a whole number of pixels"):
            load()
    assert load_mask(tmp_path / "mask.png", size=(12, 8)).shape == (1, 8, 12)  # (width, height)
    with pytest.raises(UserInputError, match="fit='fill' is invalid: it must be 'exact'"):
        load_picture(tmp_path / "mask.png", 4, fit="fill")
    with pytest.raises(UserInputError, match=r"max_size=\(4, 4\) is invalid: it must be a whole number of pixels in"):
        load_rgba(red_disc(), max_size=(4, 4))


def test_an_empty_image_is_refused_not_read_as_nothing():
    for load in (load_mask, load_picture, load_rgba):
        with pytest.raises(ImageLoadError, match=r"an empty image \(0x0 pixels\)"):
            load(Image.new("RGBA", (0, 0)))


def test_gif_is_a_picture_but_an_animated_one_is_refused(tmp_path):
    assert ".gif" in IMAGE_SUFFIXES
    Image.new("RGB", (8, 8), (255, 255, 255)).save(tmp_path / "still.gif")
    assert load_picture(tmp_path / "still.gif").min() == 1.0
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageLoadError, match=r"anim\.gif: an animated image \(2 frames\)"):
        load_picture(tmp_path / "anim.gif")


@pytest.mark.parametrize(("write", "message"), [
    (lambda d: write_bytes_atomic(d / "nope" / "x.bin", b"1"), r"its folder .*nope does not exist; create the folder first"),
    (lambda d: write_bytes_atomic(d / ("a" * 300), b"1"), r"its name is 300 bytes, longer than the 255"),
    (lambda d: write_bytes_atomic(str(d / "a\0b"), b"1"), "holds a NUL character"),
    (lambda d: write_bytes_atomic(d / "x.bin", b"1", replace=torch.tensor(1)), "replace must be True or False"),
    (lambda d: write_text_atomic(d / "t.txt", None), "text must be a str"),
    (lambda d: write_text_atomic(d / "t.txt", "x", encoding="nope"), "encoding='nope' is not a text encoding"),
    (lambda d: write_text_atomic(d / "t.txt", "\ud800"), "cannot be written in utf-8"),
    (lambda d: save_png_atomic(Image.new("CMYK", (4, 4)), d / "c.png"), r"a CMYK image cannot be saved as PNG: convert it"),
    (lambda d: save_png_atomic(np.zeros((4, 4, 3), np.float32), d / "f.png"), "a picture array must be uint8"),
    (lambda d: save_png_atomic("sun.png", d / "s.png"), "img_or_tensor must be a PIL image"),
    (lambda d: images.png_bytes(Image.new("RGB", (4, 4)), compress_level=True), r"compress_level=True is invalid: .* 0\.\.9"),
])
def test_a_write_that_cannot_be_done_is_refused_before_anything_is_written(tmp_path, write, message):
    with pytest.raises(UserInputError, match=message):
        write(tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("call", "message"), [
    (lambda: make_grid(torch.zeros(2, 3, 4, 4), fill=(300, 0, 0)), r"fill must be an \(R, G, B\) colour of three whole numbers"),
    (lambda: make_grid(torch.zeros(2, 3, 4, 4), fill="red"), "fill must be an"),
    (lambda: make_grid([torch.zeros(3, 4, 4), torch.zeros(3, 5, 5)]), r"images must all have one shape to be tiled"),
    (lambda: upscale_nearest(Image.new("RGB", (4, 4)), 10**6), r"factor=1000000 would make the 4x4 image .* more than 16384"),
])
def test_a_grid_or_enlargement_of_no_meaning_is_refused_naming_the_argument(call, message):
    with pytest.raises(UserInputError, match=message):
        call()


def test_replace_false_on_an_existing_file_says_so(tmp_path):
    write_bytes_atomic(tmp_path / "kept.bin", b"old")
    with pytest.raises(FileExistsError, match="kept.bin exists and replace=False: it was left as it is"):
        write_bytes_atomic(tmp_path / "kept.bin", b"new", replace=False)
    assert (tmp_path / "kept.bin").read_bytes() == b"old"


# --------------------------------------------------------------------------- interruptions and leftovers


@pytest.mark.parametrize("interruption", [SystemExit(143), KeyboardInterrupt()])
def test_an_interrupted_write_leaves_no_temp_and_the_old_file(tmp_path, interruption):
    target = tmp_path / "out.png"
    write_bytes_atomic(target, b"old")

    def interrupted(f):
        f.write(b"half")
        raise interruption  # what the CLI's SIGTERM handler raises, or Ctrl-C

    with pytest.raises(type(interruption)):
        from ipainter_nb.images import atomic_write

        atomic_write(target, interrupted)
    assert os.listdir(tmp_path) == ["out.png"] and target.read_bytes() == b"old"


def test_replace_false_never_overwrites(tmp_path):
    target = tmp_path / "out.png"
    write_bytes_atomic(target, b"theirs")
    with pytest.raises(FileExistsError, match="left as it is"):
        write_bytes_atomic(target, b"mine", replace=False)
    assert target.read_bytes() == b"theirs" and os.listdir(tmp_path) == ["out.png"]


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(child.stdout)


def _leftover_name(target: str, pid: int) -> str:
    """The name atomic_write gives a temp file of ``target`` written by ``pid`` on this machine."""
    from ipainter_nb import images

    return f".{target}.{images._HOST}-{pid}-abcd1234.tmp"


def test_remove_stale_temps_removes_only_leftovers_of_ended_or_old_writes(tmp_path):
    dead, alive = _leftover_name("a.png", _dead_pid()), _leftover_name("b.png", os.getpid())
    other_host = "0" * 8 if images._HOST != "0" * 8 else "1" * 8
    elsewhere = _leftover_name("c.png", 4242).replace(images._HOST, other_host)  # another machine's
    # a user's own hidden files, some shaped almost like ours: never touched, however old
    users = [".hidden.txt", "c.tmp", ".notes.tmp", "d.png", ".d.png.claimed", ".e.png.claim", ".thesis.tex.a1b2c3d4.tmp",
             ".movie.mkv.Xy12Ab34.part", ".k.png.k2j4_x9z.tmp", ".lock.claim"]
    for name in [dead, alive, elsewhere, *users]:
        (tmp_path / name).write_bytes(b"x" if name != ".lock.claim" else b"")
    assert remove_stale_temps(tmp_path) == 1  # the dead writer's temp only
    assert not (tmp_path / dead).exists() and (tmp_path / alive).exists() and (tmp_path / elsewhere).exists()
    hour_ago = time.time() - 3600
    for name in [elsewhere, *users]:
        os.utime(tmp_path / name, (hour_ago, hour_ago))
    assert remove_stale_temps(tmp_path) == 1  # another machine's temp, unchanged for an hour
    assert sorted(os.listdir(tmp_path)) == sorted([alive, *users])


# --------------------------------------------------------------------------- claims


def test_a_claimed_output_is_not_claimed_twice_until_released(tmp_path):
    target = tmp_path / "out_0.png"
    first = claim_output(target)
    assert first is not None and claim_output(target) is None
    first.release()
    second = claim_output(target)
    assert second is not None
    second.save_png(Image.new("RGB", (4, 4)))  # writes and releases
    assert claim_output(target) is None  # the output exists now
    assert os.listdir(tmp_path) == ["out_0.png"]


def test_a_claim_left_by_an_ended_process_is_taken_over(tmp_path):
    target = tmp_path / "out.png"
    from ipainter_nb import images

    stale = {"pid": _dead_pid(), "host": images._HOST, "token": "gone", "time": 0}
    (tmp_path / ".out.png.claim").write_text(json.dumps(stale))
    with claim_output(target) as claim:
        assert claim is not None
        assert json.loads((tmp_path / ".out.png.claim").read_text())["pid"] == os.getpid()
    assert os.listdir(tmp_path) == []  # released on leaving the block
    (tmp_path / ".out.png.claim").write_text(json.dumps(stale))
    assert remove_stale_temps(tmp_path) == 1  # stale claims are leftovers too


def _race(target: str, barrier, results) -> None:
    barrier.wait()
    claim = claim_output(target)
    if claim is not None:
        time.sleep(0.2)  # painting
        claim.write(lambda f: f.write(str(os.getpid()).encode()))
        results.put(os.getpid())


def test_of_processes_racing_for_one_output_exactly_one_paints_it(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    target = str(tmp_path / "scene_0.png")
    workers = [ctx.Process(target=_race, args=(target, barrier, results)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert [w.exitcode for w in workers] == [0] * 4
    winners = []
    while not results.empty():
        winners.append(results.get())
    assert len(winners) == 1
    assert (tmp_path / "scene_0.png").read_text() == str(winners[0])
    assert os.listdir(tmp_path) == ["scene_0.png"]  # no claim or temp left behind
