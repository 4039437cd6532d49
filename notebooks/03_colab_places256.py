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
# # The Intelligent Painter with places256 on Colab
#
# This notebook runs the paper's model, RePaint's 256×256 **places256** checkpoint, on a Colab
# GPU (Runtime → Change runtime type → GPU), with the composer widget to place your cutouts.
#
# It also runs top to bottom **anywhere else**: without a GPU or without the weights it says
# so once and falls back to the small 64×64 demo model that ships with the package.

# %%
# Set-up. On Colab: install the package and turn on Colab's custom widget manager (the canvas
# is an ipycanvas widget, which Colab only draws with it). Elsewhere this cell changes nothing.
# IPAINTER_DEMO_MODEL=/path/to/model.safetensors replaces the "demo" fallback model.
import os
import subprocess
import sys

try:
    import google.colab  # noqa: F401
    IN_COLAB = True
except ImportError:
    IN_COLAB = False

if IN_COLAB:
    # the package and gdown (for the Google Drive download); point this at your copy of the
    # repository if the package is not on PyPI, e.g. "ipainter-nb[download] @ git+https://github.com/OWNER/ipainter-nb"
    PACKAGE = "ipainter-nb[download]"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()
print("running on Colab" if IN_COLAB else "not on Colab: nothing to install")

# %% [markdown]
# ## Download the weights (opt-in)
#
# `places256_300000.pt` (2.2 GB, from RePaint's Google Drive) is downloaded only when
# `DOWNLOAD` is true, which it is by default on Colab only. It goes to `~/.cache/ipainter_nb`,
# where `load_model("places256")` finds it; an interrupted download never leaves a
# half-written file under the real name.
#
# **About the checksum:** the file's SHA-256 is not published, so it cannot be checked on the
# first download. The helper computes it and records it in
# `~/.cache/ipainter_nb/places256_300000.pt.sha256` (and prints it). Keep that sum: pass it as
# `download_weights("places256", sha256=...)` later to verify copies on other machines.

# %%
DOWNLOAD = IN_COLAB   # set to True to download the 2.2 GB places256 weights here too

# %%
import torch

import ipainter_nb as ip
from ipainter_nb.core.download import download_weights
from ipainter_nb.core.presets import WeightsNotFoundError, find_weights

if DOWNLOAD:
    try:
        print("places256 weights already present:", find_weights("places256"))
    except WeightsNotFoundError:
        print("downloaded to", download_weights("places256"))

# %% [markdown]
# ## Load the model
#
# On a GPU with the weights present: places256 in **half precision** (`float16`, 1.1 GB of GPU
# memory instead of 2.2 GB; sampling arithmetic stays in float32). Otherwise the demo model,
# with one line saying why.

# %%
HAVE_GPU = torch.cuda.is_available()
try:
    weights = find_weights("places256")
except WeightsNotFoundError:
    weights = None

if HAVE_GPU and weights is not None:
    model = ip.load_model("places256", device="cuda", dtype=torch.float16)
    print(f"places256 loaded from {weights} on {torch.cuda.get_device_name()} in float16: {model}")
else:
    missing = " and ".join(m for m, absent in [("no CUDA GPU", not HAVE_GPU),
                                               ("no places256 weights (set DOWNLOAD = True)", weights is None)] if absent)
    model = ip.load_model(os.environ.get("IPAINTER_DEMO_MODEL", "demo"))
    print(f"FALLBACK: {missing} -> using the 64x64 demo model ({model.device}) instead of places256; "
          "the rest of the notebook works the same")

# %% [markdown]
# ## Compose and paint
#
# The canvas has the model's size (256×256 for places256). It starts with the shipped demo
# cutouts, scaled up; they are cartoons drawn for the demo model, so for places256 upload
# photographic cutouts with the **Upload** button (PNG with transparency). The original
# Intelligent Painter's photo cutouts are in its `inject_photo.zip`:
# `gdown https://drive.google.com/uc?id=1RBj72Cv82cEj417zeDAzRg5HQheMqknQ`.
#
# The Painter starts with the model's default schedule: for places256 the paper's truncated
# one (no resampling below a chosen step), for the demo model a shorter one. The cell below
# prints the schedule of the model this notebook loaded, its model calls and what full
# RePaint would cost, so the numbers are always those of the schedule that runs. A long
# schedule takes a while even on a GPU: the paint cell starts the run in the background and
# returns at once; the widget shows the picture forming step by step, **Stop** works, and the
# gallery keeps each run with its number of model calls and its time.

# %%
from ipainter_nb.demo import demo_composition

painter = ip.Painter(model=model, composition=demo_composition(model.image_size))
print(f"model {model.name!r}, default schedule: {model.default_schedule.describe()}")
painter

# %%
painter.paint(wait=False)   # the same as pressing Paint

# %% [markdown]
# ## Save the picture, the composition and an animation of the run
#
# Run this cell once the Painter says the run is done (during *Run all* it says when the
# run is still going and saves nothing yet).

# %%
from pathlib import Path

from IPython.display import Image as ShowImage
from IPython.display import display

from ipainter_nb.viz import timesteps_gif

out = Path("ipainter_out")
result = painter.result
if painter.busy or result is None:
    print("still painting: run this cell again when the Painter says the run is done")
else:
    print(f"{result.nfe} model calls in {result.elapsed_s:.1f} s ({1000 * result.elapsed_s / result.nfe:.0f} ms per call)")
    print(painter.save_sample(0, folder=out))
    print(painter.save_composition(out / "composition.json"))
    gif = timesteps_gif(result.frames, out / "run.gif", scale=max(1, 256 // model.image_size))
    display(ShowImage(filename=str(gif)))

# %% [markdown]
# On Colab, download the files from the folder panel on the left (`ipainter_out/`). To paint a
# folder of compositions in batch, export them with `comp.export_batch(folder, name)` and run
# `!ipainter paint -s folder -d out --num-samples 5 --model places256 --dtype float16`.
