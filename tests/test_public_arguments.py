"""Every public function refuses a bad argument as paint() does: one UserInputError, nothing else.

Each case below is one argument of one public function; hypothesis draws bad values for it
(wrong types, NaN and inf, out-of-range numbers, soft or misshapen masks, absurd sizes) while
the other arguments stay valid. The call must raise ``UserInputError``: not a ``TypeError``
from deep inside, not a silent result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import ipainter_nb as ip
from ipainter_nb.core.sampler import SamplerOptions, auto_batch_size
from ipainter_nb.errors import UserInputError

S = ip.schedules
E = ip.exact
F = ip.frequency
SIZE = 8
MODEL = E.ExactDiffusionModel.create(size=SIZE)
IMAGE = torch.zeros(3, SIZE, SIZE)
KEEP = E.centre_hole_keep(SIZE, 4)
TIMES = S.plain(4)
PICTURE = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16))
CUTOUT = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
CONDITIONAL = E.demo_image_model().conditional(IMAGE, KEEP)

# --------------------------------------------------------------------------- bad values

#: values that are no number, no tensor and no function
JUNK = st.sampled_from(["1", "", b"1", [1], (), {}, {"a": 1}, object(), 1j, Ellipsis])
NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def bad_whole(lowest: int, highest: int | None = None, none_ok: bool = False) -> st.SearchStrategy:
    """Anything but an int in lowest..highest (floats too: a count is a whole number)."""
    options = [JUNK, st.booleans(), NOT_FINITE, st.floats(allow_nan=False, allow_infinity=False),
               st.integers(max_value=lowest - 1), st.just(np.float32(1.0))]
    if highest is not None:
        options.append(st.integers(min_value=highest + 1))
    if not none_ok:
        options.append(st.none())
    return st.one_of(*options)


def bad_real(low: float, high: float, none_ok: bool = False, open_low: bool = False) -> st.SearchStrategy:
    """Anything but a finite number in [low, high] ((low, high] with open_low)."""
    options = [JUNK, st.booleans(), NOT_FINITE, st.floats(max_value=low, exclude_max=not open_low)]
    if high < math.inf:
        options.append(st.floats(min_value=high, exclude_min=True))
    if not none_ok:
        options.append(st.none())
    return st.one_of(*options)


def bad_flag(none_ok: bool = False) -> st.SearchStrategy:
    return st.one_of(JUNK, st.integers(), st.floats(), *([] if none_ok else [st.none()]))


def bad_function() -> st.SearchStrategy:
    return st.one_of(JUNK, st.integers(), st.floats(), st.booleans())


@st.composite
def soft_mask(draw: Any, size: int = SIZE) -> torch.Tensor:
    """A mask of the right shape holding at least one value other than 0 and 1 (NaN and inf too)."""
    cells = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=size * size, max_size=size * size))
    mask = torch.tensor(cells, dtype=torch.float64)
    odd = draw(st.one_of(NOT_FINITE, st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v not in (0, 1))))
    mask[draw(st.integers(0, size * size - 1))] = odd
    return mask.view(1, size, size)


def bad_mask(size: int = SIZE, none_ok: bool = False) -> st.SearchStrategy:
    """Soft masks, misshapen masks and things that are no mask."""
    shapes = st.sampled_from([(3, size, size), (2, 1, size, size), (size,), (1, size, size + 1), (1, size - 1, size),
                              (1, 0, 0), (0,), (size, size, 1, 1, 1)])
    return st.one_of(soft_mask(size), shapes.map(torch.ones), JUNK, st.floats(), st.integers(),
                     st.just(np.full((size, size), "1")), st.just(torch.ones(1, size, size, dtype=torch.complex64)),
                     *([] if none_ok else [st.none()]))


def bad_picture(size: int = SIZE, bounded: bool = True, batched: bool = False) -> st.SearchStrategy:
    """Pictures with NaN, inf or (when bounded) values outside [-1, 1]; misshapen ones; no pictures at all."""
    @st.composite
    def spoiled(draw: Any) -> torch.Tensor:
        picture = torch.zeros(3, size, size)
        odd = st.one_of(NOT_FINITE, st.floats(min_value=1.01, max_value=1e30), st.floats(min_value=-1e30, max_value=-1.01))
        picture.view(-1)[draw(st.integers(0, 3 * size * size - 1))] = draw(odd if bounded else NOT_FINITE)
        return picture

    shapes = st.sampled_from([(size, size), (1, size, size), (4, size, size), (3, size, size + 2), (3, 0, 0),
                              (0, 3, size, size), *([] if batched else [(2, 3, size, size)])])
    return st.one_of(spoiled(), shapes.map(torch.zeros), JUNK, st.floats(), st.none())


def bad_spectrum_input() -> st.SearchStrategy:
    """What the frequency measures cannot read: NaN or inf, no pixel, more than 4 dimensions, no array."""
    @st.composite
    def spoiled(draw: Any) -> torch.Tensor:
        picture = torch.zeros(3, 16, 16)
        picture.view(-1)[draw(st.integers(0, picture.numel() - 1))] = draw(NOT_FINITE)
        return picture

    shapes = st.sampled_from([(3, 0, 0), (0, 3, 16, 16), (16,), (1, 1, 3, 16, 16), (1, 5000, 1)])
    return st.one_of(spoiled(), shapes.map(torch.zeros), JUNK.filter(lambda v: not isinstance(v, list)), st.floats(),
                     st.none(), st.just(np.full((16, 16), "a")))


def bad_times(none_ok: bool = False) -> st.SearchStrategy:
    """Lists that are no schedule: not ending at -1, standing still, non-integers, empty."""
    return st.one_of(JUNK.filter(lambda v: v != ()), *([] if none_ok else [st.none()]), st.integers(),
                     st.sampled_from([[], [-1], [3, 3, -1], [3, 2, 1], [2.5, 1, 0, -1], ["3", 2, 1, 0, -1],
                                      [3, 2, 1, 0, -1, -2], [True, False, -1], [2, 5, -1]]))


def bad_size(none_ok: bool = False) -> st.SearchStrategy:
    """Picture sides: not whole, below 1, or so large they would allocate absurd memory."""
    return bad_whole(1, 4096, none_ok)


# --------------------------------------------------------------------------- the cases


def paint_with(**kwargs: Any) -> Any:
    args = dict(model=MODEL, image=IMAGE, keep=KEEP, times=TIMES, progress=False) | kwargs
    return ip.paint(**args)


def steps_with(**kwargs: Any) -> Any:
    args = dict(model=MODEL, image=IMAGE[None], keep=KEEP[None], times=TIMES) | kwargs
    return list(ip.paint_steps(**args))


def rule_with(**kwargs: Any) -> Any:
    return ip.frequency_schedule(**(dict(model_or_alphas_cumprod=MODEL, keep=KEEP) | kwargs))


CASES: dict[str, tuple[Callable[[Any], Any], st.SearchStrategy]] = {
    # paint and its settings
    "paint model": (lambda v: paint_with(model=v), st.one_of(JUNK, st.none(), st.integers(), st.just(torch.nn.Identity()))),
    "paint image": (lambda v: paint_with(image=v), bad_picture()),
    "paint keep": (lambda v: paint_with(keep=v), bad_mask()),
    "paint times": (lambda v: paint_with(times=v), bad_times(none_ok=True)),
    "paint num_samples": (lambda v: paint_with(num_samples=v), bad_whole(1)),
    "paint seed": (lambda v: paint_with(seed=v), bad_whole(0, 2**63 - 1)),
    "paint callback": (lambda v: paint_with(callback=v), bad_function()),
    "paint eta": (lambda v: paint_with(eta=v), bad_real(0, 1, none_ok=True)),
    "paint clip_x0": (lambda v: paint_with(clip_x0=v), bad_flag()),
    "paint batch_size": (lambda v: paint_with(batch_size=v), bad_whole(1, none_ok=True)),
    "paint first_sample": (lambda v: paint_with(first_sample=v), bad_whole(0)),
    "paint max_frames": (lambda v: paint_with(max_frames=v), bad_whole(0)),
    "paint keep_samples": (lambda v: paint_with(keep_samples=v), bad_flag()),
    "paint progress": (lambda v: paint_with(progress=v), bad_flag(none_ok=True)),
    "paint on_samples": (lambda v: paint_with(on_samples=v), bad_function()),
    "paint cancel": (lambda v: paint_with(cancel=v), st.one_of(JUNK, st.integers(), st.booleans())),
    "paint dtype": (lambda v: paint_with(dtype=v), st.one_of(JUNK, st.sampled_from([torch.int64, torch.bool, "float32"]))),
    "paint device": (lambda v: paint_with(device=v), st.one_of(st.sampled_from(["gpu", "cuda:99", "", "cpu:x"]), JUNK)),
    "paint options": (lambda v: paint_with(options=v), st.one_of(JUNK, st.integers(), st.just({"eta": 0.5}))),
    "paint setting name": (lambda v: paint_with(**{v: 1}), st.sampled_from(["etaa", "clip", "samples", "size"])),
    "SamplerOptions eta": (lambda v: SamplerOptions(eta=v), bad_real(0, 1, none_ok=True)),
    "auto_batch_size model": (lambda v: auto_batch_size(v), st.one_of(JUNK, st.none())),
    "auto_batch_size dtype": (lambda v: auto_batch_size(MODEL, dtype=v), st.one_of(JUNK, st.just(torch.int32))),
    # paint_steps
    "paint_steps model": (lambda v: steps_with(model=v), st.one_of(JUNK, st.none())),
    "paint_steps image": (lambda v: steps_with(image=v), bad_picture(batched=True)),
    "paint_steps keep": (lambda v: steps_with(keep=v), bad_mask()),
    "paint_steps times": (lambda v: steps_with(times=v), bad_times()),
    "paint_steps eta": (lambda v: steps_with(eta=v), bad_real(0, 1)),
    "paint_steps clip_x0": (lambda v: steps_with(clip_x0=v), bad_flag()),
    "paint_steps noise": (lambda v: steps_with(noise=v), bad_function()),
    "paint_steps generator": (lambda v: steps_with(generator=v), st.one_of(JUNK, st.integers())),
    # the schedule builders and readers
    "plain t_T": (lambda v: S.plain(v), bad_whole(1, 10**6)),
    "plain stride": (lambda v: S.plain(10, v), bad_whole(1, 10)),
    "repaint t_T": (lambda v: S.repaint(v, 2, 2), bad_whole(1, 10**7)),
    "repaint jump_length": (lambda v: S.repaint(20, v, 2), bad_whole(1, 19)),
    "repaint jump_n_sample": (lambda v: S.repaint(20, 2, v), bad_whole(1, 10**7)),
    "repaint stop_resampling_at": (lambda v: S.repaint(20, 2, 2, v), bad_whole(0, 20, none_ok=True)),
    "repaint stride": (lambda v: S.repaint(20, 2, 2, stride=v), bad_whole(1, 20)),
    "jump_points t_T": (lambda v: S.jump_points(v, 2), bad_whole(1, 10**7)),
    "planned_steps jump_n_sample": (lambda v: S.planned_steps(20, 2, v), bad_whole(1)),
    "planned_steps jump_length": (lambda v: S.planned_steps(20, v, 2), bad_whole(1, 19)),
    "count_nfe times": (lambda v: S.count_nfe(v), bad_times()),
    "count_steps direction": (lambda v: S.count_steps(TIMES, v), st.one_of(JUNK, st.text().filter(lambda t: t not in ("up", "down")))),
    "validate_times times": (lambda v: S.validate_times(v), bad_times()),
    "validate_times t_T": (lambda v: S.validate_times(TIMES, v), st.one_of(JUNK, st.booleans(), st.integers(max_value=0))),
    "resampling_window times": (lambda v: S.resampling_window(v), bad_times()),
    "check_eta": (lambda v: S.check_eta(v), bad_real(0, 1)),
    "check_repeat_ramp": (lambda v: S.check_repeat_ramp(v, 8), bad_real(0, S.MAX_REPEAT_RAMP)),
    "window_grid levels": (lambda v: S.window_grid(20, v), bad_whole(1, 10**6 - 1)),
    "window_grid start": (lambda v: S.window_grid(v, 5), bad_whole(0, 10**6 - 1)),
    "grid_window levels": (lambda v: S.grid_window(50, 2, 2, 20, v), bad_whole(1, 10**6 - 1)),
    "stretch_repeats jump_n_sample": (lambda v: S.stretch_repeats(v, 10, 20), bad_whole(1, 10**6 - 1)),
    "stretch_repeats repeat_ramp": (lambda v: S.stretch_repeats(4, 10, 20, v), bad_real(0, S.MAX_REPEAT_RAMP)),
    "jump_within_grid jump_length": (lambda v: S.jump_within_grid(v, 20, 5), bad_whole(1, none_ok=False)),
    "grid_window jump_n_sample": (lambda v: S.grid_window(50, 2, v, 20, 8), bad_whole(1, 10**6 - 1)),
    "grid_window start": (lambda v: S.grid_window(50, 2, 2, v, 8), bad_whole(0, 49)),
    # the frequency rule
    "frequency_schedule model": (lambda v: rule_with(model_or_alphas_cumprod=v), st.one_of(
        JUNK.filter(lambda v: not isinstance(v, (list, tuple))), st.none(), st.integers(),
        st.sampled_from([[], [0.5, math.nan], [2.0, 0.5], ["a"], np.zeros(0), torch.tensor([1.5])]))),
    "frequency_schedule keep": (lambda v: rule_with(keep=v), bad_mask(none_ok=True)),
    "frequency_schedule t_T": (lambda v: rule_with(t_T=v), bad_whole(1, 1000, none_ok=True)),
    "frequency_schedule spectrum_beta": (lambda v: rule_with(spectrum_beta=v), bad_real(0, math.inf, none_ok=True)),
    "frequency_schedule f0": (lambda v: rule_with(f0=v), bad_real(0, math.inf, none_ok=True, open_low=True)),
    "frequency_schedule pixel_var": (lambda v: rule_with(pixel_var=v), bad_real(0, math.inf, none_ok=True, open_low=True)),
    "frequency_schedule image_size": (lambda v: rule_with(keep=None, image_size=v), bad_size(none_ok=True)),
    "frequency_schedule margin": (lambda v: rule_with(margin=v), bad_real(1, math.inf, open_low=True)),
    "frequency_schedule jump_length": (lambda v: rule_with(jump_length=v), bad_whole(1, none_ok=True)),
    "frequency_schedule max_nfe": (lambda v: rule_with(max_nfe=v), bad_whole(1, none_ok=True)),
    # the frequency measures
    "radial_power_spectrum image": (lambda v: F.radial_power_spectrum(v), bad_spectrum_input()),
    "band_edges size": (lambda v: F.band_edges(v), bad_whole(2, 4096)),
    "band_edges n_bands": (lambda v: F.band_edges(16, v), bad_whole(1, 16)),
    "band_edges spacing": (lambda v: F.band_edges(16, 4, v), st.one_of(JUNK, st.text().filter(lambda t: t not in ("log", "linear")))),
    "band_energies image": (lambda v: F.band_energies(v), bad_spectrum_input()),
    "band_snr alphas_cumprod": (lambda v: F.band_snr(PICTURE, v), st.one_of(
        JUNK.filter(lambda v: v != [1]), st.none(), st.sampled_from([[], [math.nan], [1.5], [-0.1], np.zeros(0)]))),
    "drowning_times snr": (lambda v: F.drowning_times(v), st.one_of(JUNK.filter(lambda v: v != [1]), st.none(), st.sampled_from(
        [np.zeros(0), np.full(3, math.nan), np.zeros((2, 2, 2))]))),
    "sharpness cutoff": (lambda v: F.sharpness(PICTURE, v), bad_real(0, 0.7071, open_low=True)),
    "sharpness mask": (lambda v: F.sharpness(PICTURE, mask=v), bad_mask(16, none_ok=True)),
    "gradient_energy image": (lambda v: F.gradient_energy(v), bad_spectrum_input()),
    "gradient_energy mask": (lambda v: F.gradient_energy(PICTURE, mask=v), bad_mask(16, none_ok=True)),
    # the exact model
    "GaussianImageModel beta": (lambda v: E.GaussianImageModel(beta=v), bad_real(0, math.inf, open_low=True)),
    "GaussianImageModel f0": (lambda v: E.GaussianImageModel(f0=v), bad_real(0, 0.5, open_low=True)),
    "GaussianImageModel channel_cov": (lambda v: E.GaussianImageModel(channel_cov=v), st.one_of(
        JUNK, st.none(), st.sampled_from([((1, 0, 0), (0, 1, 0), (0, 0, math.nan)), ((1, 2), (3, 4)), (("a",) * 3,) * 3]))),
    "GaussianImageModel mean": (lambda v: E.GaussianImageModel(mean=v), st.one_of(
        JUNK, st.none(), st.sampled_from([(0, 0), (0, 0, math.inf), ("a", "b", "c")]))),
    "GaussianImageModel.sample n": (lambda v: E.demo_image_model().sample(v, SIZE), bad_whole(1, 10**6)),
    "GaussianImageModel.sample size": (lambda v: E.demo_image_model().sample(1, v), bad_size()),
    "conditional image": (lambda v: E.demo_image_model().conditional(v, KEEP), bad_picture(bounded=False)),
    "conditional keep": (lambda v: E.demo_image_model().conditional(IMAGE, v), bad_mask()),
    "conditional dense": (lambda v: E.demo_image_model().conditional(IMAGE, KEEP, v), bad_flag(none_ok=True)),
    "ExactConditional.sample n": (lambda v: CONDITIONAL.sample(v), bad_whole(1, 10**7)),
    "ExactConditional.components k": (lambda v: CONDITIONAL.components(v), bad_whole(1)),
    "ExactDiffusionModel.create image_model": (lambda v: E.ExactDiffusionModel.create(v or 1), JUNK),
    "ExactDiffusionModel.create size": (lambda v: E.ExactDiffusionModel.create(size=v), bad_size()),
    "ExactDiffusionModel.create num_train_steps": (lambda v: E.ExactDiffusionModel.create(num_train_steps=v), bad_whole(1, 10**5)),
    "ExactDiffusionModel.create dtype": (lambda v: E.ExactDiffusionModel.create(dtype=v), st.one_of(JUNK, st.just(torch.int8))),
    "ExactDiffusionModel.create device": (lambda v: E.ExactDiffusionModel.create(device=v), st.sampled_from(["gpu", "cuda:77", 1j])),
    "schedule_output_law model": (lambda v: E.schedule_output_law(v, IMAGE, KEEP, TIMES), st.one_of(JUNK, st.none())),
    "schedule_output_law image": (lambda v: E.schedule_output_law(MODEL, v, KEEP, TIMES), bad_picture(bounded=False)),
    "schedule_output_law keep": (lambda v: E.schedule_output_law(MODEL, IMAGE, v, TIMES), bad_mask()),
    "schedule_output_law times": (lambda v: E.schedule_output_law(MODEL, IMAGE, KEEP, v), bad_times()),
    "schedule_output_law variance": (lambda v: E.schedule_output_law(MODEL, IMAGE, KEEP, TIMES, v),
                                     st.one_of(JUNK, st.text().filter(lambda t: t not in ("fixed_small", "fixed_large")))),
    "schedule_output_law eta": (lambda v: E.schedule_output_law(MODEL, IMAGE, KEEP, TIMES, eta=v), bad_real(0, 1)),
    "schedule_error k": (lambda v: E.schedule_error(MODEL, IMAGE, KEEP, TIMES, k=v), bad_whole(1)),
    "schedule_error conditional": (lambda v: E.schedule_error(MODEL, IMAGE, KEEP, TIMES, conditional=v), JUNK),
    "schedule_error keep": (lambda v: E.schedule_error(MODEL, IMAGE, v, TIMES), bad_mask()),
    "wiener_gain power": (lambda v: E.wiener_gain(v, 0.5), st.one_of(JUNK, st.none(), st.sampled_from(
        [torch.tensor([math.nan]), torch.tensor([-1.0])]))),
    "wiener_gain alpha_bar": (lambda v: E.wiener_gain(torch.ones(3), v), bad_real(0, 1)),
    "spectrum_grid size": (lambda v: E.spectrum_grid(v, 2.0, 0.1), bad_size()),
    "spectrum_grid beta": (lambda v: E.spectrum_grid(8, v, 0.1), bad_real(0, math.inf, open_low=True)),
    "centre_hole_keep size": (lambda v: E.centre_hole_keep(v, 2), bad_size()),
    "centre_hole_keep hole": (lambda v: E.centre_hole_keep(8, v), bad_whole(0, 8)),
    "border_keep width": (lambda v: E.border_keep(8, v), bad_whole(0, 4)),
    # the canvas
    "Composition size": (lambda v: ip.Composition(size=v), st.one_of(bad_size(), st.just((0, 4)), st.just((8, 8, 8)))),
    "Composition alpha_threshold": (lambda v: ip.Composition(size=8, alpha_threshold=v), bad_real(0, 1)),
    "Composition erode": (lambda v: ip.Composition(size=8, erode=v), st.one_of(JUNK, NOT_FINITE, st.none(),
                                                                               st.integers(max_value=-1))),
    "Layer image": (lambda v: ip.Layer(v), st.one_of(JUNK, st.none(), st.integers())),
    "Layer scale": (lambda v: ip.Layer(CUTOUT, scale=v), bad_real(0, 1e6, open_low=True)),
    "Layer x": (lambda v: ip.Layer(CUTOUT, x=v), st.one_of(JUNK, NOT_FINITE, st.booleans(), st.none())),
    "Composition.add layer": (lambda v: ip.Composition(size=8).add(v), st.one_of(JUNK, st.none(), st.just(CUTOUT))),
    # loading
    "load_model device": (lambda v: ip.load_model("demo", device=v), st.sampled_from(["gpu", "cuda:77", 1j])),
    "load_model dtype": (lambda v: ip.load_model("demo", dtype=v), st.one_of(JUNK, st.sampled_from(["int8", torch.int8]))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_argument_gets_one_user_input_error(case):
    call, bad = CASES[case]

    @given(bad)
    def refused(value: Any) -> None:
        with pytest.raises(UserInputError) as caught:
            call(value)
        message = str(caught.value)
        assert message and "\n" not in message.strip(), message

    refused()
