"""The Composer and its Palette driven without a browser: their public handlers are what the
canvas' mouse, wheel, key and upload events call, with coordinates in DISPLAY pixels."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

from ipainter_nb.core.composition import MAX_LAYER_CANVAS_RATIO, Composition, Layer
from ipainter_nb.widgets.composer import MAX_SCALE, MIN_SCALE, SCALE_STEP, Composer, default_display_scale
from ipainter_nb.widgets.composer_edits import free_spot
from ipainter_nb.widgets.palette import UPLOAD_LABEL, Palette


def png_bytes(w: int, h: int, color=(200, 30, 30, 255), mode: str = "RGBA") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), color[: len(mode)]).save(buf, format="PNG")
    return buf.getvalue()


def upload(name: str, content: bytes) -> tuple[dict, ...]:
    """What ipywidgets 8's FileUpload.value holds after the user picks one file."""
    return ({"name": name, "type": "image/png", "size": len(content), "last_modified": datetime.fromtimestamp(0, timezone.utc),
             "content": memoryview(content)},)


def centre_on_screen(composer: Composer, layer) -> tuple[float, float]:
    x0, y0, x1, y1 = layer.bbox()
    s = composer.display_scale
    return (x0 + x1) / 2 * s, (y0 + y1) / 2 * s


def drag(composer: Composer, start: tuple[float, float], delta: tuple[float, float], steps: int = 5) -> None:
    x, y = start
    composer.on_mouse_down(x, y)
    for k in range(1, steps + 1):
        composer.on_mouse_move(x + delta[0] * k / steps, y + delta[1] * k / steps)
    composer.on_mouse_up(x + delta[0], y + delta[1])


def pictures_sent(composer: Composer) -> list[tuple[int, ...]]:
    """Record the shape of every picture the composer sends to the browser from now on."""
    sent: list[tuple[int, ...]] = []
    original = composer.canvas[0].put_image_data
    composer.canvas[0].put_image_data = lambda data, x=0, y=0: (sent.append(data.shape), original(data, x, y))
    return sent


def palette_button(palette: Palette, name: str):
    (button,) = [item.children[1] for item in palette.items.children if item.children[1].description == name]
    return button


@pytest.fixture
def composer() -> Composer:
    return Composer(size=64)  # demo cutouts, display scale 6


# --------------------------------------------------------------------------- display


def test_display_scale_enlarges_small_canvases_and_can_be_overridden():
    assert default_display_scale(64, 64) == 6 and default_display_scale(256, 256) == 2
    assert (Composer(size=64, cutouts=None).canvas.width, Composer(size=256, cutouts=None).canvas.width) == (384, 512)
    small = Composer(size=64, cutouts=None, display_scale=3)
    assert (small.display_scale, small.canvas.width, small.canvas.height) == (3, 192, 192)


def test_the_palette_button_adds_a_centred_selected_layer_that_fits(composer):
    assert {"sun", "moon", "tree", "house", "boat"} <= set(composer.cutout_names)
    palette_button(composer.palette, "mountain").click()  # what a click on the palette button does
    (mountain,) = composer.composition.layers
    assert mountain.name == "mountain" and composer.selected is mountain
    x0, y0, x1, y1 = mountain.bbox()
    assert abs((x0 + x1) / 2 - 32) <= 1 and abs((y0 + y1) / 2 - 32) <= 1
    assert max(mountain.size) <= 64 / 3 + 1  # the 42 px cutout is placed at a third of the canvas

    moon = composer.add_cutout("moon")
    assert composer.composition.layers[-1] is moon  # new layers go on top
    assert moon.scale == 1.0  # a cutout that fits already is never enlarged
    with pytest.raises(KeyError, match="sun"):
        composer.add_cutout("unicorn")


def test_palette_clicks_place_cutouts_where_they_do_not_cover_each_other(composer):
    for name in ("mountain", "house", "tree", "boat"):
        palette_button(composer.palette, name).click()
    layers = composer.composition.layers
    assert [layer.name for layer in layers] == ["mountain", "house", "tree", "boat"]
    covers = np.zeros((64, 64), dtype=int)  # how many cutouts' opaque pixels lie on each canvas pixel
    for layer in layers:
        alpha = np.asarray(layer.rendered())[..., 3] > 127
        ys, xs = np.nonzero(alpha)
        np.add.at(covers, (ys + layer.y, xs + layer.x), 1)
    assert covers.max() == 1  # the canvas had room for each: none covers another
    assert composer.selected is layers[-1]


