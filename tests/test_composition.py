"""Composition: placing cutouts, rendering the (image, keep) pair, JSON round trips."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ipainter_nb.core.composition import Composition, CompositionError, Layer
from ipainter_nb.errors import UserInputError
from ipainter_nb.images import load_mask, tensor_to_uint8

RED, BLUE, GREEN = (255, 0, 0, 255), (0, 0, 255, 255), (0, 160, 0, 255)


def square(size: int = 10, color=RED) -> Image.Image:
    return Image.new("RGBA", (size, size), color)


def disc(size: int = 40, color=RED) -> Image.Image:
    """A filled disc on a transparent square (the corners are see-through)."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((0, 0, size - 1, size - 1), fill=color)
    return img


def left_red_right_blue() -> Image.Image:
    img = Image.new("RGBA", (8, 4), BLUE)
    img.paste(RED, (0, 0, 4, 4))
    return img


def pixel(image: torch.Tensor, x: int, y: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in tensor_to_uint8(image)[y, x])


# --------------------------------------------------------------------------- render


def test_render_places_the_layer_pixels_and_keep_mask_at_xy():
    comp = Composition(32)
    comp.add(Layer(square(10), x=5, y=7))
    image, keep = comp.render()

    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert keep.shape == (1, 32, 32) and keep.dtype == torch.float32
    expected = torch.zeros(1, 32, 32)
    expected[:, 7:17, 5:15] = 1
    assert torch.equal(keep, expected)
    assert pixel(image, 5, 7) == (255, 0, 0) and pixel(image, 14, 16) == (255, 0, 0)
    assert pixel(image, 4, 7) == (128, 128, 128)  # mid-grey background outside
    assert image.min() >= -1 and image.max() <= 1


def test_non_square_canvas_is_width_by_height():
    comp = Composition((48, 20))
    comp.add(Layer(square(4), x=40, y=10))
    image, keep = comp.render()
    assert image.shape == (3, 20, 48) and keep[0, 10, 40] == 1


def test_transparent_pixels_are_generated_not_kept():
    comp = Composition(40)
    comp.add(Layer(disc(40)))
    _, keep = comp.render()
    assert keep[0, 20, 20] == 1  # centre of the disc
    assert keep[0, 0, 0] == 0  # transparent corner of the cutout


def test_alpha_threshold_decides_what_half_transparent_pixels_are():
    comp = Composition(8)
    comp.add(Layer(square(8, (255, 0, 0, 100))))  # alpha 100/255 ~ 0.39
    assert comp.render()[1].sum() == 0
    comp.alpha_threshold = 0.3
    assert comp.render()[1].sum() == 64


def test_higher_z_wins():
    comp = Composition(20)
    red = comp.add(Layer(square(10, RED), x=0, y=0))
    blue = comp.add(Layer(square(10, BLUE), x=5, y=5))
    assert pixel(comp.render()[0], 7, 7) == (0, 0, 255)  # blue added last, on top
    comp.reorder(blue, "back")
    assert comp.layers == [blue, red]
    assert pixel(comp.render()[0], 7, 7) == (255, 0, 0)


def test_flip_mirrors_horizontally():
    comp = Composition(8)
    layer = comp.add(Layer(left_red_right_blue()))
    assert pixel(comp.render()[0], 0, 0) == (255, 0, 0)
    comp.update(layer, flip=True)
    image, _ = comp.render()
    assert pixel(image, 0, 0) == (0, 0, 255) and pixel(image, 7, 0) == (255, 0, 0)


def test_scale_changes_the_mask_area_by_scale_squared():
    comp = Composition(128)
    layer = comp.add(Layer(disc(40)))
    base = comp.render()[1].sum().item()
    comp.update(layer, scale=2.0)
    assert layer.size == (80, 80)
    assert comp.render()[1].sum().item() / base == pytest.approx(4.0, rel=0.05)
    comp.update(layer, scale=0.5)
    assert comp.render()[1].sum().item() / base == pytest.approx(0.25, rel=0.1)


