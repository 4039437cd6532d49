import json
import re

import pytest

from ipainter_nb.core import schedules
from ipainter_nb.core.schedules import (
    ScheduleConfig,
    count_nfe,
    count_steps,
    jump_points,
    plain,
    repaint,
    resampling_window,
    validate_times,
)
from ipainter_nb.errors import UserInputError


def _fixture_schedules(reference_dir):
    data = json.loads((reference_dir / "repaint_jump_schedules.json").read_text())
    out = []
    for key, times in data["schedules"].items():
        params = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", key)}
        out.append((params, times))
    return out


def _jump_starts(times):
    """Times where the schedule turns from going down to going up."""
    return [b for a, b, c in zip(times, times[1:], times[2:]) if b < a and c > b]


def test_repaint_matches_reference_schedules_element_for_element(reference_dir):
    cases = _fixture_schedules(reference_dir)
    assert len(cases) == 4
    for params, expected in cases:
        assert repaint(**params) == expected, params
        assert repaint(**params, stop_resampling_at=None) == expected, params


def test_paper_settings_need_1510_model_calls_instead_of_2410():
    full = repaint(t_T=250, jump_length=10, jump_n_sample=10)
    truncated = repaint(t_T=250, jump_length=10, jump_n_sample=10, stop_resampling_at=100)
    assert count_nfe(full) == 2410
    assert count_nfe(truncated) == 1510
    assert count_nfe(plain(250)) == 250
    # Same start, same end, same truncated tail as the plain descent.
    assert truncated[0] == 249 and truncated[-1] == -1
    assert truncated[-101:] == list(range(99, -2, -1))


def test_plain_goes_straight_down():
    assert plain(5) == [4, 3, 2, 1, 0, -1]
    assert count_nfe(plain(5)) == 5
    assert count_steps(plain(5), "up") == 0


@pytest.mark.parametrize("s", [1, 37, 100, 200, 230])
def test_truncated_schedule_never_jumps_from_below_stop(s):
    times = repaint(250, 10, 10, stop_resampling_at=s)
    starts = _jump_starts(times)
    assert starts and min(starts) >= s
    # ... and it keeps every jump RePaint makes at or above s.
    full_starts = _jump_starts(repaint(250, 10, 10))
    assert starts == [t for t in full_starts if t >= s]
    validate_times(times, t_T=250)


def test_stop_at_zero_is_repaint_and_stop_at_t_T_is_plain():
    assert repaint(100, 5, 5, stop_resampling_at=0) == repaint(100, 5, 5)
    assert repaint(250, 10, 10, stop_resampling_at=250) == plain(250)
    assert count_nfe(repaint(250, 10, 10, stop_resampling_at=250)) == count_nfe(plain(250))


def test_jump_n_sample_one_is_plain():
    assert repaint(50, 4, 1) == plain(50)


def test_counts_split_into_down_and_up_steps():
    times = repaint(50, 4, 3)
    assert count_steps(times) == len(times) - 1
    assert count_steps(times, "down") + count_steps(times, "up") == count_steps(times)
    # Every up step is undone by a down step, so downs = t_T + ups.
    assert count_steps(times, "down") == 50 + count_steps(times, "up")


def test_resampling_window_and_jump_points():
    # the window runs from the lowest jump start to the top of the highest jump
    assert resampling_window(repaint(250, 10, 10)) == (0, 240)
    assert resampling_window(repaint(250, 10, 10, stop_resampling_at=100)) == (100, 240)
    assert resampling_window(plain(250)) is None
    assert jump_points(50, 4) == list(range(0, 45, 4))
    assert jump_points(250, 10, stop_resampling_at=95) == list(range(100, 231, 10))


