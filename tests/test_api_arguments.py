"""The public API's arguments that tests/test_public_arguments.py does not draw: the canvas's
methods, its files, the exact model's samplers, a model's ``to`` and the schedule table's
helpers. Each bad value is one ``UserInputError`` naming the argument; each edge value that is
fine (a numpy number, a very large erosion) gives the answer it should."""

from __future__ import annotations

import enum
import os
import signal
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ipainter_nb as ip
from ipainter_nb import viz
from ipainter_nb.errors import UserInputError
from ipainter_nb.images import mask_to_pil

E = ip.exact
CUTOUT = Image.new("RGBA", (4, 4), (255, 0, 0, 255))


def canvas() -> tuple[ip.Composition, ip.Layer]:
    comp = ip.Composition(size=16)
    return comp, comp.add(ip.Layer(CUTOUT, x=2, y=2))


def _painted() -> ip.PaintResult:
    """A run of the exact model with frames kept."""
    model = E.ExactDiffusionModel.create(size=8)
    return ip.paint(model, torch.zeros(3, 8, 8), E.centre_hole_keep(8, 4), times=ip.schedules.plain(3), max_frames=3,
                    progress=False)


def _far_layer() -> dict:
    """A saved composition whose one layer is ten million pixels to the right."""
    comp, _ = canvas()
    data = comp.to_dict()
    data["layers"][0]["x"] = 10**7
    return data


def _composer():
    from ipainter_nb.widgets import Composer

    return Composer(cutouts={"sun": CUTOUT})


def cutout_file(folder: Path) -> Path:
    path = folder / "sun.png"
    CUTOUT.save(path)
    return path


# --------------------------------------------------------------------------- refusals