def test_erode_shrinks_the_keep_region_by_that_many_pixels():
    comp = Composition(32, erode=2)
    comp.add(Layer(square(10), x=5, y=5))
    _, keep = comp.render()
    expected = torch.zeros(1, 32, 32)
    expected[:, 7:13, 7:13] = 1  # 10x10 minus 2 px on every side
    assert torch.equal(keep, expected)


def test_erode_does_not_eat_into_the_canvas_border():
    comp = Composition(16, erode=3)
    comp.add(Layer(square(8), x=0, y=0))  # touches the top-left corner
    _, keep = comp.render()
    assert keep[0, 0, 0] == 1 and keep[0, 4, 4] == 1 and keep[0, 5, 5] == 0


def test_layers_partly_off_canvas_are_clipped_and_fully_off_are_flagged():
    comp = Composition(16)
    partly = comp.add(Layer(square(8), x=-4, y=12))
    gone = comp.add(Layer(square(8, BLUE), x=40, y=0))
    _, keep = comp.render()
    assert keep.sum() == 4 * 4  # only the on-canvas corner of `partly`
    assert not comp.is_off_canvas(partly) and comp.is_off_canvas(gone)
    assert comp.off_canvas_layers() == [gone]
    assert gone in comp  # kept, so the user can drag it back


def test_render_preview_shows_generated_region_grey_and_overlay_tints_it():
    comp = Composition(16)
    comp.add(Layer(square(4), x=0, y=0))
    plain = comp.render_preview()
    assert plain.mode == "RGB" and plain.size == (16, 16)
    assert plain.getpixel((0, 0)) == (255, 0, 0)
    assert plain.getpixel((10, 10)) == (128, 128, 128)
    tinted = comp.render_preview(overlay=True)
    assert tinted.getpixel((10, 10)) != (128, 128, 128)
    assert tinted.getpixel((0, 0)) == (255, 0, 0)


def test_feather_softens_only_the_preview():
    comp = Composition(32, feather=4)
    comp.add(Layer(square(16), x=8, y=8))
    _, keep = comp.render()
    assert set(keep.unique().tolist()) == {0.0, 1.0}  # the sampler's mask stays hard
    edge = comp.render_preview().getpixel((8, 16))  # on the kept side of the boundary
    sharp = comp.render_preview(feather=0).getpixel((8, 16))
    assert sharp == (255, 0, 0) and edge != sharp


# --------------------------------------------------------------------------- editing


def test_layer_at_picks_the_topmost_visible_pixel():
    comp = Composition(64)
    under = comp.add(Layer(square(40), x=0, y=0, name="under"))
    top = comp.add(Layer(disc(40), x=0, y=0, name="top"))
    assert comp.layer_at(20, 20) is top
    # The disc's transparent corner does not catch the click: the square below does.
    assert comp.layer_at(1, 1) is under
    assert comp.layer_at(50, 50) is None
    assert top.contains(20.7, 20.2) and not top.contains(1, 1)


def test_hit_test_follows_flip_and_scale():
    img = Image.new("RGBA", (8, 4), (0, 0, 0, 0))
    img.paste(RED, (0, 0, 2, 4))  # only the two left columns are visible
    layer = Layer(img, x=10, y=10, scale=2.0)  # 16x8 on the canvas, visible x in 10..13
    assert layer.contains(10, 10) and not layer.contains(25, 10)
    layer.flip = True
    assert layer.contains(25, 10) and not layer.contains(10, 10)


def test_rendered_is_cached_until_scale_or_flip_changes():
    layer = Layer(disc(20), scale=0.5)
    first = layer.rendered()
    assert layer.rendered() is first and first.size == (10, 10)
    layer.flip = True
    assert layer.rendered() is not first