@pytest.mark.parametrize(
    "kwargs, name, valid",
    [
        (dict(t_T=0), "t_T=0", "t_T >= 1"),
        (dict(t_T=-3), "t_T=-3", "t_T >= 1"),
        (dict(t_T=10, jump_length=10), "jump_length=10", "1..9"),
        (dict(t_T=10, jump_length=12), "jump_length=12", "1..9"),
        (dict(t_T=10, jump_length=0), "jump_length=0", "1..9"),
        (dict(t_T=10, jump_length=2, jump_n_sample=0), "jump_n_sample=0", ">= 1"),
        (dict(t_T=10, jump_length=2, stop_resampling_at=-1), "stop_resampling_at=-1", "0..10"),
        (dict(t_T=10, jump_length=2, stop_resampling_at=11), "stop_resampling_at=11", "0..10"),
    ],
)
def test_bad_parameters_name_parameter_value_and_valid_range(kwargs, name, valid):
    with pytest.raises(ValueError) as err:
        repaint(**kwargs)
    assert name in str(err.value)
    assert valid in str(err.value)


def test_validate_times_accepts_generated_schedules():
    assert validate_times(repaint(50, 4, 3)) == repaint(50, 4, 3)
    assert validate_times(plain(3), t_T=3) == [2, 1, 0, -1]


@pytest.mark.parametrize(
    "times, t_T, index",
    [
        ([5, 4, 3, 2, 1, 0], None, 5),  # does not end at -1
        ([5, 4, 2, 2, 0, -1], None, 3),  # a repeat after a strided step
        ([5, 4, 4, 3, 2, 1, 0, -1], None, 2),  # a repeat
        ([4, 3, 2, 1, 0, -1], 6, 0),  # does not start at t_T - 1
        ([5, 4, 5, 6, 5, 4, 3, 2, 1, 0, -1], None, 3),  # climbs above t_T - 1
        ([1, 0, -1, -2, -1], None, 2),  # -1 before the end, then below -1
        ([2, 1, 0.5, -1], None, 2),  # not an int
    ],
)
def test_validate_times_names_first_bad_index(times, t_T, index):
    with pytest.raises(ValueError, match=rf"times\[{index}\]"):
        validate_times(times, t_T=t_T)


def test_validate_times_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        validate_times([])


def test_config_defaults_are_the_papers():
    cfg = ScheduleConfig()
    assert (cfg.kind, cfg.t_T, cfg.jump_length, cfg.jump_n_sample, cfg.stop_resampling_at) == (
        "truncated",
        250,
        10,
        10,
        100,
    )
    assert cfg.times() == repaint(250, 10, 10, stop_resampling_at=100)
    assert cfg.nfe == 1510
    assert "1510" in cfg.describe() and "2410" in cfg.describe() and "100" in cfg.describe()
    assert ScheduleConfig(stop_resampling_at=None).nfe == 2410
    assert ScheduleConfig(jump_n_sample=1).times() == plain(250)
    assert "\n" not in ScheduleConfig(jump_n_sample=1).describe()


def test_config_validates_on_construction():
    with pytest.raises(ValueError, match="kind='fast'"):
        ScheduleConfig.from_dict({"kind": "fast"})
    with pytest.raises(UserInputError, match="kind= is the old spelling.*from_dict"):
        ScheduleConfig(kind="plain")
    with pytest.raises(UserInputError, match=r"unknown schedule settings \['stop'\]"):
        ScheduleConfig(stop=10)
    with pytest.raises(TypeError):  # every setting after t_T is named
        ScheduleConfig(250, 10)
    with pytest.raises(ValueError, match="stop_resampling_at=300"):
        ScheduleConfig(stop_resampling_at=300)
    # A plain schedule ignores the jump knobs, so nonsense there is not an error.
    assert ScheduleConfig(t_T=20, jump_n_sample=1, jump_length=50).nfe == 20


def test_module_lists_its_public_names():
    for name in schedules.__all__:
        assert hasattr(schedules, name)


def test_resampling_window_of_the_papers_schedule_is_where_its_up_steps_are():
    times = ScheduleConfig().times()
    ups = [(a, b) for a, b in zip(times, times[1:]) if b > a]
    # jumps start at 100, 110, ..., 230 and climb 10 steps: every up step lies in 100..240
    assert min(a for a, _ in ups) == 100 and max(b for _, b in ups) == 240
    assert resampling_window(times) == (100, 240)
    assert resampling_window([0, -1]) is None


def test_the_one_step_schedule_is_valid():
    assert plain(1) == [0, -1] == validate_times([0, -1])
    assert count_nfe(plain(1)) == 1
    assert ScheduleConfig(t_T=1).times() == [0, -1]


