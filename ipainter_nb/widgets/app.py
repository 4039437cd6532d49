"""``Painter``: the whole Intelligent Painter in one notebook widget.

Composer (place cutouts) + controls (model, samples, seed, schedule with its live NFE)
+ Paint / Stop + progress + live previews + frequency plots + a results gallery::

    from ipainter_nb.widgets import Painter
    painter = Painter("demo")
    painter                        # last line of a cell: shows the widget
    result = painter.paint()       # or press Paint; painter.stop() / the Stop button cancels

Painting runs ``paint()`` on a background thread, so the notebook stays responsive while
it runs; the thread only assigns values to widgets built beforehand (ipywidgets 8 sends
those from any thread) and never waits on the browser. Errors of a run (a NaN model, a
bad schedule, a composition of the wrong size) appear in the widget's error line, and
Paint is enabled again.

Google Colab draws third-party widgets (ipycanvas) only with its custom widget manager
on; ``Painter()`` turns it on by calling
``google.colab.output.enable_custom_widget_manager()`` when ``google.colab`` is importable.
Call it yourself before displaying a bare ``Composer`` in Colab.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np

from ipainter_nb.core.composition import Composition
from ipainter_nb.core.models import PRESETS, DiffusionModel, find_weights, load_model
from ipainter_nb.core.sampler import CancelToken, PaintResult, Step, paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.images import save_png_atomic
from ipainter_nb.widgets.plots import FrequencyPanel
from ipainter_nb.widgets.preview import LivePreview, _as_uint8_hwc, encode_png

__all__ = ["Painter", "enable_colab_widgets", "MAX_SAMPLES"]

MAX_SAMPLES = 8
_KIND_OPTIONS = [("none (plain)", "plain"), ("RePaint", "repaint"), ("truncated", "truncated")]
_CURRENT = "__current__"  # dropdown value of a model that is not a found preset (a path)
_COLORS = {"info": "#555", "ok": "#2e7d32", "warning": "#b26a00", "error": "#c62828"}


def enable_colab_widgets() -> bool:
    """Turn on Colab's custom widget manager (needed for ipycanvas); False outside Colab."""
    try:
        from google.colab import output  # type: ignore[import-not-found]
    except ImportError:
        return False
    try:
        output.enable_custom_widget_manager()
    except Exception:  # an old Colab runtime without it: widgets may still partly work
        return False
    return True


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


def _make_composer(composition: Composition, cutouts: Any) -> Any | None:
    """The Composer widget, or None when it cannot be built (the Painter then shows a
    static preview of the composition instead)."""
    try:
        from ipainter_nb.widgets.composer import Composer
    except ImportError:
        return None
    return Composer(composition, size=composition.size, cutouts="demo" if cutouts is None else cutouts)


