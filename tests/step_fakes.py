"""Hand-made ``Step`` events and a fake clock, for widgets that follow a run (preview, plots)."""

from __future__ import annotations

import torch

from ipainter_nb.core import schedules
from ipainter_nb.core.sampler import Step


class FakeClock:
    """Advances by ``dt`` seconds each time it is read: one read per on_step call."""

    def __init__(self, dt: float) -> None:
        self.now, self.dt = 0.0, dt

    def __call__(self) -> float:
        self.now += self.dt
        return self.now


def steps_of(times: list[int], n: int = 2, size: int = 8, first_sample: int = 0) -> list[Step]:
    """The steps a run over ``times`` reports for ``n`` pictures of ``size``² (random content)."""
    gen = torch.Generator().manual_seed(first_sample)
    total, nfe, out = len(times) - 1, 0, []
    for i, (a, b) in enumerate(zip(times[:-1], times[1:])):
        down = b < a
        nfe += down
        x = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
        out.append(Step(i, a, "down" if down else "up", x, x.flip(-1) if down else None, nfe, 0.01 * i,
                        total, schedules.count_nfe(times), first_sample=first_sample))
    return out