def test_move_reorder_remove_and_clear():
    comp = Composition(64)
    a = comp.add(Layer(square(4), name="a"))
    b = comp.add(Layer(square(4), name="b"))
    c = comp.add(Layer(square(4), name="c"))
    assert [layer.z for layer in comp.layers] == [0, 1, 2]

    comp.move(a, 3, 4)
    comp.move(a, 1.6, -1)
    assert (a.x, a.y) == (5, 3)
    comp.move_to(b, 20, 30)
    assert b.bbox() == (20, 30, 24, 34)

    comp.reorder(a, "forward")
    assert [layer.name for layer in comp.layers] == ["b", "a", "c"]
    comp.reorder(c, "backward")
    assert [layer.name for layer in comp.layers] == ["b", "c", "a"]
    comp.reorder(b, "front")
    assert [layer.name for layer in comp.layers] == ["c", "a", "b"]
    with pytest.raises(ValueError, match="where"):
        comp.reorder(b, "up")

    assert comp.remove(0) is c
    assert comp.remove(b) is b
    assert comp.layers == [a]
    with pytest.raises(ValueError, match="not in this composition"):
        comp.move(b, 1, 1)
    comp.clear()
    assert len(comp) == 0


def test_update_validates_before_changing_anything():
    comp = Composition(32)
    layer = comp.add(Layer(square(4), x=1))
    with pytest.raises(CompositionError, match="scale: expected a positive number, got -1"):
        comp.update(layer, x=9, scale=-1)
    assert layer.x == 1 and layer.scale == 1.0


def test_observers_hear_every_mutation():
    comp = Composition(32)
    calls = []
    comp.observe(calls.append)
    layer = comp.add(Layer(square(4)))
    other = comp.add(Layer(square(4)))
    comp.move(layer, 1, 1)
    comp.move_to(layer, 5, 5)
    comp.update(layer, flip=True)
    comp.reorder(layer, "front")
    comp.erode = 2
    comp.remove(other)
    comp.clear()
    assert len(calls) == 9 and all(c is comp for c in calls)

    with comp.batch():  # a drag applied in several steps: one notification
        comp.add(Layer(square(4)))
        comp.alpha_threshold = 0.2
    assert len(calls) == 10

    comp.unobserve(calls.append)
    comp.clear()
    assert len(calls) == 10


def test_a_failing_observer_does_not_stop_the_others():
    comp = Composition(8)
    heard = []

    def broken(_):
        raise RuntimeError("widget gone")

    comp.observe(broken)
    comp.observe(heard.append)
    with pytest.warns(RuntimeWarning, match="widget gone") as said:
        comp.add(Layer(square(4)))
    assert heard == [comp] and said[0].filename == __file__
    with pytest.warns(RuntimeWarning, match="widget gone") as said:
        with comp.batch():  # heard when the block ends, inside contextlib: still said at the user's line
            comp.add(Layer(square(4)))
    assert said[0].filename == __file__


def test_layer_from_file_loads_and_names_it(tmp_path):
    disc(20).save(tmp_path / "sun.png")
    layer = Layer.from_file(tmp_path / "sun.png", x=3, y=4, scale=0.5)
    assert layer.name == "sun" and layer.size == (10, 10) and (layer.x, layer.y) == (3, 4)
    assert layer.image.mode == "RGBA"


def test_layer_rejects_bad_values():
    with pytest.raises(ValueError, match="scale: expected a positive number"):
        Layer(square(4), scale=0)
    with pytest.raises(ValueError, match="x: expected an integer"):
        Layer(square(4), x="left")


# --------------------------------------------------------------------------- JSON


def scene() -> Composition:
    comp = Composition((48, 32), alpha_threshold=0.4, erode=1)
    comp.add(Layer(disc(20), x=2, y=3, name="sun"))
    comp.add(Layer(left_red_right_blue(), x=20, y=10, scale=1.5, flip=True, name="house"))
    comp.add(Layer(square(6, GREEN), x=30, y=20, name="tree"))
    comp.reorder(comp.layers[2], "back")
    return comp


