"""The Composer widget driven without a browser: its public handlers are what the canvas'
mouse, key and upload events call, with coordinates in DISPLAY pixels."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from PIL import Image

from ipainter_nb.core.composition import Composition
from ipainter_nb.widgets.composer import Composer, default_display_scale


def png_bytes(w: int, h: int, color=(200, 30, 30, 255), mode: str = "RGBA") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), color[: len(mode)]).save(buf, format="PNG")
    return buf.getvalue()


def upload(name: str, content: bytes) -> tuple[dict, ...]:
    """What ipywidgets 8's FileUpload.value holds after the user picks one file."""
    return ({"name": name, "type": "image/png", "size": len(content), "last_modified": 0,
             "content": memoryview(content)},)


def centre_on_screen(composer: Composer, layer) -> tuple[float, float]:
    x0, y0, x1, y1 = layer.bbox()
    s = composer.display_scale
    return (x0 + x1) / 2 * s, (y0 + y1) / 2 * s


def drag(composer: Composer, start: tuple[float, float], delta: tuple[float, float],
         steps: int = 5) -> None:
    x, y = start
    composer.on_mouse_down(x, y)
    for k in range(1, steps + 1):
        composer.on_mouse_move(x + delta[0] * k / steps, y + delta[1] * k / steps)
    composer.on_mouse_up(x + delta[0], y + delta[1])


@pytest.fixture
def composer() -> Composer:
    return Composer(size=64)  # demo cutouts, display scale 6


# --------------------------------------------------------------------------- display


def test_display_scale_enlarges_small_canvases_and_can_be_overridden():
    assert default_display_scale(64, 64) == 6 and default_display_scale(256, 256) == 2
    assert (Composer(size=64, cutouts=None).canvas.width, Composer(size=256, cutouts=None).canvas.width) == (384, 512)
    small = Composer(size=64, cutouts=None, display_scale=3)
    assert (small.display_scale, small.canvas.width, small.canvas.height) == (3, 192, 192)


def test_palette_lists_the_demo_pack_and_its_button_adds_a_centred_selected_layer(composer):
    assert {"sun", "moon", "tree", "house", "boat"} <= set(composer.cutout_names)
    items = {item.children[1].description: item for item in composer.palette.children}
    items["sun"].children[1].click()  # what a click on the palette button does
    (sun,) = composer.composition.layers
    assert sun.name == "sun" and composer.selected is sun
    x0, y0, x1, y1 = sun.bbox()
    assert abs((x0 + x1) / 2 - 32) <= 1 and abs((y0 + y1) / 2 - 32) <= 1

    moon = composer.add_cutout("moon")
    assert composer.composition.layers[-1] is moon  # new layers go on top
    with pytest.raises(KeyError, match="sun"):
        composer.add_cutout("unicorn")