REFUSALS = {
    "Layer.from_file(max_size='512')": (lambda p: ip.Layer.from_file(cutout_file(p), max_size="512"),
                                        "max_size must be a whole number"),
    "Layer.from_file(max_size=0)": (lambda p: ip.Layer.from_file(cutout_file(p), max_size=0), "max_size=0 is out of range"),
    "Layer.from_file(2.5)": (lambda p: ip.Layer.from_file(2.5), "path must be a file path"),
    "Layer.contains('1', 1)": (lambda p: canvas()[1].contains("1", 1), "px: expected a finite number"),
    "Composition.layer_at(nan, 1)": (lambda p: canvas()[0].layer_at(float("nan"), 1), "x: expected a finite number"),
    "Composition.remove('0')": (lambda p: canvas()[0].remove("0"), "layer_or_index: expected an integer"),
    "Composition.remove(5)": (lambda p: canvas()[0].remove(5), "layer_or_index=5: there is no layer at that index"),
    "Composition.is_off_canvas('sun')": (lambda p: canvas()[0].is_off_canvas("sun"), "layer: expected a Layer"),
    "Composition.observe('redraw')": (lambda p: canvas()[0].observe("redraw"), "callback: expected a function"),
    "Composition.to_json(seed=-1)": (lambda p: canvas()[0].to_json(p / "c.json", seed=-1),
                                     "seed: expected a whole number in 0..2**63-1"),
    "Composition.check_size('64')": (lambda p: canvas()[0].check_size("64"), "image_size must be a whole number"),
    "render_preview(overlay='yes')": (lambda p: canvas()[0].render_preview(overlay="yes"), "overlay: expected true or false"),
    "render_preview(overlay_color='red')": (lambda p: canvas()[0].render_preview(True, overlay_color="red"),
                                            "overlay_color: expected (red, green, blue)"),
    "render_preview(overlay_color=(300, 0, 0))": (lambda p: canvas()[0].render_preview(True, overlay_color=(300, 0, 0)),
                                                  "overlay_color: expected (red, green, blue), three whole numbers in 0..255"),
    "render_preview(overlay_opacity=2)": (lambda p: canvas()[0].render_preview(True, overlay_opacity=2),
                                          "overlay_opacity: expected a number in [0, 1]"),
    "export_batch(True, 'a')": (lambda p: canvas()[0].export_batch(True, "a"), "directory must be a folder path"),
    "export_batch(dir, 5)": (lambda p: canvas()[0].export_batch(p, 5), "name: expected a file name (a str)"),
    "export_batch(a file, 'a')": (lambda p: canvas()[0].export_batch(cutout_file(p), "a"), "is a file, not a folder"),
    "to_json(a folder)": (lambda p: canvas()[0].to_json(p), "is a folder: name a file in it"),
    "to_json(in a missing folder)": (lambda p: canvas()[0].to_json(p / "missing" / "c.json"),
                                     "does not exist; create it first"),
    "to_json(embed_images='no')": (lambda p: canvas()[0].to_json(p / "c.json", embed_images="no"),
                                   "embed_images: expected true or false"),
    "from_json(True)": (lambda p: ip.Composition.from_json(True), "path must be a file path"),
    "from_dict(base_dir=1)": (lambda p: ip.Composition.from_dict(canvas()[0].to_dict(), base_dir=1),
                              "base_dir must be a folder path"),
    "ScheduleConfig.for_t_T(50, like='paper')": (lambda p: ip.ScheduleConfig.for_t_T(50, like="paper"),
                                                 "like must be a ScheduleConfig"),
    "schedules.setting(['eta'])": (lambda p: ip.schedules.setting(["eta"]), "['eta'] is not a schedule setting"),
    "schedules.check_settings(True)": (lambda p: ip.schedules.check_settings(True), "the settings must be a dict"),
    "schedules.surrogate_of('demo')": (lambda p: ip.schedules.surrogate_of("demo"), "str lacks image_size (a positive int)"),
    "ExactDiffusionModel.create(beta_schedule='cosin')": (lambda p: E.ExactDiffusionModel.create(size=8, beta_schedule="cosin"),
                                                          "beta_schedule must be one of 'linear', 'cosine', got 'cosin'"),
    "ExactDiffusionModel.create(default_schedule=[3, 2, 1, 0, -1])": (
        lambda p: E.ExactDiffusionModel.create(size=8, default_schedule=[3, 2, 1, 0, -1]),
        "default_schedule must be a ScheduleConfig"),
    "ExactDiffusionModel.create(default_schedule=ScheduleConfig(2000))": (
        lambda p: E.ExactDiffusionModel.create(size=8, default_schedule=ip.ScheduleConfig(2000)),
        "default_schedule.t_T=2000 is out of range: it must be in 1..1000"),
    "GaussianImageModel.sample(dtype=True)": (lambda p: E.demo_image_model().sample(1, 8, dtype=True),
                                              "dtype=True is not a floating-point torch dtype"),
    "GaussianImageModel.sample(device='gpu')": (lambda p: E.demo_image_model().sample(1, 8, device="gpu"), "device"),
    "GaussianImageModel.sample(generator=0)": (lambda p: E.demo_image_model().sample(1, 8, generator=0),
                                               "generator must be a torch.Generator"),
    "GaussianImageModel.scaled(mean=0.5)": (lambda p: E.demo_image_model().scaled(mean=0.5), "mean"),
    "ExactConditional.sample(dtype=torch.int64)": (
        lambda p: E.demo_image_model().conditional(torch.zeros(3, 8, 8), E.centre_hole_keep(8, 4)).sample(1, dtype=torch.int64),
        "dtype=torch.int64 is not a floating-point torch dtype"),
    "paint(dtype=torch.float8_e4m3fn)": (lambda p: ip.paint(E.ExactDiffusionModel.create(size=8), torch.zeros(3, 8, 8),
                                                           E.centre_hole_keep(8, 4), dtype=torch.float8_e4m3fn),
                                         "dtype=torch.float8_e4m3fn is a storage format PyTorch cannot compute in: "
                                         "use torch.float32"),
    "load_model(dtype=torch.float8_e5m2)": (lambda p: ip.load_model("demo", device="cpu", dtype=torch.float8_e5m2),
                                            "dtype=torch.float8_e5m2 is a storage format"),
    "timesteps_gif(fps=1e-9)": (lambda p: viz.timesteps_gif(_painted(), p / "t.gif", fps=1e-9),
                                "fps=1e-09 is out of range: it must be a finite number in [0.00166667, inf]"),
    # an int too large for a float: an OverflowError from float() or from t_T / 250
    "ScheduleConfig(10**400)": (lambda p: ip.ScheduleConfig(10**400), "more than the limit of 1,000,000: lower"),
    "ScheduleConfig.for_t_T(10**400)": (lambda p: ip.ScheduleConfig.for_t_T(10**400), "more than the limit of 1,000,000"),
    "ScheduleConfig(eta=10**400)": (lambda p: ip.ScheduleConfig(eta=10**400), "eta=inf is invalid: it must be in 0..1"),
    "schedules.check_eta(-10**400)": (lambda p: ip.schedules.check_eta(-10**400), "is invalid: it must be in 0..1"),
    "Layer(scale=10**400)": (lambda p: ip.Layer(CUTOUT, scale=10**400), "scale: expected a positive number"),
    # a schedule setting is a number, not what float() also reads: a numpy bool was eta=1, a tensor or array of
    # two values and a Decimal('sNaN') raised ValueError/TypeError from float()
    "ScheduleConfig(eta=np.True_)": (lambda p: ip.ScheduleConfig(10, eta=np.True_), "eta must be a number in 0..1, got bool"),
    "ScheduleConfig(eta=tensor of two)": (lambda p: ip.ScheduleConfig(10, eta=torch.tensor([0.5, 0.5])),
                                          "eta must be a number in 0..1, got Tensor"),
    "paint(eta=np.array([0.5]))": (lambda p: ip.paint(E.ExactDiffusionModel.create(size=8), torch.zeros(3, 8, 8),
                                                      E.centre_hole_keep(8, 4), eta=np.array([0.5, 0.5])),
                                   "eta must be a number in 0..1, got ndarray"),
    "ScheduleConfig(eta=Decimal('sNaN'))": (lambda p: ip.ScheduleConfig(10, eta=Decimal("sNaN")),
                                            "eta must be a number in 0..1, got Decimal"),
    # a 0-d array or tensor looks iterable (it has __iter__) but is one number: a TypeError from list()
    "paint(times=np.array(3))": (lambda p: ip.paint(E.ExactDiffusionModel.create(size=8), torch.zeros(3, 8, 8),
                                                    E.centre_hole_keep(8, 4), times=np.array(3)),
                                 "times must be a list of ints ending at -1 (e.g. schedules.plain(t_T)), got ndarray"),
    "count_nfe(torch.tensor(3))": (lambda p: ip.schedules.count_nfe(torch.tensor(3)), "times must be a list of ints"),
    # a position had no bound: an int of 5000 digits was taken, and then to_json and repr raised ValueError
    "Layer(x=10**5000)": (lambda p: ip.Layer(CUTOUT, x=10**5000),
                          "x: expected a whole number within ±1,000,000 (farther is off any canvas), got an int of 5000 digits"),
    "Layer(z=10**30)": (lambda p: ip.Layer(CUTOUT, z=10**30), "z: expected a whole number within ±1,000,000"),
    "Composition.move(far)": (lambda p: (lambda c, layer: c.move(layer, 10**7, 0))(*canvas()), "x: expected a whole number within"),
    "from_dict(x=10**7)": (lambda p: ip.Composition.from_dict(_far_layer()), "layers[0].x: expected a whole number within"),
    "Composer.add_cutout(x='1')": (lambda p: _composer().add_cutout("sun", x="1"), 'x: expected an integer, got "1"'),  # TypeError
    "Composer.add_cutout(y=nan)": (lambda p: _composer().add_cutout("sun", y=float("nan")), "y: expected an integer, got NaN"),
    "Composer.load_layout(flip='no')": (lambda p: _composer().load_layout([{"name": "sun", "flip": "no"}]),
                                        'flip: expected true or false, got "no"'),  # bool("no"): mirrored
    "ExactConditional.score_samples('x')": (
        lambda p: E.demo_image_model().conditional(torch.zeros(3, 8, 8), E.centre_hole_keep(8, 4)).score_samples("x"),
        "samples must be a torch tensor or numpy array"),
    "ExactConditional.score_law(a conditional)": (
        lambda p: (lambda c: c.score_law(c))(E.demo_image_model().conditional(torch.zeros(3, 8, 8), E.centre_hole_keep(8, 4))),
        "law must be the GaussianLaw of a schedule at 8x8"),
}


