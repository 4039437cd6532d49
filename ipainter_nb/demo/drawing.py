"""Drawing on a supersampled float canvas: primitives (discs, polygons, profiles) and the
objects of the demo scenes (sun, moon, clouds, trees, houses, boats, rocks, mountains).

Everything is drawn with numpy at ``SUPERSAMPLE`` times the output size, then box-averaged
down, which gives anti-aliased edges cheaply. :mod:`.scenes` composes whole landscapes from
these objects and :mod:`.cutouts` draws the cutout pack with them, so cutouts look like
things the model has seen. All randomness comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..public import public_names

__all__ = [
    "coverage_from_distance",
    "mix_colours",
    "Canvas",
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
#: (row slice, column slice, row centres, column centres) of a box on the canvas
Region = tuple[slice, slice, np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------
# Canvas and primitives
# ---------------------------------------------------------------------------


class Canvas:
    """A float RGB(A) drawing surface in [0, 255], premultiplied by alpha.

    ``opaque=True`` is a scene background (alpha is implicitly 1 everywhere);
    ``opaque=False`` starts fully transparent and tracks alpha, for cutouts.

    Args:
        height: the canvas height in (supersampled) pixels.
        width: its width.
        opaque: RGB only (True) or RGBA with a transparent start (False, for cutouts).
    """

    def __init__(self, height: int, width: int, opaque: bool = True) -> None:
        self.h = height
        self.w = width
        self.opaque = opaque
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.alpha = None if opaque else np.zeros((height, width), np.float32)

    def region(self, x0: float, y0: float, x1: float, y1: float) -> Region | None:
        """Pixel slices and centre coordinates of a box, clipped to the canvas.

        Returns ``None`` when the box misses the canvas. Working on the object's box
        instead of the whole canvas is what keeps many small objects cheap.

        Args:
            x0: left edge.
            y0: top edge.
            x1: right edge.
            y1: bottom edge.
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

    def paint(self, region: Region, cov: np.ndarray, colour: ColourLike) -> None:
        """Composite ``colour`` over the region with coverage ``cov`` (0..1).

        Args:
            region: what ``region`` returned.
            cov: coverage of each pixel of the region, 0..1.
            colour: the RGB colour (0..255).
        """
        sy, sx = region[0], region[1]
        col = np.asarray(colour, np.float32)
        dst = self.rgb[sy, sx]
        dst += (col - dst) * cov[..., None]  # premultiplied "over"
        if self.alpha is not None:
            al = self.alpha[sy, sx]
            al += (1.0 - al) * cov

    def to_uint8(self, factor: int) -> np.ndarray:
        """Box-average by ``factor`` and return uint8 RGB (H,W,3) or RGBA (H,W,4).

        Args:
            factor: the supersampling factor to average away.
        """
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


def coverage_from_distance(d: np.ndarray) -> np.ndarray:
    """Coverage from a signed distance (positive inside), ramp one pixel wide.

    Args:
        d: signed distances in canvas pixels.
    """
    return np.clip(d + 0.5, 0.0, 1.0)


def draw_disc(c: Canvas, cx: float, cy: float, r: float, colour: ColourLike,
              soft: float = 1.0, opacity: float = 1.0) -> None:
    """A filled disc; ``soft`` widens the edge ramp (in pixels) for glows and blurs.

    Args:
        c: the canvas to draw on.
        cx: centre x.
        cy: centre y.
        r: radius.
        colour: the disc's RGB colour (0..255).
        soft: width of the edge ramp in pixels.
        opacity: how opaque, 0..1.
    """
    reg = c.region(cx - r - soft, cy - r - soft, cx + r + soft, cy + r + soft)
    if reg is None:
        return
    d = r - np.sqrt((reg[3] - cx) ** 2 + (reg[2] - cy) ** 2)
    c.paint(reg, np.clip(d / soft + 0.5, 0.0, 1.0) * opacity, colour)


def draw_ellipse(c: Canvas, cx: float, cy: float, rx: float, ry: float,
                 colour: ColourLike, opacity: float = 1.0) -> None:
    """An axis-aligned filled ellipse (distance approximated by the scaled radius).

    Args:
        c: the canvas to draw on.
        cx: centre x.
        cy: centre y.
        rx: horizontal radius.
        ry: vertical radius.
        colour: the ellipse's RGB colour (0..255).
        opacity: how opaque, 0..1.
    """
    reg = c.region(cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1)
    if reg is None:
        return
    q = np.sqrt(((reg[3] - cx) / rx) ** 2 + ((reg[2] - cy) / ry) ** 2)
    c.paint(reg, coverage_from_distance((1.0 - q) * min(rx, ry)) * opacity, colour)


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
    return coverage_from_distance(d)


