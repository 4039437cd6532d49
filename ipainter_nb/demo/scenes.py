"""Procedural landscapes: the training distribution of the demo model.

The real Intelligent Painter uses a 256x256 Places model that cannot be downloaded here,
so the demo model learns from these scenes instead. They are built to teach *layout*:
sky above, ground below, a horizon that runs across the picture, water that mirrors
what stands at its edge, far mountains paler than near hills. Colours are flat-ish with
soft gradients so that a small UNet on a CPU can learn them.

Everything is drawn with numpy at ``SUPERSAMPLE`` times the output size on a float
canvas, then box-averaged down, which gives anti-aliased edges cheaply. The same drawing
primitives and objects (sun, tree, house, ...) are reused by :mod:`.cutouts`, so cutouts
look like things the model has seen.

All randomness of a scene comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "Canvas",
    "make_scene",
    "make_scenes",
    "fractal_profile",
    "draw_disc",
    "draw_ellipse",
    "draw_polygon",
    "draw_rect",
    "draw_below_profile",
    "draw_sun",
    "draw_moon",
    "draw_cloud",
    "draw_round_tree",
    "draw_pine",
    "draw_house",
    "draw_boat",
    "draw_rock",
    "draw_mountain",
    "SUPERSAMPLE",
]

SUPERSAMPLE = 2  # drawing resolution factor; 2 is enough for smooth edges at 64x64

ColourLike = Sequence[float] | np.ndarray


# ---------------------------------------------------------------------------
# Canvas and primitives
# ---------------------------------------------------------------------------


class Canvas:
    """A float RGB(A) drawing surface in [0, 255], premultiplied by alpha.

    ``opaque=True`` is a scene background (alpha is implicitly 1 everywhere);
    ``opaque=False`` starts fully transparent and tracks alpha, for cutouts.
    """

    def __init__(self, height: int, width: int, opaque: bool = True) -> None:
        self.h = height
        self.w = width
        self.opaque = opaque
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.alpha = None if opaque else np.zeros((height, width), np.float32)

    def region(self, x0: float, y0: float, x1: float, y1: float):
        """Pixel slices and centre coordinates of a box, clipped to the canvas.

        Returns ``None`` when the box misses the canvas. Working on the object's box
        instead of the whole canvas is what keeps many small objects cheap.
        """
        ix0 = max(int(np.floor(x0)), 0)
        iy0 = max(int(np.floor(y0)), 0)
        ix1 = min(int(np.ceil(x1)), self.w)
        iy1 = min(int(np.ceil(y1)), self.h)
        if ix0 >= ix1 or iy0 >= iy1:
            return None
        ys = np.arange(iy0, iy1, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(ix0, ix1, dtype=np.float32)[None, :] + 0.5
        return slice(iy0, iy1), slice(ix0, ix1), ys, xs

    def paint(self, region, cov: np.ndarray, colour: ColourLike) -> None:
        """Composite ``colour`` over the region with coverage ``cov`` (0..1)."""
        sy, sx = region[0], region[1]
        col = np.asarray(colour, np.float32)
        dst = self.rgb[sy, sx]
        dst += (col - dst) * cov[..., None]  # premultiplied "over"
        if self.alpha is not None:
            al = self.alpha[sy, sx]
            al += (1.0 - al) * cov

    def to_uint8(self, factor: int) -> np.ndarray:
        """Box-average by ``factor`` and return uint8 RGB (H,W,3) or RGBA (H,W,4)."""
        h, w = self.h // factor, self.w // factor
        rgb = self.rgb.reshape(h, factor, w, factor, 3).mean(axis=(1, 3))
        if self.alpha is None:
            return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        a = self.alpha.reshape(h, factor, w, factor).mean(axis=(1, 3))
        # Un-premultiply; exact 0/1 alpha survives averaging so edges stay clean.
        safe = np.where(a > 1e-6, a, 1.0)[..., None]
        out = np.empty((h, w, 4), np.uint8)
        out[..., :3] = np.clip(rgb / safe + 0.5, 0, 255)
        out[..., 3] = np.clip(a * 255.0 + 0.5, 0, 255)
        out[a <= 1e-6, :3] = 0
        return out


def _edge(d: np.ndarray) -> np.ndarray:
    """Coverage from a signed distance (positive inside), ramp one pixel wide."""
    return np.clip(d + 0.5, 0.0, 1.0)


def draw_disc(c: Canvas, cx: float, cy: float, r: float, colour: ColourLike,
              soft: float = 1.0, opacity: float = 1.0) -> None:
    """A filled disc; ``soft`` widens the edge ramp (in pixels) for glows and blurs."""
    reg = c.region(cx - r - soft, cy - r - soft, cx + r + soft, cy + r + soft)
    if reg is None:
        return
    d = r - np.sqrt((reg[3] - cx) ** 2 + (reg[2] - cy) ** 2)
    c.paint(reg, np.clip(d / soft + 0.5, 0.0, 1.0) * opacity, colour)


def draw_ellipse(c: Canvas, cx: float, cy: float, rx: float, ry: float,
                 colour: ColourLike, opacity: float = 1.0) -> None:
    """An axis-aligned filled ellipse (distance approximated by the scaled radius)."""
    reg = c.region(cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1)
    if reg is None:
        return
    q = np.sqrt(((reg[3] - cx) / rx) ** 2 + ((reg[2] - cy) / ry) ** 2)
    c.paint(reg, _edge((1.0 - q) * min(rx, ry)) * opacity, colour)


def _polygon_cov(pts: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Coverage of a convex polygon: the smallest signed distance to its edges."""
    ax, ay = pts[:, 0], pts[:, 1]
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    area = np.sum(ax * by - bx * ay)
    sign = 1.0 if area >= 0 else -1.0
    d = None
    for i in range(len(pts)):
        ex, ey = bx[i] - ax[i], by[i] - ay[i]
        n = np.hypot(ex, ey)
        if n == 0:
            continue
        di = sign * (ex * (ys - ay[i]) - ey * (xs - ax[i])) / n
        d = di if d is None else np.minimum(d, di)
    return _edge(d)