def test_kind_follows_from_the_numbers():
    assert ScheduleConfig().kind == "truncated"
    assert ScheduleConfig(stop_resampling_at=None).kind == "repaint"
    assert ScheduleConfig(stop_resampling_at=0).kind == "repaint"  # stop 0 cuts no jump
    assert ScheduleConfig(jump_n_sample=1).kind == "plain"
    assert ScheduleConfig(stop_resampling_at=250).kind == "plain"
    assert ScheduleConfig(stop_resampling_at=100, start_resampling_at=150).kind == "window"
    # the old spelling still loads and means the same numbers
    assert ScheduleConfig.from_dict({"kind": "repaint"}) == ScheduleConfig(stop_resampling_at=None)
    assert ScheduleConfig.from_dict({"kind": "plain", "t_T": 40}).times() == plain(40)
    assert ScheduleConfig.from_dict({"kind": "truncated", "stop_resampling_at": 100}) == ScheduleConfig()


def test_config_round_trips_through_a_dict_and_reads_the_old_form():
    configs = [ScheduleConfig(), ScheduleConfig(t_T=50), ScheduleConfig(5, jump_n_sample=1, stop_resampling_at=None),
               ScheduleConfig(100, jump_length=5, jump_n_sample=5, stop_resampling_at=40, start_resampling_at=80),
               ScheduleConfig(stop_resampling_at=None)]
    for cfg in configs:
        data = json.loads(json.dumps(cfg.to_dict()))
        assert ScheduleConfig.from_dict(data) == cfg
        assert ScheduleConfig.from_dict(data).times() == cfg.times()
    # what checkpoints and settings files hold today: a "kind" key, ignored fields included
    old_plain = {"kind": "plain", "t_T": 5, "jump_length": 10, "jump_n_sample": 10, "stop_resampling_at": 100}
    assert ScheduleConfig.from_dict(old_plain).times() == plain(5)
    old_repaint = {"kind": "repaint", "t_T": 50, "jump_length": 4, "jump_n_sample": 3, "stop_resampling_at": 100}
    assert ScheduleConfig.from_dict(old_repaint).times() == repaint(50, 4, 3)
    with pytest.raises(ValueError, match=r"unknown schedule keys \['stop'\].*stop_resampling_at"):
        ScheduleConfig.from_dict({"t_T": 50, "stop": 10})


def test_t_T_alone_scales_the_papers_stop_and_jump_and_says_so():
    cfg = ScheduleConfig(t_T=50)
    assert (cfg.jump_length, cfg.jump_n_sample, cfg.stop_resampling_at) == (2, 10, 20)  # 10/250 and 100/250 of 50
    assert "stop 100 -> 20" in cfg.describe() and "jump_length 10 -> 2" in cfg.describe()
    assert "scaled" not in ScheduleConfig().describe()
    # an explicit stop is kept as given
    assert ScheduleConfig(t_T=50, stop_resampling_at=30).stop_resampling_at == 30
    for t_T in (1, 2, 3, 5, 20, 99):
        validate_times(ScheduleConfig(t_T=t_T).times(), t_T=t_T)


def test_for_t_T_keeps_the_proportions_of_a_schedule():
    demo = ScheduleConfig(t_T=100, jump_length=5, jump_n_sample=5, stop_resampling_at=40)
    short = ScheduleConfig.for_t_T(20, like=demo)
    assert (short.t_T, short.jump_length, short.jump_n_sample, short.stop_resampling_at) == (20, 1, 5, 8)
    assert "scaled from t_T=100" in short.describe()
    assert ScheduleConfig.for_t_T(250) == ScheduleConfig()
    window = ScheduleConfig(100, jump_length=5, jump_n_sample=5, stop_resampling_at=40, start_resampling_at=80)
    assert ScheduleConfig.for_t_T(500, like=window).to_dict() == dict(
        t_T=500, jump_length=25, jump_n_sample=5, stop_resampling_at=200, start_resampling_at=400, eta=1.0, stride=1,
        window_levels=None, repeat_ramp=0.0)
    assert ScheduleConfig.for_t_T(30, like=ScheduleConfig(10, jump_n_sample=1)).times() == plain(30)
    assert ScheduleConfig.for_t_T(1).times() == [0, -1]


