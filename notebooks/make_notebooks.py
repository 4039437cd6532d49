"""Write the three notebooks of ipainter-nb (without outputs) from the cell texts below.

    python notebooks/make_notebooks.py          # rewrites notebooks/*.ipynb

The .ipynb files are what users open and what the tests execute; this script is only a
convenient way to edit them as plain text. Edit here and re-run, or edit the notebook in
Jupyter and carry the change back here; either way, commit notebooks without outputs
(tests/test_notebooks.py checks that).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

MD, CODE = "md", "code"


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    }
    for kind, text in cells:
        text = text.strip("\n")
        nb.cells.append(new_markdown_cell(text) if kind == MD else new_code_cell(text))
    # stable cell ids: regenerating the notebooks gives byte-identical files
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    return nb


# =========================================================================== 01 quickstart

QUICKSTART = [
    (MD, r"""
# Intelligent Painter in Jupyter: quickstart

Place landmark cutouts (RGBA pictures: a sun, a mountain, a house...) on a canvas, press
**Paint**, and an unconditional diffusion model paints everything around them so that the
picture hangs together. It uses RePaint's *resampling* ("jump back and denoise again"), but
stops resampling near the end of the run, which is faster than RePaint and less blurry
(the `02_resampling_lesson` notebook shows why).

Five steps: **load a model, compose, paint, save, paint in batch from the command line.**
*Run all* works as is: the canvas starts with a ready-made composition and a cell paints it.
"""),
    (MD, r"""
## 1. Load a model

* **`demo`** (the default) is a small 64×64 model that ships with the package, trained on
  procedural landscapes (skies, suns, mountains, lakes, houses, trees). It is small enough
  to paint on a laptop CPU; the paint cell below prints how long it took.
* **`places256`** is RePaint's 256×256 Places2 model, the one the Intelligent Painter paper
  uses. Its 2.2 GB of weights do not ship with the package: `find_weights("places256")`
  looks for `places256_300000.pt` in `$IPAINTER_WEIGHTS`, `~/.cache/ipainter_nb` and
  `./weights`. When it is found **and a CUDA GPU is present**, the cell below uses it (in
  half precision). On a CPU it would be far too slow, so the notebook stays with the
  demo model there; set `MODEL = "places256"` yourself to insist. To get the weights, see
  `03_colab_places256.ipynb` (downloads them on Colab) or run
  `ipainter_nb.core.models.download_weights("places256")`.
"""),
    (CODE, r"""
# Model choice: "places256" when its weights are found and a CUDA GPU is present, else the
# shipped "demo" model. The environment variable IPAINTER_DEMO_MODEL=/path/to/model.safetensors
# replaces "demo" by another checkpoint (e.g. one trained with `ipainter train`).
import os
import sys
from pathlib import Path

import torch
from PIL import Image

import ipainter_nb as ip
from ipainter_nb.core.models import WeightsNotFoundError, find_weights
from ipainter_nb.demo import demo_layout, list_cutouts
from ipainter_nb.images import make_grid, pil_to_tensor

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
print("default schedule:", model.default_schedule.describe())
"""),
    (MD, r"""
## 2. Compose

`demo_layout()` lists where the shipped cutouts go on a 64×64 canvas (a sun, a mountain on
the horizon, a house with a tree, a boat). Each becomes an `ip.Layer`; positions and scales
are multiplied up for a bigger model. The Painter below shows the canvas: **drag** a
cutout to move it, use the controls beside the canvas to scale, flip, reorder or delete it,
pick more cutouts from the palette, and set the number of samples, the seed and the
schedule (its number of model calls, *NFE*, updates as you type).
"""),
    (CODE, r"""
k = model.image_size / 64           # demo_layout() is drawn for a 64x64 canvas
cutouts = list_cutouts()            # name -> PNG file of the shipped cutout pack
comp = ip.Composition(size=model.image_size)
for item in demo_layout():
    comp.add(ip.Layer.from_file(cutouts[item["name"]], x=round(item["x"] * k), y=round(item["y"] * k),
                                scale=item["scale"] * k))

painter = ip.Painter(model=model, composition=comp)
painter
"""),
    (MD, r"""
## 3. Paint

Press **Paint** in the widget, or call `painter.paint()`. The cell below paints, so that
*Run all* produces a result. `wait=True` keeps the cell busy until the picture is done
(the widget shows it forming, step by step, with its frequency content); press Paint or
call `painter.paint(wait=False)` instead to keep the **Stop** button usable.
"""),
    (CODE, r"""