class Painter(W.VBox):
    """Compose, paint, watch and save, in one widget.

    Args:
        model: a preset name (``"demo"``), a checkpoint path, or a loaded
            ``DiffusionModel``. A model that fails to load is reported in the widget
            (the Painter still opens; pick another model in the dropdown).
        composition: the composition to edit (default: a new empty one at the model's
            size). Settings and seed saved in it (by "Save composition") are applied to
            the controls.
        cutouts: the Composer's palette: ``None``/``"demo"`` (shipped cutouts), a folder,
            or a mapping name -> path or PIL image.
        device: where models named in the dropdown are loaded.
        out_dir: default folder of the Save buttons.

    Programmatic use (notebooks, tests): ``paint(wait=True)``, ``stop()``, ``wait()``,
    ``result``, ``composition``, ``schedule_config``, ``set_schedule(config)``,
    ``load_model(name)``, ``save_sample(k)``, ``save_composition()``.
    """

    def __init__(
        self,
        model: str | Path | DiffusionModel | None = "demo",
        composition: Composition | None = None,
        cutouts: Any = None,
        device: Any = None,
        out_dir: str | Path = "ipainter_out",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.colab = enable_colab_widgets()
        self._device = device
        self.model: DiffusionModel | None = None
        self._result: PaintResult | None = None
        self.last_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cancel = CancelToken()
        self._lock = threading.Lock()
        self._syncing = False  # True while the widget sets its own controls
        self._run_settings: dict[str, Any] = {}
        self._status_text = ""
        self._error_text = ""
        self._warning = ""  # e.g. "no layers", repeated in every status line of the run
        self._progress_step = 1

        # ---- messages first: loading the model may already have something to say
        self.status = W.HTML(layout=W.Layout(min_height="1.5em"))
        self.error = W.HTML(layout=W.Layout(min_height="0"))

        # ---- model
        self.model_dropdown = W.Dropdown(description="model", layout=W.Layout(width="280px"))
        if isinstance(model, (str, Path)):
            self._load(model, announce=False)
        elif model is not None:
            self.model = model
        self._refresh_model_options()
        self.model_dropdown.observe(self._on_model_choice, names="value")

        # ---- composition (the Composer owns it once it exists)
        size = self.model.image_size if self.model is not None else 64
        comp = composition if composition is not None else Composition(size)
        self.composer = None
        try:
            self.composer = _make_composer(comp, cutouts)
        except Exception as exc:  # a broken palette folder must not take the whole app down
            self._set_error(f"the composer could not be built ({type(exc).__name__}: {exc}); "
                            "showing a static preview of the composition")
        self._composition = comp
        self._static_preview = W.Image(format="png")
        self._snr_timer: asyncio.TimerHandle | None = None
        if self.composer is None:
            comp.observe(lambda _c: self._draw_static_preview())
            comp.observe(self._on_composition_changed)
            self._draw_static_preview()
        else:
            self.composer.observe_composition(self._on_composition_changed)

        # ---- sampling controls
        self.samples = W.IntSlider(value=1, min=1, max=MAX_SAMPLES, description="samples")
        # 0..2**53-1: what a browser's number holds exactly, and torch seeds accept
        self.seed = W.BoundedIntText(value=0, min=0, max=2**53 - 1, description="seed",
                                     layout=W.Layout(width="200px"))
        default = self.model.default_schedule if self.model is not None else ScheduleConfig()
        self.kind = W.Dropdown(options=_KIND_OPTIONS, value=default.kind, description="schedule")
        self.t_T = W.IntText(value=default.t_T, description="t_T", layout=W.Layout(width="200px"))
        self.jump_length = W.IntText(value=default.jump_length, description="jump length",
                                     layout=W.Layout(width="200px"))
        self.jump_n_sample = W.IntText(value=default.jump_n_sample, description="jump count",
                                       layout=W.Layout(width="200px"))
        self.stop_resampling_at = W.IntText(value=default.stop_resampling_at, description="stop at t",
                                            layout=W.Layout(width="200px"))
        for control in self._schedule_controls:
            control.style.description_width = "90px"
            control.observe(self._on_schedule_control, names="value")
        self.schedule_info = W.HTML(layout=W.Layout(max_width="420px"))

        # ---- run controls
        self.paint_button = W.Button(description="Paint", button_style="primary", icon="paint-brush")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.paint_button.on_click(lambda _b: self._on_paint_click())
        self.stop_button.on_click(lambda _b: self.stop())
        self.progress = W.IntProgress(value=0, min=0, max=1, description="steps")

        # ---- outputs
        self.preview = LivePreview(gif_path=Path(out_dir) / "paint.gif")
        self.frequency = FrequencyPanel()
        self.out_dir = W.Text(value=str(out_dir), description="save to", layout=W.Layout(width="320px"))
        # the GIF goes where the pictures go
        self.out_dir.observe(lambda c: setattr(self.preview.gif_path, "value", str(Path(c["new"]) / "paint.gif")),
                             names="value")
        self.save_composition_button = W.Button(description="Save composition", icon="save")
        self.save_composition_button.on_click(lambda _b: self._guarded(self.save_composition))
        # built now, for the largest batch: the painting thread only fills them in
        self._gallery_images = [W.Image(format="png") for _ in range(MAX_SAMPLES)]
        self.save_buttons = [W.Button(description="Save", icon="download") for _ in range(MAX_SAMPLES)]
        cells = []
        for k, (image, button) in enumerate(zip(self._gallery_images, self.save_buttons)):
            button.on_click(lambda _b, k=k: self._guarded(lambda: self.save_sample(k)))
            cells.append(W.VBox([image, button], layout=W.Layout(display="none", align_items="center")))
        self.gallery = W.HBox(cells, layout=W.Layout(flex_flow="row wrap"))

        controls = W.VBox([
            self.model_dropdown, self.samples, self.seed, self.kind, self.t_T, self.jump_length,
            self.jump_n_sample, self.stop_resampling_at, self.schedule_info,
        ])
        canvas = self.composer if self.composer is not None else self._static_preview
        self.children = [
            W.HBox([canvas, controls]),
            W.HBox([self.paint_button, self.stop_button, self.progress]),
            self.status,
            self.error,
            W.HBox([self.preview, self.frequency], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.out_dir, self.save_composition_button]),
            self.gallery,
        ]

        self._apply_saved_settings(comp)
        self._update_schedule_info()
        self._refresh_band_snr()
        if self.model is not None and self._status_text == "":
            self._set_status(f"model {self.model.name!r} ready: place cutouts and press Paint")
        self._check_sizes()

    # ================================================================= public API

    @property
    def composition(self) -> Composition:
        """The composition being painted (the Composer's current one)."""
        if self.composer is not None:
            return self.composer.composition
        return self._composition

    @property
    def result(self) -> PaintResult | None:
        """The latest finished (or stopped) run; None before one, or after a failed one."""
        return self._result

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def status_message(self) -> str:
        """The status line as plain text."""
        return self._status_text

    @property
    def error_message(self) -> str:
        """The error line as plain text ("" when there is no error)."""
        return self._error_text

    @property
    def schedule_config(self) -> ScheduleConfig:
        """The schedule chosen in the controls; raises ValueError if they do not make one."""
        config = ScheduleConfig(
            kind=self.kind.value,
            t_T=self.t_T.value,
            jump_length=self.jump_length.value,
            jump_n_sample=self.jump_n_sample.value,
            stop_resampling_at=self.stop_resampling_at.value,
        )
        if self.model is not None and config.t_T > self.model.num_train_steps:
            raise ValueError(f"t_T={config.t_T} is more than model {self.model.name!r}'s "
                             f"{self.model.num_train_steps} training steps")
        return config

    def set_schedule(self, config: ScheduleConfig) -> None:
        """Put ``config`` into the schedule controls (one NFE/plot update, not five)."""
        if not isinstance(config, ScheduleConfig):
            raise TypeError(f"expected a ScheduleConfig, got {type(config).__name__}")
        self._set_schedule_controls(config)
        self._on_schedule_control()

    def _set_schedule_controls(self, config: ScheduleConfig) -> None:
        self._syncing = True
        try:
            self.kind.value = config.kind
            self.t_T.value = config.t_T
            self.jump_length.value = config.jump_length
            self.jump_n_sample.value = config.jump_n_sample
            self.stop_resampling_at.value = config.stop_resampling_at
        finally:
            self._syncing = False

    def load_model(self, name_or_path: str | Path | DiffusionModel) -> DiffusionModel | None:
        """Switch models (a preset name, a path or a loaded model); the schedule controls
        take its default schedule. On failure the message is shown, the previous model is
        kept, and None is returned."""
        if self.running:
            self._set_error("stop the run before switching models")
            self._refresh_model_options()
            return None
        if not isinstance(name_or_path, (str, Path)):
            self.model = name_or_path
        elif not self._load(name_or_path):
            self._refresh_model_options()
            return None
        self._refresh_model_options()
        self.set_schedule(self.model.default_schedule)  # type: ignore[union-attr]
        self._check_sizes()
        return self.model

    def paint(self, wait: bool = True) -> PaintResult | None:
        """Paint the composition with the chosen settings.

        ``wait=True`` returns the ``PaintResult`` (``result.cancelled`` if stopped), or
        None if the run could not start or failed: the reason is in the widget's error
        line, ``error_message`` and ``last_error``. ``wait=False`` returns None at once;
        the widget shows the run, and ``wait()`` or ``result`` get it later. In a notebook,
        ``wait=True`` keeps the cell busy, so the Stop button works only with
        ``wait=False``.
        """
        try:
            started = self._start()
        except Exception as exc:  # e.g. a composition that cannot render: report it like a failed run
            self.last_error = exc
            self._set_error(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            self.paint_button.disabled, self.stop_button.disabled = False, True
            return None
        if not started:
            return None
        return self.wait() if wait else None

    def wait(self, timeout: float | None = None) -> PaintResult | None:
        """Wait for the current run (if any) to end; return ``result``."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._result

    def stop(self) -> None:
        """Ask the run to stop; it ends within one model call and shows what it has."""
        if self.running:
            self._cancel.set()
            self._set_status("stopping after the current model call…", "warning")

    def save_sample(self, k: int, folder: str | Path | None = None) -> Path:
        """Write sample ``k`` of the latest result as a PNG (atomically); return its path."""
        result = self._result
        if result is None:
            raise RuntimeError("nothing to save yet: paint first")
        if not 0 <= k < result.samples.shape[0]:
            raise IndexError(f"sample {k} does not exist: the result has {result.samples.shape[0]}")
        path = self._new_path(folder, f"sample_seed{result.seed}_{k}", ".png")
        save_png_atomic(result.samples[k], path)
        self._set_status(f"saved {path}", "ok")
        return path

    def save_composition(self, path: str | Path | None = None) -> Path:
        """Write the composition JSON with the paint settings and seed (those of the
        latest run, else the controls'); return its path."""
        settings, seed = self._run_settings, self._result.seed if self._result is not None else None
        if self._result is None:
            settings, seed = self._current_settings(), int(self.seed.value)
        out = Path(path) if path is not None else self._new_path(None, "composition", ".json")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.composition.to_json(out, settings=settings, seed=seed)
        self._set_status(f"saved {out}", "ok")
        return out

    def close(self) -> None:
        """Stop a run and close the widget."""
        self.stop()
        super().close()

    # ================================================================= painting

    def _start(self) -> bool:
        with self._lock:  # two fast clicks must not start two runs
            if self.running:
                self._set_error("a run is already in progress: press Stop first")
                return False
            self._set_error("")
            warning = ""
            if self.model is None:
                self._set_error("no model is loaded: pick one in the model dropdown")
                return False
            try:
                config = self.schedule_config
            except (ValueError, TypeError) as exc:
                self._set_error(f"invalid schedule: {exc}")
                return False
            comp = self.composition
            size = self.model.image_size
            if comp.size != (size, size):
                self._set_error(f"the composition is {comp.width}x{comp.height} but model "
                                f"{self.model.name!r} paints {size}x{size}: compose at that size")
                return False
            image, keep = comp.render()
            if keep.sum() == 0:
                warning = "no layers on the canvas: painting an unconditional sample. "
            elif keep.min() == 1:
                warning = "the cutouts cover the whole canvas: nothing is left to paint. "
            n = int(self.samples.value)
            seed = int(self.seed.value)
            times = config.times()
            self._run_settings = self._current_settings(config)
            self._result = None
            self.last_error = None
            self._cancel = CancelToken()
            self.preview.reset(num_samples=n)
            self.frequency.reset(image, config, self.model.schedule(config.t_T).alphas_cumprod)
            for cell in self.gallery.children:
                cell.layout.display = "none"
            total = len(times) - 1
            self._progress_step = max(1, total // 100)  # about 100 progress messages per run
            self.progress.max, self.progress.value, self.progress.bar_style = total, 0, "info"
            self.paint_button.disabled, self.stop_button.disabled = True, False
            self._warning = warning
            self._set_status(f"{warning}painting {n} sample{'s' * (n > 1)}: {total} steps, "
                             f"{config.nfe} model calls…", "warning" if warning else "info")
            self._thread = threading.Thread(
                target=self._run, args=(self.model, image, keep, times, n, seed, self._cancel),
                name="ipainter-paint", daemon=True,
            )
            self._thread.start()
            return True

    def _run(self, model: DiffusionModel, image: Any, keep: Any, times: list[int], n: int, seed: int,
             cancel: CancelToken) -> None:
        try:
            result = paint(model, image, keep, times=times, num_samples=n, seed=seed,
                           callback=self._on_step, cancel=cancel, progress=False)
            self._result = result
            self._show_result(result)
        except Exception as exc:  # shown in the widget, not lost in a log: the widget stays usable
            self.last_error = exc
            self.progress.bar_style = "danger"
            self._set_error(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            self._set_status(f"{self._warning}the run failed (see below); change the settings and press Paint again",
                             "error")
        finally:
            self.paint_button.disabled, self.stop_button.disabled = False, True

    def _on_step(self, step: Step) -> None:
        done = step.index + 1
        if done == step.total_steps or done % self._progress_step == 0:
            self.progress.value = done
        self.preview.on_step(step)
        self.frequency.on_step(step)
        return None

    def _show_result(self, result: PaintResult) -> None:
        self.progress.value = result.steps_done
        self.preview.show_result(result)
        self.frequency.finish(result)
        pictures = _as_uint8_hwc(result.samples)
        scale = max(1, 128 // pictures.shape[1])
        for k, cell in enumerate(self.gallery.children):
            if k < len(pictures):
                self._gallery_images[k].value = encode_png(pictures[k], scale)
                cell.layout.display = "flex"
            else:
                cell.layout.display = "none"
        took = f"{result.nfe} model calls in {result.elapsed_s:.1f} s"
        if result.cancelled:
            self.progress.bar_style = "warning"
            self._set_status(f"{self._warning}stopped (cancelled) after {result.steps_done} of "
                             f"{len(result.times) - 1} steps, {took}: showing the latest prediction", "warning")
        else:
            self.progress.bar_style = "success"
            self._set_status(f"{self._warning}done: {result.samples.shape[0]} sample(s), {took}",
                             "warning" if self._warning else "ok")

    # ================================================================= controls

    @property
    def _schedule_controls(self) -> list[W.ValueWidget]:
        return [self.kind, self.t_T, self.jump_length, self.jump_n_sample, self.stop_resampling_at]

    def _on_schedule_control(self, change: Mapping[str, Any] | None = None) -> None:
        if self._syncing:
            return
        self._update_schedule_info()
        self._refresh_band_snr()

    def _update_schedule_info(self) -> None:
        kind = self.kind.value
        # fields the chosen kind ignores are greyed out rather than hidden: the layout stays put
        self.jump_length.disabled = self.jump_n_sample.disabled = kind == "plain"
        self.stop_resampling_at.disabled = kind != "truncated"
        try:
            config = self.schedule_config
        except (ValueError, TypeError) as exc:
            self.schedule_info.value = f"<span style='color:{_COLORS['error']}'>⚠ {html.escape(str(exc))}</span>"
            return
        self.schedule_info.value = f"<span style='color:{_COLORS['info']}'>{html.escape(config.describe())}</span>"

    def _on_composition_changed(self, _composition: Composition) -> None:
        # the band-SNR plot follows the picture, but a render costs ~0.1 s: redraw once the
        # user has stopped editing for half a second, not on every mouse move
        if self.running:
            return
        try:
            loop = asyncio.get_running_loop()  # the kernel's loop; absent in a plain script
        except RuntimeError:
            return  # redrawn at the next Paint or schedule change
        if self._snr_timer is not None:
            self._snr_timer.cancel()
        self._snr_timer = loop.call_later(0.5, self._refresh_band_snr)

    def _refresh_band_snr(self) -> None:
        # the band-SNR plot shows the current composition under the chosen schedule
        if self.running or self.model is None:
            return
        try:
            config = self.schedule_config
            image, _ = self.composition.render()
            self.frequency.show_band_snr(image, config, self.model.schedule(config.t_T).alphas_cumprod)
        except (ValueError, TypeError):
            pass  # the schedule message already says what is wrong

    def _current_settings(self, config: ScheduleConfig | None = None) -> dict[str, Any]:
        settings: dict[str, Any] = {"num_samples": int(self.samples.value)}
        if self.model is not None:
            settings["model"] = self.model.name
        try:
            settings["schedule"] = asdict(config or self.schedule_config)
        except (ValueError, TypeError):
            pass  # invalid controls: save the scene without a schedule
        return settings

    def _apply_saved_settings(self, comp: Composition) -> None:
        saved = comp.settings or {}
        try:
            if isinstance(saved.get("schedule"), Mapping):
                self._set_schedule_controls(ScheduleConfig(**saved["schedule"]))
            if isinstance(saved.get("num_samples"), int):
                self.samples.value = min(MAX_SAMPLES, max(1, saved["num_samples"]))
        except (ValueError, TypeError) as exc:
            self._set_error(f"the composition's saved settings were not applied: {exc}")
        if comp.seed is not None and 0 <= comp.seed <= self.seed.max:
            self.seed.value = int(comp.seed)

    # ================================================================= models

    def _load(self, name: str | Path, announce: bool = True) -> bool:
        if announce:
            self._set_status(f"loading {name}…")
        try:
            model = load_model(name, device=self._device)
        except Exception as exc:  # missing or broken weights: say why, keep what we had
            kept = f"; keeping {self.model.name!r}" if self.model is not None else ""
            self._set_error(f"could not load model {str(name)!r}{kept}: {exc}")
            return False
        self.model = model
        self._set_error("")
        self._set_status(f"model {model.name!r} loaded ({model.image_size}x{model.image_size})", "ok")
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

    def _check_sizes(self) -> None:
        if self.model is None:
            return
        size = self.model.image_size
        if self.composition.size != (size, size):
            self._set_status(f"model {self.model.name!r} paints {size}x{size} but the composition is "
                             f"{self.composition.width}x{self.composition.height}: start a new composition "
                             f"at that size", "warning")

    # ================================================================= messages and files

    def _set_status(self, text: str, level: str = "info") -> None:
        self._status_text = text
        self.status.value = f"<span style='color:{_COLORS[level]}'>{html.escape(text)}</span>"

    def _set_error(self, text: str, details: str | None = None) -> None:
        self._error_text = text
        if not text:
            self.error.value = ""
            return
        body = f"<b style='color:{_COLORS['error']}'>{html.escape(text)}</b>"
        if details:
            body += f"<details><summary>details</summary><pre>{html.escape(details)}</pre></details>"
        self.error.value = body

    def _guarded(self, action: Callable[[], Any]) -> None:
        """Run a button's action; an exception goes to the error line, not the log."""
        try:
            self._set_error("")
            action()
        except Exception as exc:
            self._set_error(f"{type(exc).__name__}: {exc}")

    def _on_paint_click(self) -> None:
        self.paint(wait=False)

    def _new_path(self, folder: str | Path | None, stem: str, suffix: str) -> Path:
        directory = Path(folder if folder is not None else self.out_dir.value).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        base = f"{stem}_{time.strftime('%Y%m%d-%H%M%S')}"
        path, k = directory / f"{base}{suffix}", 2
        while path.exists():  # two saves in the same second: never overwrite
            path, k = directory / f"{base}-{k}{suffix}", k + 1
        return path

    def _draw_static_preview(self) -> None:
        picture = np.asarray(self._composition.render_preview(overlay=True))
        self._static_preview.value = encode_png(picture, max(1, 384 // max(picture.shape[:2])))
