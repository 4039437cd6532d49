"""The Painter's models: the dropdown of available presets, and loading or switching models.

``available_models()`` lists the presets whose weights are on this machine; ``ModelsMenu``
is mixed into ``Painter`` (``app.py``), which provides the widgets it updates (the model
dropdown, schedule controls, status and error lines) and the state it reads (``busy``,
``model_name``, the worker).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipainter_nb.core.models import DiffusionModel, load_model
from ipainter_nb.core.presets import PRESETS, find_weights
from ipainter_nb.widgets.messages import first_line

if TYPE_CHECKING:
    from ipainter_nb.core.schedules import ScheduleConfig

__all__ = ["available_models", "ModelsMenu"]

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


class ModelsMenu:
    """``load_model()``, the model dropdown and the ``model_name`` trait, for ``Painter``."""

    if TYPE_CHECKING:  # provided by Painter
        model: DiffusionModel | None
        model_name: str
        busy: bool
        _device: Any
        _syncing: bool
        worker: Any
        model_dropdown: Any
        schedule_controls: Any
        set_schedule: Callable[[ScheduleConfig], None]

        def _after_edit(self) -> None: ...
        def _set_ready_status(self) -> None: ...
        def _set_status(self, text: str, level: str = "info") -> None: ...
        def _set_error(self, text: str, details: str | None = None) -> None: ...

    def load_model(self, name_or_path: str | Path | DiffusionModel) -> DiffusionModel | None:
        """Switch models (a preset name, a path or a loaded model); the schedule controls
        take its default schedule. On failure the one-line reason is shown, the previous
        model is kept, and None is returned.

        Args:
            name_or_path: a preset name, a checkpoint path or a loaded ``DiffusionModel``.

        Returns:
            The model now in use, or None when it could not be loaded.
        """
        if self.busy:
            self._set_error("stop the run before switching models")
            self._refresh_model_options()
            return None
        if isinstance(name_or_path, (str, Path)):
            if not self._load(name_or_path):
                self._refresh_model_options()
                return None
        else:
            self._use_model(name_or_path)
            self._set_ready_status()
        self._refresh_model_options()
        assert self.model is not None
        self.set_schedule(self.model.default_schedule)
        self._after_edit()
        return self.model

    def _set_model_name(self) -> None:
        self._syncing = True
        try:
            self.model_name = self.model.name if self.model is not None else ""
        finally:
            self._syncing = False

    def _use_model(self, model: DiffusionModel) -> None:
        self.worker.cancel(["draft", "plot"])  # drafts of the previous model are stale
        self.model = model
        self._set_model_name()
        if hasattr(self, "schedule_controls"):
            self.schedule_controls.model = model

    def _load(self, name: str | Path, announce: bool = True) -> bool:
        if announce:
            self._set_status(f"loading {name}…")
        try:
            model = load_model(name, device=self._device)
        except Exception as exc:  # missing or broken weights: say why in one line, keep what we had
            kept = f"; keeping {self.model.name!r}" if self.model is not None else ""
            self._set_error(f"could not load model {str(name)!r}{kept}: {first_line(exc)}")
            if announce and self.model is not None:
                self._set_ready_status()
            return False
        self._use_model(model)
        self._set_error("")
        self._set_status(f"model {model.name!r} loaded ({model.image_size}x{model.image_size}, "
                         f"{model.num_train_steps} training steps)", "ok")
        return True

    def _refresh_model_options(self) -> None:
        names = available_models()
        options: list[tuple[str, str]] = [(name, name) for name in names]
        current = None
        if self.model is not None:
            current = self.model.name if self.model.name in names else _CURRENT
            if current == _CURRENT:
                options.append((f"{self.model.name} (current)", _CURRENT))
        self._syncing = True
        try:
            self.model_dropdown.options = options
            self.model_dropdown.value = current if options else None
        finally:
            self._syncing = False

    def _on_model_choice(self, change: Mapping[str, Any]) -> None:
        if self._syncing or change["new"] in (None, _CURRENT):
            return
        if self.model is not None and change["new"] == self.model.name:
            return
        self.load_model(change["new"])
