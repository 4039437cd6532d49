"""Verdicts on measured claims, worded only as far as the numbers allow.

A notebook that says "the truncated schedule is sharper than RePaint" must say it because
the numbers it printed say so, and say *too close to call* when they do not. A
``Verdict`` is that sentence together with its numbers: every claim is put as "a value is
below a threshold", and its word follows from the value and its interval:

- **seen**: the whole interval lies below the threshold;
- **NOT seen**: the whole interval lies above it (the opposite held, beyond the noise);
- **too close to call**: the interval contains the threshold.

Exact numbers (a count of model calls, an exact distance) have an interval of zero width.
Measured ones, paired by sample (sample k of every schedule starts from the same noise),
get the 95% Student-t interval of the mean paired difference.

Shown in a notebook, a verdict is one line of text; it also carries its numbers as JSON
under the mimetype ``MIME`` (front ends that do not know it show the text), which tests
read back to check that every sentence follows from its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .public import public_names

__all__ = ["MIME", "NOT_SEEN", "SEEN", "TOO_CLOSE", "Verdict", "decide", "exact", "keeps_most_of_gain",
           "paired", "t_quantile_975"]

MIME = "application/vnd.ipainter.verdict+json"
SEEN, NOT_SEEN, TOO_CLOSE = "seen", "NOT seen", "too close to call"

# two-sided 95% quantiles of Student's t for 1..10 degrees of freedom; beyond, an expansion
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (the half-width factor of a 95% interval).

    Args:
        df: degrees of freedom, at least 1.

    Returns:
        The quantile (exact to three decimals up to 10 degrees of freedom, within 0.1% beyond).

    Raises:
        ValueError: when ``df`` is below 1.
    """
    if df < 1:
        raise ValueError(f"a t interval needs at least 1 degree of freedom, got {df}: measure at least 2 samples")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964  # Cornish-Fisher expansion of t around the normal quantile
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def decide(value: float, half_width: float, threshold: float = 0.0) -> str:
    """The word for the claim "``value`` is below ``threshold``", given the interval ``value ± half_width``.

    Args:
        value: the measured or exact value.
        half_width: half the width of its interval (0 for an exact value).
        threshold: the claim holds when the value is below it.

    Returns:
        ``SEEN``, ``NOT_SEEN`` or ``TOO_CLOSE``.
    """
    if value + half_width < threshold:
        return SEEN
    if value - half_width > threshold:
        return NOT_SEEN
    return TOO_CLOSE


@dataclass(frozen=True)
class Verdict:
    """A claim, its numbers, and the word they allow.

    Args:
        claim: the claim in words, as expected to hold ("truncated fits the seam better than none").
        word: ``SEEN``, ``NOT_SEEN`` or ``TOO_CLOSE``, as ``decide`` gives it.
        value: the value the claim is about (the claim: value < threshold).
        half_width: half the width of the value's interval (0: exact).
        threshold: the threshold of the claim.
        n: how many paired samples gave the value (1: exact).
        detail: the numbers in words, shown after the claim.
    """

    claim: str
    word: str
    value: float
    half_width: float
    threshold: float
    n: int
    detail: str

    def text(self) -> str:
        """The verdict as one line: the word, the claim, the numbers.

        Returns:
            The line.
        """
        return f"{self.word:<18} {self.claim}  ({self.detail})"

    def to_dict(self) -> dict[str, Any]:
        """The verdict as plain JSON-able values.

        Returns:
            Its fields by name.
        """
        return asdict(self)

    def __str__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": self.text(), MIME: self.to_dict()}


def exact(claim: str, value: float, threshold: float, detail: str) -> Verdict:
    """A verdict on an exact value (no sampling noise): seen when ``value < threshold``.

    Args:
        claim: the claim in words.
        value: the exact value.
        threshold: the claim holds when the value is below it.
        detail: the numbers in words.

    Returns:
        The verdict.
    """
    value, threshold = float(value), float(threshold)
    return Verdict(claim, decide(value, 0.0, threshold), value, 0.0, threshold, 1, detail)


def _paired_interval(d: Any) -> tuple[float, float, int]:
    d = np.asarray(d, dtype=float).reshape(-1)
    if d.size < 2:
        return float(d.mean()), 0.0, int(d.size)
    se = d.std(ddof=1) / math.sqrt(d.size)
    return float(d.mean()), float(t_quantile_975(d.size - 1) * se), int(d.size)


def paired(claim: str, smaller: Sequence[float], larger: Sequence[float], digits: int = 4) -> Verdict:
    """A verdict on "``smaller`` is below ``larger``", sample by sample (sample k against sample k).

    The value is the mean paired difference ``smaller - larger``, with its 95% t interval;
    one pair (exact values) gives an interval of zero width.

    Args:
        claim: the claim in words.
        smaller: the values expected to be lower, one per sample.
        larger: the values expected to be higher, paired with ``smaller``.
        digits: decimals of the numbers in the text.

    Returns:
        The verdict.

    Raises:
        ValueError: when the two do not pair up.
    """
    a, b = np.asarray(smaller, dtype=float).reshape(-1), np.asarray(larger, dtype=float).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired values need as many on each side, got {a.size} and {b.size}")
    value, half, n = _paired_interval(a - b)
    detail = f"difference {value:+.{digits}f} ± {half:.{digits}f}, n = {n}"
    return Verdict(claim, decide(value, half), value, half, 0.0, n, detail)


def keeps_most_of_gain(claim: str, none: Sequence[float], stopped: Sequence[float], full: Sequence[float],
                       digits: int = 3) -> Verdict:
    """A verdict on "``stopped`` keeps most (over half) of the gain of ``full`` over ``none``" (lower is better).

    The share of the gain kept is ``(none - stopped) / (none - full)``. Over half is kept
    exactly when ``stopped`` lies below the midpoint of ``none`` and ``full``, a paired
    difference with an interval, so the one rule serves noisy samples and exact values
    alike. The text gives the share of the mean gain.

    Args:
        claim: the claim in words.
        none: the values without the treatment (e.g. without resampling), one per sample.
        stopped: the values of the cheaper treatment (e.g. resampling stopped early).
        full: the values of the full treatment (e.g. RePaint).
        digits: decimals of the numbers in the text.

    Returns:
        The verdict; when ``full`` has no mean gain over ``none`` there is nothing to keep: the
        interval is then widened to contain the threshold, and the word is ``TOO_CLOSE``.
    """
    n_, s_, f_ = (np.asarray(v, dtype=float).reshape(-1) for v in (none, stopped, full))
    if not n_.shape == s_.shape == f_.shape:
        raise ValueError(f"paired values need as many of each, got {n_.size}, {s_.size} and {f_.size}")
    value, half, n = _paired_interval(s_ - (n_ + f_) / 2)
    gain = float(n_.mean() - f_.mean())
    if gain <= 0:
        detail = f"there is no gain to keep: {gain:+.{digits}f}, n = {n}"
        return Verdict(claim, decide(value, abs(value)), value, abs(value), 0.0, n, detail)
    share = float(n_.mean() - s_.mean()) / gain
    detail = (f"keeps {100 * share:.0f}% of a gain of {gain:.{digits}f}; "
              f"distance below the midpoint {-value:+.{digits}f} ± {half:.{digits}f}, n = {n}")
    return Verdict(claim, decide(value, half), value, half, 0.0, n, detail)


public_names(globals())  # after every public definition
