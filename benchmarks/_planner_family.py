"""The family of picture models the planner is developed and judged on (issue 27).

Each case is a stationary Gaussian picture model (``GaussianImageModel``: spectral exponent,
knee, pixel variance, correlated colour channels, a mean), a picture size, a keep mask of
one of ten kinds and the seed of the known picture. :func:`make_cases` draws them from
seeds; the split into a **tuning set** (seeds 0..) and a **held-out set** (seeds 1000..) is
made once and saved in ``benchmarks/planner_family_cases.json`` (every drawn number is
stored, so the cases do not depend on numpy's generator staying the same). Constants of
the planner may be chosen on the tuning set only; the benchmark reports both.

A **second held-out set** (seeds 3000..; seeds 2000..2015 once served as extra tuning cases)
was drawn after the planner's constants were frozen and appended to the file: it judges the
planner on cases that no session has looked at, since the first held-out set's results were
read while later changes were made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ipainter_nb.core.composition import Composition, Layer
from ipainter_nb.core.exact import GaussianImageModel, border_keep, centre_hole_keep
from ipainter_nb.demo import list_cutouts

CASES_FILE = Path(__file__).resolve().parent / "planner_family_cases.json"
MASK_KINDS = ("centre hole", "border", "ring", "band", "L shape", "holes", "cutout hole", "cutouts kept", "blob",
              "off-centre hole")
BETA_RANGE, KNEE_RANGE, VAR_RANGE = (1.6, 3.6), (0.004, 0.12), (0.05, 0.5)
#: (split, first seed, sizes in order: mostly 16² and 24², a few 32²)
SPLITS = (("tuning", 0, [16] * 14 + [24] * 8 + [32] * 2), ("held-out", 1000, [16] * 28 + [24] * 12 + [32] * 4),
          ("held-out 2", 3000, [16] * 28 + [24] * 12 + [32] * 4))
SPLIT_NAMES = tuple(name for name, _, _ in SPLITS)


def _mask_params(kind: str, size: int, rng: np.random.Generator) -> dict[str, Any]:
    """The numbers that define a mask of this kind (in pixels of a ``size`` picture)."""
    if kind in ("centre hole", "off-centre hole"):
        side = int(round(size * rng.uniform(0.2, 0.7)))
        shift = [int(v) for v in rng.integers(-size // 5, size // 5 + 1, 2)] if kind == "off-centre hole" else [0, 0]
        return {"side": max(side, 2), "shift": shift}
    if kind == "border":
        return {"width": int(rng.integers(1, max(2, size // 5) + 1))}
    if kind == "ring":
        return {"outer": int(rng.integers(1, size // 6 + 1)), "width": int(rng.integers(1, size // 6 + 1))}
    if kind == "band":
        return {"width": int(round(size * rng.uniform(0.15, 0.4))), "vertical": bool(rng.integers(2)),
                "at": float(rng.uniform(0.2, 0.8))}
    if kind == "L shape":
        return {"arm": int(round(size * rng.uniform(0.4, 0.7))), "width": int(round(size * rng.uniform(0.15, 0.3)))}
    if kind == "holes":
        n = int(rng.integers(2, 4))
        return {"holes": [[int(v) for v in (rng.integers(2, size // 3 + 1), *rng.integers(0, size, 2))] for _ in range(n)]}
    if kind == "cutout hole":
        return {"cutout": str(rng.choice(["house", "tree", "boat", "mountain", "pine", "rock"])),
                "scale": float(rng.uniform(0.4, 0.9))}
    if kind == "cutouts kept":
        names = [str(v) for v in rng.choice(["house", "tree", "sun", "boat", "pine", "cloud", "moon"], 3, replace=False)]
        return {"cutouts": [[name, float(rng.uniform(0.3, 0.5)), float(rng.uniform(0, 0.6)), float(rng.uniform(0, 0.6))]
                            for name in names]}
    if kind == "blob":
        return {"seed": int(rng.integers(1 << 30)), "fraction": float(rng.uniform(0.1, 0.4))}
    raise ValueError(kind)


def build_mask(kind: str, params: dict[str, Any], size: int) -> torch.Tensor:
    """(1, size, size) keep mask (1 = keep) of a case."""
    if kind in ("centre hole", "off-centre hole"):
        return torch.roll(centre_hole_keep(size, params["side"]), tuple(params["shift"]), dims=(1, 2))
    if kind == "border":
        return border_keep(size, params["width"])
    if kind == "ring":
        keep = torch.ones(1, size, size)
        a, b = params["outer"], params["outer"] + params["width"]
        keep[:, a:size - a, a:size - a] = 0
        keep[:, b:size - b, b:size - b] = 1
        return keep
    if kind == "band":
        keep = torch.ones(1, size, size)
        lo = int(round(params["at"] * size - params["width"] / 2))
        sl = slice(max(lo, 0), min(lo + params["width"], size))
        if params["vertical"]:
            keep[:, :, sl] = 0
        else:
            keep[:, sl, :] = 0
        return keep
    if kind == "L shape":
        keep = torch.ones(1, size, size)
        a, arm, w = (size - params["arm"]) // 2, params["arm"], params["width"]
        keep[:, a:a + arm, a:a + w] = 0
        keep[:, a + arm - w:a + arm, a:a + arm] = 0
        return keep
    if kind == "holes":
        keep = torch.ones(1, size, size)
        for side, y, x in params["holes"]:
            keep[:, y:y + side, x:x + side] = 0
        return keep
    if kind in ("cutout hole", "cutouts kept"):
        cutouts = list_cutouts()
        comp = Composition(size=size, erode=0 if kind == "cutout hole" else 1)
        placed = ([[params["cutout"], params["scale"], None, None]] if kind == "cutout hole" else params["cutouts"])
        for name, scale, fx, fy in placed:
            layer = Layer.from_file(cutouts[name])
            layer.scale = scale * size / 32
            w, h = layer.image.size
            # centred when no place is given, else a fraction of the free room
            layer.x = int((size - w * layer.scale) / 2) if fx is None else int(fx * size)
            layer.y = int((size - h * layer.scale) / 2) if fy is None else int(fy * size)
            comp.add(layer)
        keep = comp.render()[1]
        return 1 - keep if kind == "cutout hole" else keep
    if kind == "blob":
        g = torch.Generator().manual_seed(params["seed"])
        field = GaussianImageModel(beta=3.0, f0=0.05).sample(1, size, g)[0, 0]
        return (field > torch.quantile(field.reshape(-1), params["fraction"])).float()[None]
    raise ValueError(kind)


def make_cases(splits: tuple[str, ...] = SPLIT_NAMES) -> list[dict[str, Any]]:
    """Every case of ``splits``, drawn from its seed (the saved file is the reference)."""
    cases = []
    for split, first, sizes in [s for s in SPLITS if s[0] in splits]:
        for i, size in enumerate(sizes):
            seed = first + i
            rng = np.random.default_rng(seed)
            beta = float(rng.uniform(*BETA_RANGE))
            knee = float(np.exp(rng.uniform(*np.log(KNEE_RANGE))))
            var = float(rng.uniform(*VAR_RANGE))
            rho = float(rng.uniform(0.5, 0.95))
            scales = rng.uniform(0.8, 1.2, 3)
            scales = scales / np.sqrt((scales**2).mean())
            cov = [[float(var * scales[a] * scales[b] * rho ** abs(a - b)) for b in range(3)] for a in range(3)]
            mean = [float(v) for v in rng.uniform(-0.2, 0.2, 3)]
            kind = MASK_KINDS[i % len(MASK_KINDS)]
            cases.append({"id": f"{split[0]}{seed}", "split": split, "seed": seed, "size": size, "beta": beta, "knee": knee,
                          "pixel_var": var, "channel_cov": cov, "mean": mean, "mask": kind,
                          "mask_params": _mask_params(kind, size, rng), "image_seed": seed + 7})
    return cases


def load_cases(path: Path = CASES_FILE) -> list[dict[str, Any]]:
    """The saved cases (both splits)."""
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


def case_model(case: dict[str, Any]) -> GaussianImageModel:
    """The case's picture model."""
    return GaussianImageModel(case["beta"], case["knee"], tuple(map(tuple, case["channel_cov"])), tuple(case["mean"]))