result = painter.paint(wait=True)
if result is None:  # the reason is shown in the widget too
    raise RuntimeError(painter.error_message)
print(f"{result.samples.shape[0]} sample(s), {result.nfe} model calls, {result.elapsed_s:.1f} s")
make_grid(result.samples).resize((4 * model.image_size * result.samples.shape[0], 4 * model.image_size), Image.NEAREST)
"""),
    (MD, r"""
## 4. Save the result and the composition

`save_sample(k)` writes sample `k` as a PNG; `save_composition()` writes the composition as
JSON (cutouts embedded) together with the schedule and seed of the run, so it can be
reopened with `ip.Composition.from_json(...)` and painted again identically. The Painter's
**Save** buttons do the same into the folder shown in its "save to" box.
"""),
    (CODE, r"""
out = Path("quickstart_out")
sample_path = painter.save_sample(0, folder=out)
json_path = painter.save_composition(out / "composition.json")
again = ip.Composition.from_json(json_path)
print(sample_path, "\n", json_path, f"({len(again)} layers, seed {again.seed}, settings {again.settings})")
"""),
    (MD, r"""
## 5. Your own cutouts

* **In the widget:** the **Upload** button next to the palette takes PNG files with
  transparency (RGBA). They join the palette and appear on the canvas.
* **In code:** `ip.Layer.from_file("my_cutout.png", x=..., y=..., scale=...)`, then
  `painter.composition.add(layer)`; the canvas updates at once. `x`, `y` are the top-left
  corner in canvas pixels, `scale` multiplies the picture's size.

Pixels with alpha above one half are **kept**; everything else is painted by the model. A
cutout with a soft edge or a halo of its old background blends better with
`Composition(..., erode=1)`, which lets the model repaint a one-pixel rim. The cell below
adds a cloud from the shipped pack, standing in for your file.
"""),
    (CODE, r"""
my_file = cutouts["cloud"]          # replace with the path of your own RGBA PNG
layer = ip.Layer.from_file(my_file, x=round(38 * k), y=round(3 * k), scale=0.5 * k)
painter.composition.add(layer)
# what will be kept (the tinted region is painted by the model)
painter.composition.render_preview(overlay=True).resize((4 * model.image_size, 4 * model.image_size), Image.NEAREST)
"""),
    (MD, r"""
## 6. Paint in batch from the command line

The `ipainter` command paints a folder of `<name>.png` + `<name>_mask.png` pairs (white in
the mask = keep), the format of the original Intelligent Painter's `inference.py`, writing
`<name>_<k>.png` for each of `--num-samples` samples:

```
ipainter paint -s SRC -d DEST --num-samples 5 --model demo
```

`Composition.export_batch(folder, name)` writes such a pair. The cell calls the command
as `python -m ipainter_nb.cli` with this kernel's own Python, so it works whether or not
the `ipainter` script is on the PATH. A rerun skips pictures already painted (`--overwrite`
repaints them); `ipainter paint --help` lists the schedule flags.
"""),
    (CODE, r"""
painter.composition.export_batch("batch_in", "my_scene")
DTYPE_FLAG = "--dtype float16" if MODEL == "places256" else ""
!"{sys.executable}" -m ipainter_nb.cli paint -s batch_in -d batch_out --num-samples 1 --model "{MODEL}" {DTYPE_FLAG} --quiet
"""),
    (CODE, r"""
painted = sorted(Path("batch_out").glob("my_scene_*.png"))
assert painted, "the command painted nothing: see its messages above"
print([p.name for p in painted])
pictures = torch.stack([pil_to_tensor(Image.open(p)) for p in painted])
make_grid(pictures).resize((4 * model.image_size * len(painted), 4 * model.image_size), Image.NEAREST)
"""),
    (MD, r"""
**Next:** `02_resampling_lesson.ipynb` explains, with measurements, why resampling
harmonises a picture and why stopping it early keeps the picture sharp;
`03_colab_places256.ipynb` runs the paper's 256×256 model on a Colab GPU.
"""),
]


# =========================================================================== 02 lesson

LESSON = [
    (MD, r"""
# Why stop resampling early? The Intelligent Painter's schedule in 45 minutes

The Intelligent Painter fills the space around landmark cutouts with an unconditional
diffusion model, using RePaint's **resampling** but **stopping it below a timestep**. This
lesson builds that idea from measurements, all computed here on the shipped 64×64 demo
model, on a laptop CPU:

