"""Peak memory and time of loading a places256-sized checkpoint, ours against a naive load.

    python benchmarks/load_memory.py            # a 2.2 GB random-weight checkpoint (written, then deleted)
    python benchmarks/load_memory.py --quick    # the demo architecture, seconds

Each load runs in a fresh child process, which reports its resident set size before the
load and its high-water mark (``VmHWM``, what ``ru_maxrss`` reports) right after it.
Memory-mapped checkpoint pages that the load reads count in the RSS, as they should: they
occupy RAM.

Target (from the issue): peak RSS ≤ 1.3 × the checkpoint's size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Pauser, base_parser, environment, markdown_table, write_result  # noqa: E402

NAME = "load_memory"
TARGET = 1.3
HEADERS = ["method", "dtype", "load s", "RSS before MB", "peak RSS MB", "peak / ckpt", "(peak − before) / ckpt",
           "target ≤ 1.3×", "RSS, all weights read MB"]

# Run in the child: import first (so torch's own footprint is measured separately), then load.
CHILD = r"""
import json, os, resource, sys, time
import torch
from ipainter_nb.core.models import load_model
from ipainter_nb.core.presets import GUIDED_DIFFUSION_256, PRESETS
from ipainter_nb.core.unet import build_unet

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024  # kB -> bytes
    return 0

method, path, arch, dtype = sys.argv[1:5]
dtype = getattr(torch, dtype)
config = GUIDED_DIFFUSION_256 if arch == "places256" else PRESETS[arch].unet_config
before = status("VmRSS")
start = time.perf_counter()
if method.startswith("load_model"):  # on CPU in float32 the default packs the conv weights
    model = load_model(path, preset=arch, device="cpu", dtype=dtype, prepack=False if method.endswith("unpacked") else None)
    unet = model.unet
else:  # naive: allocate the network, read the whole file into memory, copy it in
    unet = build_unet(config)
    state = torch.load(path, map_location="cpu", weights_only=True)
    unet.load_state_dict(state)
    del state
    unet = unet.to(dtype).eval()
seconds = time.perf_counter() - start
packed = [m.packed_weight for m in unet.modules() if hasattr(m, "packed_weight")]  # resident already
params = sum(p.numel() * p.element_size() for p in unet.parameters()) + sum(w.nbytes for w in packed)
peak = status("VmHWM")
# steady state: weights never read during the load (kept memory-mapped) become resident on first use
with torch.no_grad():
    for p in unet.parameters():
        p.float().sum()
print(json.dumps({"before": before, "peak": peak, "after": status("VmRSS"), "seconds": seconds,
                  "param_bytes": params}))
"""


def start_child(method: str, path: Path, arch: str, dtype: str, threads: int | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads:  # a smoke run beside busy processes: one thread avoids waiting at OpenMP barriers
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.Popen([sys.executable, "-c", CHILD, method, str(path), arch, dtype],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish_child(proc: subprocess.Popen, what: str) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{what} load failed:\n{err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def write_checkpoint(arch: str, folder: Path) -> Path:
    """A random-weight checkpoint with guided-diffusion's key names, as torch.save writes it."""
    import torch

    from ipainter_nb.core.presets import GUIDED_DIFFUSION_256, PRESETS
    from ipainter_nb.core.unet import build_unet

    torch.manual_seed(0)
    config = GUIDED_DIFFUSION_256 if arch == "places256" else PRESETS[arch].unet_config
    path = folder / f"{arch}_random.pt"
    state = build_unet(config).state_dict()
    torch.save(state, path)
    del state
    return path


def main(argv: list[str] | None = None) -> str:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--dir", default=None, help="where to write the temporary checkpoint (default: system temp)")
    args = p.parse_args(argv)
    arch = "demo" if args.quick else "places256"
    rows = []
    with tempfile.TemporaryDirectory(prefix="load_memory_", dir=args.dir) as tmp:
        path = write_checkpoint(arch, Path(tmp))
        size = path.stat().st_size
        pauser = Pauser(args.pause_pid, args.pause_gap)
        plan = [("load_model (mmap + assign)", "load_model", "float32"),
                ("load_model (mmap + assign)", "load_model", "float16"),
                ("load_model (mmap + assign), prepack=False", "load_model_unpacked", "float32"),
                ("naive (build fp32, torch.load, load_state_dict)", "naive", "float32"),
                ("naive (build fp32, torch.load, load_state_dict)", "naive", "float16")]
        if args.quick:
            # a smoke run: one load of each kind, side by side (each child spends seconds importing torch)
            plan = [plan[2], plan[3]]  # (packing initialises oneDNN: tens of MB, a fixed cost beside 25 MB)
            procs = [start_child(method, path, arch, dtype, threads=1) for _, method, dtype in plan]
            infos = [finish_child(proc, f"{m} {d}") for proc, (_, m, d) in zip(procs, plan)]
        else:
            infos = []
            for _, method, dtype in plan:  # one at a time: they must not disturb each other
                with pauser.block():
                    infos.append(finish_child(start_child(method, path, arch, dtype), f"{method} {dtype}"))
        for (label, method, dtype), info in zip(plan, infos):
            peak = info["peak"]
            verdict = "met" if peak <= TARGET * size else "MISSED"
            rows.append([label, dtype, f"{info['seconds']:.2f}", f"{info['before'] / 2**20:.0f}",
                         f"{peak / 2**20:.0f}", f"{peak / size:.2f}×", f"{(peak - info['before']) / size:.2f}×",
                         verdict, f"{info['after'] / 2**20:.0f}"])
            print(f"  {label} {dtype}: peak {peak / 2**20:.0f} MB in {info['seconds']:.2f}s", file=sys.stderr)
    env = environment(pauser)
    table = markdown_table(HEADERS, rows)
    text = (f"## Checkpoint loading: peak memory ({arch}, random weights, checkpoint {size / 2**20:.0f} MB"
            f" = {size / 1e9:.2f} GB)\n\n{table}\n\n"
            "Peak RSS is the child process's high-water mark (VmHWM) at the end of the load, including "
            "the 'RSS before' of the Python interpreter and torch; the '(peak − before)' column leaves that out. "
            "load_model keeps tensors that need no conversion memory-mapped, so some are not read during the "
            "load; the last column is the RSS once every weight has been read (the steady state). In float32 on CPU "
            "load_model packs the convolution weights for oneDNN by default (core/cpu_prepack.py), one layer at "
            "a time, giving back each layer's file pages once it is packed; prepack=False keeps the plain weights.\n\n"
            f"_{env}_\n")
    print(text)
    write_result(NAME, text, args.results_dir, quick=args.quick)
    return text


if __name__ == "__main__":
    main()