def test_one_frame_per_redraw_shows_the_composition_at_canvas_resolution(composer):
    sun = composer.add_cutout("sun")
    pic = composer.picture()
    assert pic.shape == (64, 64, 4) and (pic[..., 3] == 255).all()
    assert tuple(pic[0, 0, :3]) == (128, 128, 128)  # mid-grey: the model paints there
    cx, cy = (sun.x + sun.size[0] // 2, sun.y + sun.size[1] // 2)
    assert tuple(pic[cy, cx, :3]) != (128, 128, 128)

    sent = []
    original = composer.canvas[0].put_image_data
    composer.canvas[0].put_image_data = lambda data, x=0, y=0: (sent.append(data.shape),
                                                                original(data, x, y))
    composer.flip_selected()
    assert sent == [(64, 64, 4)]  # one small image, not one call per pixel or per layer


# --------------------------------------------------------------------------- mouse


def test_drag_moves_the_layer_by_display_pixels_divided_by_the_scale(composer):
    sun = composer.add_cutout("sun")
    x, y = sun.x, sun.y
    drag(composer, centre_on_screen(composer, sun), (60, -30))
    assert (sun.x, sun.y) == (x + 10, y - 5)  # scale 6

    drag(composer, centre_on_screen(composer, sun), (25, 14))  # 4.17, 2.33 canvas px
    assert (sun.x, sun.y) == (x + 14, y - 3)


def test_mouse_down_picks_the_topmost_visible_pixel_and_transparent_spots_select_nothing(composer):
    sun = composer.add_cutout("sun")
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
    frames = composer.frames_drawn
    x, y = centre_on_screen(composer, sun)
    started = time.monotonic()
    composer.on_mouse_down(x, y)
    for k in range(1, 21):
        composer.on_mouse_move(x + 6 * k, y)
    during = composer.frames_drawn - frames
    assert during <= 1 + (time.monotonic() - started)  # not one frame per move
    composer.on_mouse_up(x + 120, y)
    assert composer.frames_drawn > frames + during  # the final position reached the screen
    assert (composer.picture()[:, sun.x + sun.size[0] // 2, :3] != 128).any()


def test_in_a_kernel_a_throttled_drag_frame_is_drawn_shortly_after_without_mouse_up():
    async def drag_and_pause() -> tuple[int, int]:  # the kernel runs handlers on its loop
        composer = Composer(size=64, max_fps=4)
        sun = composer.add_cutout("sun")
        x, y = centre_on_screen(composer, sun)
        composer.on_mouse_down(x, y)
        composer.on_mouse_move(x + 12, y)
        composer.on_mouse_move(x + 24, y)  # within 1/4 s of the last frame: deferred
        frames = composer.frames_drawn
        await asyncio.sleep(0.6)  # the user holds the button still
        return frames, composer.frames_drawn

    deferred, later = asyncio.run(drag_and_pause())
    assert later == deferred + 1


def test_wheel_scales_the_selected_layer_about_its_centre(composer):
    sun = composer.add_cutout("sun")
    centre = ((sun.bbox()[0] + sun.bbox()[2]) / 2, (sun.bbox()[1] + sun.bbox()[3]) / 2)
    composer.on_mouse_wheel(0, -100)  # wheel up
    composer.on_mouse_wheel(0, -100)
    assert sun.scale > 1.2
    x0, y0, x1, y1 = sun.bbox()
    assert abs((x0 + x1) / 2 - centre[0]) <= 1 and abs((y0 + y1) / 2 - centre[1]) <= 1
    assert composer.undo() and sun.scale == 1.0  # the whole wheel gesture is one step


# --------------------------------------------------------------------------- tools


def test_scale_slider_scales_about_the_centre_as_one_undo_step(composer):
    sun = composer.add_cutout("sun")
    centre = (sun.x + 11, sun.y + 11)
    for value in (1.2, 1.5, 2.0):  # a slider drag sends many values
        composer.scale_slider.value = value
    assert sun.scale == 2.0 and sun.size == (44, 44)
    assert abs(sun.x + 22 - centre[0]) <= 1 and abs(sun.y + 22 - centre[1]) <= 1
    composer.undo()
    assert sun.scale == 1.0 and composer.scale_slider.value == pytest.approx(1.0)
    composer.set_scale(1000)
    assert sun.scale == 10.0  # clamped


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
    assert overlay[sun.y + 11, sun.x + 11, 3] == 0  # sun's centre: kept
    frames = composer.frames_drawn
    composer.mask_toggle.value = True  # the toggle redraws the overlay only
    assert composer.show_mask and composer.frames_drawn == frames


# --------------------------------------------------------------------------- changes


def test_observers_hear_every_change_and_version_counts_them(composer):
    heard = []
    composer.observe_composition(lambda comp: heard.append(len(comp)))
    versions = []
    composer.observe(lambda change: versions.append(change["new"]), "version")
    sun = composer.add_cutout("sun")
    drag(composer, centre_on_screen(composer, sun), (12, 0), steps=2)
    composer.select(None)  # selection is not a change of the composition
    composer.undo()
    assert heard == [1, 1, 1, 1] and versions == [1, 2, 3, 4]
    assert composer.composition.layers == [sun]

    # changes made to the composition directly are heard and drawn too
    frames = composer.frames_drawn
    composer.composition.move(sun, 1, 0)
    assert composer.version == 5 and composer.frames_drawn == frames + 1


def test_replacing_the_composition_resizes_the_canvas_and_clears_history(composer):
    composer.add_cutout("sun")
    big = Composition(256)
    composer.composition = big
    assert composer.composition is big and composer.canvas.width == 512
    assert not composer.can_undo and composer.selected is None
    composer.add_cutout("sun")
    assert len(big) == 1


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


# --------------------------------------------------------------------------- uploads


def test_uploading_a_png_adds_it_to_the_palette_and_the_canvas(composer):
    layers = composer.handle_upload(upload("Red Box.png", png_bytes(20, 10)))
    assert [layer.name for layer in layers] == ["Red Box"]
    assert composer.composition.layers == layers and composer.selected is layers[0]
    assert composer.cutout_names[-1] == "Red Box"
    assert "Added Red Box" in composer.status_text
    again = composer.handle_upload(upload("Red Box.png", png_bytes(20, 10)))
    assert again[0].name == "Red Box-2"  # palette names stay unique


def test_uploading_garbage_shows_an_error_and_changes_nothing(composer):
    composer.add_cutout("sun")
    before = (composer.version, len(composer.palette.children), composer.selected)
    assert composer.handle_upload(upload("notes.png", b"this is not a picture")) == []
    assert "notes.png" in composer.status_text and "not a readable image" in composer.status_text
    assert 'class="ipn-error"' in composer.status.value
    assert (composer.version, len(composer.palette.children), composer.selected) == before
    assert composer.undo() and len(composer.composition) == 0  # no undo step was added


def test_huge_uploads_are_refused_and_big_ones_downscaled_with_a_warning(composer):
    wide = png_bytes(4100, 8)  # small file, too many pixels a side
    assert composer.handle_upload(upload("wide.png", wide)) == []
    assert "4100x8" in composer.status_text and "4096" in composer.status_text

    heavy = png_bytes(16, 16) + bytes(21 * 2**20)  # over 20 MB
    assert composer.handle_upload(upload("heavy.png", heavy)) == []
    assert "20 MB" in composer.status_text and len(composer.composition) == 0

    (big,) = composer.handle_upload(upload("big.png", png_bytes(1024, 600)))
    assert max(big.image.size) == 512  # downscaled by load_rgba ...
    assert "downscaled" in composer.status_text  # ... and the user is told
    assert max(big.size) <= 48  # and fitted to the 64 px canvas


def test_a_mixed_upload_adds_the_good_files_and_names_the_bad_ones(composer):
    value = upload("good.png", png_bytes(12, 12)) + upload("bad.png", b"\x89PNG broken")
    layers = composer.handle_upload(value)
    assert [layer.name for layer in layers] == ["good"]
    assert "bad.png" in composer.status_text and "Added good" in composer.status_text
    composer.undo()
    assert len(composer.composition) == 0  # the upload is one undo step


def test_palette_from_a_folder_skips_unreadable_files(tmp_path):
    (tmp_path / "b_square.png").write_bytes(png_bytes(10, 10))
    (tmp_path / "a_photo.png").write_bytes(png_bytes(10, 10, (1, 2, 3), mode="RGB"))
    (tmp_path / "broken.png").write_bytes(b"nope")
    (tmp_path / "readme.txt").write_text("not listed")
    composer = Composer(size=64, cutouts=tmp_path)
    assert composer.cutout_names == ["a_photo", "b_square"]
    assert "broken.png" in composer.status_text

    composer.add_cutout_folder(tmp_path)
    assert composer.cutout_names[-1] == "b_square-2"
    with pytest.raises(NotADirectoryError):
        composer.add_cutout_folder(tmp_path / "missing")


def test_load_layout_places_the_demo_scene_in_one_undo_step(composer):
    from ipainter_nb.demo.cutouts import demo_layout

    layers = composer.load_layout(demo_layout())
    assert [(layer.name, layer.x, layer.y) for layer in layers] == [
        (e["name"], e["x"], e["y"]) for e in demo_layout()]
    image, keep = composer.composition.render()
    assert 0 < keep.mean() < 1
    composer.undo()
    assert len(composer.composition) == 0