@pytest.mark.parametrize("call", sorted(REFUSALS))
def test_a_bad_argument_is_one_user_input_error_naming_it(call, tmp_path):
    act, said = REFUSALS[call]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UserInputError) as caught:
        act(tmp_path)
    assert said in str(caught.value)
    assert sorted(os.listdir(tmp_path)) in (before, ["sun.png"])  # nothing written but the test's own cutout


#: a public call with a misspelt keyword: Python's TypeError named neither the names taken nor the one meant
MISSPELT = {
    "load_model(devic=)": (lambda p: ip.load_model("demo", devic="cpu"), "load_model() got unknown argument(s) 'devic'",
                           "'device'"),
    "Composition(sz=)": (lambda p: ip.Composition(sz=16), "Composition() got unknown argument(s) 'sz'", "'size'"),
    "Composition.render(backgrnd=)": (lambda p: canvas()[0].render(backgrnd=1.0), "render() got unknown argument(s)",
                                      "'background'"),
    "Layer.from_file(scal=)": (lambda p: ip.Layer.from_file(cutout_file(p), scal=2), "from_file() got unknown", "'scale'"),
    "paint_steps(etaa=)": (lambda p: ip.paint_steps(E.ExactDiffusionModel.create(size=8), torch.zeros(1, 3, 8, 8),
                                                    E.centre_hole_keep(8, 4)[None], etaa=0.5), "paint_steps() got unknown", "'eta'"),
    "ExactDiffusionModel.create(sise=)": (lambda p: E.ExactDiffusionModel.create(sise=8), "create() got unknown", "'size'"),
    "schedule_error(kk=)": (lambda p: E.schedule_error(E.ExactDiffusionModel.create(size=8), torch.zeros(3, 8, 8),
                                                       E.centre_hole_keep(8, 4), [1, 0, -1], kk=4), "schedule_error() got", "'k'"),
    "frequency.band_snr()": (lambda p: ip.frequency.band_snr(), "band_snr() missing a required argument: 'image'", ""),
    "viz.save_figure(dpii=)": (lambda p: viz.save_figure(viz.new_figure(), p / "f.png", dpii=80), "save_figure() got", "'dpi'"),
    "paint(one positional too many)": (lambda p: ip.paint(E.ExactDiffusionModel.create(size=8), torch.zeros(3, 8, 8),
                                                          E.centre_hole_keep(8, 4), [1, 0, -1], 1, 0, None, None, 5),
                                       "paint() too many positional arguments", ""),
}


