"""The Painter's models: the dropdown of available presets, and loading or switching models.

``available_models()`` lists the presets whose weights are on this machine; ``ModelPicker``
is the component that owns the model in use (the ``model`` and ``model_name`` traits) and
its dropdown. It loads what it is asked to, reports in the ``StatusLines`` it is given, and
tells ``on_choice`` callbacks which model the user picked in the dropdown (the Painter
decides whether to switch: not during a run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ipywidgets as W
from traitlets import Any as AnyTrait
from traitlets import HasTraits, Unicode

from ipainter_nb.core.models import DiffusionModel, load_model
from ipainter_nb.core.presets import PRESETS, find_weights
from ipainter_nb.widgets.messages import StatusLines, first_line

__all__ = ["available_models", "ModelPicker"]

_CURRENT = "__current__"  # dropdown value of a model that is not a found preset (a path)


def available_models() -> list[str]:
    """Presets whose weights are on this machine (shipped, or found by ``find_weights``)."""
    found = []
    for name in PRESETS:
        try:
            find_weights(name)
        except Exception:  # missing weights are the normal case for the big presets
            continue
        found.append(name)
    return found


class ModelPicker(HasTraits):
    """The model in use and the dropdown of the models on this machine.

    Args:
        lines: where loading is reported (status line) and a failure said (error line).
        device: where models named in the dropdown are loaded (None: the default device).
        dropdown_layout: the dropdown's ``ipywidgets.Layout`` keywords.

    >>> picker = ModelPicker(StatusLines())
    >>> picker.on_choice(picker.load)      # switch at once when the user picks a model
    >>> loaded = picker.load("demo")
    >>> picker.model_name, picker.lines.text.startswith("model 'demo' loaded")
    ('demo', True)
    """

    model = AnyTrait(None, allow_none=True, help="the loaded model (a DiffusionModel), None before one loads")
    model_name = Unicode("", help="the loaded model's name (\"\" when none)")

    def __init__(self, lines: StatusLines, device: Any = None, dropdown_layout: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.lines, self.device = lines, device
        self._choice = W.CallbackDispatcher()
        self._syncing = False  # True while the picker sets its own dropdown
        self.dropdown = W.Dropdown(description="model", layout=W.Layout(**(dropdown_layout or {})),
                                   style={"description_width": "90px"})
        self.dropdown.observe(self._on_dropdown, names="value")

    def on_choice(self, callback: Callable[[str], Any], remove: bool = False) -> None:
        """Call ``callback(name)`` when the user picks another model in the dropdown.

        Args:
            callback: takes the chosen preset name.
            remove: unregister ``callback`` instead.
        """
        self._choice.register_callback(callback, remove=remove)

    def use(self, model: DiffusionModel) -> None:
        """Use an already loaded model.

        Args:
            model: the model (anything ``paint`` accepts, with a ``name``).
        """
        self.model = model
        self.model_name = model.name
        self.refresh_options()

    def load(self, name: str | Path, announce: bool = True) -> bool:
        """Load a preset or a checkpoint and use it; on failure say why and keep the model in use.

        Args:
            name: a preset name or a checkpoint path.
            announce: say "loading …" in the status line first.

        Returns:
            Whether the model was loaded.
        """
        if announce:
            self.lines.say(f"loading {name}…")
        try:
            model = load_model(name, device=self.device)
        except Exception as exc:  # missing or broken weights: say why in one line, keep what we had
            kept = f"; keeping {self.model.name!r}" if self.model is not None else ""
            self.lines.fail(f"could not load model {str(name)!r}{kept}: {first_line(exc)}")
            self.refresh_options()
            return False
        self.use(model)
        self.lines.fail("")
        self.lines.say(f"model {model.name!r} loaded ({model.image_size}x{model.image_size}, "
                       f"{model.num_train_steps} training steps)", "ok")
        return True

    def refresh_options(self) -> None:
        """List the models on this machine in the dropdown, the one in use selected."""
        names = available_models()
        options: list[tuple[str, str]] = [(name, name) for name in names]
        current = None
        if self.model is not None:
            current = self.model.name if self.model.name in names else _CURRENT
            if current == _CURRENT:
                options.append((f"{self.model.name} (current)", _CURRENT))
        self._syncing = True
        try:
            self.dropdown.options = options
            self.dropdown.value = current if options else None
        finally:
            self._syncing = False

    def _on_dropdown(self, change: Mapping[str, Any]) -> None:
        if self._syncing or change["new"] in (None, _CURRENT):
            return
        if self.model is not None and change["new"] == self.model.name:
            return
        self._choice(change["new"])