def draw_polygon(c: Canvas, pts: Sequence[Sequence[float]], colour: ColourLike,
                 opacity: float = 1.0) -> None:
    """A filled convex polygon given by its corners (any orientation)."""
    p = np.asarray(pts, np.float32)
    reg = c.region(p[:, 0].min() - 1, p[:, 1].min() - 1, p[:, 0].max() + 1, p[:, 1].max() + 1)
    if reg is None:
        return
    c.paint(reg, _polygon_cov(p, reg[2], reg[3]) * opacity, colour)


def draw_rect(c: Canvas, x0: float, y0: float, x1: float, y1: float,
              colour: ColourLike, opacity: float = 1.0) -> None:
    """An axis-aligned rectangle with anti-aliased fractional edges."""
    reg = c.region(x0 - 1, y0 - 1, x1 + 1, y1 + 1)
    if reg is None:
        return
    ys, xs = reg[2], reg[3]
    cov = np.minimum(_edge(np.minimum(xs - x0, x1 - xs)), _edge(np.minimum(ys - y0, y1 - ys)))
    c.paint(reg, cov * opacity, colour)


def draw_below_profile(c: Canvas, heights: np.ndarray, colour: ColourLike,
                       y_top: float | None = None, y_bottom: float | None = None,
                       x0: int = 0) -> np.ndarray | None:
    """Fill everything below the curve ``y = heights[x]`` (one value per column).

    ``colour`` may be (3,) or an array broadcastable to the region, e.g. (h,1,3) for a
    vertical gradient. Returns the coverage so callers can add shading on the same shape.
    """
    top = float(heights.min()) - 1 if y_top is None else y_top
    bottom = c.h if y_bottom is None else y_bottom
    reg = c.region(x0, top, x0 + len(heights), bottom)
    if reg is None:
        return None
    hs = heights[reg[1].start - x0: reg[1].stop - x0][None, :]
    cov = _edge(reg[2] - hs)
    if y_bottom is not None:
        cov = cov * _edge(y_bottom - reg[2])
    c.paint(reg, cov, colour)
    return cov