@pytest.mark.parametrize("call", sorted(MISSPELT))
def test_an_argument_a_public_function_does_not_take_is_one_error_naming_the_one_meant(call, tmp_path):
    from ipainter_nb.errors import ArgumentNameError

    act, said, meant = MISSPELT[call]
    with pytest.raises(ArgumentNameError) as caught:
        act(tmp_path)
    message = str(caught.value)
    assert isinstance(caught.value, UserInputError) and isinstance(caught.value, TypeError)  # either except clause catches it
    assert said in message and "its arguments are" in message and "\n" not in message
    assert f"did you mean {meant}" in message if meant else "did you mean" not in message
    assert sorted(os.listdir(tmp_path)) in ([], ["sun.png"])


#: the modules the mechanism itself stands on (``public`` imports them: they cannot use it)
MECHANISM = {"ipainter_nb.errors", "ipainter_nb.exits", "ipainter_nb.public"}


def _public_callables() -> list[tuple[str, object]]:
    """Every function and class each module of the package exports, where it is defined (exceptions
    aside; the widgets are traitlets objects, built and driven by their own tests)."""
    import importlib
    import inspect
    import pkgutil

    import ipainter_nb

    found = []
    for info in pkgutil.walk_packages(ipainter_nb.__path__, "ipainter_nb."):
        if info.name.startswith("ipainter_nb.widgets") or info.name.endswith("__main__") or info.name in MECHANISM:
            continue
        space = importlib.import_module(info.name)
        for name in getattr(space, "__all__", ()):
            obj = getattr(space, name)
            if getattr(obj, "__module__", None) != space.__name__:
                continue  # gathered from the module that defines it
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue  # a constant
            if inspect.isclass(obj) and (issubclass(obj, (BaseException, enum.Enum)) or getattr(obj, "_is_protocol", False)):
                continue  # an exception, an enum, or a protocol (never instantiated)
            if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(obj).parameters.values()):
                continue  # takes any keyword and hands it on (CommandParser to argparse)
            found.append((f"{info.name}.{name}", obj))
    assert len(found) > 250, len(found)  # the walk saw the package
    return found