@pytest.mark.parametrize("embed", [True, False])
def test_json_round_trip_renders_identical_tensors(tmp_path, embed):
    comp = scene()
    settings = {"jump_length": 10, "stop_resampling_at": 100}
    path = comp.to_json(tmp_path / "scene.json", embed_images=embed, settings=settings, seed=7)

    data = json.loads(path.read_text())
    assert data["format"] == "ipainter-nb/composition" and data["version"] == 1
    assert data["size"] == [48, 32]
    assert all(("image" in e) == embed and ("file" in e) != embed for e in data["layers"])
    if not embed:
        assert len(os.listdir(tmp_path / "scene_layers")) == 3
        assert data["layers"][0]["file"].startswith("scene_layers/")

    back = Composition.from_json(path)
    assert back.settings == settings and back.seed == 7
    assert [(l.name, l.x, l.y, l.scale, l.flip, l.z) for l in back.layers] == \
           [(l.name, l.x, l.y, l.scale, l.flip, l.z) for l in comp.layers]
    assert (back.alpha_threshold, back.erode) == (0.4, 1)
    for a, b in zip(comp.render(), back.render()):
        assert torch.equal(a, b)


def test_settings_and_seed_default_to_the_compositions_own(tmp_path):
    comp = scene()
    comp.settings, comp.seed = {"num_samples": 4}, 123
    back = Composition.from_dict(json.loads(json.dumps(comp.to_dict())))
    assert back.settings == {"num_samples": 4} and back.seed == 123
    comp.to_json(tmp_path / "s.json")
    assert Composition.from_json(tmp_path / "s.json").seed == 123


def test_resaving_with_files_drops_layers_no_longer_used(tmp_path):
    comp = scene()
    comp.to_json(tmp_path / "s.json", embed_images=False)
    comp.remove(comp.layers[0])
    comp.to_json(tmp_path / "s.json", embed_images=False)
    assert len(os.listdir(tmp_path / "s_layers")) == 2
    assert len(Composition.from_json(tmp_path / "s.json")) == 2


def test_unserializable_settings_are_refused_before_writing(tmp_path):
    with pytest.raises(CompositionError, match="settings"):
        scene().to_json(tmp_path / "s.json", settings={"callback": print})
    assert not (tmp_path / "s.json").exists()


def _valid() -> dict:
    return scene().to_dict()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["layers"][2].update(scale=-1),
         r"layers\[2\].scale: expected a positive number, got -1"),
        (lambda d: d["layers"][0].update(x=1.5), r"layers\[0\].x: expected an integer, got 1.5"),
        (lambda d: d["layers"][1].update(y="top"), r"layers\[1\].y: expected an integer"),
        (lambda d: d["layers"][1].update(flip="yes"), r"layers\[1\].flip: expected true or false"),
        (lambda d: d["layers"][0].update(z=None), r"layers\[0\].z: expected an integer, got null"),
        (lambda d: d["layers"][0].update(name=5), r"layers\[0\].name: expected a string"),
        (lambda d: d["layers"][0].update(image="http://example.com/a.png"),
         r"layers\[0\].image: expected \"data:image/png;base64,...\""),
        (lambda d: d["layers"][0].update(image="data:image/png;base64,!!!"),
         r"layers\[0\].image: invalid base64"),
        (lambda d: d["layers"][0].update(image="data:image/png;base64,aGVsbG8="),
         r"layers\[0\] \('tree'\) image: not a readable image"),
        (lambda d: d["layers"][0].update(file="x.png"), r"layers\[0\]: expected exactly one"),
        (lambda d: d["layers"].append(3), r"layers\[3\]: expected a JSON object"),
        (lambda d: d.update(layers={}), "layers: expected a list"),
        (lambda d: d.update(size=[64]), r"size: expected .*\[width, height\]"),
        (lambda d: d.update(size=[64, 0]), "size: expected"),
        (lambda d: d.pop("size"), "size: missing"),
        (lambda d: d.update(alpha_threshold=1.5), r"alpha_threshold: expected a number in \[0, 1\)"),
        (lambda d: d.update(erode=-2), "erode: expected a whole number of pixels"),
        (lambda d: d.update(settings=[1, 2]), "settings: expected a dict"),
        (lambda d: d.update(seed="lucky"), "seed: expected an integer"),
        (lambda d: d.update(format="something/else"),
         'format: expected "ipainter-nb/composition", got "something/else"'),
        (lambda d: d.update(version="1"), "version: expected a positive integer"),
        (lambda d: d.update(version=2),
         r"version 2 is newer than this ipainter-nb understands \(1\)"),
    ],
)
def test_each_invalid_field_is_named(tmp_path, edit, message):
    data = _valid()
    edit(data)
    with pytest.raises(CompositionError, match=message):
        Composition.from_dict(data)
    # Through a file the message is the same, prefixed with the file's name.
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CompositionError, match="bad.json: .*" + message):
        Composition.from_json(path)


