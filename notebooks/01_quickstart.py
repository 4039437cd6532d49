# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Intelligent Painter in Jupyter: quickstart
#
# Place landmark cutouts (RGBA pictures: a sun, a mountain, a house...) on a canvas, press
# **Paint**, and an unconditional diffusion model paints everything around them so that the
# picture hangs together. It uses RePaint's *resampling* ("jump back and denoise again") in
# a window of the run rather than all through it, which costs fewer model calls than
# RePaint; the cell below prints the window the model's default schedule uses, and the
# `02_resampling_lesson` notebook measures what resampling buys and what it costs.
#
# Five steps: **load a model, compose, paint, save, paint in batch from the command line.**
# *Run all* works as is: the canvas starts with a ready-made composition, a cell starts
# painting it in the background, and the Painter stays usable while it paints.

# %% [markdown]
# ## 1. Load a model
#
# * **`demo`** (the default) is a small 64×64 model that ships with the package, trained on
#   procedural landscapes (skies, suns, mountains, lakes, houses, trees). It is small enough
#   to paint on a laptop CPU; the Painter shows how long each run took.
# * **`places256`** is RePaint's 256×256 Places2 model, the one the Intelligent Painter paper
#   uses. Its 2.2 GB of weights do not ship with the package: `find_weights("places256")`
#   looks for `places256_300000.pt` in `$IPAINTER_WEIGHTS`, `~/.cache/ipainter_nb` and
#   `./weights`. When it is found **and a CUDA GPU is present**, the cell below uses it (in
#   half precision). On a CPU it would be far too slow, so the notebook stays with the
#   demo model there; set `MODEL = "places256"` yourself to insist. To get the weights, see
#   `03_colab_places256.ipynb` (downloads them on Colab) or run
#   `ipainter_nb.core.download.download_weights("places256")`.

# %%
# Model choice: "places256" when its weights are found and a CUDA GPU is present, else the
# shipped "demo" model. The environment variable IPAINTER_DEMO_MODEL=/path/to/model.safetensors
# replaces "demo" by another checkpoint (e.g. one trained with `ipainter train`).
import os
import subprocess
import sys
import threading
from pathlib import Path

import torch
from IPython.display import HTML, Pretty, display

import ipainter_nb as ip
from ipainter_nb import schedules as S
from ipainter_nb.core.presets import WeightsNotFoundError, find_weights
from ipainter_nb.demo import demo_composition, list_cutouts
from ipainter_nb.images import load_picture, make_grid, upscale_nearest

MODEL = os.environ.get("IPAINTER_DEMO_MODEL", "demo")
try:
    places256 = find_weights("places256")
except WeightsNotFoundError:
    places256 = None

if places256 is not None and torch.cuda.is_available():
    MODEL = "places256"
    model = ip.load_model(MODEL, device="cuda", dtype=torch.float16)
else:
    if places256 is not None:
        print(f"places256 found at {places256}, but there is no CUDA GPU: using the demo model")
    model = ip.load_model(MODEL)

print(model)
default = model.default_schedule
print("default schedule:", default.describe())
if default.kind == "window":
    print(f"it resamples only for {default.stop_resampling_at or 0} <= t <= {default.start_resampling_at}, "
          f"out of t_T={default.t_T} steps")
elif default.kind == "truncated":
    print(f"it resamples only above t={default.stop_resampling_at}, out of t_T={default.t_T} steps")
full = S.repaint(default.t_T, default.jump_length, default.jump_n_sample)
print(f"model calls: {S.count_nfe(default.times())}, against {S.count_nfe(full)} for RePaint with the same jumps")

# %% [markdown]
# ## 2. Compose
#
# `demo_composition(size)` places the shipped cutouts (a sun, a mountain on the horizon, a
# house with a tree, a boat) on a canvas of the model's size. The Painter below shows the
# canvas: **drag** a cutout to move it, use the controls beside the canvas to scale, flip,
# reorder or delete it, pick more cutouts from the palette, and set the number of samples,
# the seed and the schedule; the number of model calls it costs (*NFE*) is shown below the
# schedule fields and follows every keystroke. After each change of the composition a quick
# **draft** (a short schedule, at one sample) is painted in the background and shown beside
# the canvas, so you see roughly what Paint would give before you paint; the **live draft**
# button turns drafts off.

# %%
comp = demo_composition(model.image_size)
painter = ip.Painter(model=model, composition=comp)
painter

# %% [markdown]
# ## 3. Paint
#
# Press **Paint** in the widget, or call `painter.paint(wait=False)` as the cell below does
# so that *Run all* produces a result. It returns at once: the picture is painted on a
# background thread while the widget shows it forming, step by step, with its frequency
# content. The Painter stays usable meanwhile (move cutouts, press **Stop**); while it
# paints, its Paint button is disabled and its status line says so. Each run, finished or
# stopped, joins the Painter's gallery with its schedule, seed, model calls and time, so runs
# can be compared side by side; a stopped run is marked as such.