def test_every_public_function_and_class_names_its_arguments_when_given_one_it_does_not_take():
    from ipainter_nb.errors import ArgumentNameError

    bare = []
    for label, obj in _public_callables():
        try:
            obj(no_such_argument=1)
        except ArgumentNameError as refused:
            assert "'no_such_argument'" in str(refused) and "its arguments are" in str(refused), label
        except UserInputError as refused:  # ScheduleConfig's own check of its settings names the bad one too
            assert "no_such_argument" in str(refused), label
        except TypeError:
            bare.append(label)
        else:
            bare.append(f"{label} (accepted it)")
    assert not bare, f"a misspelt keyword is Python's bare TypeError here: {bare}"


def test_every_public_function_and_method_is_a_step_the_interpreters_exit_waits_for():
    """A public call running in a daemon thread when the program ends is waited for and parked, not cut
    inside torch (exit 134): every public function, constructor and public method is one ``run_step``
    block (``ipainter_nb.public.public_call``); ``test_shutdown`` ends programs during some of them."""
    import inspect

    from ipainter_nb.public import _is_public_call

    bare = []
    for label, obj in _public_callables():
        methods = {} if inspect.isfunction(obj) else vars(obj)
        members = {"": obj} if inspect.isfunction(obj) else {
            f".{name}": getattr(member, "__func__", member) for name, member in methods.items()
            if (name == "__init__" or not name.startswith("_"))
            and (inspect.isfunction(member) or isinstance(member, (classmethod, staticmethod)))}
        bare += [label + name for name, fn in members.items() if not _is_public_call(fn)]
    assert not bare, f"not a step the exit waits for: {bare}"


def test_a_model_moved_to_a_device_or_dtype_that_does_not_exist_is_refused_and_left_as_it_was(tiny_model):
    for device, dtype, said in (("gpu", None, "device"), (None, "float16", "dtype='float16' is not a floating-point torch dtype"),
                                (None, torch.int8, "dtype=torch.int8")):
        with pytest.raises(UserInputError, match=said):
            tiny_model.to(device, dtype)
    assert (tiny_model.device, tiny_model.dtype) == (torch.device("cpu"), torch.float32)