def case_problem(case: dict[str, Any]) -> tuple[GaussianImageModel, torch.Tensor, torch.Tensor]:
    """(picture model, known picture (3,S,S), keep mask (1,S,S)) of a case."""
    model, size = case_model(case), case["size"]
    image = model.sample(1, size, torch.Generator().manual_seed(case["image_seed"]))[0]
    return model, image, build_mask(case["mask"], case["mask_params"], size)


if __name__ == "__main__":  # each split is written once; later runs only read it or append a new split
    saved = load_cases() if CASES_FILE.exists() else []
    missing = tuple(name for name in SPLIT_NAMES if name not in {c["split"] for c in saved})
    if not missing:
        raise SystemExit(f"{CASES_FILE} holds every split: each is made once")
    cases = make_cases(missing)
    for c in cases:
        keep = build_mask(c["mask"], c["mask_params"], c["size"])
        frac = float(1 - keep.mean())
        assert 0 < frac < 1, (c["id"], c["mask"], frac)
    CASES_FILE.write_text(json.dumps({"about": __doc__.split("\n\n", 1)[1].replace("\n", " "), "cases": saved + cases},
                                     indent=1) + "\n", encoding="utf-8")
    print(f"added {len(cases)} cases ({', '.join(missing)}) to {CASES_FILE}")