def fractal_profile(rng: np.random.Generator, n: int, octaves: int = 5, knots: int = 3,
                    roughness: float = 0.5, smooth: bool = False) -> np.ndarray:
    """1-D fractal noise of length ``n`` in about [-1, 1].

    Octaves of random values at doubling knot counts, linearly interpolated: the coarse
    octave gives peaks, the fine ones a rocky outline. ``smooth`` uses a cosine ease
    between knots, for rolling hills.
    """
    x = np.linspace(0.0, 1.0, n, dtype=np.float64)
    out = np.zeros(n)
    amp, total, k = 1.0, 0.0, knots
    for _ in range(octaves):
        vals = rng.uniform(-1.0, 1.0, k + 1)
        if smooth:
            pos = x * k
            i = np.minimum(pos.astype(int), k - 1)
            f = pos - i
            f = (1 - np.cos(np.pi * f)) * 0.5
            out += amp * (vals[i] * (1 - f) + vals[i + 1] * f)
        else:
            out += amp * np.interp(x, np.linspace(0.0, 1.0, k + 1), vals)
        total += amp
        amp *= roughness
        k *= 2
    return (out / total).astype(np.float32)


def _mix(a: ColourLike, b: ColourLike, t: float) -> np.ndarray:
    return np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t


# ---------------------------------------------------------------------------
# Objects (shared with the cutouts). Sizes are in canvas pixels.
# ---------------------------------------------------------------------------


def draw_sun(c: Canvas, cx: float, cy: float, r: float, colour: ColourLike = (255, 240, 200),
             glow: float = 0.35) -> None:
    """A bright disc with a soft halo (the halo is what makes it read as a sun)."""
    if glow > 0:
        draw_disc(c, cx, cy, r * 1.9, colour, soft=r * 1.4, opacity=glow)
    draw_disc(c, cx, cy, r, colour)


def draw_moon(c: Canvas, cx: float, cy: float, r: float,
              colour: ColourLike = (235, 235, 215), phase: float = 0.0) -> None:
    """A moon; ``phase`` > 0 cuts a crescent (the dark side stays see-through)."""
    pad = 1.0
    reg = c.region(cx - r - pad, cy - r - pad, cx + r + pad, cy + r + pad)
    if reg is None:
        return
    ys, xs = reg[2], reg[3]
    cov = _edge(r - np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2))
    if phase > 0:
        off = 2.0 * r * phase
        cov = cov * (1.0 - _edge(r - np.sqrt((xs - cx - off) ** 2 + (ys - cy + 0.3 * off) ** 2)))
    c.paint(reg, cov, colour)
    # two faint "seas" so it isn't a plain disc
    shade = _mix(colour, (120, 120, 120), 0.25)
    for dx, dy, rr in ((-0.3, -0.2, 0.25), (0.1, 0.35, 0.18)):
        sub = _edge(rr * r - np.sqrt((xs - cx - dx * r) ** 2 + (ys - cy - dy * r) ** 2))
        c.paint(reg, sub * cov * 0.6, shade)