def test_more_pictures_than_result_samples_can_hold_are_refused_at_once_unless_they_are_streamed():
    model = E.ExactDiffusionModel.create(size=8)
    image, keep, times = torch.zeros(3, 8, 8), E.centre_hole_keep(8, 4), ip.schedules.plain(4)
    with pytest.raises(UserInputError, match=r"num_samples=1000000000000 is out of range: .* pass keep_samples=False"):
        ip.paint(model, image, keep, times=times, num_samples=10**12, progress=False)  # it painted until memory ran out
    cancel = ip.CancelToken()
    cancel.set()  # streamed, the count is fine: stop it before its first step
    result = ip.paint(model, image, keep, times=times, num_samples=10**12, keep_samples=False, cancel=cancel, progress=False)
    assert result.stopped and result.num_finished == 0


def test_a_micro_batch_larger_than_the_machines_memory_is_refused_before_anything_is_allocated(tiny_model_path, tmp_path,
                                                                                               capsys):
    """``batch_size`` was taken as given: a batch whose pictures alone outgrow the machine's memory allocated until
    the system killed the process (the command: exit 137, or a RuntimeError from torch's allocator)."""
    from ipainter_nb.cli import main

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    model = E.ExactDiffusionModel.create(size=8)
    n = memory // (3 * 8 * 8 * 4) + 1  # more pictures than the memory holds, even without the network's own maps
    with pytest.raises(UserInputError, match=rf"batch_size={n} cannot fit: .* pass a smaller batch_size"):
        ip.paint(model, torch.zeros(3, 8, 8), E.centre_hole_keep(8, 4), num_samples=n, batch_size=n, keep_samples=False,
                 progress=False)
    source = tmp_path / "src"
    source.mkdir()
    Image.new("RGB", (32, 32)).save(source / "lake.png")
    mask_to_pil(E.centre_hole_keep(32, 16)).save(source / "lake_mask.png")
    # the command's most samples per picture at once: the tiny network's first level alone (32 channels at 32x32,
    # its skips and working maps) holds half a MiB of each, far more than this machine's memory for a million
    most = 10**6
    code = main(["paint", "-s", str(source), "-d", str(tmp_path / "out"), "--model", str(tiny_model_path), "--device", "cpu",
                 "--num-samples", str(most), "--batch-size", str(most), "--quiet"])
    assert (code, capsys.readouterr().err.split(" cannot fit:")[0]) == (2, f"ipainter: error: batch_size={most}")
    assert not (tmp_path / "out").exists()


def test_a_meta_tensor_is_refused_as_a_picture_without_values():
    model = E.ExactDiffusionModel.create(size=8)
    with pytest.raises(UserInputError, match="image is a meta tensor"):
        ip.paint(model, torch.zeros(3, 8, 8, device="meta"), E.centre_hole_keep(8, 4), times=ip.schedules.plain(4))


# --------------------------------------------------------------------------- paths that are no paths


def test_a_file_descriptor_given_as_a_cutout_path_is_refused_not_read_and_closed(tmp_path):
    with open(cutout_file(tmp_path), "rb") as f:
        for path in (f.fileno(), True):  # True is the int 1: the process's own stdout
            with pytest.raises(UserInputError, match="must be a file path"):
                ip.Layer.from_file(path)
            comp, layer = canvas()
            with pytest.raises(UserInputError, match="must be a file path"):
                comp.update(layer, image=path)
        os.fstat(f.fileno())  # still open
        assert f.read(4) == b"\x89PNG"


# --------------------------------------------------------------------------- edge values that are fine


def test_numpy_numbers_place_and_size_a_layer_as_python_numbers_do():
    at = np.argwhere(np.ones((3, 4)))[-1]  # np.int64 positions, as array code gives them
    layer = ip.Layer(CUTOUT, x=at[1], y=at[0], z=np.int32(2))
    assert (layer.x, layer.y, layer.z) == (3, 2, 2) and type(layer.x) is int
    comp = ip.Composition(size=np.int64(16), erode=np.int64(1), feather=np.uint8(2))
    comp.add(layer)
    comp.move(layer, np.int64(1), np.float32(1.0))
    assert (layer.x, layer.y, comp.erode, comp.feather) == (4, 3, 1, 2)
    assert comp.remove(np.int64(0)) is layer


