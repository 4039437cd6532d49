"""Build the neural truth models: small UNets trained by ``ipainter train --gaussian-field``.

    python benchmarks/truth_models.py              # both, into tests/fixtures/truth/ (make truth-models)
    python benchmarks/truth_models.py --only far   # one of them

Each model is the demo UNet's architecture at 16² with one residual block per level and
three levels (a narrower network than the demo's, so that it trains in minutes on a shared
2-core CPU), trained by the one training code path (``ipainter_nb.train.train``) on draws of
a Gaussian field whose exact conditional is known:

* ``near``: the demo scenes' spectrum and colours (``exact.demo_image_model()``), contrast 0.25;
* ``far``: β 2.0, knee 0.06 cycles per pixel, contrast 0.15.

Training is seeded (the network, the field draws and the noise), so running this again
rebuilds the same weights on the same machine and torch build. The exported weights (fp16,
with the field recorded in their metadata: ``train_fields.recorded_field``) are what
``benchmarks/neural_truth.py`` and ``tests/test_truth_models.py`` load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, log  # noqa: E402

from ipainter_nb.train import TrainConfig, export, train  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "truth"

#: the demo UNet's blocks at 16², narrower: one residual block per level, levels 16, 8, 4, attention at 4²
TRUTH_UNET = dict(image_size=16, num_channels=32, num_res_blocks=1, channel_mult=[1, 1, 2], attention_resolutions=[4],
                  num_heads=1, num_head_channels=32, learn_sigma=False, use_scale_shift_norm=True,
                  resblock_updown=False, class_cond=False, dropout=0.0)

#: name -> the --gaussian-field spec it is trained on
FIELDS = {"near": "demo,std=0.25", "far": "beta=2.0,knee=0.06,std=0.15"}

STEPS, BATCH, LR, WARMUP, SEED = 600, 16, 1e-3, 50, 0


def truth_path(name: str) -> Path:
    """Where the truth model ``name`` is shipped."""
    return FIXTURES / f"truth_{name}.safetensors"


def build(name: str, work: Path, threads: int) -> Path:
    """Train the truth model ``name`` in ``work`` (resumable) and export it next to the tests."""
    config = TrainConfig(out=str(work / name), unet=dict(TRUTH_UNET), steps=STEPS, batch_size=BATCH, lr=LR,
                         warmup=WARMUP, seed=SEED, save_every=100, sample_every=0, bf16=False, threads=threads,
                         device="cpu", gaussian_field=FIELDS[name])
    ckpt = train(config, progress=False)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    return export(ckpt, truth_path(name), name=f"truth-{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(FIELDS), default=None, help="build one model only")
    parser.add_argument("--work", default=None, help="training folder (default: a temporary one; resumable when given)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="truth_models_"))
    for name in [args.only] if args.only else list(FIELDS):
        log(f"training {name} ({FIELDS[name]}) in {work / name}")
        log(f"wrote {build(name, work, args.threads)}")


if __name__ == "__main__":
    main()
