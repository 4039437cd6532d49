"""The schedule settings table and everything read from it: the config, its dict, the CLI flags
and the Painter's fields; a printed flag line and a saved dict always load back to the same schedule."""

from __future__ import annotations

import inspect
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipainter_nb.cli import build_parser, main
from ipainter_nb.commands.schedule_args import flags_of, schedule_from_args
from ipainter_nb.core import schedules
from ipainter_nb.core.presets import PRESETS
from ipainter_nb.core.schedules import SETTING_NAMES, SETTINGS, ScheduleConfig, check_setting, plan_schedule, window_grid
from ipainter_nb.errors import UserInputError

#: the schedules unset flags come from: the paper's, a model's window, a plain walk
BASES = [ScheduleConfig(), PRESETS["demo"].default_schedule, ScheduleConfig(10, jump_n_sample=1, stop_resampling_at=None)]


@st.composite
def configs(draw) -> ScheduleConfig:
    """A random valid schedule: any kind, grid windows and ramps included, short enough to build at once."""
    t_T = draw(st.integers(1, 300))
    values = dict(jump_n_sample=draw(st.integers(1, 12)), jump_length=draw(st.integers(1, max(1, t_T - 1))),
                  eta=draw(st.floats(0.0, 1.0)), stride=draw(st.integers(1, t_T)))
    stop = draw(st.none() | st.integers(0, t_T))
    start = draw(st.none() | st.integers(0 if stop is None else stop, t_T))
    values.update(stop_resampling_at=stop, start_resampling_at=start)
    if start and stop in (None, 0) and draw(st.booleans()):  # a window from 0 walked on a grid
        levels = draw(st.integers(2, start + 1))
        grid = len(window_grid(start, levels))
        values.update(window_levels=levels, jump_length=min(values["jump_length"], max(1, grid - 1)),
                      repeat_ramp=draw(st.sampled_from([0.0, 0.75, 1.0]) | st.floats(0.0, 3.0)))
    return ScheduleConfig(t_T, **values)


def parse_back(line: str, base: ScheduleConfig) -> ScheduleConfig:
    args = build_parser().parse_args(["schedule", *line.split()])
    return schedule_from_args(args, base)


@given(configs())
def test_printed_flags_parse_back_to_the_same_schedule_whatever_the_default(cfg):
    line = flags_of(cfg)
    for base in BASES:
        assert parse_back(line, base) == cfg, (line, base)


@given(configs())
def test_a_saved_schedule_loads_back_equal(cfg):
    again = ScheduleConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and hash(again) == hash(cfg) and again.times() == cfg.times()


@pytest.mark.parametrize("argv", [
    ["--t-T", "20", "--jump-n-sample", "1", "--eta", "0.5"],  # a plain DDIM schedule: once printed "--no-resampling --eta"
    ["--t-T", "20", "--no-resampling", "--eta", "0.5", "--stride", "3"],  # eta and stride matter without jumps
    ["--t-T", "40", "--jump-length", "2", "--jump-n-sample", "3", "--stride", "4"],
    ["--model", "demo", "--t-T", "20"],
    ["--model", "demo", "--full-repaint"],
])
def test_what_ipainter_schedule_prints_it_reads_back(argv, capsys):
    assert main(["schedule", *argv]) == 0
    out = capsys.readouterr().out
    flags = out.split("flags: ")[1].splitlines()[0].split()
    calls = [line for line in out.splitlines() if line.startswith("model calls")]
    for model in ([], ["--model", "demo"]):  # the printed line is whole: another default changes nothing
        assert main(["schedule", *model, *flags]) == 0
        again = capsys.readouterr().out
        assert again.split("flags: ")[1].splitlines()[0].split() == flags
        assert [line for line in again.splitlines() if line.startswith("model calls")] == calls


def test_a_plan_on_a_tiny_budget_prints_flags_that_read_back():
    model = schedules_demo_model()
    plan = plan_schedule(model, budget=5)  # a strided walk alone: no resampling, a stride
    assert plan.kind == "plain" and plan.stride > 1
    assert parse_back(flags_of(plan), model.default_schedule) == plan


def schedules_demo_model():
    from ipainter_nb.core.models import load_model

    return load_model("demo", device="cpu")