def draw_polygon(c: Canvas, pts: Sequence[Sequence[float]], colour: ColourLike,
                 opacity: float = 1.0) -> None:
    """A filled convex polygon given by its corners (any orientation).

    Args:
        c: the canvas to draw on.
        pts: the corners as (x, y) pairs.
        colour: the polygon's RGB colour (0..255).
        opacity: how opaque, 0..1.
    """
    p = np.asarray(pts, np.float32)
    reg = c.region(p[:, 0].min() - 1, p[:, 1].min() - 1, p[:, 0].max() + 1, p[:, 1].max() + 1)
    if reg is None:
        return
    c.paint(reg, _polygon_cov(p, reg[2], reg[3]) * opacity, colour)


def draw_rect(c: Canvas, x0: float, y0: float, x1: float, y1: float,
              colour: ColourLike, opacity: float = 1.0) -> None:
    """An axis-aligned rectangle with anti-aliased fractional edges.

    Args:
        c: the canvas to draw on.
        x0: left edge.
        y0: top edge.
        x1: right edge.
        y1: bottom edge.
        colour: the rectangle's RGB colour (0..255).
        opacity: how opaque, 0..1.
    """
    reg = c.region(x0 - 1, y0 - 1, x1 + 1, y1 + 1)
    if reg is None:
        return
    ys, xs = reg[2], reg[3]
    cov = np.minimum(coverage_from_distance(np.minimum(xs - x0, x1 - xs)), coverage_from_distance(np.minimum(ys - y0, y1 - ys)))
    c.paint(reg, cov * opacity, colour)


def draw_below_profile(c: Canvas, heights: np.ndarray, colour: ColourLike,
                       y_top: float | None = None, y_bottom: float | None = None,
                       x0: int = 0) -> np.ndarray | None:
    """Fill everything below the curve ``y = heights[x]`` (one value per column).

    ``colour`` may be (3,) or an array broadcastable to the region, e.g. (h,1,3) for a
    vertical gradient. Returns the coverage so callers can add shading on the same shape.

    Args:
        c: the canvas to draw on.
        heights: the profile's y for each column (a horizon line).
        colour: the area's RGB colour (0..255).
        y_top: clip above this y (None: the profile's top).
        y_bottom: fill down to this y (None: the canvas bottom).
        x0: the column of ``heights[0]``.
    """
    top = float(heights.min()) - 1 if y_top is None else y_top
    bottom = c.h if y_bottom is None else y_bottom
    reg = c.region(x0, top, x0 + len(heights), bottom)
    if reg is None:
        return None
    hs = heights[reg[1].start - x0: reg[1].stop - x0][None, :]
    cov = coverage_from_distance(reg[2] - hs)
    if y_bottom is not None:
        cov = cov * coverage_from_distance(y_bottom - reg[2])
    c.paint(reg, cov, colour)
    return cov