def test_missing_layer_file_names_the_file_and_the_layer(tmp_path):
    path = scene().to_json(tmp_path / "s.json", embed_images=False)
    data = json.loads(path.read_text())
    missing = data["layers"][1]["file"]
    (tmp_path / missing).unlink()
    with pytest.raises(CompositionError) as info:
        Composition.from_json(path)
    text = str(info.value)
    assert "layers[1].file" in text and missing in text and repr(data["layers"][1]["name"]) in text


def test_not_json_and_missing_file_are_composition_errors(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(CompositionError, match="x.json: not valid JSON"):
        Composition.from_json(tmp_path / "x.json")
    with pytest.raises(CompositionError, match="file not found"):
        Composition.from_json(tmp_path / "nope.json")


def test_composition_error_is_a_value_error():
    assert issubclass(CompositionError, ValueError)


# --------------------------------------------------------------------------- batch export


def test_export_batch_writes_picture_and_mask_that_read_back(tmp_path):
    comp = scene()
    picture, mask = comp.export_batch(tmp_path / "batch", "scene01")
    assert picture == tmp_path / "batch" / "scene01.png"
    assert mask == tmp_path / "batch" / "scene01_mask.png"
    assert sorted(os.listdir(tmp_path / "batch")) == ["scene01.png", "scene01_mask.png"]

    image, keep = comp.render()
    assert torch.equal(load_mask(mask), keep)
    with Image.open(picture) as img:
        arr = np.asarray(img.convert("RGB"))
    kept = keep[0].bool().numpy()
    assert np.array_equal(arr[kept], tensor_to_uint8(image)[kept])
    assert (arr[~kept] == 128).all()  # generated region written grey


def test_export_batch_refuses_names_with_folders(tmp_path):
    with pytest.raises(ValueError, match="name"):
        scene().export_batch(tmp_path, "../escape")


# --------------------------------------------------------------------------- saving never touches others' files


def layer_files(tmp_path, folder: str = "scene_layers") -> set[str]:
    return set(os.listdir(tmp_path / folder))


def test_scene_JSON_beside_scene_json_keeps_both_scenes_whole(tmp_path):
    one, other = scene(), scene()
    other.remove(other.layers[0])
    one.to_json(tmp_path / "scene.json", embed_images=False)
    other.to_json(tmp_path / "scene.JSON", embed_images=False)  # same stem, same folder of cutouts
    one.remove(one.layers[0])
    one.to_json(tmp_path / "scene.json", embed_images=False)  # resave: drops a cutout it no longer uses
    one.clear()
    one.to_json(tmp_path / "scene.json", embed_images=False)
    for name, layers in (("scene.JSON", 2), ("scene.json", 0)):
        if (tmp_path / name).exists():  # on a case-insensitive file system the two names are one file
            back = Composition.from_json(tmp_path / name)
            assert len(back) == layers
            back.render()  # every cutout it lists is still there
    assert len(Composition.from_json(tmp_path / "scene.JSON")) == 2 or not os.path.samefile(
        tmp_path / "scene.JSON", tmp_path / "scene.json")


def test_two_compositions_of_one_stem_with_the_same_cutout_do_not_share_its_file(tmp_path):
    comp = scene()
    comp.to_json(tmp_path / "scene.json", embed_images=False)
    comp.to_json(tmp_path / "scene.comp", embed_images=False)
    assert len(layer_files(tmp_path)) == 6  # three cutouts, written once for each JSON
    comp.clear()
    comp.to_json(tmp_path / "scene.json", embed_images=False)  # removes its own three only
    assert len(layer_files(tmp_path)) == 3
    assert len(Composition.from_json(tmp_path / "scene.comp")) == 3


def test_a_save_removes_no_file_it_cannot_prove_it_wrote(tmp_path):
    comp = scene()
    comp.to_json(tmp_path / "scene.json", embed_images=False)
    strangers = {"notes.png", "sun-0123456789ab.png", "sun-00000000-0123456789ab.png", "photo.jpg"}
    for name in strangers:
        (tmp_path / "scene_layers" / name).write_bytes(b"not mine")
    # The JSON is edited by hand to list a stranger instead of its first cutout.
    data = json.loads((tmp_path / "scene.json").read_text())
    unlisted = data["layers"][0]["file"].split("/")[1]
    data["layers"][0]["file"] = "scene_layers/sun-00000000-0123456789ab.png"
    (tmp_path / "scene.json").write_text(json.dumps(data))
    comp.clear()
    comp.to_json(tmp_path / "scene.json", embed_images=False)
    # Gone: the two cutouts the previous JSON listed under its own tag. Kept: everything else.
    assert layer_files(tmp_path) == strangers | {unlisted}
    assert all((tmp_path / "scene_layers" / name).read_bytes() == b"not mine" for name in strangers)


# --------------------------------------------------------------------------- limits


def test_a_huge_canvas_is_refused_naming_the_limit_before_any_allocation():
    with pytest.raises(CompositionError, match=r"100000x100000 is larger than the limit of 4096 px"):
        Composition(100000)


def test_a_huge_layer_scale_is_refused_naming_the_limit():
    with pytest.raises(CompositionError, match=r"scale 1e\+06 would be drawn 10000000x10000000 px.*at most"):
        Layer(square(10), scale=1e6)
    comp = Composition(64)
    sun = comp.add(Layer(square(10), name="sun"))
    with pytest.raises(CompositionError, match=r"4 times the 64x64 canvas \(256 px a side\)"):
        comp.update(sun, scale=30)
    assert sun.scale == 1.0  # unchanged
    with pytest.raises(CompositionError, match="canvas"):
        comp.add(Layer(square(10), scale=26))
    with pytest.raises(CompositionError, match="limit for any layer"):
        sun.scale = 1e6  # set by hand: refused as the constructor refuses it, before anything is drawn
    assert sun.scale == 1.0 and sun.rendered().size == (10, 10)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("scale", -1.0, "scale: expected a positive number"), ("scale", float("nan"), "scale: expected a positive number"),
    ("x", "3", "x: expected an integer"), ("name", 3, "name: expected a string"), ("flip", 1, "flip: expected true or false"),
    ("image", "house.png", "image: expected a PIL image"), ("image", Image.new("RGBA", (8, 8)), "fully transparent"),
    ("image", Image.new("RGBA", (2, 2), (9, 9, 9, 255)), "a cutout must be at least 4x4 px"),
])
def test_a_layer_field_set_by_hand_is_checked_so_what_is_saved_loads_again(tmp_path, field, value, message):
    comp = Composition(32)
    layer = comp.add(Layer(square(10), name="sun"))
    before = getattr(layer, field)
    with pytest.raises(CompositionError, match=message):
        setattr(layer, field, value)
    assert getattr(layer, field) is before
    comp.to_json(tmp_path / "scene.json")
    assert Composition.from_json(tmp_path / "scene.json").layers[0].name == "sun"