def test_a_window_schedule_jumps_only_between_stop_and_start():
    times = repaint(250, 10, 10, stop_resampling_at=100, start_resampling_at=150)
    assert sorted(set(_jump_starts(times)), reverse=True) == [150, 140, 130, 120, 110, 100]
    assert jump_points(250, 10, 100, 150) == [100, 110, 120, 130, 140, 150]
    # below and above the window it is the plain descent
    assert times[:100] == list(range(249, 149, -1)) and times[-101:] == list(range(99, -2, -1))
    assert repaint(250, 10, 10, start_resampling_at=249) == repaint(250, 10, 10)
    cfg = ScheduleConfig(stop_resampling_at=100, start_resampling_at=150)
    assert cfg.times() == times and cfg.nfe == count_nfe(times)
    assert "100 <= t <= 150" in cfg.describe()
    assert resampling_window(times) == (100, 160)
    with pytest.raises(ValueError, match="start_resampling_at=90 is below stop_resampling_at=100"):
        repaint(250, 10, 10, stop_resampling_at=100, start_resampling_at=90)


def test_schedule_errors_are_user_input_errors():
    from ipainter_nb.errors import UserInputError

    for bad in (lambda: repaint(10, 12), lambda: ScheduleConfig(t_T=2.5), lambda: validate_times([3, 3, -1]),
                lambda: ScheduleConfig(jump_n_sample=0), lambda: plain(0)):
        with pytest.raises(UserInputError):
            bad()


def test_eta_is_a_named_config_value_that_round_trips_and_costs_no_calls():
    ddim = ScheduleConfig(50, jump_length=5, jump_n_sample=3, stop_resampling_at=0, start_resampling_at=20, eta=0.0)
    assert ddim.to_dict()["eta"] == 0.0 and ScheduleConfig().eta == 1.0
    assert ScheduleConfig.from_dict(json.loads(json.dumps(ddim.to_dict()))) == ddim
    assert ScheduleConfig.from_dict({"t_T": 50}).eta == 1.0  # older saves: DDPM steps, as then
    ddpm = ScheduleConfig(50, jump_length=5, jump_n_sample=3, stop_resampling_at=0, start_resampling_at=20)
    assert ddim.nfe == ddpm.nfe and ddim.times() == ddpm.times()
    assert "eta=0" in ddim.describe() and "DDPM steps (eta=1)" in ScheduleConfig().describe()
    assert ScheduleConfig.for_t_T(25, like=ddim).eta == 0.0


@pytest.mark.parametrize("eta", [-0.5, 1.01, float("nan"), True, "1"])
def test_eta_outside_0_to_1_is_one_clear_error(eta):
    with pytest.raises(UserInputError, match=r"eta.*(0\.\.1)"):
        ScheduleConfig(50, jump_length=5, jump_n_sample=3, eta=eta)


def test_a_strided_walk_skips_levels_above_the_jumps_and_steps_one_by_one_below():
    cfg = ScheduleConfig(250, jump_length=5, jump_n_sample=4, stop_resampling_at=0, start_resampling_at=20, stride=10)
    times = cfg.times()
    assert validate_times(times) == times
    ups = [(a, b) for a, b in zip(times, times[1:]) if b > a]
    assert max(b for _, b in ups) == 25  # the highest jump peak: below it every level is visited
    above = [t for t in times if t > 25]
    assert above == list(range(249, 25, -10))
    assert cfg.nfe == len(above) + 26 + 5 * 3 * 5  # the strided walk, levels 25..0, 5 jump points x 3 repeats x 5 levels
    assert ScheduleConfig.from_dict(cfg.to_dict()) == cfg and "walk stride 10" in cfg.describe()
    assert ScheduleConfig(100, stride=4, jump_n_sample=1).times() == plain(100, stride=4) == [*range(99, 0, -4), 0, -1]
    assert repaint(30, 3, 2, stride=1) == repaint(30, 3, 2)


@pytest.mark.parametrize("stride", [0, 300, 2.5])
def test_a_stride_outside_1_to_t_T_is_one_clear_error(stride):
    with pytest.raises(UserInputError, match=r"stride.*1\.\.250|stride must be an int"):
        ScheduleConfig(250, stride=stride)