def fractal_profile(rng: np.random.Generator, n: int, octaves: int = 5, knots: int = 3,
                    roughness: float = 0.5, smooth: bool = False) -> np.ndarray:
    """1-D fractal noise of length ``n`` in about [-1, 1].

    Octaves of random values at doubling knot counts, linearly interpolated: the coarse
    octave gives peaks, the fine ones a rocky outline. ``smooth`` uses a cosine ease
    between knots, for rolling hills.

    Args:
        rng: the source of randomness of its shape.
        n: the profile's length.
        octaves: how many octaves of detail.
        knots: control points of the coarsest octave.
        roughness: amplitude ratio between octaves.
        smooth: cosine interpolation between knots instead of linear.
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


def mix_colours(a: ColourLike, b: ColourLike, t: float) -> np.ndarray:
    """``a`` blended towards ``b`` by ``t`` (0: ``a``, 1: ``b``).

    Args:
        a: the first colour (RGB, 0..255).
        b: the second colour.
        t: how far towards ``b``.
    """
    return np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t


# ---------------------------------------------------------------------------
# Objects (shared with the cutouts). Sizes are in canvas pixels.
# ---------------------------------------------------------------------------


def draw_sun(c: Canvas, cx: float, cy: float, r: float, colour: ColourLike = (255, 240, 200),
             glow: float = 0.35) -> None:
    """A bright disc with a soft halo (the halo is what makes it read as a sun).

    Args:
        c: the canvas to draw on.
        cx: centre x.
        cy: centre y.
        r: radius of the disc.
        colour: the sun's RGB colour (0..255).
        glow: strength of the halo.
    """
    if glow > 0:
        draw_disc(c, cx, cy, r * 1.9, colour, soft=r * 1.4, opacity=glow)
    draw_disc(c, cx, cy, r, colour)


def draw_moon(c: Canvas, cx: float, cy: float, r: float,
              colour: ColourLike = (235, 235, 215), phase: float = 0.0) -> None:
    """A moon; ``phase`` > 0 cuts a crescent (the dark side stays see-through).

    Args:
        c: the canvas to draw on.
        cx: centre x.
        cy: centre y.
        r: radius.
        colour: the moon's RGB colour (0..255).
        phase: 0 full moon; larger cuts a deeper crescent.
    """
    pad = 1.0
    reg = c.region(cx - r - pad, cy - r - pad, cx + r + pad, cy + r + pad)
    if reg is None:
        return
    ys, xs = reg[2], reg[3]
    cov = coverage_from_distance(r - np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2))
    if phase > 0:
        off = 2.0 * r * phase
        cov = cov * (1.0 - coverage_from_distance(r - np.sqrt((xs - cx - off) ** 2 + (ys - cy + 0.3 * off) ** 2)))
    c.paint(reg, cov, colour)
    # two faint "seas" so it isn't a plain disc
    shade = mix_colours(colour, (120, 120, 120), 0.25)
    for dx, dy, rr in ((-0.3, -0.2, 0.25), (0.1, 0.35, 0.18)):
        sub = coverage_from_distance(rr * r - np.sqrt((xs - cx - dx * r) ** 2 + (ys - cy - dy * r) ** 2))
        c.paint(reg, sub * cov * 0.6, shade)


def draw_cloud(c: Canvas, rng: np.random.Generator, cx: float, cy: float, w: float,
               colour: ColourLike = (250, 250, 252), shadow: ColourLike | None = None,
               opacity: float = 0.95, soft: float | None = None) -> None:
    """A soft cloud: the union of a few overlapping puffs, a bit darker underneath.

    ``soft`` is the edge ramp in pixels (default: 4% of the width, a hazy edge).

    Args:
        c: the canvas to draw on.
        rng: the source of randomness of its shape.
        cx: centre x.
        cy: centre y.
        w: width.
        colour: the cloud's RGB colour (0..255).
        shadow: colour of its shaded underside (None: a darker ``colour``).
        opacity: how opaque, 0..1.
        soft: edge softness in pixels (None: from the width).
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
    """A deciduous tree: trunk and a canopy of three puffs with a lit side.

    Args:
        c: the canvas to draw on.
        x: trunk x.
        base: y of the tree's foot.
        h: height.
        leaf: canopy colour.
        trunk: trunk colour.
    """
    tw = max(h * 0.09, 1.0)
    draw_rect(c, x - tw, base - h * 0.5, x + tw, base, trunk)
    r = h * 0.27
    dark = mix_colours(leaf, (0, 0, 0), 0.25)
    light = mix_colours(leaf, (255, 255, 200), 0.18)
    draw_disc(c, x - r * 0.55, base - h * 0.52, r * 0.9, dark)
    draw_disc(c, x + r * 0.55, base - h * 0.5, r * 0.9, dark)
    draw_disc(c, x, base - h + r * 1.05, r * 1.05, leaf)
    draw_disc(c, x - r * 0.3, base - h + r * 0.9, r * 0.5, light)


def draw_pine(c: Canvas, x: float, base: float, h: float,
              leaf: ColourLike = (35, 85, 55), trunk: ColourLike = (85, 60, 40)) -> None:
    """A conifer: short trunk and three stacked triangles.

    Args:
        c: the canvas to draw on.
        x: trunk x.
        base: y of the tree's foot.
        h: height.
        leaf: needle colour.
        trunk: trunk colour.
    """
    tw = max(h * 0.06, 0.8)
    draw_rect(c, x - tw, base - h * 0.2, x + tw, base, trunk)
    w = h * 0.38
    light = mix_colours(leaf, (200, 230, 160), 0.12)
    for i, (y_bot, y_top, s) in enumerate(((0.15, 0.62, 1.0), (0.4, 0.82, 0.8), (0.62, 1.0, 0.58))):
        col = light if i == 2 else leaf
        draw_polygon(c, [(x - w * s, base - h * y_bot), (x + w * s, base - h * y_bot),
                         (x, base - h * y_top)], col)