def draw_cloud(c: Canvas, rng: np.random.Generator, cx: float, cy: float, w: float,
               colour: ColourLike = (250, 250, 252), shadow: ColourLike | None = None,
               opacity: float = 0.95, soft: float | None = None) -> None:
    """A soft cloud: the union of a few overlapping puffs, a bit darker underneath.

    ``soft`` is the edge ramp in pixels (default: 4% of the width, a hazy edge).
    """
    n = int(rng.integers(3, 6))
    ox = rng.uniform(-0.38, 0.38, n) * w
    rad = rng.uniform(0.16, 0.28, n) * w
    oy = -rad * rng.uniform(0.2, 0.6, n)
    h = w * 0.5
    reg = c.region(cx - w * 0.7, cy - h, cx + w * 0.7, cy + 0.2 * w)
    if reg is None:
        return
    ys, xs = reg[2], reg[3]
    soft = max(1.0, w * 0.04) if soft is None else soft
    miss = np.ones(np.broadcast_shapes(ys.shape, xs.shape), np.float32)
    for i in range(n):
        d = rad[i] - np.sqrt((xs - cx - ox[i]) ** 2 + (ys - cy - oy[i]) ** 2)
        miss *= 1.0 - np.clip(d / soft + 0.5, 0, 1)
    # flat-ish base: fade the puffs out below the cloud's bottom line
    base = np.clip((cy + 0.12 * w - ys) / soft + 0.5, 0, 1)
    cov = (1.0 - miss) * base
    c.paint(reg, cov * opacity, colour)
    if shadow is not None:
        t = np.clip((ys - (cy - 0.25 * w)) / (0.4 * w), 0, 1) * 0.6
        c.paint(reg, cov * opacity * t, shadow)


def draw_round_tree(c: Canvas, x: float, base: float, h: float,
                    leaf: ColourLike = (60, 125, 50), trunk: ColourLike = (95, 65, 40)) -> None:
    """A deciduous tree: trunk and a canopy of three puffs with a lit side."""
    tw = max(h * 0.09, 1.0)
    draw_rect(c, x - tw, base - h * 0.5, x + tw, base, trunk)
    r = h * 0.27
    dark = _mix(leaf, (0, 0, 0), 0.25)
    light = _mix(leaf, (255, 255, 200), 0.18)
    draw_disc(c, x - r * 0.55, base - h * 0.52, r * 0.9, dark)
    draw_disc(c, x + r * 0.55, base - h * 0.5, r * 0.9, dark)
    draw_disc(c, x, base - h + r * 1.05, r * 1.05, leaf)
    draw_disc(c, x - r * 0.3, base - h + r * 0.9, r * 0.5, light)


def draw_pine(c: Canvas, x: float, base: float, h: float,
              leaf: ColourLike = (35, 85, 55), trunk: ColourLike = (85, 60, 40)) -> None:
    """A conifer: short trunk and three stacked triangles."""
    tw = max(h * 0.06, 0.8)
    draw_rect(c, x - tw, base - h * 0.2, x + tw, base, trunk)
    w = h * 0.38
    light = _mix(leaf, (200, 230, 160), 0.12)
    for i, (y_bot, y_top, s) in enumerate(((0.15, 0.62, 1.0), (0.4, 0.82, 0.8), (0.62, 1.0, 0.58))):
        col = light if i == 2 else leaf
        draw_polygon(c, [(x - w * s, base - h * y_bot), (x + w * s, base - h * y_bot),
                         (x, base - h * y_top)], col)


def draw_house(c: Canvas, x: float, base: float, w: float, h: float,
               wall: ColourLike = (225, 210, 185), roof: ColourLike = (165, 60, 45),
               window: ColourLike = (90, 110, 140), door: ColourLike = (90, 60, 45)) -> None:
    """A house: wall box, pitched roof with eaves, a door and a window."""
    wall_top = base - h * 0.58
    draw_rect(c, x - w / 2, wall_top, x + w / 2, base, wall)
    # a slightly darker right half gives the box some volume
    draw_rect(c, x + w * 0.18, wall_top, x + w / 2, base, _mix(wall, (0, 0, 0), 0.12))
    eave = w * 0.1
    # the roof overlaps the wall top so no see-through seam appears between them
    lap = max(1.0, h * 0.03)
    draw_polygon(c, [(x - w / 2 - eave, wall_top + lap), (x + w / 2 + eave, wall_top + lap),
                     (x, base - h)], roof)
    draw_rect(c, x - w * 0.3, base - h * 0.32, x - w * 0.08, base, door)
    draw_rect(c, x + w * 0.06, base - h * 0.45, x + w * 0.34, base - h * 0.24, window)