| part | what you see | time |
| --- | --- | --- |
| 1 | the forward process on a real picture: fine detail drowns in noise first | 10 min |
| 2 | inpainting without resampling: known and painted parts disagree | 8 min |
| 3 | RePaint's resampling: harmony, at a cost | 8 min |
| 4 | truncated resampling: keep the harmony, skip the blur | 10 min |
| 5 | exercises: move the stop and the jumps, watch cost and sharpness | 9 min |

To stay within a few minutes of computing, we use the model's default number of respaced
steps (`T`, printed below) and small jumps (jump length 10, each stretch denoised twice)
instead of the paper's 250 steps with jumps of 10 repeated 10 times: the same shape of schedule at a fraction of the
cost. Every run uses the same seed, so differences between runs come from the schedules.
"""),
    (CODE, r"""
# The lesson uses the shipped "demo" model. The environment variable
# IPAINTER_DEMO_MODEL=/path/to/model.safetensors replaces it by another checkpoint.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

import ipainter_nb as ip
from ipainter_nb import frequency as fq
from ipainter_nb import schedules as S
from ipainter_nb.demo import make_scenes

model = ip.load_model(os.environ.get("IPAINTER_DEMO_MODEL", "demo"), device="cpu")
T = model.default_schedule.t_T                    # the model's default number of respaced steps
STOP = model.default_schedule.stop_resampling_at  # where the model's default schedule stops resampling
JUMP_LENGTH, JUMP_N_SAMPLE = 10, 2                # small jumps (the paper: 10 and 10, with T = 250)
N, SEED = 2, 0                                    # samples per run; the seed of every run
abar = model.schedule(T).alphas_cumprod           # the noise schedule: alpha-bar_t for t = 0..T-1
print(model)
print(f"T = {T}, stop resampling at t = {STOP}, jump_length = {JUMP_LENGTH}, jump_n_sample = {JUMP_N_SAMPLE}")


def to_tensor(scenes):  # uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]
    return torch.from_numpy(np.asarray(scenes)).movedim(-1, -3).float() / 127.5 - 1