def test_a_layer_scale_too_large_for_the_canvas_in_json_names_the_layer(tmp_path):
    data = Composition(64).to_dict()
    data["layers"] = [{"name": "sun", "scale": 100.0, "image": scene().to_dict()["layers"][0]["image"]}]
    (tmp_path / "big.json").write_text(json.dumps(data))
    with pytest.raises(CompositionError, match=r"layers\[0\]\.scale: layer 'sun'"):
        Composition.from_json(tmp_path / "big.json")


def test_json_nested_100000_levels_deep_is_refused_naming_the_limit(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CompositionError, match="nested more than 64 levels deep"):
        Composition.from_json(tmp_path / "deep.json")
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(CompositionError, match="settings: nested deeper than"):
        Composition(8).to_json(tmp_path / "s.json", settings={"x": deep})


def test_composition_error_is_a_user_input_error():
    from ipainter_nb.errors import IPainterError, UserInputError

    assert issubclass(CompositionError, UserInputError) and issubclass(CompositionError, IPainterError)


def test_check_size_says_what_the_model_paints():
    Composition(64).check_size(64)
    with pytest.raises(CompositionError, match=r"composition is 48x32 but model 'demo' paints 64x64: compose at that size"):
        scene().check_size(64, "model 'demo'")


# --------------------------------------------------------------------------- crisp enlargement, fitting new layers


