"""Procedural landscapes: the training distribution of the demo model.

The real Intelligent Painter uses a 256x256 Places model that cannot be downloaded here,
so the demo model learns from these scenes instead. They are built to teach *layout*:
sky above, ground below, a horizon that runs across the picture, water that mirrors
what stands at its edge, far mountains paler than near hills. Colours are flat-ish with
soft gradients so that a small UNet on a CPU can learn them. The drawing primitives and
objects live in :mod:`.drawing`, which :mod:`.cutouts` draws with too.

All randomness of a scene comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.arguments import MAX_IMAGE_SIDE, check_whole
from ..public import public_names
from .drawing import (
    SUPERSAMPLE,
    Canvas,
    coverage_from_distance,
    draw_below_profile,
    draw_boat,
    draw_cloud,
    draw_house,
    draw_moon,
    draw_pine,
    draw_rock,
    draw_round_tree,
    draw_sun,
    fractal_profile,
    mix_colours,
)

__all__ = ["make_scene", "make_scenes"]

ColourLike = Sequence[float] | np.ndarray

# ---------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------

# (sky top, sky horizon, light tint for everything on the ground, water tint)
_TIMES = {
    "day": ((70, 130, 210), (185, 215, 240), (1.0, 1.0, 1.0), (45, 95, 140)),
    "dusk": ((55, 55, 120), (250, 165, 95), (0.78, 0.6, 0.6), (70, 55, 85)),
    "night": ((6, 10, 30), (30, 42, 80), (0.26, 0.3, 0.45), (8, 12, 30)),
}
_GRASS = [(95, 150, 60), (70, 130, 55), (120, 165, 70), (80, 120, 50)]
_FIELDS = [(200, 180, 95), (165, 125, 75), (140, 175, 75), (185, 160, 70), (105, 150, 60)]
_ROCK = [(110, 110, 130), (95, 105, 125), (125, 110, 100), (120, 120, 120)]
_LEAF = [(60, 125, 50), (45, 110, 55), (85, 135, 45), (185, 125, 45)]
_WALL = [(225, 210, 185), (205, 130, 95), (235, 235, 225), (200, 190, 150)]
_ROOF = [(165, 60, 45), (95, 65, 55), (75, 85, 110), (140, 80, 50)]


def _jitter(rng: np.random.Generator, col: ColourLike, amount: float = 12.0) -> np.ndarray:
    return np.clip(np.asarray(col, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _pick(rng: np.random.Generator, options: list) -> np.ndarray:
    return _jitter(rng, options[int(rng.integers(len(options)))])


def _sky(c: Canvas, rng: np.random.Generator, time: str, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    top, hor, _, _ = _TIMES[time]
    top, hor = _jitter(rng, top, 15), _jitter(rng, hor, 15)
    y = (np.arange(c.h, dtype=np.float32) + 0.5) / max(horizon, 1.0)
    t = np.clip(y, 0, 1) ** rng.uniform(1.2, 2.2)
    c.rgb[:] = (top[None, :] * (1 - t[:, None]) + hor[None, :] * t[:, None])[:, None, :]
    return top, hor


def _stars(c: Canvas, rng: np.random.Generator, horizon: float, ss: int) -> None:
    n = int(rng.integers(15, 40))
    ys = (rng.uniform(0, horizon * 0.85, n) // ss * ss).astype(int)
    xs = (rng.uniform(0, c.w, n) // ss * ss).astype(int)
    b = rng.uniform(90, 220, n).astype(np.float32)[:, None]
    for dy in range(ss):  # a whole output pixel, so the star survives downsampling
        for dx in range(ss):
            c.rgb[ys + dy, xs + dx] = np.maximum(c.rgb[ys + dy, xs + dx], b)


def _place_on_ground(c: Canvas, rng: np.random.Generator, horizon: float, light: np.ndarray,
                     y_min: float, y_max: float, count: int, allow_house: bool = True) -> None:
    """Trees and houses on the land, bigger when nearer (lower), drawn far to near."""
    if count <= 0 or y_max <= y_min:
        return
    ys = np.sort(rng.uniform(y_min, y_max, count))
    depth = (ys - horizon) / max(c.h - horizon, 1.0)  # 0 at horizon, 1 at the bottom
    for y, d in zip(ys, depth):
        x = rng.uniform(0.05, 0.95) * c.w
        size = c.h * (0.1 + 0.35 * d) * rng.uniform(0.8, 1.2)
        kind = rng.uniform()
        if allow_house and kind < 0.28:
            draw_house(c, x, y, size * 0.9, size * 0.8, _pick(rng, _WALL) * light,
                       _pick(rng, _ROOF) * light,
                       window=(250, 215, 120) if light[0] < 0.5 else np.array((90, 110, 140), np.float32) * light,
                       door=np.array((90, 60, 45), np.float32) * light)
        elif kind < 0.65:
            draw_round_tree(c, x, y, size, _pick(rng, _LEAF) * light,
                            np.array((95, 65, 40), np.float32) * light)
        else:
            draw_pine(c, x, y, size * 1.1, _jitter(rng, (35, 85, 55)) * light,
                      np.array((85, 60, 40), np.float32) * light)


def _reflect(c: Canvas, rng: np.random.Generator, horizon: int, bottom: int,
             water: np.ndarray) -> None:
    """Mirror what stands above the waterline into the water, darkened and rippled."""
    ys = np.arange(horizon, bottom)
    src = np.clip(2 * horizon - ys - 1, 0, c.h - 1)
    k = (ys - horizon) / max(c.h - horizon, 1)
    amp = 0.6 + 4.0 * k * rng.uniform(0.3, 1.0)
    shift = np.round(amp * np.sin(ys * rng.uniform(0.9, 1.6) + rng.uniform(0, 6.3))).astype(int)
    xs = (np.arange(c.w)[None, :] + shift[:, None]) % c.w
    refl = c.rgb[src[:, None], xs]
    fade = (0.25 + 0.5 * k)[:, None, None] * rng.uniform(0.7, 1.2)
    c.rgb[horizon:bottom] = refl * (1 - fade) * 0.85 + water[None, None, :] * fade
    # sparse light streaks: the water's texture
    n = int(rng.integers(6, 20))
    sy = rng.integers(horizon + 1, max(bottom, horizon + 2), n)
    sx = rng.uniform(0, c.w, n)
    sl = rng.uniform(3, 12, n) * (1 + 2 * (sy - horizon) / max(c.h - horizon, 1))
    for yy, xx, ll in zip(sy, sx, sl):
        x0, x1 = int(max(xx - ll, 0)), int(min(xx + ll, c.w))
        if x1 > x0 and yy < bottom:
            c.rgb[yy, x0:x1] = c.rgb[yy, x0:x1] * 0.7 + np.minimum(c.rgb[yy, x0:x1] * 1.35 + 12, 255) * 0.3


def make_scene(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """Draw one random landscape as an (size, size, 3) uint8 RGB array.

    Layout: a sky gradient (day, dusk or night), a sun or moon, clouds, mountain ridges
    standing on the horizon (farther = paler), then either land (hills, fields, trees,
    houses) or water reflecting the far shore, with an optional near shore.

    Args:
        rng: the source of all the scene's randomness.
        size: the picture side in pixels.
    """
    ss = SUPERSAMPLE
    S = size * ss
    c = Canvas(S, S)
    time = ("day", "dusk", "night")[int(rng.choice(3, p=(0.55, 0.27, 0.18)))]
    light = np.asarray(_TIMES[time][2], np.float32)
    horizon = float(int(rng.uniform(0.36, 0.68) * S))
    top, hor = _sky(c, rng, time, horizon)

    # --- sky objects ---------------------------------------------------------
    if time == "night":
        _stars(c, rng, horizon, ss)
        if rng.uniform() < 0.8:
            draw_moon(c, rng.uniform(0.1, 0.9) * S, rng.uniform(0.1, 0.5) * horizon,
                      rng.uniform(0.04, 0.07) * S, _jitter(rng, (235, 235, 215), 10),
                      phase=float(rng.choice([0.0, rng.uniform(0.3, 0.6)])))
    elif time == "dusk":
        sx = rng.uniform(0.15, 0.85) * S
        # warm glow along the horizon around the setting sun
        y = np.arange(S, dtype=np.float32)[:, None] + 0.5
        x = np.arange(S, dtype=np.float32)[None, :] + 0.5
        g = np.exp(-((x - sx) / (0.35 * S)) ** 2 - ((y - horizon) / (0.3 * S)) ** 2) * 0.5
        c.paint((slice(None), slice(None)), g, (255, 200, 120))
        draw_sun(c, sx, horizon - rng.uniform(0.02, 0.2) * S, rng.uniform(0.06, 0.1) * S,
                 (255, 215, 150), glow=0.45)
    elif rng.uniform() < 0.7:
        draw_sun(c, rng.uniform(0.1, 0.9) * S, rng.uniform(0.15, 0.6) * horizon,
                 rng.uniform(0.04, 0.07) * S, _jitter(rng, (255, 245, 210), 6))

    n_clouds = int(rng.integers(0, {"day": 5, "dusk": 4, "night": 2}[time] + 1))
    cloud_col = {"day": (250, 250, 252), "dusk": (245, 170, 150), "night": (55, 60, 85)}[time]
    cloud_sh = {"day": (185, 195, 215), "dusk": (150, 95, 120), "night": (30, 35, 55)}[time]
    for _ in range(n_clouds):
        w = rng.uniform(0.18, 0.4) * S
        draw_cloud(c, rng, rng.uniform(0, 1) * S, rng.uniform(0.15, 0.75) * horizon, w,
                   _jitter(rng, cloud_col, 8), cloud_sh, opacity=rng.uniform(0.75, 0.95))

    # --- mountains and hills on the horizon (far to near) --------------------
    n_ridges = int(rng.choice(4, p=(0.2, 0.3, 0.3, 0.2)))
    for i in range(n_ridges):
        far = 1.0 - i / max(n_ridges, 1)  # 1 = farthest
        amp = rng.uniform(0.12, 0.36) * S * (0.55 + 0.45 * far)
        prof = fractal_profile(rng, S, octaves=5, knots=int(rng.integers(2, 5)), roughness=0.5)
        prof = (prof - prof.min()) / max(float(prof.max() - prof.min()), 1e-3)  # 0..1
        heights = horizon + 1 - amp * (0.12 + 0.88 * prof)
        base = _pick(rng, _ROCK) * light
        col = mix_colours(base, hor, 0.12 + 0.45 * far)
        # vertical gradient: a touch hazier at the foot of the ridge
        # rows of the ridge, clipped to the canvas (a tall ridge may rise above the top edge)
        yy = np.arange(max(int(heights.min()) - 1, 0), int(horizon) + 1, dtype=np.float32)
        tt = np.clip((yy - heights.min()) / max(horizon - heights.min(), 1.0), 0, 1)[:, None, None]
        grad = col[None, None, :] * (1 - 0.3 * tt) + hor[None, None, :] * 0.3 * tt
        cov = draw_below_profile(c, heights, grad, y_top=yy[0], y_bottom=horizon + 1)
        if cov is not None and far > 0.6 and time != "night" and rng.uniform() < 0.5:
            # snow on the summits only: above one snow line for the whole ridge
            snow_y = heights.min() + amp * rng.uniform(0.25, 0.45)
            snow_y = snow_y + 0.04 * S * fractal_profile(rng, S, octaves=3, knots=8)
            reg = c.region(0, yy[0], S, horizon + 1)
            c.paint(reg, cov * coverage_from_distance(snow_y[None, :] - reg[2]) * 0.9,
                    mix_colours((240, 242, 250), hor, 0.25 * far) * light ** 0.5)

    water = rng.uniform() < 0.42
    grass = _pick(rng, _GRASS) * light
    h_int = int(horizon)
    if water:
        # a thin far shore (sometimes) with trees or houses standing at the waterline
        if rng.uniform() < 0.6:
            shore = horizon - 1 - rng.uniform(0.5, 2.5) * ss * (
                0.6 + 0.4 * fractal_profile(rng, S, octaves=3, knots=3, smooth=True))
            draw_below_profile(c, shore, mix_colours(grass, hor * light, 0.3), y_bottom=horizon + 1)
            for _ in range(int(rng.integers(0, 5))):
                x = rng.uniform(0.03, 0.97) * S
                h = rng.uniform(0.07, 0.16) * S
                kind = rng.uniform()
                if kind < 0.25:
                    draw_house(c, x, horizon + 1, h * 0.9, h * 0.8, _pick(rng, _WALL) * light,
                               _pick(rng, _ROOF) * light,
                               window=(250, 215, 120) if time == "night" else np.array((90, 110, 140)) * light)
                elif kind < 0.6:
                    draw_round_tree(c, x, horizon + 1, h, _pick(rng, _LEAF) * light,
                                    np.array((95, 65, 40), np.float32) * light)
                else:
                    draw_pine(c, x, horizon + 1, h * 1.2, _jitter(rng, (35, 85, 55)) * light,
                              np.array((85, 60, 40), np.float32) * light)
        water_col = _jitter(rng, _TIMES[time][3], 10)
        _reflect(c, rng, h_int, S, water_col)
        if rng.uniform() < 0.35:
            bx = rng.uniform(0.15, 0.85) * S
            wl = horizon + rng.uniform(0.08, 0.5) * (S - horizon)
            bw = S * (0.08 + 0.2 * (wl - horizon) / (S - horizon))
            hull = _jitter(rng, (130, 70, 45)) * light
            sail = _jitter(rng, (240, 235, 220), 10) * light
            draw_boat(c, bx, wl, bw, mix_colours(hull, water_col, 0.5), mix_colours(sail, water_col, 0.55), flip=True)
            draw_boat(c, bx, wl, bw, hull, sail)
        # near shore at the bottom, sometimes
        if rng.uniform() < 0.5:
            top_y = S - rng.uniform(0.06, 0.22) * S
            near = top_y + rng.uniform(0.02, 0.08) * S * fractal_profile(rng, S, octaves=3, knots=2, smooth=True)
            sand = rng.uniform() < 0.4
            col = _jitter(rng, (215, 195, 140)) * light if sand else grass
            draw_below_profile(c, near, col)
            if rng.uniform() < 0.5:
                draw_rock(c, rng, rng.uniform(0.1, 0.9) * S, S - rng.uniform(0.0, 0.05) * S,
                          rng.uniform(0.04, 0.09) * S, _pick(rng, _ROCK) * light)
            elif not sand:
                _place_on_ground(c, rng, horizon, light, float(near.max()) + 2, S - 1, 1, allow_house=False)
    else:
        # rolling hills band by band, nearer ones darker and more saturated
        c.rgb[h_int:] = mix_colours(grass, hor * light, 0.25)
        n_bands = int(rng.integers(2, 5))
        for i in range(n_bands):
            frac = (i + 1) / (n_bands + 1)
            yb = horizon + (S - horizon) * frac ** 1.3
            amp = rng.uniform(0.02, 0.08) * S
            prof = yb + amp * fractal_profile(rng, S, octaves=3, knots=int(rng.integers(1, 4)), smooth=True)
            is_field = rng.uniform() < 0.5
            col = (_pick(rng, _FIELDS) if is_field else _pick(rng, _GRASS)) * light
            col = mix_colours(col, hor * light, 0.25 * (1 - frac))
            cov = draw_below_profile(c, prof, col)
            if is_field and cov is not None:
                # crop rows: faint stripes, denser towards the horizon
                reg = c.region(0, prof.min() - 1, S, S)
                per = 2.0 + 6.0 * (reg[2] - horizon) / (S - horizon)
                stripes = (np.sin((reg[2] - horizon) * 2 * np.pi / per) > 0.3).astype(np.float32)
                c.paint(reg, cov * stripes * 0.2, mix_colours(col, (0, 0, 0), 0.35))
        if rng.uniform() < 0.25:
            draw_rock(c, rng, rng.uniform(0.1, 0.9) * S, S - rng.uniform(0.0, 0.15) * S,
                      rng.uniform(0.03, 0.08) * S, _pick(rng, _ROCK) * light)
        _place_on_ground(c, rng, horizon, light, horizon + 2, S - 2, int(rng.integers(0, 6)))

    return c.to_uint8(ss)


def make_scenes(n: int, seed: int, size: int = 64) -> np.ndarray:
    """``n`` scenes as an (n, size, size, 3) uint8 array; the same seed gives the same scenes.

    Args:
        n: how many scenes.
        seed: the seed of the one generator all scenes draw from, in turn.
        size: their side in pixels.
    """
    n, seed = check_whole("n", n, 0), check_whole("seed", seed, 0)
    size = check_whole("size", size, 1, MAX_IMAGE_SIDE + 1)
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        out[i] = make_scene(rng, size)
    return out


public_names(globals())  # after every public definition
