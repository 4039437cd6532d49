"""The benchmark scripts' --quick modes run and print their tables (tiny sizes, no trained weights)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    # benchmarks/ is a folder of scripts, not a package: import each one by path, once
    key = f"benchmarks_{name}"
    if key in sys.modules:
        return sys.modules[key]
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def header_cells(text: str) -> list[list[str]]:
    """The header row of every markdown table in ``text``."""
    lines = text.splitlines()
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line, nxt in zip(lines, lines[1:])
        if line.startswith("|") and nxt.startswith("|-")
    ]


def rows_of(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and not line.startswith("|-")]


def check(text: str, results: Path, name: str, expected: list[list[str]]) -> None:
    assert header_cells(text) == expected
    written = results / f"{name}.quick.md"
    assert written.read_text(encoding="utf-8").strip() == text.strip()
    assert not list(results.glob(".*.tmp"))  # atomic write left no temporary behind


def test_unet_speed_quick(tmp_path, capsys):
    mod = load("unet_speed")
    text = mod.main(["--quick", "--results-dir", str(tmp_path)])
    assert text.strip() in capsys.readouterr().out
    check(text, tmp_path, "unet_speed", [mod.HEADERS])
    for path in ("baseline", "default", "bf16 autocast", "bf16 weights"):
        assert f"| {path}" in text
    assert "Targets" in text and "GFLOP" in text


def test_physical_limit_figures():
    mod = load("unet_speed")
    text = mod.physical_limit(int(2.24e12), {"default": 14.0})
    assert "3382 TFLOP" in text and "4.28 s" in text


def test_load_memory_quick(tmp_path):
    mod = load("load_memory")
    text = mod.main(["--quick", "--results-dir", str(tmp_path)])
    check(text, tmp_path, "load_memory", [mod.HEADERS])
    rows = {r[0]: r for r in rows_of(text)}
    ours, naive = rows["load_model (mmap + assign), prepack=False"], rows["naive (build fp32, torch.load, load_state_dict)"]
    growth = mod.HEADERS.index("(peak − before) / ckpt")
    # even at the demo's 25 MB, loading without a second copy shows
    assert float(ours[growth].rstrip("×")) < float(naive[growth].rstrip("×"))


def test_sampler_overhead_quick(tmp_path):
    mod = load("sampler_overhead")
    text = mod.main(["--quick", "--results-dir", str(tmp_path)])
    check(text, tmp_path, "sampler_overhead", [mod.OVERHEAD_HEADERS, mod.BATCH_HEADERS])
    assert "none (progress=False)" in text and "sampler alone" in text


def test_quality_quick_on_a_tiny_random_model(tmp_path, tiny_model_path):
    mod = load("quality")
    png = tmp_path / "side.png"
    text = mod.main(["--quick", "--model", str(tiny_model_path), "--results-dir", str(tmp_path), "--png", str(png)])
    check(text, tmp_path, "quality", [mod.HEADERS])
    for variant in ("no resampling", "RePaint", "truncated (paper)", "cheaper", "real scenes"):
        assert f"| {variant}" in text
    assert png.stat().st_size > 0


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    torch = pytest.importorskip("torch")
    mod = load("quality")
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, 8, generator=g), torch.randn(200, 8, generator=g)
    same, shifted = mod.kid(a, b), mod.kid(a, b + 1.0)
    assert abs(same) < 0.2  # estimator noise at 200 samples
    assert shifted > 20 * abs(same)


def test_seam_ratio_sees_a_step_at_the_mask_boundary():
    torch = pytest.importorskip("torch")
    mod = load("quality")
    keep = torch.zeros(1, 1, 64, 64)
    keep[..., :, :32] = 1
    noise = 0.2 * torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert mod.seam_ratio(noise, keep.expand(4, -1, -1, -1)) == pytest.approx(1.0, abs=0.2)  # no seam
    stepped = noise.clone()
    stepped[..., :32] += 0.5  # the kept half is brighter: a visible seam
    assert mod.seam_ratio(stepped, keep.expand(4, -1, -1, -1)) > 3


def test_exact_schedules_quick(tmp_path):
    mod = load("exact_schedules")
    png = tmp_path / "front.png"
    text = mod.main(["--quick", "--results-dir", str(tmp_path), "--png", str(png)])
    check(text, tmp_path, "exact_schedules", [mod.HEADERS, mod.FRONT_HEADERS, mod.HEADERS, mod.LAW_HEADERS, mod.PRIOR_HEADERS])
    rows = rows_of(text)
    repaint_kl = [float(r[4]) for r in rows if r[0] == "centre hole" and "(RePaint)" in r[1]]
    plain_kl = [float(r[4]) for r in rows if r[0] == "centre hole" and r[1] == "plain 20"]
    assert len(repaint_kl) == 2 and all(rk < pk for rk, pk in zip(repaint_kl, plain_kl))  # resampling helps, law and MC
    assert "frequency rule" in text and "exact samples (floor" in text and "places256" in text
    assert "plan (quality)" in text and "plan (draft)" in text and "cutout-shaped hole" in text  # the front
    assert png.stat().st_size > 0


def test_quality_quick_measures_plans_cheaper_than_a_window_default(tmp_path):
    mod = load("quality")
    text = mod.main(["--quick", "--n", "3", "--results-dir", str(tmp_path), "--png", str(tmp_path / "side.png")])
    assert "| model default" in text and "| plan_schedule (budget" in text
    check = text.split("Check (cheaper than the default")[1]
    assert "RePaint" in check and ("RePaint-level seam" in check or "seam above RePaint's" in check)


def test_planner_demo_paints_each_schedule_with_its_own_eta_and_reports_both_sets(tmp_path):
    mod = load("planner_demo")
    walk = '{"t_T": 4, "jump_n_sample": 1, "stop_resampling_at": null, "eta": %s}'
    args = ["--quick", "--n", "2", "--sets", "0,1", "--variants", "", "--batch", "2", "--threads", "1",
            "--results-dir", str(tmp_path), "--cache", str(tmp_path / "cache"),
            "--config", "ddpm=" + walk % "1.0", "--config", "ddim=" + walk % "0.0"]
    text = mod.main(args)
    assert "### Set 0 (tuning)" in text and "### Set 1 (held-out)" in text and (tmp_path / "planner_demo.quick.md").exists()
    ddpm, ddim = (next(r for r in rows_of(text) if r[0] == name) for name in ("ddpm", "ddim"))
    assert ddpm[1] == ddim[1] == "4" and ddpm[2] != ddim[2]  # same calls and seeds: only eta differs
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 4  # two variants on two sets, kept
    assert mod.main(args).split("_torch")[0] == text.split("_torch")[0]  # painted again from the cache: the same


def test_planner_family_quick_scores_both_ways_and_says_where_it_loses(tmp_path):
    mod = load("planner_family")
    text = mod.main(["--quick", "--results-dir", str(tmp_path)])
    check(text, tmp_path, "planner_family",
          [mod.SUMMARY_HEADERS, mod.FULL_HEADERS, mod.FIXED_HEADERS, mod.KIND_HEADERS, mod.CASE_HEADERS])
    checked = [line for line in text.splitlines() if "(HoleLaw) vs" in line]
    assert checked and all(line.split("KL ")[1].split(" ")[0] == line.split("vs ")[1].split(" ")[0] for line in checked)
    assert "## Where the planner loses" in text and (tmp_path / "planner_family.quick.json").exists()
    # every plan is set against the schedules chosen without a search, within its own calls
    for result in json.loads((tmp_path / "planner_family.quick.json").read_text())["results"]:
        for target in ("quality", "draft"):
            fixed = result[target]["fixed"]
            assert {"plain walk η 1", "the search's starting point"} <= set(fixed)
            assert all(f["nfe"] <= mod.plan_module.PLAN_TARGETS[target].calls for f in fixed.values())


def test_neural_truth_quick_judges_schedules_on_a_shipped_truth_model(tmp_path, capsys):
    mod = load("neural_truth")
    text = mod.main(["--quick", "--fields", "far", "--resamples", "20", "--results-dir", str(tmp_path)])
    assert text.strip() in capsys.readouterr().out
    check(text, tmp_path, "neural_truth", [mod.DENOISER_HEADERS, mod.HEADERS])
    rows = [r for r in rows_of(text) if r[0] == "far" and r[1] == "centre hole"]
    assert [r[2].split(":")[0] for r in rows] == ["exact samples (floor, M=16)", "plain 20", "RePaint 20/2/3"]
    plain, repaint = (float(r[7]) for r in rows[1:])  # the exact-law KL: resampling helps, as on the exact model
    assert repaint < plain


def test_surrogate_start_quick_paints_from_the_surrogates_picture_and_compares_it(tmp_path):
    mod = load("surrogate_start")
    text = mod.main(["--quick", "--sets", "0", "--threads", "1", "--results-dir", str(tmp_path)])
    assert header_cells(text) == [mod.HEADERS] and (tmp_path / "surrogate_start.quick.md").exists()
    rows = {r[0]: r for r in rows_of(text)}
    assert rows["surrogate start at t0=3"][1] == "4" and rows["the surrogate's picture alone"][1] == "0"
    assert rows["reference"][1] == str(mod.QUICK_REFERENCE.nfe) and rows["reference"][3] == "×1.00 [1.00, 1.00]"
    picture = mod.main(["--quick", "--figure", "--threads", "1", "--results-dir", str(tmp_path)])
    assert picture == str(tmp_path / "surrogate_start.quick.png") and Path(picture).stat().st_size > 0


def test_neural_truth_edge_quick_measures_the_border_at_the_edge_and_rolled_away_from_it(tmp_path):
    mod = load("neural_truth_edge")
    text = mod.main(["--quick", "--results-dir", str(tmp_path), "--resamples", "20"])
    assert header_cells(text) == [mod.RING_HEADERS, mod.HEADERS] and (tmp_path / "neural_truth_edge.quick.md").exists()
    rings = [r for r in rows_of(text) if r[0] == "far" and r[1] in {str(t) for t in mod.LEVELS}]
    assert len(rings) == len(mod.LEVELS)
    assert all(float(r[2]) > float(r[5]) for r in rings[:2])  # the network errs most on the picture's edge
    schedules = [r for r in rows_of(text) if len(r) == len(mod.HEADERS) and r[0] == "far" and "border" in r[1]]
    assert {r[1] for r in schedules} == {"border", "border rolled (a cross)"}
    laws = {(r[1], r[2]): float(r[5]) for r in schedules}
    for name in ("RePaint 10/2/2", "plain 10"):  # the rolled problem is the same problem: its exact law agrees
        assert laws[("border", name)] == pytest.approx(laws[("border rolled (a cross)", name)], rel=0.1)
