"""Measure cuDNN's workspace per convolution on a GPU: what the PyTorch CUDA memory model has to assume.

The memory model (``hybridperf.estimate.runtime_memory``) adds, for fp16 / bf16 convolutions with a spatial
kernel, cuDNN's NHWC copies of input, filter and output as one workspace block
(``cudnn_nhwc_workspace_bytes``), and nothing for cuDNN's FFT / Winograd workspaces, which its heuristics pick
per shape. The H100 rows show only whole-model peaks and a kernel trace. This script measures each
convolution on its own, under the measurement's settings (``cudnn.benchmark`` off, TF32 off, ``model.half()``
for fp16), so the rule can be checked convolution by convolution:

* ``conv_workspace.csv``: one row per ``nn.Conv1d/2d/3d`` call: shapes, groups, strides, input / output /
  filter bytes, ``workspace_bytes`` = ``max_memory_allocated`` during the call - what was allocated before it -
  the output's block (``cuda_block_bytes``), and ``predicted_nhwc_bytes`` (the model's rule);
* ``whole_model.csv``: per configuration, ``max_memory_allocated`` and ``max_memory_reserved`` around one
  inference after warm-up (the reserved figure, which ``calibration/h100-sxm`` lacks, is what ``nvidia-smi``
  and an OOM see; the allocator's segment rounding makes it the larger).

Usage, when a GPU is lent (about 2-4 minutes for the default models; stops starting new ones at the deadline)::

    python -m benchmarks.cudnn_conv_workspace --out "$OUT" [--models vgg16,googlenet] [--batches 1,8,32]
        [--dtypes fp32,fp16] [--deadline-s 400]

Reading it: rows with ``workspace_bytes`` close to ``predicted_nhwc_bytes`` confirm the NHWC rule; fp32 rows with
a large workspace (several times the tensors) are FFT choices (``googlenet``, ``vgg*``, ``alexnet`` at batch 32,
``hf_mobilevit_small`` at batch 1 in the H100 trace); a rule for them would be fitted on this file, never on the
scored rows.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

#: the H100 rows' models the diagnosis points at (FFT in the fp32 trace; NHWC copies in fp16; grouped, depthwise
#: and 1x1 convolutions for the rule's exclusions)
DEFAULT_MODELS = ("vgg11", "vgg16", "googlenet", "alexnet", "hf_mobilevit_small", "hf_segformer_b0", "resnet50",
                  "inception_v3", "regnet_y_400mf", "resnext50_32x4d", "mobilenet_v2", "squeezenet1_0",
                  "efficientnet_v2_s", "wav2vec2_base")
CONV_FIELDS = ("model", "batch", "dtype", "layer", "input_shape", "weight_shape", "groups", "stride", "padding",
               "input_bytes", "output_bytes", "weight_bytes", "workspace_bytes", "predicted_nhwc_bytes")
WHOLE_FIELDS = ("model", "batch", "dtype", "max_memory_allocated", "max_memory_reserved", "allocated_before",
                "activation_peak_bytes", "status", "error")


def _shape_for(model: str) -> tuple[int | None, int | None]:
    """(resolution, seq_len) the H100 rows used for ``model`` (zoo defaults when it has no row)."""
    from benchmarks.memory_runtime import _h100_rows

    for r in _h100_rows():
        if r["model"] == model:
            return (int(r["resolution"]) if r["resolution"] else None, int(r["seq_len"]) if r["seq_len"] else None)
    return None, None


def measure_model(torch, name: str, batch: int, dtype: str) -> tuple[list[dict], dict]:
    """Per-convolution workspaces and the whole-model peaks of one configuration."""
    from benchmarks import zoo
    from hybridperf.estimate.runtime_memory import cuda_block_bytes, cudnn_nhwc_workspace_bytes
    from hybridperf.measure.torch_cuda import peak_around_one_inference

    tdt = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    res, seq = _shape_for(name)
    model = zoo.build(name, device="cuda").to(tdt)
    x = zoo.example_inputs(name, batch, res, seq, device="cuda", dtype=tdt)
    rows: list[dict] = []
    state: dict = {}

    def pre(mod, args):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        state["base"] = torch.cuda.memory_allocated()

    def post(mod, args, out):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - state["base"]
        inp = args[0]
        esize = inp.element_size()
        w = tuple(mod.weight.shape)
        rows.append({"model": name, "batch": batch, "dtype": dtype, "layer": state["names"][mod],
                     "input_shape": "x".join(map(str, inp.shape)), "weight_shape": "x".join(map(str, w)),
                     "groups": mod.groups, "stride": "x".join(map(str, mod.stride)),
                     "padding": "x".join(map(str, mod.padding)) if not isinstance(mod.padding, str) else mod.padding,
                     "input_bytes": inp.numel() * esize, "output_bytes": out.numel() * esize,
                     "weight_bytes": math.prod(w) * esize,
                     "workspace_bytes": max(0, peak - cuda_block_bytes(out.numel() * esize)),
                     "predicted_nhwc_bytes": cudnn_nhwc_workspace_bytes(inp.numel() * esize, out.numel() * esize, w,
                                                                        mod.groups, esize)})

    convs = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    with torch.inference_mode():
        for _ in range(3):  # warm-up: handles, cuBLAS workspaces, cuDNN's plan cache
            model(*x)
        torch.cuda.synchronize()
        p = peak_around_one_inference(model, x)
        whole = {"model": name, "batch": batch, "dtype": dtype, "max_memory_allocated": p.max_allocated_bytes,
                 "max_memory_reserved": p.max_reserved_bytes, "allocated_before": p.allocated_before_bytes,
                 "activation_peak_bytes": p.max_allocated_bytes - p.allocated_before_bytes, "status": "ok", "error": ""}
        state["names"] = {m: n for n, m in model.named_modules() if isinstance(m, convs)}
        handles = [m.register_forward_pre_hook(pre) for m in state["names"]]
        handles += [m.register_forward_hook(post) for m in state["names"]]
        model(*x)
        for h in handles:
            h.remove()
    del model, x
    torch.cuda.empty_cache()
    return rows, whole


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.cudnn_conv_workspace", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder (conv_workspace.csv, whole_model.csv)")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--dtypes", default="fp32,fp16")
    ap.add_argument("--deadline-s", type=float, default=400.0, help="start no new model after this many seconds")
    args = ap.parse_args(argv)

    try:
        import torch
    except ImportError:
        print("needs torch (and a CUDA device): run it on the GPU machine", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("no CUDA device: this script measures on a GPU", file=sys.stderr)
        return 2
    torch.set_float32_matmul_precision("highest")  # as benchmarks/gpu_measure.py: fp32 really fp32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with (out / "conv_workspace.csv").open("w", newline="") as fc, (out / "whole_model.csv").open("w", newline="") as fw:
        conv_w, whole_w = csv.DictWriter(fc, CONV_FIELDS), csv.DictWriter(fw, WHOLE_FIELDS)
        conv_w.writeheader()
        whole_w.writeheader()
        for name in args.models.split(","):
            if time.perf_counter() - t0 > args.deadline_s:
                print(f"deadline: {name} and later models not measured", file=sys.stderr)
                break
            for dtype in args.dtypes.split(","):
                for b in (int(v) for v in args.batches.split(",")):
                    try:
                        rows, whole = measure_model(torch, name, b, dtype)
                    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
                        torch.cuda.empty_cache()
                        whole_w.writerow({"model": name, "batch": b, "dtype": dtype, "status": "error",
                                          "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})
                        continue
                    conv_w.writerows(rows)
                    whole_w.writerow(whole)
                    fc.flush()
                    fw.flush()
                    ws = sum(r["workspace_bytes"] for r in rows)
                    print(f"[{time.perf_counter() - t0:6.1f}s] {name} {dtype} b{b}: {len(rows)} convs, "
                          f"largest workspace {max((r['workspace_bytes'] for r in rows), default=0) / 2**20:.1f} MiB, "
                          f"sum {ws / 2**20:.1f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