# %%
painter.paint(wait=False)
print("painting in the background:", painter.busy)

# %% [markdown]
# ## 4. Save the result and the composition
#
# `save_sample(k)` writes sample `k` of the latest run as a PNG; `save_composition()` writes
# the composition as JSON (cutouts embedded) together with the schedule and seed of the run,
# so it can be reopened with `ip.Composition.from_json(...)` and painted again identically.
# The Painter's **Save** buttons do the same. During *Run all* the picture is usually still
# being painted when this cell runs: it then says so, and saves the picture when you run it
# again after the Painter says the run is done.

# %%
out = Path("quickstart_out")
json_path = painter.save_composition(out / "composition.json")
again = ip.Composition.from_json(json_path)
print(json_path, f"({len(again)} layers, seed {again.seed}, settings {again.settings})")
if painter.busy:
    print("still painting: run this cell again when the Painter says the run is done")
elif painter.result is not None:
    print("saved", painter.save_sample(0, folder=out))

# %% [markdown]
# ## 5. Your own cutouts
#
# * **In the widget:** the **Upload** button next to the palette takes PNG files with
#   transparency (RGBA). They join the palette and appear on the canvas.
# * **In code:** `ip.Layer.from_file("my_cutout.png", x=..., y=..., scale=...)`, then
#   `painter.composition.add(layer)`; the canvas updates at once. `x`, `y` are the top-left
#   corner in canvas pixels, `scale` multiplies the picture's size.
#
# Pixels with alpha above one half are **kept**; everything else is painted by the model. A
# cutout with a soft edge or a halo of its old background blends better with
# `Composition(..., erode=1)`, which lets the model repaint a one-pixel rim. The cell below
# adds a cloud from the shipped pack, standing in for your file; a run already under way
# keeps the composition it started with.

# %%
k = model.image_size / 64           # the positions below are written for a 64x64 canvas
my_file = list_cutouts()["cloud"]   # replace with the path of your own RGBA PNG
layer = ip.Layer.from_file(my_file, x=round(38 * k), y=round(3 * k), scale=0.5 * k)
painter.composition.add(layer)
# what will be kept (the tinted region is painted by the model)
upscale_nearest(painter.composition.render_preview(overlay=True), 4)

# %% [markdown]
# ## 6. Paint in batch from the command line
#
# The `ipainter` command paints a folder of `<name>.png` + `<name>_mask.png` pairs (white in
# the mask = keep), the format of the original Intelligent Painter's `inference.py`, writing
# `<name>_<k>.png` for each of `--num-samples` samples:
#
# ```
# ipainter paint -s SRC -d DEST --num-samples 5 --model demo
# ```
#
# `Composition.export_batch(folder, name)` writes such a pair. The cell starts the command
# as `python -m ipainter_nb.cli` with this kernel's own Python, so it works whether or not
# the `ipainter` script is on the PATH. It starts it **in the background** and returns at
# once: nothing waits for it in the kernel, so the Painter above keeps answering clicks
# while the command paints (both share the CPU, so each goes slower meanwhile). When the
# command ends, its messages and the pictures it painted replace the "painting" line under
# the cell. On the demo model it asks for a short plain descent (`--t-T 50
# --no-resampling`). A rerun skips pictures already painted (`--overwrite` repaints them);
# `ipainter paint --help` lists the schedule flags.

# %%
painter.composition.export_batch("batch_in", "my_scene")
flags = ["--dtype", "float16"] if MODEL == "places256" else ["--t-T", "50", "--no-resampling"]
command = [sys.executable, "-m", "ipainter_nb.cli", "paint", "-s", "batch_in", "-d", "batch_out",
           "--num-samples", "1", "--model", MODEL, *flags, "--quiet"]
batch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
message = display(Pretty("the command is painting in the background; its pictures appear here when it ends"),
                  display_id=True)
pictures_view = display(HTML(""), display_id=True)


def show_when_done():
    # runs on a helper thread, so that the kernel (and the Painter) never wait for the command
    output, _ = batch.communicate()
    painted = sorted(Path("batch_out").glob("my_scene_*.png"))
    if batch.returncode != 0 or not painted:
        message.update(Pretty(f"the command failed (exit code {batch.returncode}), painting nothing:\n{output}"))
        return
    message.update(Pretty(f"{output.strip()}\n{[p.name for p in painted]}"))
    pictures = torch.stack([load_picture(p, model.image_size) for p in painted])
    pictures_view.update(upscale_nearest(make_grid(pictures), 4))


watcher = threading.Thread(target=show_when_done, daemon=True)
watcher.start()

# %% [markdown]
# **Next:** `02_resampling_lesson.ipynb` measures what resampling does to the fit between
# the kept and the painted parts, and what stopping it early saves and costs, then judges
# the same schedules exactly on a model whose true answer is known;
# `03_colab_places256.ipynb` runs the paper's 256×256 model on a Colab GPU.