def test_free_spot_takes_the_least_covered_place_nearest_the_centre():
    occupied = np.zeros((10, 20), dtype=bool)
    assert free_spot(occupied, 4, 4) == (8, 3)  # empty: centred
    occupied[:, 6:14] = True  # a band down the middle
    x, y = free_spot(occupied, 4, 4)
    assert (x + 4 <= 6 or x >= 14) and y == 3  # beside the band, still centred vertically
    assert free_spot(occupied, 30, 4) == (-5, 3)  # wider than the canvas: centred


def test_one_frame_per_redraw_at_canvas_resolution_enlarged_without_smoothing(composer):
    sun = composer.add_cutout("sun")
    pic = composer.picture()
    assert pic.shape == (64, 64, 4) and (pic[..., 3] == 255).all()
    assert tuple(pic[0, 0, :3]) == (128, 128, 128)  # mid-grey: the model paints there
    cx, cy = (sun.x + sun.size[0] // 2, sun.y + sun.size[1] // 2)
    assert tuple(pic[cy, cx, :3]) != (128, 128, 128)

    sent = pictures_sent(composer)
    composer.flip_selected()
    assert sent == [(64, 64, 4)]  # one small image, not one call per pixel or per layer
    assert composer.canvas[0].image_smoothing_enabled is False  # enlarged as crisp squares


def test_the_layout_wraps_instead_of_squeezing_the_tools(composer):
    tools = composer.tools
    assert "ipainter-tools" in tools._dom_classes and tools.layout.flex_flow == "row wrap"
    buttons = [composer.undo_button, composer.redo_button, composer.delete_button, composer.flip_button,
               composer.forward_button, composer.backward_button, composer.mask_toggle, composer.bring_back_button]
    assert all(b in tools.children for b in buttons)
    assert all(b.layout.flex == "0 0 auto" and b.layout.min_width for b in buttons)  # never shrunk to nothing
    assert "ipainter-canvas" in composer.canvas_box._dom_classes and composer.canvas in composer.canvas_box.children
    assert composer.canvas_box.layout.width == "384px"  # as wide as the canvas: never stretched by a fraction
    assert "wheel: scale" in composer.hint.value
    assert "ipainter-scale" in composer.scale_control._dom_classes
    assert "ipainter-palette" in composer.palette._dom_classes
    assert composer.palette.items.layout.flex_flow == "row wrap"


# --------------------------------------------------------------------------- mouse


def test_drag_moves_the_layer_by_display_pixels_divided_by_the_scale(composer):
    sun = composer.add_cutout("sun")
    x, y = sun.x, sun.y
    drag(composer, centre_on_screen(composer, sun), (60, -30))
    assert (sun.x, sun.y) == (x + 10, y - 5)  # scale 6

    drag(composer, centre_on_screen(composer, sun), (25, 14))  # 4.17, 2.33 canvas px
    assert (sun.x, sun.y) == (x + 14, y - 3)


def test_mouse_down_picks_the_topmost_visible_pixel_and_transparent_spots_select_nothing(composer):
    sun = composer.add_cutout("sun", scale=1.0)
    moon = composer.add_cutout("moon")  # centred too, above the sun
    composer.on_mouse_down(*centre_on_screen(composer, moon))
    composer.on_mouse_up(*centre_on_screen(composer, moon))
    assert composer.selected is moon

    composer.on_mouse_down(3, 3)  # the canvas corner: nothing there
    assert composer.selected is None
    before = [(layer.x, layer.y) for layer in composer.composition.layers]
    composer.on_mouse_move(100, 100)
    composer.on_mouse_up(100, 100)
    assert [(layer.x, layer.y) for layer in composer.composition.layers] == before
    assert composer.undo() and moon not in composer.composition  # no undo step for a no-op drag
    composer.redo()

    # the transparent corner of the sun's (round) box does not count as the sun
    composer.select(sun)
    composer.on_mouse_down(sun.x * 6 + 1, sun.y * 6 + 1)
    assert composer.selected is None


def test_undo_and_redo_restore_positions_step_by_step(composer):
    sun = composer.add_cutout("sun")
    start = (sun.x, sun.y)
    drag(composer, centre_on_screen(composer, sun), (60, 0))
    after_first = (sun.x, sun.y)
    drag(composer, centre_on_screen(composer, sun), (0, 60))
    after_second = (sun.x, sun.y)

    assert composer.undo() and (sun.x, sun.y) == after_first
    assert composer.undo() and (sun.x, sun.y) == start
    assert composer.undo() and len(composer.composition) == 0  # the add itself
    assert not composer.undo()
    assert composer.redo() and composer.redo() and composer.redo()
    assert (sun.x, sun.y) == after_second and composer.composition.layers == [sun]
    assert not composer.redo()


def test_a_drag_redraws_at_most_max_fps_and_always_draws_its_last_position():
    composer = Composer(size=64, max_fps=1)  # one frame a second: the moves below fit in it
    sun = composer.add_cutout("sun")
    sent = pictures_sent(composer)
    x, y = centre_on_screen(composer, sun)
    started = time.monotonic()
    composer.on_mouse_down(x, y)
    for k in range(1, 21):
        composer.on_mouse_move(x + 6 * k, y)
    during = len(sent)
    assert during <= 1 + (time.monotonic() - started)  # not one frame per move
    composer.on_mouse_up(x + 120, y)
    assert len(sent) > during  # the final position reached the screen
    assert (composer.picture()[:, sun.x + sun.size[0] // 2, :3] != 128).any()


def test_in_a_kernel_a_throttled_drag_frame_is_drawn_shortly_after_without_mouse_up():
    async def drag_and_pause() -> tuple[int, int]:  # the kernel runs handlers on its loop
        composer = Composer(size=64, max_fps=4)
        sun = composer.add_cutout("sun")
        sent = pictures_sent(composer)
        x, y = centre_on_screen(composer, sun)
        composer.on_mouse_down(x, y)
        composer.on_mouse_move(x + 12, y)
        composer.on_mouse_move(x + 24, y)  # within 1/4 s of the last frame: deferred
        frames = len(sent)
        await asyncio.sleep(0.6)  # the user holds the button still
        return frames, len(sent)

    deferred, later = asyncio.run(drag_and_pause())
    assert later == deferred + 1


# --------------------------------------------------------------------------- scale


def test_the_scale_control_has_a_usable_range_fine_steps_and_a_readout(composer):
    slider = composer.scale_slider
    assert (slider.min, slider.max, slider.step) == (MIN_SCALE, MAX_SCALE, SCALE_STEP) == (0.1, 4.0, 0.05)
    assert slider.readout and slider.continuous_update
    sun = composer.add_cutout("sun", scale=1.0)
    assert not slider.disabled and slider.value == composer.layer_scale == 1.0
    centre = (sun.x + 11, sun.y + 11)
    for value in (1.2, 1.5, 2.0):  # a slider drag sends many values
        slider.value = value
    assert sun.scale == composer.layer_scale == 2.0 and sun.size == (44, 44)
    assert abs(sun.x + 22 - centre[0]) <= 1 and abs(sun.y + 22 - centre[1]) <= 1
    composer.undo()  # the whole drag is one step
    assert sun.scale == 1.0 and slider.value == pytest.approx(1.0)
    composer.set_scale(1000)
    assert sun.scale == MAX_SCALE  # clamped: the layer stays within reach
    composer.layer_scale = 0.5  # the trait the slider sets
    assert sun.scale == 0.5 and slider.value == 0.5


def test_with_nothing_selected_the_scale_control_is_disabled_and_neutral(composer):
    sun = composer.add_cutout("sun")
    composer.layer_scale = 3.0
    assert composer.delete_selected() and sun not in composer.composition
    assert composer.scale_slider.disabled
    assert composer.scale_slider.value == composer.layer_scale == 1.0  # not the deleted layer's 3.0
    composer.layer_scale = 2.0  # nothing to scale: no effect, no undo step
    assert composer.layer_scale == 1.0
    composer.undo()
    assert composer.selected is sun and composer.scale_slider.value == 3.0 and not composer.scale_slider.disabled


def test_the_wheel_scales_the_selected_layer_about_its_centre_as_one_undo_step(composer):
    sun = composer.add_cutout("sun")
    start = sun.scale
    centre = ((sun.bbox()[0] + sun.bbox()[2]) / 2, (sun.bbox()[1] + sun.bbox()[3]) / 2)
    composer.on_mouse_wheel(0, -100)  # wheel up
    composer.on_mouse_wheel(0, -100)
    assert sun.scale > 1.25 * start and composer.scale_slider.value == pytest.approx(sun.scale)
    x0, y0, x1, y1 = sun.bbox()
    assert abs((x0 + x1) / 2 - centre[0]) <= 1 and abs((y0 + y1) / 2 - centre[1]) <= 1
    for _ in range(40):
        composer.on_mouse_wheel(0, 100)
    assert sun.scale == MIN_SCALE
    assert composer.undo() and sun.scale == start  # the whole wheel gesture is one step
    composer.select(None)
    composer.on_mouse_wheel(0, -100)  # nothing selected: nothing happens
    assert sun.scale == start


def test_plus_and_minus_keys_scale_in_steps(composer):
    sun = composer.add_cutout("sun", scale=1.0)
    assert composer.on_key_down("+") and composer.on_key_down("+") and sun.scale == pytest.approx(1.1)
    assert composer.on_key_down("-") and sun.scale == pytest.approx(1.05)


def test_a_cutout_bigger_than_the_canvas_is_reduced_so_the_scale_control_covers_it(composer):
    (photo,) = composer.handle_upload(upload("photo.png", png_bytes(400, 300)))
    assert photo.image.size == (64, 48)  # at most the canvas' size ...
    assert MIN_SCALE <= photo.scale <= MAX_SCALE and max(photo.size) <= 64 / 3 + 1  # ... and placed to fit
    assert composer.palette.image("photo").size == (400, 300)  # the palette keeps the original


def test_scaling_a_big_layer_from_elsewhere_stops_at_the_largest_size_the_composition_accepts():
    comp = Composition(64)
    poster = comp.add(Layer(Image.new("RGBA", (200, 100), (9, 9, 9, 255)), name="poster"))  # e.g. from a JSON file
    composer = Composer(comp, cutouts=None)
    composer.select(poster)
    for _ in range(20):
        composer.on_mouse_wheel(0, -100)
    assert max(poster.size) <= MAX_LAYER_CANVAS_RATIO * 64 and poster.scale > 1.2


# --------------------------------------------------------------------------- tools


def test_delete_flip_and_reorder_act_on_the_selection_and_undo(composer):
    sun, moon, tree = (composer.add_cutout(n) for n in ("sun", "moon", "tree"))
    composer.select(sun)
    assert composer.forward() and composer.composition.layers == [moon, sun, tree]
    assert composer.forward() and composer.composition.layers == [moon, tree, sun]
    assert not composer.forward()  # already on top: no change, no undo step
    assert composer.backward() and composer.composition.layers == [moon, sun, tree]

    assert composer.flip_selected() and sun.flip
    assert composer.delete_selected() and sun not in composer.composition
    assert composer.selected is None and not composer.delete_selected()
    assert composer.delete_button.disabled and composer.flip_button.disabled
    composer.undo()
    assert sun in composer.composition and composer.selected is sun and sun.flip
    composer.undo()
    assert not sun.flip


def test_keyboard_shortcuts(composer):
    sun = composer.add_cutout("sun")
    composer.add_cutout("moon")
    composer.select(sun)
    assert composer.on_key_down("f") and sun.flip
    assert composer.on_key_down("]") and composer.composition.layers[-1] is sun
    assert composer.on_key_down("[") and composer.composition.layers[0] is sun
    x = sun.x
    assert composer.on_key_down("ArrowRight") and composer.on_key_down("ArrowRight", shift_key=True)
    assert sun.x == x + 9
    assert composer.on_key_down("Delete") and sun not in composer.composition
    assert composer.on_key_down("z", ctrl_key=True) and sun in composer.composition
    assert composer.on_key_down("z", shift_key=True, ctrl_key=True) and sun not in composer.composition
    assert not composer.on_key_down("q")


def test_mask_overlay_tints_only_what_the_model_will_paint(composer):
    sun = composer.add_cutout("sun")
    overlay = composer.mask_overlay()
    assert overlay[0, 0, 3] > 0  # corner: generated
    assert overlay[sun.y + 10, sun.x + 10, 3] == 0  # sun's centre: kept
    sent = pictures_sent(composer)
    composer.mask_toggle.value = True  # the toggle redraws the overlay only
    assert composer.show_mask and sent == []


def test_selecting_a_layer_that_is_not_in_the_composition_is_refused(composer):
    sun = composer.add_cutout("sun")
    other = Composer(size=64).add_cutout("moon")
    with pytest.raises(ValueError, match="not in the composition"):
        composer.select(other)
    assert composer.selected is sun


# --------------------------------------------------------------------------- changes


def test_the_composition_tells_its_observers_of_every_change_made_through_the_canvas(composer):
    heard = []
    composer.composition.observe(lambda comp: heard.append(len(comp)))
    sun = composer.add_cutout("sun")
    drag(composer, centre_on_screen(composer, sun), (12, 0), steps=2)
    composer.select(None)  # selection is not a change of the composition
    composer.undo()
    assert heard == [1, 1, 1, 1]
    assert composer.composition.layers == [sun]

    # changes made to the composition directly are drawn too, and a removed layer is deselected
    composer.select(sun)
    sent = pictures_sent(composer)
    composer.composition.move(sun, 1, 0)
    assert sent == [(64, 64, 4)]
    composer.composition.remove(sun)
    assert composer.selected is None and composer.scale_slider.disabled


def test_replacing_the_composition_resizes_the_canvas_and_clears_history(composer):
    composer.add_cutout("sun")
    old = composer.composition
    replaced = []
    composer.observe(lambda change: replaced.append(change["new"]), "composition")
    big = Composition(256)
    composer.composition = big
    assert replaced == [big] and composer.canvas.width == 512 and composer.canvas_box.layout.width == "512px"
    assert not composer.can_undo and composer.selected is None
    composer.add_cutout("sun")
    assert len(big) == 1
    sent = pictures_sent(composer)
    old.clear()  # the old one is no longer watched
    assert sent == []


def test_a_layer_dragged_off_the_canvas_is_kept_flagged_and_can_be_brought_back(composer):
    sun = composer.add_cutout("sun")
    assert "off the canvas" not in composer.status_text
    drag(composer, centre_on_screen(composer, sun), (400, 0))
    assert sun in composer.composition and composer.composition.off_canvas_layers() == [sun]
    assert "1 layer(s) off the canvas (sun)" in composer.status_text
    assert "off the canvas" in composer.status.value and not composer.bring_back_button.disabled
    assert composer.bring_back() == 1
    assert not composer.composition.off_canvas_layers()
    assert "off the canvas" not in composer.status_text


# --------------------------------------------------------------------------- palette and uploads


def test_uploading_a_png_adds_it_to_the_palette_and_the_canvas_and_the_message_goes_stale(composer):
    layers = composer.handle_upload(upload("Red Box.png", png_bytes(20, 10)))
    assert [layer.name for layer in layers] == ["Red Box"]
    assert composer.composition.layers == layers and composer.selected is layers[0]
    assert composer.cutout_names[-1] == "Red Box"
    assert "Added Red Box" in composer.status_text
    composer.delete_selected()
    assert "Added Red Box" not in composer.status_text  # said of a layer that is gone


def test_uploading_the_same_picture_again_adds_no_second_palette_entry(composer):
    composer.handle_upload(upload("star.png", png_bytes(16, 16)))
    entries = len(composer.palette.items.children)
    again = composer.handle_upload(upload("star copy.png", png_bytes(16, 16)))  # same pixels, other name
    assert [layer.name for layer in again] == ["star"]  # placed again, from the entry it already has
    assert len(composer.palette.items.children) == entries and composer.cutout_names.count("star") == 1
    assert "Already in the palette: star" in composer.status_text
    other = composer.handle_upload(upload("star.png", png_bytes(16, 16, (0, 0, 255, 255))))
    assert other[0].name == "star-2"  # same name, other picture: a new entry with a unique name


def test_the_upload_button_says_what_it_does_and_its_events_reach_the_canvas(composer):
    assert composer.palette.upload.description == UPLOAD_LABEL == "Upload cutout…"
    assert "ipainter-upload" in composer.palette.upload._dom_classes
    composer.palette.upload.value = upload("kite.png", png_bytes(12, 12))  # what the browser sends
    assert [layer.name for layer in composer.composition.layers] == ["kite"]
    # the button's "(n)" counts the user's cutouts: one entry each, without its bytes
    assert [(e["name"], bytes(e["content"])) for e in composer.palette.upload.value] == [("kite", b"")]
    composer.palette.upload.value = upload("kite.png", png_bytes(12, 12))  # the same file again is an event
    assert len(composer.composition) == 2 and composer.cutout_names.count("kite") == 1
    assert len(composer.palette.upload.value) == 1  # still one cutout of the user's
    composer.palette.upload.value = upload("a.png", png_bytes(5, 5, (0, 0, 255, 255))) + upload(
        "b.png", png_bytes(6, 6, (0, 255, 0, 255)))
    assert [e["name"] for e in composer.palette.upload.value] == ["kite", "a", "b"] == composer.palette.uploaded


def test_palette_events_go_through_callback_dispatchers():
    palette = Palette({"dot": Image.new("RGBA", (8, 8), (255, 0, 0, 255))})
    picked, uploaded = [], []
    palette.on_pick(picked.append)
    palette.on_upload(uploaded.append)
    palette_button(palette, "dot").click()
    palette.upload.value = upload("bad.png", b"not a picture") + upload("sq.png", png_bytes(9, 9))
    assert picked == ["dot"]
    (intake,) = uploaded
    assert intake.names == ["sq"] and "bad.png" in intake.problems[0] and palette.names == ["dot", "sq"]
    palette.on_pick(picked.append, remove=True)
    palette.pick("dot")
    assert picked == ["dot"]
    with pytest.raises(KeyError, match="dot, sq"):
        palette.pick("nothing")


def test_uploading_garbage_shows_an_error_and_changes_nothing(composer):
    composer.add_cutout("sun")
    heard = []
    composer.composition.observe(heard.append)
    before = (len(composer.palette.items.children), composer.selected)
    assert composer.handle_upload(upload("notes.png", b"this is not a picture")) == []
    assert "notes.png" in composer.status_text and "not a readable image" in composer.status_text
    assert 'class="ipainter-error"' in composer.status.value
    assert (len(composer.palette.items.children), composer.selected) == before and heard == []
    assert composer.undo() and len(composer.composition) == 0  # no undo step was added


def test_huge_uploads_are_refused_and_big_ones_downscaled_with_a_warning(composer):
    wide = png_bytes(4100, 8)  # small file, too many pixels a side
    assert composer.handle_upload(upload("wide.png", wide)) == []
    assert "4100x8" in composer.status_text and "4096" in composer.status_text

    heavy = png_bytes(16, 16) + bytes(21 * 2**20)  # over 20 MB
    assert composer.handle_upload(upload("heavy.png", heavy)) == []
    assert "20 MB" in composer.status_text and len(composer.composition) == 0

    (big,) = composer.handle_upload(upload("big.png", png_bytes(1024, 600)))
    assert max(composer.palette.image("big").size) == 512  # downscaled by load_rgba ...
    assert "downscaled" in composer.status_text  # ... and the user is told
    assert max(big.size) <= 22  # and fitted to the 64 px canvas


def test_a_mixed_upload_adds_the_good_files_and_names_the_bad_ones(composer):
    value = upload("good.png", png_bytes(12, 12)) + upload("bad.png", b"\x89PNG broken")
    layers = composer.handle_upload(value)
    assert [layer.name for layer in layers] == ["good"]
    assert "bad.png" in composer.status_text and "Added good" in composer.status_text
    composer.undo()
    assert len(composer.composition) == 0  # the upload is one undo step


def test_palette_from_a_folder_skips_unreadable_files_and_never_repeats_a_picture(tmp_path):
    (tmp_path / "b_square.png").write_bytes(png_bytes(10, 10))
    (tmp_path / "a_photo.png").write_bytes(png_bytes(10, 10, (1, 2, 3), mode="RGB"))
    (tmp_path / "broken.png").write_bytes(b"nope")
    (tmp_path / "readme.txt").write_text("not listed")
    composer = Composer(size=64, cutouts=tmp_path)
    assert composer.cutout_names == ["a_photo", "b_square"]
    assert "broken.png" in composer.status_text

    assert composer.add_cutout_folder(tmp_path) == ["a_photo", "b_square"]  # the same pictures again
    assert composer.cutout_names == ["a_photo", "b_square"]
    with pytest.raises(NotADirectoryError):
        composer.add_cutout_folder(tmp_path / "missing")


def test_load_layout_places_the_demo_scene_in_one_undo_step(composer):
    from ipainter_nb.demo.cutouts import demo_layout

    layers = composer.load_layout(demo_layout())
    assert [(layer.name, layer.x, layer.y) for layer in layers] == [(e["name"], e["x"], e["y"]) for e in demo_layout()]
    image, keep = composer.composition.render()
    assert 0 < keep.mean() < 1
    composer.undo()
    assert len(composer.composition) == 0