def show_row(images, titles, size=1.9):
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size * 1.2))
    for ax, image, title in zip(np.atleast_1d(axes), images, titles):
        ax.imshow(((image.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    plt.tight_layout()
    plt.show()
"""),
    (MD, r"""
## 1. The forward process destroys fine detail first

The forward process mixes a picture $x_0$ with Gaussian noise:
$x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$, with $\bar\alpha_t$
falling from 1 to 0 as $t$ goes from 0 to $T-1$.

White noise has the **same power at every spatial frequency**. Natural pictures do not:
most of their power is at low frequencies (coarse structure: the horizon, the sky's
colour), little at high ones (edges, texture). So as the noise grows it buries the weak,
high-frequency part first and the strong, low-frequency part last. Below: one of the
procedural landscapes the demo model was trained on, noised to several $t$, and the radial
power spectra of those noised pictures.
"""),
    (CODE, r"""
scene = to_tensor(make_scenes(1, seed=3, size=model.image_size)[0])  # (3, 64, 64) in [-1, 1]
noise = torch.randn(scene.shape, generator=torch.Generator().manual_seed(0))
ts = [0, 5, 15, 30, 50, 75, T - 1]
noised = {t: model.schedule(T).q_sample(scene[None], torch.tensor([t]), noise[None])[0] for t in ts}
show_row([noised[t] for t in ts], [f"t = {t}, ᾱ = {abar[t]:.2f}" for t in ts])

fig, ax = plt.subplots(figsize=(6.5, 3.6))
fq.plot_spectrum_evolution([(t, *fq.radial_power_spectrum(noised[t])) for t in ts], ax=ax)
ax.set_title("power spectrum of x_t: the flat noise floor rises and covers\nthe high frequencies (right) long before the low ones (left)", fontsize=9)
ax.xaxis.set_minor_formatter(plt.NullFormatter())
plt.show()
"""),
    (MD, r"""
To put numbers on it, split the frequencies into four octave-wide **bands** (low = coarse
layout … high = pixel-level detail). In band $b$ the picture has average power $P_b$, so at
time $t$ its signal-to-noise ratio is $\mathrm{SNR}_b(t) = \bar\alpha_t P_b / (1-\bar\alpha_t)$.
A band is **drowned** once its SNR is below 1: from then on, the noise in $x_t$ is stronger
than the picture's content at that scale. `fq.drowning_times` gives, for each band, the
first $t$ where that happens.
"""),
    (CODE, r"""
N_BANDS = 4
edges = fq.band_edges(model.image_size, N_BANDS)
energy = fq.band_energies(scene, N_BANDS)
snr = fq.band_snr(scene, abar, N_BANDS)          # (T, N_BANDS)
drown = fq.drowning_times(snr)
for b in range(N_BANDS):
    print(f"band {b}: wavelengths {1 / edges[b + 1]:4.1f}-{1 / edges[b]:4.1f} px, "
          f"{100 * energy[b]:4.1f}% of the picture's energy, drowned from t = {drown[b]}")

ax = fq.plot_band_snr(snr, stop_resampling_at=None)
ax.scatter(drown, np.ones(N_BANDS), color=[plt.get_cmap("coolwarm")(b / (N_BANDS - 1)) for b in range(N_BANDS)],
           zorder=5, label="drowning time")
ax.legend(fontsize="small")
ax.set_title("forward-process SNR per band: fine detail (red) drowns first")
plt.show()

# the same on 32 other training scenes
many = to_tensor(make_scenes(32, seed=1, size=model.image_size))
drown_many = np.array([fq.drowning_times(fq.band_snr(x, abar, N_BANDS)) for x in many])
print("median drowning time per band over 32 scenes, low -> high:", np.median(drown_many, axis=0))
print("in every scene, each finer band drowns no later than the coarser one:",
      bool((np.diff(drown_many, axis=1) <= 0).all()))
"""),
    (MD, r"""
**Read it backwards**, as the painter works: starting from pure noise at $t = T-1$, the
model first decides what is drowned longest, the coarse layout (band 0 surfaces only at
its drowning time, printed above), then the middle bands, and the pixel-level detail only
in the last few steps. Keep these drowning times in mind: they are where parts 3 and 4 place the
resampling.
"""),
    (MD, r"""
## 2. Inpainting without resampling: the two halves disagree

The task: keep the **left part** of a landscape the model has never seen and paint the
rest. RePaint's inpainting step, at every step down from $t$ to $t-1$:

1. noise the known picture to level $t$ (a forward-process draw) and paste it where the
   mask says *keep*;
2. let the model denoise the whole picture one step.

The painted part learns about the known part only through the model's view of that pasted,
noisy picture. Once the coarse layout of the painted part is decided (large $t$, see part
1) nothing changes it any more, even if it does not fit what is pasted next to it.

To measure the fit we compare, row by row, the mean colour of the three kept columns just
left of the seam with the three painted columns just right of it (**seam mismatch**; lower
is better). The real picture's own value at the same place is the reference: a painting
that continues the horizon and the colours should come close to it.
"""),
    (CODE, r"""
truth = to_tensor(make_scenes(1, seed=2024, size=model.image_size)[0])
SEAM = 26                                   # columns 0..25 are kept, 26..63 are painted
keep = torch.zeros(1, model.image_size, model.image_size)
keep[..., :SEAM] = 1


def seam_mismatch(images, width=3):
    # mean |colour difference| between the kept and the painted strip on either side of the seam
    left = images[..., SEAM - width:SEAM].mean(-1)
    right = images[..., SEAM:SEAM + width].mean(-1)
    return (left - right).abs().mean().item()


def measure(images):
    return dict(seam=seam_mismatch(images),
                sharpness=fq.sharpness(images, mask=1 - keep),          # share of energy above 0.25 cycles/px
                gradient=fq.gradient_energy(images, mask=1 - keep))     # mean squared pixel difference


results, stats = {}, {}


def run(label, times):
    result = ip.paint(model, truth, keep, times=times, num_samples=N, seed=SEED)
    results[label] = result
    stats[label] = dict(nfe=result.nfe, seconds=result.elapsed_s, **measure(result.samples))
    s = stats[label]
    print(f"{label}: {s['nfe']} model calls, {s['seconds']:.1f} s; seam mismatch {s['seam']:.3f}, "
          f"sharpness {s['sharpness']:.4f}, gradient energy {s['gradient']:.4f}")
    return result


reference = measure(truth[None])
print(f"the real picture: seam mismatch {reference['seam']:.3f}, sharpness {reference['sharpness']:.4f}, "
      f"gradient energy {reference['gradient']:.4f}")
run("no resampling", S.plain(T))
show_row([truth, truth * keep, *results["no resampling"].samples],
         ["the real picture", "what the model is given", *[f"no resampling, sample {i}" for i in range(N)]])
"""),
    (MD, r"""
Look along the seam (column 26): does the horizon continue at the same height, do the sky
and ground keep their colours? Compare the seam mismatch of the painted samples with the
real picture's.
"""),
    (MD, r"""
## 3. RePaint's resampling: harmony, at a cost

RePaint's fix: after each stretch of `jump_length` steps down, **jump back up**
`jump_length` steps (adding forward noise, no model call) and denoise the stretch again,
`jump_n_sample` times in all. Each pass starts from a picture whose painted part already
reflects the known part, so the coarse structure of the two converges. The price: every
extra pass down costs model calls (NFE, *number of function evaluations*).
"""),
    (CODE, r"""
times_repaint = S.repaint(T, JUMP_LENGTH, JUMP_N_SAMPLE)
ax = S.plot_schedule(times_repaint, title=f"RePaint: {S.count_nfe(times_repaint)} model calls instead of {T}")
plt.show()
print("model calls:", S.count_nfe(times_repaint), "| jumps start from t =", S.resampling_window(times_repaint))
run("RePaint", times_repaint)
show_row([*results["no resampling"].samples, *results["RePaint"].samples],
         [*[f"no resampling {i}" for i in range(N)], *[f"RePaint {i}" for i in range(N)]])
print(f"wall time: {stats['RePaint']['seconds']:.1f} s against {stats['no resampling']['seconds']:.1f} s "
      f"({stats['RePaint']['seconds'] / stats['no resampling']['seconds']:.1f}x)")
print("RePaint's seam fits better than no resampling's:", stats["RePaint"]["seam"] < stats["no resampling"]["seam"])
"""),
    (MD, r"""
## 4. Truncated resampling: keep the harmony, skip the blur

Where does resampling help? Part 1 answers it. A jump from $t$ back up to $t + j$ noises the
picture again, and the pass down re-decides whatever is drowned at those levels. At large
$t$ that is the coarse layout: exactly what has to agree between the kept and the painted
part. At small $t$ the coarse layout has surfaced
(band 0 is above SNR 1 below its drowning time from part 1) and only finer bands are still
being decided.
Resampling there buys no more harmony; instead every pass pastes freshly noised known
pixels next to the painted ones and denoises again, and averaging over those repeated
draws washes fine detail out: **blur**.

So the Intelligent Painter **stops resampling below a timestep** (100 of 250 in the paper;
here `STOP` of `T`, from the model's default schedule). The plot shows the resampling
windows of both schedules on top of the band SNRs; then the schedules themselves.
"""),
    (CODE, r"""
times_trunc = S.repaint(T, JUMP_LENGTH, JUMP_N_SAMPLE, stop_resampling_at=STOP)
fig, axes = plt.subplots(1, 3, figsize=(15, 3.4))
lo, hi = S.resampling_window(times_trunc)         # lowest and highest time a jump starts from
fq.plot_band_snr(snr, stop_resampling_at=STOP, resampling_window=(lo, min(hi + JUMP_LENGTH, T - 1)), ax=axes[0])
axes[0].set_title(f"truncated: times revisited by jumps, t = {lo}..{min(hi + JUMP_LENGTH, T - 1)}", fontsize=9)
S.plot_schedule(times_repaint, ax=axes[1], title=f"RePaint: {S.count_nfe(times_repaint)} model calls")
S.plot_schedule(times_trunc, ax=axes[2], stop_resampling_at=STOP,
                title=f"truncated at t = {STOP}: {S.count_nfe(times_trunc)} model calls")
plt.tight_layout()
plt.show()
print(f"model calls: none {T}, RePaint {S.count_nfe(times_repaint)}, truncated {S.count_nfe(times_trunc)} "
      f"({100 * (1 - S.count_nfe(times_trunc) / S.count_nfe(times_repaint)):.0f}% fewer than RePaint)")
print(f"band 0 (coarse layout) surfaces at t = {drown[0]}; this schedule stops resampling at t = {STOP}")
print("the paper's settings:", ip.ScheduleConfig(kind="truncated", t_T=250, jump_length=10, jump_n_sample=10,
                                                 stop_resampling_at=100).describe())
"""),
    (CODE, r"""
run(f"truncated at {STOP}", times_trunc)
labels = ["no resampling", "RePaint", f"truncated at {STOP}"]
fig, axes = plt.subplots(N, len(labels), figsize=(2.6 * len(labels), 2.6 * N + 0.6), squeeze=False)
for col, label in enumerate(labels):
    s = stats[label]
    axes[0, col].set_title(f"{label}\n{s['nfe']} model calls, {s['seconds']:.1f} s\n"
                           f"seam {s['seam']:.3f}, sharpness {s['sharpness']:.3f}", fontsize=8)
    for i in range(N):
        axes[i, col].imshow(((results[label].samples[i].clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy(),
                            interpolation="nearest")
        axes[i, col].axvline(SEAM - 0.5, color="w", lw=0.5, ls=":")
        axes[i, col].axis("off")
plt.tight_layout()
plt.show()

fig, axes = plt.subplots(1, 4, figsize=(14, 2.8))
for ax, key, title in zip(axes, ["seconds", "seam", "sharpness", "gradient"],
                          ["wall time (s)", "seam mismatch (lower: fits)", "sharpness (higher: crisper)",
                           "gradient energy (higher: crisper)"]):
    ax.bar(range(3), [stats[label][key] for label in labels], color=["C7", "C0", "C3"])
    ax.set_xticks(range(3), ["none", "RePaint", f"stop {STOP}"])
    if key in reference:
        ax.axhline(reference[key], color="k", ls=":", lw=1, label="real picture")
        ax.legend(fontsize="small")
    ax.set_title(title, fontsize=9)
plt.tight_layout()
plt.show()

trunc, full, none = stats[f"truncated at {STOP}"], stats["RePaint"], stats["no resampling"]
checks = [
    ("resampling fits the seam better (RePaint vs none)", full["seam"] < none["seam"]),
    ("truncated fits the seam better than none", trunc["seam"] < none["seam"]),
    ("truncated is faster than RePaint", trunc["seconds"] < full["seconds"]),
    ("truncated is sharper than RePaint (sharpness)", trunc["sharpness"] > full["sharpness"]),
    ("truncated is sharper than RePaint (gradient energy)", trunc["gradient"] > full["gradient"]),
    ("no resampling is the sharpest, as in the paper (sharpness)", none["sharpness"] >= max(full["sharpness"], trunc["sharpness"])),
]
for claim, held in checks:
    print(f"{'seen        ' if held else 'NOT seen    '} {claim}")
"""),
    (MD, r"""
**What to look for, and an honest caveat.** The paper predicts three things; the lines
printed at the end of the cell above say, for *this* run, which were **seen** and which were
**NOT seen**.

* **Harmony.** Resampling lets the painted part fit the kept part: in the pictures, the
  horizon and the colours carry on across the dotted seam; in the bars, the seam mismatch
  of RePaint and of the truncated schedule is lower than that of no resampling, closer to
  the real picture's.
* **Cost.** The truncated schedule makes fewer model calls than RePaint (an exact count,
  printed above), and the wall time follows the number of calls.
* **Blur.** Resampling at small $t$ washes out fine detail, so the truncated schedule should
  be sharper than RePaint (higher sharpness and gradient energy); in the paper, no
  resampling is the sharpest of all.

The cost is certain. Harmony and blur are measured on `N` samples of one picture, so they
are noisy, and the blur effect is the subtle one: the paper shows it with places256 at
256×256 and 10 passes per jump. A small 64×64 model trained for a short time on a CPU may
paint *everything* blurrier than the real picture (compare the bars with the dotted "real
picture" line); its own blur can then hide whatever blur resampling adds, and the
sharpness lines may read NOT seen. That is a limit of the model, not of the argument: the
printed checks are the verdict for the model at hand.
"""),
    (MD, r"""
## 5. Exercises: move the stop and the jumps

**Cost needs no model.** The number of model calls follows from the schedule alone:
$\mathrm{NFE} = T + (r-1)\,j\,\#\{\text{jump points} \ge \text{stop}\}$, with jump points
the multiples of $j$ below $T - j$. The table and plot below compute it for a few settings.
"""),
    (CODE, r"""
stops = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, T]
settings = [(10, 2), (10, 3), (5, 5), (10, 10)]
print("stop_resampling_at:  " + " ".join(f"{s:>5}" for s in stops))
for j, r in settings:
    print(f"j={j:>2}, r={r:>2}:        " + " ".join(f"{S.count_nfe(S.repaint(T, j, r, s)):>5}" for s in stops))
fig, ax = plt.subplots(figsize=(6, 3.2))
for j, r in settings:
    ax.plot(stops, [S.count_nfe(S.repaint(T, j, r, s)) for s in stops], marker="o", ms=3, label=f"jump_length {j}, jump_n_sample {r}")
ax.axvline(STOP, color="C3", ls="--", lw=1)
ax.set_xlabel("stop_resampling_at")
ax.set_ylabel("model calls (NFE)")
ax.set_title(f"cost of a schedule with T = {T}", fontsize=9)
ax.legend(fontsize="small")
plt.show()
"""),
    (MD, r"""
**Sharpness and fit need runs.** A small sweep over `stop_resampling_at` with our small
jumps: 0 is RePaint and `T` is no resampling (both already painted above, as is the
default stop), so only the values in `NEW_STOPS` are painted here; each takes between the
wall times of no resampling and of RePaint printed above.
"""),
    (CODE, r"""
NEW_STOPS = [20, 60]
for stop in NEW_STOPS:
    run(f"truncated at {stop}", S.repaint(T, JUMP_LENGTH, JUMP_N_SAMPLE, stop_resampling_at=stop))

sweep = {0: stats["RePaint"], STOP: stats[f"truncated at {STOP}"], T: stats["no resampling"],
         **{stop: stats[f"truncated at {stop}"] for stop in NEW_STOPS}}
xs = sorted(sweep)
fig, axes = plt.subplots(1, 3, figsize=(14, 3))
for ax, key, title in zip(axes, ["sharpness", "seam", "seconds"],
                          ["sharpness of the painted part", "seam mismatch", "wall time (s)"]):
    ax.plot(xs, [sweep[x][key] for x in xs], marker="o")
    if key in reference:
        ax.axhline(reference[key], color="k", ls=":", lw=1, label="real picture")
        ax.legend(fontsize="small")
    ax.axvline(STOP, color="C3", ls="--", lw=1)
    ax.set_xlabel("stop_resampling_at  (0 = RePaint, T = none)")
    ax.set_title(title, fontsize=9)
plt.tight_layout()
plt.show()
for x in xs:
    print(f"stop {x:>3}: {sweep[x]['nfe']:>3} model calls, {sweep[x]['seconds']:5.1f} s, "
          f"sharpness {sweep[x]['sharpness']:.4f}, seam {sweep[x]['seam']:.3f}")

col = {key: [sweep[x][key] for x in xs] for key in ("seam", "sharpness", "seconds")}
checks = [
    ("every stop that resamples fits the seam better than none", all(v < sweep[T]["seam"] for v in col["seam"][:-1])),
    (f"most of the fit is gained above t = {STOP} (stop {STOP} is closer to RePaint than to none)",
     abs(sweep[STOP]["seam"] - sweep[0]["seam"]) < abs(sweep[T]["seam"] - sweep[STOP]["seam"])),
    ("wall time rises as the stop moves down", all(a >= b for a, b in zip(col["seconds"], col["seconds"][1:]))),
    ("sharpness tends to rise with the stop (less resampling at small t)", bool(np.corrcoef(xs, col["sharpness"])[0, 1] > 0)),
]
for claim, held in checks:
    print(f"{'seen        ' if held else 'NOT seen    '} {claim}")
"""),
    (MD, r"""
**Reading the sweep.** The argument of part 4 predicts that as the stop moves down from
`T` (no resampling), the seam mismatch falls while the jumps still reach times where the
coarse layout is drowned, then levels off, while the cost keeps rising: the harmony is
bought at large $t$, and resampling below the stop pays for little. Sharpness, if anything,
should fall as the stop moves down (more passes at small $t$). The lines printed under the
plots say which of these held here. With `N` samples of one picture the curves are bumpy,
and on a small, briefly trained model the sharpness trend may not show at all (see the
caveat of part 4).
"""),
    (MD, r"""
### Your turn

1. **Predict, then measure.** Before running, predict the model calls of
   `S.repaint(T, 5, 3, stop_resampling_at=30)` with the formula above; check with
   `S.count_nfe`. Then add a stop value to `NEW_STOPS` and re-run the sweep cell.
2. **More passes.** Set `JUMP_N_SAMPLE = 3` (or 5) in the first cell and re-run parts 3–5.
   Does RePaint's blur grow with more passes? Does the seam fit improve? What does it cost?
3. **Where is the stop?** Compare the stops in the sweep with the drowning times of part 1.
   Does sharpness start to fall once the stop moves below the time the coarse band surfaces?
4. **Noise in the measures.** Change `SEED` or raise `N` to 4 and re-run: which differences
   survive? A claim resting on two samples deserves suspicion.
5. **Your own composition.** Replace `truth, keep` by `comp.render()` of a composition of
   cutouts (see `01_quickstart`) and measure sharpness with `mask=1 - keep` (the seam measure
   of this notebook assumes the vertical seam; `fq.gradient_energy` works for any mask).
6. **Watch the frequencies form.** `results["RePaint"].steps` holds frames of the run with
   the model's prediction `x0_pred`; plot `fq.radial_power_spectrum` of a few of them with
   `fq.plot_spectrum_evolution` to see coarse structure settle first.
"""),
]


# =========================================================================== 03 Colab

COLAB = [
    (MD, r"""
# The Intelligent Painter with places256 on Colab

This notebook runs the paper's model, RePaint's 256×256 **places256** checkpoint, on a Colab
GPU (Runtime → Change runtime type → GPU), with the composer widget to place your cutouts.

It also runs top to bottom **anywhere else**: without a GPU or without the weights it says
so once and falls back to the small 64×64 demo model that ships with the package.
"""),
    (CODE, r"""
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
"""),
    (MD, r"""
## Download the weights (opt-in)

`places256_300000.pt` (2.2 GB, from RePaint's Google Drive) is downloaded only when
`DOWNLOAD` is true, which it is by default on Colab only. It goes to `~/.cache/ipainter_nb`,
where `load_model("places256")` finds it; an interrupted download never leaves a
half-written file under the real name.

**About the checksum:** the file's SHA-256 is not published, so it cannot be checked on the
first download. The helper computes it and records it in
`~/.cache/ipainter_nb/places256_300000.pt.sha256` (and prints it). Keep that sum: pass it as
`download_weights("places256", sha256=...)` later to verify copies on other machines.
"""),
    (CODE, r"""
DOWNLOAD = IN_COLAB   # set to True to download the 2.2 GB places256 weights here too
"""),
    (CODE, r"""
import torch

import ipainter_nb as ip
from ipainter_nb.core.models import WeightsNotFoundError, download_weights, find_weights

if DOWNLOAD:
    try:
        print("places256 weights already present:", find_weights("places256"))
    except WeightsNotFoundError:
        print("downloaded to", download_weights("places256"))
"""),
    (MD, r"""
## Load the model

On a GPU with the weights present: places256 in **half precision** (`float16`, 1.1 GB of GPU
memory instead of 2.2 GB; sampling arithmetic stays in float32). Otherwise the demo model,
with one line saying why.
"""),
    (CODE, r"""
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
"""),
    (MD, r"""
## Compose and paint

The canvas has the model's size (256×256 for places256). It starts with the shipped demo
cutouts, scaled up; they are cartoons drawn for the demo model, so for places256 upload
photographic cutouts with the **Upload** button (PNG with transparency). The original
Intelligent Painter's photo cutouts are in its `inject_photo.zip`:
`gdown https://drive.google.com/uc?id=1RBj72Cv82cEj417zeDAzRg5HQheMqknQ`.

The default schedule is the paper's: 250 steps, jumps of 10 repeated 10 times, no
resampling below t = 100: **1510 model calls** (RePaint needs 2410), so even on a GPU a
batch takes a while: the paint cell prints the time, per batch and per model call, and the
widget shows the picture forming step by step.
"""),
    (CODE, r"""
from ipainter_nb.demo import demo_layout, list_cutouts

k = model.image_size / 64            # demo_layout() is drawn for a 64x64 canvas
cutouts = list_cutouts()
comp = ip.Composition(size=model.image_size)
for item in demo_layout():
    comp.add(ip.Layer.from_file(cutouts[item["name"]], x=round(item["x"] * k), y=round(item["y"] * k),
                                scale=item["scale"] * k))
painter = ip.Painter(model=model, composition=comp)
print(model.default_schedule.describe())
painter
"""),
    (CODE, r"""
result = painter.paint(wait=True)   # or press Paint (then Stop works while it runs)
if result is None:
    raise RuntimeError(painter.error_message)
print(f"{result.nfe} model calls in {result.elapsed_s:.1f} s ({1000 * result.seconds_per_nfe:.0f} ms per call)")
"""),
    (MD, r"""
## Save the picture, the composition and an animation of the run
"""),
    (CODE, r"""
from pathlib import Path

from IPython.display import Image as ShowImage

from ipainter_nb.widgets.preview import export_gif

out = Path("ipainter_out")
print(painter.save_sample(0, folder=out))
print(painter.save_composition(out / "composition.json"))
gif = export_gif(result, out / "run.gif", which="x0", scale=max(1, 256 // model.image_size))
ShowImage(filename=str(gif))
"""),
    (MD, r"""
On Colab, download the files from the folder panel on the left (`ipainter_out/`). To paint a
folder of compositions in batch, export them with `comp.export_batch(folder, name)` and run
`!ipainter paint -s folder -d out --num-samples 5 --model places256 --dtype float16`.
"""),
]


NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_resampling_lesson.ipynb": LESSON,
    "03_colab_places256.ipynb": COLAB,
}


def main(argv: list[str] | None = None) -> int:
    out_dir = Path(argv[0]) if argv else HERE
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        path = out_dir / name
        nbformat.write(build(cells), str(path))
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
