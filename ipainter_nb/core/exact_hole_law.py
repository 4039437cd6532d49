"""The exact law of a schedule's output carried on the generated pixels only: fast enough to search with.

``exact_law.schedule_error`` carries projections of the whole picture through every step. The
kept pixels, though, are pasted afresh at every down step, so only the generated pixels G
carry state from one step to the next. On them every step of ``paint()`` on the exact model is

* down from level ᾱ = a: ``x_G ← M_GG x_G + √a M_GK y_K + c1 μ (1 - √a w(0)) + noise``, with
  ``M = c1 W + c2`` the circulant step matrix (``W`` the Wiener filter) and the noise's
  covariance ``(1 - a) M_GK M_GKᵀ + η² σ² I`` (the pasted known pixels' noise, then the step's);
* up: ``x_G ← √(1-b) x_G + √b ε``;

so the law is carried as a mean (one column per known picture) and a dense ``|G| × |G|``
covariance per eigen-channel. A stretch that a schedule repeats (a jump back and the walk
down again, ``jump_n_sample`` times) is composed into one affine map once, raised to the
number of repeats by squaring, and applied once. The steps themselves come from ``exact_law`` (the one
description of the sampler's arithmetic); this module only carries them differently, and a
test checks that both give the same KL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..exits import run_step
from ..public import public_names
from .exact_denoiser import ExactDiffusionModel
from .exact_images import ExactConditional, _binary_keep, _gather, _gaussian_kl
from .exact_law import _affine_steps, _Down, _Up
from .schedules.builders import check_eta
from .schedules.config import ScheduleConfig
from .schedules.times import validate_times

__all__ = ["HoleLaw"]

# an affine map of the generated pixels with Gaussian noise: x ← A x + offset + N(0, Q);
# A is None for a multiple of the identity (``scale``), as an up step is
_Map = tuple[torch.Tensor | None, float, torch.Tensor, torch.Tensor]


class HoleLaw:
    """The exact output law of schedules for one model, mask and set of known pictures.

    Args:
        model: the exact model the schedules run on.
        images: the known pictures, (B, 3, H, W) or (3, H, W).
        keep: the mask, (1, H, W), 1 = keep.
        k: principal components of the exact conditional the KL is measured on.
    """

    def __init__(self, model: ExactDiffusionModel, images: torch.Tensor, keep: torch.Tensor, k: int = 16):
        images = images[None] if images.dim() == 3 else images
        self.model, self.k, self.size = model, k, model.size
        self.conds = [ExactConditional(model.image_model, img, keep) for img in images]
        flat = _binary_keep(keep, self.size)
        self.generated, self.kept = np.flatnonzero(~flat), np.flatnonzero(flat)
        im = model.image_model
        y = torch.stack([im._to_eigen(img.detach().cpu(), centre=False).reshape(3, -1) for img in images], -1)
        self.y_kept = y[:, torch.from_numpy(self.kept)]  # (3, |K|, B), uncentred eigen coordinates
        self.mu = im._to_eigen(torch.tensor(im.mean).view(3, 1, 1), centre=False).reshape(3)
        self._rows: dict[int, torch.Tensor] = {}  # per number of components: (3, n, |G|), the same for every picture
        self._last: tuple[tuple, np.ndarray, np.ndarray] | None = None  # the last law, scored both ways without a rerun
        g = len(self.generated)
        self._eye = torch.eye(g, dtype=torch.float64)
        # the down steps' maps are kept for the next schedules, within about 256 MB
        self._downs: dict[tuple[int, int, int, float], _Map] = {}
        self._max_downs = max(16, int(256e6 // (2 * 3 * 8 * g * g)))
        # where each entry of M_GG and M_GK sits in the circulant's first row (flat), found once
        cells = np.arange(self.size**2).reshape(self.size, self.size)
        self._gg = torch.from_numpy(_gather(cells, self.generated, self.generated))
        self._gk = torch.from_numpy(_gather(cells, self.generated, self.kept))

    # -- the steps, restricted to the generated pixels --------------------------------------
    def _down(self, step: _Down) -> _Map:
        n = self.size
        kernel = torch.fft.irfft2(step.gain, s=(n, n)).reshape(3, n * n)  # the circulant M's first row, per eigen-channel
        m_gg, m_gk = kernel[:, self._gg], kernel[:, self._gk]
        w0 = step.wiener[:, 0, 0]
        offset = math.sqrt(step.a) * m_gk @ self.y_kept + (step.c1 * self.mu * (1 - math.sqrt(step.a) * w0))[:, None, None]
        noise = (1 - step.a) * m_gk @ m_gk.transpose(1, 2) + step.noise * self._eye
        return m_gg, 1.0, offset, noise

    def _map(self, t_T: int, t_last: int, t_cur: int, eta: float, step: _Up | _Down) -> _Map:
        g = len(self.generated)
        if isinstance(step, _Up):
            return None, math.sqrt(1 - step.b), torch.zeros(3, g, 1, dtype=torch.float64), step.b * self._eye
        key = (t_T, t_last, t_cur, eta)
        if key not in self._downs:
            if len(self._downs) >= self._max_downs:  # bounded memory: the oldest goes first
                del self._downs[next(iter(self._downs))]
            self._downs[key] = self._down(step)
        return self._downs[key]

    # -- carrying the law ---------------------------------------------------------------------
    @staticmethod
    def _apply(f: _Map, mean: torch.Tensor, cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, s, offset, noise = f
        if a is None:
            return s * mean + offset, s * s * cov + noise
        return a @ mean + offset, a @ cov @ a.transpose(1, 2) + noise

    @staticmethod
    def _compose(first: _Map, then: _Map) -> _Map:
        """``then ∘ first``."""
        a1, s1, o1, q1 = first
        a2, s2, o2, q2 = then
        if a2 is None:
            return a1, s1 * s2, s2 * o1 + o2, s2 * s2 * q1 + q2
        a = a2 * s1 if a1 is None else a2 @ a1
        return a, 1.0, a2 @ o1 + o2, a2 @ q1 @ a2.transpose(1, 2) + q2

    @classmethod
    def _power(cls, f: _Map, n: int) -> _Map:
        """``f`` applied ``n`` times, as one map (by squaring: powers of one map commute)."""
        result = None
        while n:
            if n & 1:
                result = f if result is None else cls._compose(result, f)
            n >>= 1
            if n:
                f = cls._compose(f, f)
        assert result is not None
        return result

    def law(self, times: Sequence[int], eta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """The output's mean (3, |G|, B) and covariance (3, |G|, |G|) on the generated pixels,
        centred eigen coordinates.

        Args:
            times: the schedule.
            eta: the down steps' stochasticity.
        """
        times = validate_times(times)
        eta = check_eta(eta)
        steps = _affine_steps(self.model, times, eta)

        def f(i: int) -> _Map:
            return self._map(times[0], times[i], times[i + 1], eta, steps[i])

        g = len(self.generated)
        mean = torch.zeros(3, g, self.y_kept.shape[-1], dtype=torch.float64)
        cov = torch.eye(g, dtype=torch.float64).repeat(3, 1, 1)
        i = 0
        while i < len(steps):
            with run_step():  # the interpreter's exit parks a daemon thread between two steps
                period, repeats = _repetition(times, i)
                if repeats > 1:  # a jump back and the walk down, repeated: compose once, apply repeatedly
                    block = f(i)
                    for j in range(i + 1, i + period):
                        block = self._compose(block, f(j))
                    mean, cov = self._apply(self._power(block, repeats), mean, cov)
                    i += period * repeats
                else:
                    mean, cov = self._apply(f(i), mean, cov)
                    i += 1
        return (mean - self.mu[:, None, None]).numpy(), cov.numpy()

    def kl(self, times: Sequence[int] | ScheduleConfig, eta: float = 1.0, *, full: bool = False) -> float:
        """KL(output law ‖ exact conditional) on the ``k`` leading components, averaged over the pictures
        (``schedule_error``'s measure).

        Args:
            times: the schedule, or a ``ScheduleConfig`` (its times and its ``eta``).
            eta: the down steps' stochasticity (ignored for a ``ScheduleConfig``).
            full: on every component instead: the KL of the whole law of the generated pixels.
        """
        return float(np.mean(self.kls(times, eta, full=full)))

    def kls(self, times: Sequence[int] | ScheduleConfig, eta: float = 1.0, *, full: bool = False) -> np.ndarray:
        """KL(output law ‖ exact conditional) on the ``k`` leading components, one per known picture.

        The leading components are the hole's coarse modes, where a seam shows; ``full=True`` scores
        every component (the whole law of the generated pixels, fine texture included), where the
        many small modes weigh most. The law of the last schedule is kept, so scoring it both ways
        computes it once.

        Args:
            times: the schedule, or a ``ScheduleConfig`` (its times and its ``eta``).
            eta: the down steps' stochasticity (ignored for a ``ScheduleConfig``).
            full: score every component (3 per generated pixel) instead of the ``k`` leading ones.
        """
        if isinstance(times, ScheduleConfig):
            times, eta = times.times(), times.eta
        key = (tuple(times), float(eta))
        if self._last is None or self._last[0] != key:
            self._last = (key, *self.law(times, eta))
        _, mean, cov = self._last
        k = 3 * len(self.generated) if full else self.k
        if k not in self._rows:
            self._rows[k] = torch.from_numpy(self.conds[0].component_rows(k)[:, :, self.generated])
        rows = self._rows[k]
        comp_cov = (rows @ torch.from_numpy(cov) @ rows.transpose(1, 2)).numpy()
        # the pictures share the covariance (the conditional's and the law's): it is whitened once
        error = np.stack([mean[:, :, b] - c.mean_eigen for b, c in enumerate(self.conds)], -1)
        return _gaussian_kl(*self.conds[0]._whitened(error, comp_cov, k))


def _repetition(times: list[int], i: int) -> tuple[int, int]:
    """``(period, count)``: the transitions from ``i`` on are a block of ``period`` transitions that
    leaves from ``times[i]`` going up and returns there, repeated ``count`` times (1: no such block)."""
    if i + 1 >= len(times) or times[i + 1] <= times[i]:
        return 1, 1
    start = times[i]
    back = next((e for e in range(i + 2, len(times)) if times[e] == start), None)
    if back is None:
        return 1, 1
    period = back - i
    block = times[i:back]
    count = 1
    while times[i + count * period:i + (count + 1) * period] == block:
        count += 1
    return period, count


public_names(globals())  # after every public definition