def draw_boat(c: Canvas, x: float, waterline: float, w: float,
              hull: ColourLike = (130, 70, 45), sail: ColourLike = (245, 240, 225),
              flip: bool = False) -> None:
    """A sailing boat floating at ``waterline``; ``flip`` draws its mirror image below."""
    s = -1.0 if flip else 1.0

    def y(v: float) -> float:  # height above the waterline -> canvas y
        return waterline - s * v

    hh = w * 0.16
    draw_polygon(c, [(x - w / 2, y(hh)), (x + w / 2, y(hh)), (x + w * 0.32, y(-hh * 0.3)),
                     (x - w * 0.32, y(-hh * 0.3))], hull)
    mw = max(w * 0.025, 0.6)
    top, bot = sorted((y(w * 0.95), y(hh * 0.3)))  # the mast reaches into the hull
    draw_rect(c, x - mw, top, x + mw, bot, _mix(hull, (0, 0, 0), 0.3))
    # sails start inside the mast: no see-through seam along it
    draw_polygon(c, [(x + mw * 0.5, y(w * 0.92)), (x + mw * 0.5, y(hh * 1.6)),
                     (x + w * 0.42, y(hh * 1.6))], sail)
    draw_polygon(c, [(x - mw * 0.5, y(w * 0.8)), (x - mw * 0.5, y(hh * 1.6)),
                     (x - w * 0.3, y(hh * 1.6))], _mix(sail, (0, 0, 0), 0.1))


def draw_rock(c: Canvas, rng: np.random.Generator, cx: float, base: float, r: float,
              colour: ColourLike = (125, 120, 115)) -> None:
    """A boulder: a lumpy half-ellipse with a lit top and a flat bottom."""
    reg = c.region(cx - r * 1.75, base - r * 1.4, cx + r * 1.75, base + 1)
    if reg is None:
        return
    ys, xs = reg[2], reg[3]
    harm = rng.uniform(-0.09, 0.09, 4)
    ph = rng.uniform(0, 2 * np.pi, 4)
    ang = np.arctan2(ys - base, xs - cx)
    rad = r * (1.0 + sum(harm[k] * np.cos((k + 2) * ang + ph[k]) for k in range(4)))
    dist = np.sqrt(((xs - cx) / 1.25) ** 2 + (ys - base) ** 2)
    cov = _edge(rad - dist) * _edge(base - ys)
    c.paint(reg, cov, colour)
    lit = np.clip((base - r * 0.45 - ys) / (r * 0.5), 0, 1) * _edge(rad * 0.85 - dist)
    c.paint(reg, lit * 0.5, _mix(colour, (255, 255, 255), 0.35))
    c.paint(reg, cov * np.clip((xs - cx) / (r * 1.4), 0, 1) * 0.5, _mix(colour, (0, 0, 0), 0.35))


