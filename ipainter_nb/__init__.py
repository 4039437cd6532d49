"""ipainter-nb: the Intelligent Painter in Jupyter.

    import ipainter_nb as ip
    model = ip.load_model("demo")
    comp = ip.Composition(size=model.image_size)
    comp.add(ip.Layer.from_file("sun.png", x=40, y=8, scale=0.5))
    image, keep = comp.render()
    times = ip.schedules.repaint(t_T=250, jump_length=10, jump_n_sample=10, stop_resampling_at=100)
    result = ip.paint(model, image, keep, times=times, num_samples=4, seed=0)

``paint_steps`` is the sampler itself (a generator of ``Step``); ``paint`` collects it.
``exact`` holds a Gaussian picture model whose right answer is known, and
``frequency_schedule`` proposes the resampling window from the frequency argument, and
``plan_schedule`` plans a whole cheaper schedule for a mask (window, jumps, η, walk):
``ip.paint(model, image, keep, times=ip.plan_schedule(model, keep))``.
"""

import importlib

from ._version import __version__ as __version__
from .errors import IPainterError, UserInputError

__all__ = [
    "load_model", "paint", "paint_steps", "Composition", "Layer", "schedules", "frequency", "exact", "ScheduleConfig",
    "frequency_schedule", "plan_schedule", "DiffusionModel", "PRESETS", "PaintResult", "Step", "CancelToken", "CompositionError",
    "IPainterError", "UserInputError",
]


def _core_names() -> dict[str, object]:
    # imported on first use, not with the package: importing torch takes seconds, and the
    # ``ipainter`` command (whose module is inside this package) must be handling Ctrl-C by then
    from .core import exact, frequency, schedules  # noqa: F401 (returned as locals())
    from .core.composition import Composition, CompositionError, Layer  # noqa: F401 (returned as locals())
    from .core.models import DiffusionModel, load_model  # noqa: F401 (returned as locals())
    from .core.presets import PRESETS  # noqa: F401 (returned as locals())
    from .core.sampler import CancelToken, PaintResult, Step, paint, paint_steps  # noqa: F401 (returned as locals())
    from .core.schedules import ScheduleConfig, frequency_schedule, plan_schedule  # noqa: F401 (returned as locals())

    return dict(locals())


def __getattr__(name: str):
    # widgets pull in ipywidgets/ipycanvas: load them only when asked for
    if name in ("Painter", "Composer"):
        from . import widgets

        return getattr(widgets, name)
    if name in __all__:
        globals().update(_core_names())
        return globals()[name]
    if not name.startswith("_"):  # a subpackage (ip.core, ip.viz, ...), with what the package used to import eagerly
        globals().update(_core_names())
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'ipainter_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "Painter", "Composer"})
