"""plan_schedule: one plan per mask, its bad inputs, and the CLI's --schedule auto."""

from __future__ import annotations

import pytest
import torch

from ipainter_nb.cli import main
from ipainter_nb.core.exact import ExactDiffusionModel, centre_hole_keep, demo_image_model, schedule_error
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.schedules.plan import plan_schedule
from ipainter_nb.errors import UserInputError


@pytest.fixture(scope="module")
def exact8():
    image_model = demo_image_model().scaled(std=0.25)
    return ExactDiffusionModel.create(image_model, 8, dtype=torch.float64)


def test_a_plan_is_a_schedule_config_that_follows_the_hole(exact8):
    small, wide = plan_schedule(exact8, centre_hole_keep(8, 2)), plan_schedule(exact8, centre_hole_keep(8, 6))
    assert isinstance(small, ScheduleConfig) and ScheduleConfig.from_dict(small.to_dict()) == small
    assert small.stop_resampling_at == 0 and small.start_resampling_at < wide.start_resampling_at  # a wider hole: a wider window
    assert small.stride > 1 and "model calls" in small.describe()
    draft = plan_schedule(exact8, centre_hole_keep(8, 6), target="draft")
    assert draft.nfe <= 120 and draft.repeat_ramp > 0  # a twentieth of RePaint's 2410 calls, repeats growing up the window


def test_a_budget_is_respected(exact8):
    keep = centre_hole_keep(8, 6)
    for budget in (200, 60, 30, 10):
        assert plan_schedule(exact8, keep, budget=budget).nfe <= budget


def test_the_plan_reaches_repaint_accuracy_at_a_fraction_of_its_calls(exact8):
    image_model = exact8.image_model
    keep = centre_hole_keep(8, 4)
    image = image_model.sample(1, 8, torch.Generator().manual_seed(1))[0].clamp(-1, 1)
    cond = image_model.conditional(image, keep)
    repaint, plan = ScheduleConfig(250, jump_length=10, jump_n_sample=10, stop_resampling_at=None), plan_schedule(exact8, keep)
    kl = {c: schedule_error(exact8, image, keep, c, conditional=cond).kl for c in (repaint, plan)}
    assert plan.nfe <= 0.15 * repaint.nfe and kl[plan] <= 1.1 * kl[repaint]


def test_the_draft_stays_near_repaint_accuracy_at_a_twentieth_of_its_calls(exact8):
    image_model = exact8.image_model
    keep = centre_hole_keep(8, 4)
    image = image_model.sample(1, 8, torch.Generator().manual_seed(1))[0].clamp(-1, 1)
    cond = image_model.conditional(image, keep)
    repaint = ScheduleConfig(250, jump_length=10, jump_n_sample=10, stop_resampling_at=None)
    draft = plan_schedule(exact8, keep, target="draft")
    kl = {c: schedule_error(exact8, image, keep, c, conditional=cond).kl for c in (repaint, draft)}
    assert draft.nfe <= 0.05 * repaint.nfe and kl[draft] <= 1.25 * kl[repaint]


@pytest.mark.parametrize("kwargs, words", [
    (dict(eta=1.5), ["eta=1.5", "0..1"]),
    (dict(eta=-0.1), ["eta=-0.1", "0..1"]),
    (dict(target="best"), ["target='best'", "draft", "quality"]),
    (dict(budget=1), ["budget=1", "at least 2"]),
    (dict(t_T=0), ["t_T"]),
])
def test_nonsense_plans_are_one_clear_error(exact8, kwargs, words):
    with pytest.raises(UserInputError) as err:
        plan_schedule(exact8, centre_hole_keep(8, 4), **kwargs)
    assert all(w in str(err.value) for w in words)


def test_cli_schedule_auto_and_its_bad_values(capsys):
    assert main(["schedule", "--model", "demo", "--schedule", "auto"]) == 0
    out = capsys.readouterr().out
    assert "--stride" in out and "--start-resampling-at" in out
    for flags, words in ((["--eta", "2"], ["eta=2", "0..1"]), (["--jump-length", "3"], ["--jump-length", "itself"])):
        assert main(["schedule", "--model", "demo", "--schedule", "auto", *flags]) == 2
        err = capsys.readouterr().err
        assert all(w in err for w in words)
    assert main(["schedule", "--t-T", "20", "--jump-length", "30"]) == 2  # a jump longer than the walk
    assert "jump_length=30" in capsys.readouterr().err
    assert main(["schedule", "--t-T", "20", "--jump-n-sample", "0"]) == 2  # zero resamplings
    assert "--jump-n-sample: must be at least 1, got 0" in capsys.readouterr().err


def test_the_printed_flags_of_a_plan_reproduce_it_and_bad_grids_are_refused(capsys):
    assert main(["schedule", "--model", "demo", "--schedule", "auto"]) == 0
    out = capsys.readouterr().out
    flags = out.split("flags: ")[1].splitlines()[0].split()
    assert "--window-levels" in flags
    assert main(["schedule", "--model", "demo", *flags]) == 0
    again = capsys.readouterr().out
    calls = [line for line in out.splitlines() if line.startswith("model calls")]
    assert calls and calls == [line for line in again.splitlines() if line.startswith("model calls")]
    grid = ["--t-T", "250", "--jump-length", "3", "--jump-n-sample", "5", "--stop-resampling-at", "0",
            "--start-resampling-at", "60"]
    assert main(["schedule", *grid, "--window-levels", "100"]) == 2
    assert "window_levels=100" in capsys.readouterr().err
    assert main(["schedule", "--model", "demo", "--schedule", "auto", "--window-levels", "5"]) == 2
    assert "--window-levels" in capsys.readouterr().err
    for ramp, words in (("-1", ["repeat_ramp=-1", "0..3"]), ("nan", ["repeat_ramp=nan", "0..3"])):
        assert main(["schedule", *grid, "--window-levels", "8", "--repeat-ramp", ramp]) == 2
        err = capsys.readouterr().err
        assert all(w in err for w in words)
    assert main(["schedule", *grid, "--repeat-ramp", "1"]) == 2  # a ramp counts grid levels
    assert "needs a grid window" in capsys.readouterr().err


def test_a_ramped_grid_prints_flags_that_reproduce_it(capsys):
    grid = ["--t-T", "250", "--jump-length", "1", "--jump-n-sample", "12", "--stop-resampling-at", "0",
            "--start-resampling-at", "40", "--window-levels", "8", "--repeat-ramp", "0.75"]
    assert main(["schedule", *grid]) == 0
    out = capsys.readouterr().out
    flags = out.split("flags: ")[1].splitlines()[0].split()
    assert flags[flags.index("--repeat-ramp") + 1] == "0.75" and "repeats ramped" in out
    assert main(["schedule", *flags]) == 0
    assert capsys.readouterr().out == out