def draw_mountain(c: Canvas, rng: np.random.Generator, cx: float, base: float, w: float,
                  h: float, colour: ColourLike = (105, 105, 125),
                  snow: ColourLike | None = (240, 242, 248)) -> None:
    """A single peak: a tent shape roughened by fractal noise, optional snow cap."""
    x0 = int(np.floor(cx - w / 2))
    n = int(np.ceil(w)) + 1
    u = (np.arange(n, dtype=np.float32) + x0 + 0.5 - cx) / (w / 2)  # -1..1 across
    tent = np.clip(1.0 - np.abs(u), 0, 1)
    rough = fractal_profile(rng, n, octaves=5, knots=6, roughness=0.65)
    # noise strongest on the flanks, zero at the feet; rescaled so the peak is exactly h
    hgt = np.clip(tent + 0.5 * rough * np.sin(np.pi * tent), 0, None)
    top = base - h * hgt / max(float(hgt.max()), 1e-6)
    top = np.where(tent > 0, top, base + 2)
    draw_below_profile(c, top, colour, y_bottom=base, x0=x0)
    # shaded right flank
    reg = c.region(x0, base - h * 1.2, x0 + n, base)
    if reg is not None:
        hs = top[reg[1].start - x0: reg[1].stop - x0][None, :]
        cov = _edge(reg[2] - hs) * _edge(base - reg[2])
        side = np.clip((reg[3] - cx) / (w * 0.1) + 0.5, 0, 1)
        c.paint(reg, cov * side * 0.35, _mix(colour, (0, 0, 0), 0.5))
        if snow is not None:
            line = base - h * (0.62 + 0.08 * fractal_profile(rng, n, octaves=3, knots=6))
            sl = line[reg[1].start - x0: reg[1].stop - x0][None, :]
            c.paint(reg, cov * _edge(sl - reg[2]), snow)


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
        col = _mix(base, hor, 0.12 + 0.45 * far)
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
            c.paint(reg, cov * _edge(snow_y[None, :] - reg[2]) * 0.9,
                    _mix((240, 242, 250), hor, 0.25 * far) * light ** 0.5)

    water = rng.uniform() < 0.42
    grass = _pick(rng, _GRASS) * light
    h_int = int(horizon)
    if water:
        # a thin far shore (sometimes) with trees or houses standing at the waterline
        if rng.uniform() < 0.6:
            shore = horizon - 1 - rng.uniform(0.5, 2.5) * ss * (
                0.6 + 0.4 * fractal_profile(rng, S, octaves=3, knots=3, smooth=True))
            draw_below_profile(c, shore, _mix(grass, hor * light, 0.3), y_bottom=horizon + 1)
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
            draw_boat(c, bx, wl, bw, _mix(hull, water_col, 0.5), _mix(sail, water_col, 0.55), flip=True)
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
        c.rgb[h_int:] = _mix(grass, hor * light, 0.25)
        n_bands = int(rng.integers(2, 5))
        for i in range(n_bands):
            frac = (i + 1) / (n_bands + 1)
            yb = horizon + (S - horizon) * frac ** 1.3
            amp = rng.uniform(0.02, 0.08) * S
            prof = yb + amp * fractal_profile(rng, S, octaves=3, knots=int(rng.integers(1, 4)), smooth=True)
            is_field = rng.uniform() < 0.5
            col = (_pick(rng, _FIELDS) if is_field else _pick(rng, _GRASS)) * light
            col = _mix(col, hor * light, 0.25 * (1 - frac))
            cov = draw_below_profile(c, prof, col)
            if is_field and cov is not None:
                # crop rows: faint stripes, denser towards the horizon
                reg = c.region(0, prof.min() - 1, S, S)
                per = 2.0 + 6.0 * (reg[2] - horizon) / (S - horizon)
                stripes = (np.sin((reg[2] - horizon) * 2 * np.pi / per) > 0.3).astype(np.float32)
                c.paint(reg, cov * stripes * 0.2, _mix(col, (0, 0, 0), 0.35))
        if rng.uniform() < 0.25:
            draw_rock(c, rng, rng.uniform(0.1, 0.9) * S, S - rng.uniform(0.0, 0.15) * S,
                      rng.uniform(0.03, 0.08) * S, _pick(rng, _ROCK) * light)
        _place_on_ground(c, rng, horizon, light, horizon + 2, S - 2, int(rng.integers(0, 6)))

    return c.to_uint8(ss)


def make_scenes(n: int, seed: int, size: int = 64) -> np.ndarray:
    """``n`` scenes as an (n, size, size, 3) uint8 array; the same seed gives the same scenes."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        out[i] = make_scene(rng, size)
    return out