@pytest.mark.parametrize("saved, expected", [
    # the first form: a "kind" key, the jump numbers kept even where the kind ignores them
    ({"kind": "plain", "t_T": 5, "jump_length": 10, "jump_n_sample": 10, "stop_resampling_at": 100},
     ScheduleConfig(5, jump_length=10, jump_n_sample=1, stop_resampling_at=None)),
    ({"kind": "repaint", "t_T": 50, "jump_length": 4, "jump_n_sample": 3, "stop_resampling_at": 100},
     ScheduleConfig(50, jump_length=4, jump_n_sample=3, stop_resampling_at=None)),
    ({"kind": "truncated", "t_T": 250, "jump_length": 10, "jump_n_sample": 10, "stop_resampling_at": None},
     ScheduleConfig()),
    # then the numbers alone, the window's top, eta, the stride, the grid and the ramp, one after another
    ({"t_T": 100, "jump_length": 5, "jump_n_sample": 5, "stop_resampling_at": 40, "start_resampling_at": None},
     ScheduleConfig(100, jump_length=5, jump_n_sample=5, stop_resampling_at=40)),
    ({"t_T": 50, "jump_length": 3, "jump_n_sample": 5, "stop_resampling_at": 0, "start_resampling_at": 22, "eta": 0.0},
     ScheduleConfig(50, jump_length=3, jump_n_sample=5, stop_resampling_at=0, start_resampling_at=22, eta=0.0)),
    ({"t_T": 250, "jump_length": 5, "jump_n_sample": 4, "stop_resampling_at": 0, "start_resampling_at": 20, "eta": 1.0,
      "stride": 10}, ScheduleConfig(250, jump_length=5, jump_n_sample=4, stop_resampling_at=0, start_resampling_at=20,
                                    stride=10)),
    ({"t_T": 250, "jump_length": 2, "jump_n_sample": 4, "stop_resampling_at": 0, "start_resampling_at": 60, "eta": 1.0,
      "stride": 20, "window_levels": 12}, ScheduleConfig(250, jump_length=2, jump_n_sample=4, stop_resampling_at=0,
                                                          start_resampling_at=60, stride=20, window_levels=12)),
    ({"t_T": 250, "jump_length": 1, "jump_n_sample": 12, "stop_resampling_at": 0, "start_resampling_at": 40, "eta": 1.0,
      "stride": 40, "window_levels": 8, "repeat_ramp": 0.75},
     ScheduleConfig(250, jump_length=1, jump_n_sample=12, stop_resampling_at=0, start_resampling_at=40, stride=40,
                    window_levels=8, repeat_ramp=0.75)),
    ({"t_T": 50}, ScheduleConfig(50)),  # keys left out take the defaults, scaled to t_T
])
def test_every_saved_form_of_the_previous_versions_still_loads(saved, expected):
    assert ScheduleConfig.from_dict(json.loads(json.dumps(saved))) == expected


def test_the_config_the_flags_and_the_fields_are_the_tables_rows(capsys):
    assert tuple(ScheduleConfig().to_dict()) == SETTING_NAMES
    params = inspect.signature(ScheduleConfig).parameters
    assert list(params) == list(SETTING_NAMES)  # t_T by position or name, every other setting by name only
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(params.values())[1:])
    assert main(["schedule", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(f"{row.flag} {row.metavar}" in help_text for row in SETTINGS)
    assert "paper: 10" in help_text and "'none' to unset" in help_text
    from ipainter_nb.widgets.schedule_controls import FIELD_SETTINGS, ScheduleControls

    fields = ScheduleControls(ScheduleConfig(), keep_mask=lambda: None)
    assert [row.name for row in FIELD_SETTINGS] == [row.name for row in SETTINGS if row.label]
    assert [f.description for f in fields.fields[1:]][:3] == ["t_T (steps)", "jump (steps)", "repeats"]
    assert [f.tooltip for f in fields.fields[1:]] == [row.description for row in FIELD_SETTINGS]


def test_auto_defaults_are_the_papers_proportions_and_in_range():
    for t_T in (1, 2, 20, 50, 250, 1000):
        cfg = ScheduleConfig(t_T)
        assert cfg.jump_length == max(1, min(round(10 * t_T / 250), t_T - 1))
        assert cfg.stop_resampling_at == round(100 * t_T / 250)


@pytest.mark.parametrize("name, value, words", [
    ("eta", 1.5, ["eta=1.5", "0..1", "DDPM"]),
    ("eta", "1", ["eta must be a number in 0..1", "str"]),
    ("repeat_ramp", -1.0, ["repeat_ramp=-1.0", "0..3"]),
    ("t_T", 0, ["t_T=0", "at least 1"]),
    ("stride", True, ["stride must be an int", "bool"]),
    ("window_levels", 1, ["window_levels=1", "at least 2"]),
    ("strides", 1, ["'strides' is not a schedule setting", "stride"]),
])
def test_one_setting_is_checked_in_one_place_with_one_clear_message(name, value, words):
    with pytest.raises(UserInputError) as err:
        check_setting(name, value)
    assert all(w in str(err.value) for w in words)


def test_the_sampler_and_the_noise_schedule_use_the_settings_check_of_eta():
    from ipainter_nb.core.diffusion import DiffusionSchedule

    steps = DiffusionSchedule.create("linear", 1000, "10", "fixed_small")
    with pytest.raises(UserInputError, match=r"eta=1\.5 is invalid: it must be in 0\.\.1"):
        steps.step_coefficients(5, eta=1.5)
    with pytest.raises(UserInputError, match=r"eta=1\.5 is invalid: it must be in 0\.\.1"):
        schedules.check_eta(1.5)


def test_a_configs_times_are_built_once(monkeypatch):
    from ipainter_nb.core.schedules import config

    built = []
    real = config.repaint
    monkeypatch.setattr(config, "repaint", lambda *a, **k: built.append(a) or real(*a, **k))
    cfg = ScheduleConfig(100, jump_length=5, jump_n_sample=3, stop_resampling_at=40, start_resampling_at=80)
    times = cfg.times()
    times.append(99)  # the caller's own list: the config keeps its times
    assert cfg.times() != times and cfg.nfe == schedules.count_nfe(cfg.times())
    cfg.describe()
    assert len([a for a in built if a[3:5] == (40, 80)]) == 1  # its own times once (describe adds full RePaint's)