def test_an_enlarged_cutout_stays_crisp_and_a_reduced_one_is_filtered():
    checker = Image.new("RGBA", (4, 4), RED)
    for i in range(4):
        for j in range(4):
            if (i + j) % 2:
                checker.putpixel((i, j), BLUE)
    big = np.asarray(Layer(checker, scale=4).rendered())
    assert big.shape == (16, 16, 4)
    assert {tuple(c) for c in big.reshape(-1, 4)} == {RED, BLUE}  # no blended colours
    assert tuple(big[7, 7]) == RED and tuple(big[7, 8]) == BLUE  # a sharp edge mid-way
    stripes = Image.new("RGBA", (40, 40), RED)
    for x in range(0, 40, 2):
        stripes.paste(BLUE, (x, 0, x + 1, 40))
    small = np.asarray(Layer(stripes, scale=0.25).rendered())
    assert {tuple(c) for c in small.reshape(-1, 4)} - {RED, BLUE}  # averaged, not aliased


def test_fitting_scale_shrinks_a_large_new_cutout_and_keeps_a_small_one():
    big, small = Layer(square(32)), Layer(square(8))
    assert big.fitting_scale(64) == pytest.approx(0.4 * 64 / 32)
    assert big.fitting_scale((64, 32), fraction=0.5) == pytest.approx(0.5)
    assert small.fitting_scale(64) == 1.0
    comp = Composition(64)
    layer = comp.add(Layer(square(32)))
    comp.update(layer, scale=layer.fitting_scale(comp.size))
    assert max(layer.size) <= 0.4 * 64 + 1


def test_a_save_onto_a_cutouts_own_file_is_refused_and_the_cutout_kept(tmp_path):
    """to_json or export_batch onto the file a layer was read from replaced the cutout with JSON or the picture."""
    sun = tmp_path / "sun.png"
    Image.new("RGBA", (8, 8), (255, 200, 0, 255)).save(sun)
    before = sun.read_bytes()
    comp = Composition(size=32)
    comp.add(Layer.from_file(sun, x=4, y=4))
    (tmp_path / "link.json").symlink_to(sun)  # a link to the cutout is replaced itself: the cutout stays
    with pytest.raises(UserInputError, match=r"path .*sun.png is the file layer 'sun' reads: writing it would replace it"):
        comp.to_json(sun)
    with pytest.raises(UserInputError, match="is the file layer 'sun' reads"):
        comp.export_batch(tmp_path, "sun")
    comp.to_json(tmp_path / "link.json")
    assert sun.read_bytes() == before and not (tmp_path / "link.json").is_symlink()
    assert comp.export_batch(tmp_path, "scene")[0].name == "scene.png"