def test_a_grid_window_walks_few_levels_dense_near_zero_and_jumps_in_grid_levels():
    grid = schedules.window_grid(60, 12)
    assert grid[0] == 0 and grid[-1] == 60 and len(grid) <= 12
    gaps = [b - a for a, b in zip(grid, grid[1:])]
    assert gaps[0] == 1 and gaps == sorted(gaps)  # one level apart near 0, wider apart higher up
    cfg = ScheduleConfig(250, jump_length=2, jump_n_sample=4, stop_resampling_at=0, start_resampling_at=60, stride=20, window_levels=12)
    times = cfg.times()
    assert validate_times(times) == times and cfg.kind == "window"
    below = [t for t in times if 0 <= t <= 60]
    assert set(below) == set(grid)  # inside the window only grid levels are visited
    peaks = [b for a, b in zip(times, times[1:]) if b > a]
    assert set(peaks) <= set(grid) and all(grid.index(p) % 2 == 0 for p in peaks)  # two grid levels up from every 2nd
    jump_points = [p for p in range(len(grid) - 2) if p % 2 == 0]
    assert cfg.nfe == len(range(249, 60, -20)) + len(grid) + len(jump_points) * 3 * 2
    assert ScheduleConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert "walked on" in cfg.describe() and f"{cfg.nfe} model calls" in cfg.describe()


def test_a_ramp_denoises_the_high_stretches_of_a_grid_more_often_for_the_same_grid():
    flat = ScheduleConfig(250, jump_length=1, jump_n_sample=12, stop_resampling_at=0, start_resampling_at=40, stride=40, window_levels=8)
    ramped = ScheduleConfig(250, jump_length=1, jump_n_sample=12, stop_resampling_at=0, start_resampling_at=40, stride=40,
                            window_levels=8, repeat_ramp=1.0)
    grid = schedules.window_grid(40, 8)

    def passes(times: list[int], top: int) -> int:  # down steps arriving at the stretch's lower end from its top
        return sum(1 for a, b in zip(times, times[1:]) if (a, b) == (grid[top], grid[top - 1]))

    n = len(grid) - 1
    assert [passes(flat.times(), k) for k in range(1, n + 1)] == [12] * n
    assert [passes(ramped.times(), k) for k in range(1, n + 1)] == [max(1, round(12 * k / n)) for k in range(1, n + 1)]
    assert ramped.nfe < flat.nfe and "repeats ramped" in ramped.describe()
    assert ScheduleConfig.from_dict(json.loads(json.dumps(ramped.to_dict()))) == ramped
    assert ScheduleConfig.for_t_T(100, ramped).repeat_ramp == 1.0  # kept when the levels are rescaled


@pytest.mark.parametrize("kwargs, words", [
    (dict(window_levels=10), ["window_levels=10", "start_resampling_at"]),  # no window
    (dict(window_levels=10, stop_resampling_at=5, start_resampling_at=40), ["window_levels=10", "stop=5"]),
    (dict(window_levels=80, stop_resampling_at=0, start_resampling_at=40), ["window_levels=80", "2..41"]),
    (dict(window_levels=1, stop_resampling_at=0, start_resampling_at=40), ["window_levels=1", "2..41"]),
    (dict(window_levels=4, jump_length=5, stop_resampling_at=0, start_resampling_at=40), ["jump_length=5", "1..3"]),
    (dict(window_levels=8, stop_resampling_at=0, start_resampling_at=40, repeat_ramp=-0.5), ["repeat_ramp=-0.5", "0..3"]),
    (dict(window_levels=8, stop_resampling_at=0, start_resampling_at=40, repeat_ramp="steep"), ["repeat_ramp", "str"]),
    (dict(repeat_ramp=1.0), ["repeat_ramp=1.0", "window_levels"]),  # a ramp counts grid levels
])
def test_a_grid_window_that_cannot_run_is_one_clear_error(kwargs, words):
    with pytest.raises(UserInputError) as err:
        ScheduleConfig(**{"t_T": 250, "jump_length": 2, "jump_n_sample": 5, "stop_resampling_at": None, **kwargs})
    assert all(w in str(err.value) for w in words)
