"""The procedural demo scenes, the cutout pack and the comparison statistics."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ipainter_nb.demo import cutouts, scenes, stats


@pytest.fixture(scope="module")
def scene_batch() -> np.ndarray:
    # 200 scenes are enough for the layout rule and cost well under a second
    return scenes.make_scenes(200, seed=0)


# --- scenes ----------------------------------------------------------------------


def test_scenes_have_the_requested_shape_and_dtype():
    batch = scenes.make_scenes(3, seed=1)
    assert batch.shape == (3, 64, 64, 3) and batch.dtype == np.uint8
    assert scenes.make_scenes(2, seed=1, size=32).shape == (2, 32, 32, 3)
    one = scenes.make_scene(np.random.default_rng(5))
    assert one.shape == (64, 64, 3) and one.dtype == np.uint8


def test_same_seed_gives_the_same_scenes():
    np.testing.assert_array_equal(scenes.make_scenes(8, seed=42), scenes.make_scenes(8, seed=42))


def test_different_seeds_and_successive_scenes_differ():
    a, b = scenes.make_scenes(8, seed=1), scenes.make_scenes(8, seed=2)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 10
    # within a batch every picture is its own scene
    flat = a.reshape(8, -1)
    assert len({row.tobytes() for row in flat}) == 8


def test_make_scene_uses_only_the_given_generator():
    first = scenes.make_scene(np.random.default_rng(9))
    np.random.seed(123)  # the legacy global state must not matter
    np.testing.assert_array_equal(first, scenes.make_scene(np.random.default_rng(9)))


def test_scenes_are_not_flat_pictures(scene_batch):
    # each picture has real structure: a wide range of values and a visible horizon
    spread = scene_batch.reshape(len(scene_batch), -1).std(axis=1)
    assert (spread > 8).mean() > 0.95


def test_sky_is_above_ground_in_at_least_95_percent_of_scenes(scene_batch):
    assert stats.sky_above_ground_fraction(scene_batch) >= 0.95
    # the rule is not trivially true: turned upside down, scenes mostly fail it
    assert stats.sky_above_ground_fraction(scene_batch[:, ::-1]) < 0.75


# --- statistics ------------------------------------------------------------------


def test_row_mean_colour_is_one_rgb_per_row_with_blue_sky_on_top(scene_batch):
    rows = stats.row_mean_colour(scene_batch)
    assert rows.shape == (64, 3)
    top, bottom = rows[:8].mean(axis=0), rows[-8:].mean(axis=0)
    assert top[2] > bottom[2]  # bluer at the top on average


def test_spectrum_slope_separates_scenes_from_white_noise(scene_batch):
    noise = np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    assert stats.spectrum_slope(noise) > -0.5          # white noise: flat spectrum
    assert -4.0 < stats.spectrum_slope(scene_batch[:32]) < -1.5  # landscape-like falloff


def test_compare_to_scenes_reports_both_sides_and_accepts_sampler_output(scene_batch):
    images = scene_batch[:16]
    as_tensor_layout = images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0
    report = stats.compare_to_scenes(as_tensor_layout, n_ref=32, seed=3)
    for key in ("row_colour_mae", "spectrum_slope", "spectrum_slope_ref",
                "sky_above_ground", "sky_above_ground_ref"):
        assert key in report
    assert report["n"] == 16 and report["n_ref"] == 32
    assert report["row_colour_mae"] < 30  # real scenes resemble fresh real scenes
    grey = np.full((16, 64, 64, 3), 128, np.uint8)
    assert stats.compare_to_scenes(grey, n_ref=32, seed=3)["row_colour_mae"] > report["row_colour_mae"]


# --- cutouts ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pack() -> dict[str, Image.Image]:
    return cutouts.make_cutouts()


def test_the_pack_has_the_nine_landmarks(pack):
    assert {"sun", "moon", "tree", "pine", "house", "boat", "cloud", "mountain", "rock"} <= set(pack)


@pytest.mark.parametrize("name", cutouts.CUTOUT_NAMES)
def test_cutout_has_clean_alpha_and_fits_a_64px_canvas(pack, name):
    img = pack[name]
    assert img.mode == "RGBA"
    w, h = img.size
    assert 12 <= max(w, h) <= 44 and min(w, h) >= 8
    alpha = np.asarray(img)[..., 3]
    assert alpha[0, 0] == alpha[0, -1] == alpha[-1, 0] == alpha[-1, -1] == 0
    # fully opaque inside: the middle third holds opaque pixels ...
    assert alpha[h // 3: 2 * h // 3 + 1, w // 3: 2 * w // 3 + 1].max() == 255
    # ... and partly transparent pixels only form the anti-aliased rim: each lies
    # within 2 px of a fully transparent pixel (no halo, no see-through seams inside)
    clear = np.pad(alpha == 0, 2, constant_values=True)
    near_clear = np.zeros_like(clear[2:-2, 2:-2])
    for dy in range(5):
        for dx in range(5):
            near_clear |= clear[dy:dy + h, dx:dx + w]
    partial = (alpha > 0) & (alpha < 255)
    assert not (partial & ~near_clear).any()
    assert (alpha == 255).sum() > partial.sum()


def test_list_cutouts_finds_the_shipped_files():
    shipped = cutouts.list_cutouts()
    assert set(cutouts.CUTOUT_NAMES) <= set(shipped)
    for name, path in shipped.items():
        assert path.parent == cutouts.cutout_pack_dir() and path.name == f"{name}.png"
        assert path.stat().st_size < 8_000  # small files


def test_regenerated_pack_matches_the_shipped_pngs(tmp_path):
    written = cutouts.write_cutout_pack(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{n}.png" for n in cutouts.CUTOUT_NAMES)
    shipped = cutouts.list_cutouts()
    for path in written:
        new = np.asarray(Image.open(path)).astype(int)
        old = np.asarray(Image.open(shipped[path.stem])).astype(int)
        assert new.shape == old.shape, path.stem
        # pixel for pixel; one level of slack only for libm rounding on other CPUs
        assert np.abs(new - old).max() <= 1, path.stem


def test_cutouts_command_writes_the_pack(tmp_path, capsys):
    assert cutouts.main(["--out", str(tmp_path)]) == 0
    assert {p.stem for p in tmp_path.glob("*.png")} == set(cutouts.CUTOUT_NAMES)
    assert "house.png" in capsys.readouterr().out


def test_demo_layout_places_known_cutouts_inside_the_canvas(pack):
    layout = cutouts.demo_layout()
    assert {"sun", "house", "tree", "boat"} <= {item["name"] for item in layout}
    for item in layout:
        w, h = pack[item["name"]].size
        s = item["scale"]
        assert 0 <= item["x"] and item["x"] + w * s <= 64
        assert 0 <= item["y"] and item["y"] + h * s <= 64
    sun = next(i for i in layout if i["name"] == "sun")
    house = next(i for i in layout if i["name"] == "house")
    assert sun["y"] < 16 < house["y"]  # sun in the sky, house on the ground


def test_tall_ridges_rising_above_the_top_edge_are_drawn_not_crashing():
    # seed 12 once drew a mountain whose summit lay above row 0 and crashed training
    from ipainter_nb.demo.scenes import make_scenes

    for seed in range(8, 40):
        assert make_scenes(16, seed=seed, size=64).shape == (16, 64, 64, 3)


def test_demo_composition_is_the_layout_at_any_canvas_size():
    from ipainter_nb.demo import demo_composition

    small, large = demo_composition(64), demo_composition(128)
    assert [layer.name for layer in small] == [item["name"] for item in cutouts.demo_layout()]
    _, keep_small = small.render()
    _, keep_large = large.render()
    assert keep_large.shape == (1, 128, 128) and 0.05 < keep_small.mean() < 0.6
    # the same scene twice as large: each pixel of the small mask covers a 2x2 block of the large one
    assert abs(keep_large.mean().item() - keep_small.mean().item()) < 0.02


def test_the_demo_makers_refuse_what_is_no_count_seed_or_name():
    from ipainter_nb.demo.composition import demo_composition
    from ipainter_nb.demo.cutouts import make_cutout
    from ipainter_nb.errors import UserInputError

    for call, message in ((lambda: scenes.make_scenes(-1, 0), "n=-1 is out of range"),
                          (lambda: scenes.make_scenes(True, 0), "n must be a whole"),
                          (lambda: scenes.make_scenes(2, 0, size=0), "size=0 is out of range"),
                          (lambda: make_cutout("sunn"), "unknown cutout 'sunn'; known: sun, moon"),
                          (lambda: make_cutout("sun", seed=-1), "seed=-1 is out of range"),
                          (lambda: demo_composition(None), "size must be a whole number")):
        with pytest.raises(UserInputError, match=message):
            call()