def draw_house(c: Canvas, x: float, base: float, w: float, h: float,
               wall: ColourLike = (225, 210, 185), roof: ColourLike = (165, 60, 45),
               window: ColourLike = (90, 110, 140), door: ColourLike = (90, 60, 45)) -> None:
    """A house: wall box, pitched roof with eaves, a door and a window.

    Args:
        c: the canvas to draw on.
        x: left wall x.
        base: y of the ground line.
        w: width.
        h: wall height (the roof adds to it).
        wall: wall colour.
        roof: roof colour.
        window: window colour.
        door: door colour.
    """
    wall_top = base - h * 0.58
    draw_rect(c, x - w / 2, wall_top, x + w / 2, base, wall)
    # a slightly darker right half gives the box some volume
    draw_rect(c, x + w * 0.18, wall_top, x + w / 2, base, mix_colours(wall, (0, 0, 0), 0.12))
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
    """A sailing boat floating at ``waterline``; ``flip`` draws its mirror image below.

    Args:
        c: the canvas to draw on.
        x: centre x.
        waterline: y of the waterline.
        w: hull width.
        hull: hull colour.
        sail: sail colour.
        flip: draw it upside down (its reflection).
    """
    s = -1.0 if flip else 1.0

    def y(v: float) -> float:  # height above the waterline -> canvas y
        return waterline - s * v

    hh = w * 0.16
    draw_polygon(c, [(x - w / 2, y(hh)), (x + w / 2, y(hh)), (x + w * 0.32, y(-hh * 0.3)),
                     (x - w * 0.32, y(-hh * 0.3))], hull)
    mw = max(w * 0.025, 0.6)
    top, bot = sorted((y(w * 0.95), y(hh * 0.3)))  # the mast reaches into the hull
    draw_rect(c, x - mw, top, x + mw, bot, mix_colours(hull, (0, 0, 0), 0.3))
    # sails start inside the mast: no see-through seam along it
    draw_polygon(c, [(x + mw * 0.5, y(w * 0.92)), (x + mw * 0.5, y(hh * 1.6)),
                     (x + w * 0.42, y(hh * 1.6))], sail)
    draw_polygon(c, [(x - mw * 0.5, y(w * 0.8)), (x - mw * 0.5, y(hh * 1.6)),
                     (x - w * 0.3, y(hh * 1.6))], mix_colours(sail, (0, 0, 0), 0.1))


def draw_rock(c: Canvas, rng: np.random.Generator, cx: float, base: float, r: float,
              colour: ColourLike = (125, 120, 115)) -> None:
    """A boulder: a lumpy half-ellipse with a lit top and a flat bottom.

    Args:
        c: the canvas to draw on.
        rng: the source of randomness of its shape.
        cx: centre x.
        base: y of its flat bottom.
        r: radius.
        colour: the rock's RGB colour (0..255).
    """
    reg = c.region(cx - r * 1.75, base - r * 1.4, cx + r * 1.75, base + 1)
    if reg is None:
        return
    ys, xs = reg[2], reg[3]
    harm = rng.uniform(-0.09, 0.09, 4)
    ph = rng.uniform(0, 2 * np.pi, 4)
    ang = np.arctan2(ys - base, xs - cx)
    rad = r * (1.0 + sum(harm[k] * np.cos((k + 2) * ang + ph[k]) for k in range(4)))
    dist = np.sqrt(((xs - cx) / 1.25) ** 2 + (ys - base) ** 2)
    cov = coverage_from_distance(rad - dist) * coverage_from_distance(base - ys)
    c.paint(reg, cov, colour)
    lit = np.clip((base - r * 0.45 - ys) / (r * 0.5), 0, 1) * coverage_from_distance(rad * 0.85 - dist)
    c.paint(reg, lit * 0.5, mix_colours(colour, (255, 255, 255), 0.35))
    c.paint(reg, cov * np.clip((xs - cx) / (r * 1.4), 0, 1) * 0.5, mix_colours(colour, (0, 0, 0), 0.35))


def draw_mountain(c: Canvas, rng: np.random.Generator, cx: float, base: float, w: float,
                  h: float, colour: ColourLike = (105, 105, 125),
                  snow: ColourLike | None = (240, 242, 248)) -> None:
    """A single peak: a tent shape roughened by fractal noise, optional snow cap.

    Args:
        c: the canvas to draw on.
        rng: the source of randomness of its shape.
        cx: peak x.
        base: y of its foot.
        w: width at the foot.
        h: height.
        colour: the mountain's RGB colour (0..255).
        snow: colour of the snow cap (None: no snow).
    """
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
        cov = coverage_from_distance(reg[2] - hs) * coverage_from_distance(base - reg[2])
        side = np.clip((reg[3] - cx) / (w * 0.1) + 0.5, 0, 1)
        c.paint(reg, cov * side * 0.35, mix_colours(colour, (0, 0, 0), 0.5))
        if snow is not None:
            line = base - h * (0.62 + 0.08 * fractal_profile(rng, n, octaves=3, knots=6))
            sl = line[reg[1].start - x0: reg[1].stop - x0][None, :]
            c.paint(reg, cov * coverage_from_distance(sl - reg[2]), snow)


public_names(globals())  # after every public definition