def test_float8_and_bfloat16_tensors_are_read_by_their_values():
    """float8 is floating point to torch but only a storage format (no noise, no isfinite on it), and
    numpy holds neither it nor bfloat16: such pictures and masks are read as the float32 values they hold."""
    model, times = E.ExactDiffusionModel.create(size=8), ip.schedules.plain(3)
    image, keep = torch.full((3, 8, 8), 0.5), E.centre_hole_keep(8, 4)
    expected = ip.paint(model, image, keep, times=times, seed=3, progress=False).samples
    for dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
        got = ip.paint(model, image.to(dtype), keep.to(dtype), times=times, seed=3, progress=False).samples
        assert torch.equal(got, expected)  # 0.5, 0 and 1 are exact in float8
    for dtype in (torch.bfloat16, torch.float8_e4m3fn):
        assert np.array_equal(np.asarray(mask_to_pil(keep.to(dtype))), np.asarray(mask_to_pil(keep)))


def _hangs_after(seconds: int):
    def stop(*_):
        raise TimeoutError(f"still running after {seconds} s")
    return signal.signal(signal.SIGALRM, stop)


def test_an_erosion_or_feather_wider_than_the_canvas_generates_everything_at_once():
    before = _hangs_after(10)
    signal.alarm(10)
    try:
        comp, layer = canvas()
        comp.erode = 10**9  # a billion-pixel pool would allocate for ever
        image, keep = comp.render()
        comp.erode = 16  # the canvas's side: the same answer
        assert torch.equal(keep, comp.render()[1]) and keep.sum() == 0
        comp.erode, comp.feather = 0, 10**30
        assert comp.render_preview().size == (16, 16)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


def test_a_kept_region_the_erosion_cannot_reach_stays_kept_however_wide_it_is():
    comp = ip.Composition(size=8, erode=10**6)
    comp.add(ip.Layer(Image.new("RGBA", (8, 8), (0, 255, 0, 255))))  # covers the whole canvas: no generated pixel
    assert comp.render()[1].sum() == 64


#: the modules a user calls beside ``ip``: pictures and files, weights, the paint folder format, schedules' numbers
USER_MODULES = ("ipainter_nb.images.convert", "ipainter_nb.images.load", "ipainter_nb.images.writes", "ipainter_nb.images.leftovers",
                "ipainter_nb.core.presets", "ipainter_nb.core.checkpoints", "ipainter_nb.core.download", "ipainter_nb.core.diffusion",
                "ipainter_nb.core.unet", "ipainter_nb.batch", "ipainter_nb.train_fields")


@pytest.mark.parametrize("bad", [None, 1.5, float("nan"), [], object(), ""])
def test_a_function_of_the_user_modules_given_a_wrong_value_says_which_argument(bad, tmp_path, monkeypatch):
    """A picture, tensor or path argument given the wrong thing is one UserInputError, not an
    AttributeError or TypeError from deep inside (``ipainter_nb.images.tensor_to_pil(None)``)."""
    import importlib
    import inspect

    from ipainter_nb.errors import IPainterError

    monkeypatch.chdir(tmp_path)
    raw = []
    for module in map(importlib.import_module, USER_MODULES):
        for name in module.__all__:
            fn = getattr(module, name)
            if not inspect.isfunction(fn) or fn.__module__ != module.__name__:
                continue
            params = inspect.signature(fn).parameters.values()
            if sum(p.default is p.empty and p.kind is not p.VAR_KEYWORD for p in params) != 1:
                continue  # the one-argument functions: the others need valid companions
            try:
                fn(bad)
            except IPainterError:
                pass
            except Exception as exc:  # noqa: BLE001 - the test lists what escaped
                raw.append(f"{module.__name__}.{name}: {type(exc).__name__}")
    assert not raw, raw
