"""Depthwise 1-D convolutions in onnxruntime on a CPU: measured against the product's price, lone nodes.

Found on 2026-12-07 after plan (22) (an exploration, not a plan): Qwen2.5-Omni's BigVGAN vocoder was still predicted
26-32 % too fast. Its anti-aliased activations up- and down-sample every signal with a depthwise ``ConvTranspose`` /
``Conv`` of kernel 12, stride 2 (groups = channels): onnxruntime's profile of the 15-frame export with 1 thread gave
83 ms to its 97 depthwise ``ConvTranspose`` nodes and 70 ms to its 109 depthwise ``Conv`` nodes, where the product
priced their kernels at 2.8 and 6.3 ms. onnxruntime turns 2-D convolutions into its blocked NCHWc kernels; a 1-D
depthwise convolution runs as one small matrix product per channel (one output channel, the taps as its inner
dimension), far from the sheet's peak. The learned CPU models' training rows hold depthwise convolutions only in 2-D
(MobileNet, EfficientNet, ConvNeXt, ...), which onnxruntime runs fast, and none in 1-D (their one grouped 1-D
convolution, wav2vec2's positional embedding, has 48 channels a group).

Writes a table: each shape's fastest of 15 runs (onnxruntime, lone node, random weights) against the product's
learned and roofline time on this machine's sheet, 1 and 2 threads; rows to ``<out>/depthwise_conv1d.csv`` with the
host's columns and ``lscpu``.

Usage::

    taskset -c 1 python -m benchmarks.depthwise_conv1d --threads 1 --out calibration/host-epyc-zen4-depthwise1d
    python -m benchmarks.depthwise_conv1d --threads 2 --out calibration/host-epyc-zen4-depthwise1d
    taskset -c 1 python -m benchmarks.depthwise_conv1d --probe --threads 1    # plan (23): the sheets' figures
    python -m benchmarks.depthwise_conv1d --probe --threads 2
    python -m benchmarks.depthwise_conv1d --report --out calibration/host-epyc-zen4-depthwise1d \\
        > benchmarks/results/depthwise_conv1d.md
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

OUT = Path("calibration") / "host-epyc-zen4-depthwise1d"
CSV = "depthwise_conv1d.csv"
#: (op, channels, length, kernel, stride): BigVGAN's anti-aliasing (12, stride 2), a Conformer's depthwise convolution
#: (31), Mamba's causal one (4), and kernels between
SHAPES = [(op, c, n, k, s) for op in ("Conv", "ConvTranspose")
          for c, n, k, s in ((256, 4096, 3, 1), (256, 4096, 4, 1), (256, 4096, 7, 1), (256, 4096, 12, 2),
                             (256, 4096, 24, 1), (512, 4096, 31, 1), (256, 1024, 12, 2), (256, 16384, 12, 2))]
SHEETS = {1: "host-epyc-zen4-1c", 2: "host-epyc-zen4-2c"}
FIELDS = ["threads", "op", "channels", "length", "kernel", "stride", "macs", "fastest_s", "learned_s", "roofline_s"]


def _model(op: str, c: int, n: int, k: int, s: int, cout: int | None = None, groups: int | None = None):
    """A lone ``op`` (``Conv`` or ``ConvTranspose``) node over ``c`` channels x ``n`` steps, kernel ``k``, stride
    ``s``, and its multiply-adds: depthwise by default (``cout = groups = c``), dense with ``groups=1``."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    cout, groups = c if cout is None else cout, c if groups is None else groups
    out = (n - k) // s + 1 if op == "Conv" else (n - 1) * s + k
    shape = (cout, c // groups, k) if op == "Conv" else (c, cout // groups, k)
    w = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    graph = helper.make_graph([helper.make_node(op, ["x", "w"], ["y"], group=groups, kernel_shape=[k], strides=[s])],
                              "conv1d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, out])],
                              initializer=[numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, cout * (c // groups) * k * (out if op == "Conv" else n)


def timed_and_priced(model, c: int, n: int, threads: int, spec, runs: int) -> dict[str, float]:
    """A lone node of :func:`_model` (input ``c`` channels x ``n`` steps): the fastest of ``runs`` onnxruntime runs
    with ``threads`` (3 warm-up runs) and the product's learned and roofline time on ``spec`` (an id or a sheet)."""
    import numpy as np

    from benchmarks.ort_alone import fastest_s
    from hybridperf.api import analyze, predict_on
    from hybridperf.measure.probe import _ort_session

    sess = _ort_session(model.SerializeToString(), threads=threads, spin=False)
    feed = {"x": np.random.default_rng(1).standard_normal((1, c, n)).astype(np.float32)}
    pred = predict_on(analyze(model), spec)
    return {"fastest_s": fastest_s(sess, feed, runs, 3), "learned_s": pred.latency_s,
            "roofline_s": pred.roofline_latency_s}


def measure(threads: int, out: Path = OUT, runs: int = 15) -> Path:
    """Time every shape of :data:`SHAPES` with ``threads`` and price it on :data:`SHEETS` ``[threads]``; rows appended
    to ``out / depthwise_conv1d.csv``."""
    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start

    host = start(out)
    rows = []
    for op, c, n, k, s in SHAPES:
        model, macs = _model(op, c, n, k, s)
        rows.append({"threads": threads, "op": op, "channels": c, "length": n, "kernel": k, "stride": s, "macs": macs,
                     **timed_and_priced(model, c, n, threads, SHEETS[threads], runs), **host_columns(host)})
    append_rows(out / CSV, FIELDS + HOST_FIELDS, rows)
    return out / CSV


PROBE_CSV = "depthwise_probe.csv"
PROBE_FIELDS = ["round", "threads", "class", "fastest_s", "ns_per_mac", "ns_per_output"]


def probe(threads: int, out: Path = OUT, rounds: int = 3) -> Path:
    """Time :func:`hybridperf.measure.probe.depthwise_conv1d` (what ``hybridperf probe`` writes as a CPU sheet's
    ``depthwise_conv1d``) ``rounds`` times with ``threads``; rows appended to ``out / depthwise_probe.csv``."""
    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import depthwise_conv1d

    host = start(out)
    for r in range(rounds):
        d = depthwise_conv1d(threads=threads)
        append_rows(out / PROBE_CSV, PROBE_FIELDS + HOST_FIELDS,
                    [{"round": r, "threads": threads, "class": k,
                      "fastest_s": " ".join(f"{n}={t:.6g}" for n, t in d.fastest_s.items() if n.startswith(f"{k} k")),
                      "ns_per_mac": 1e9 * v, "ns_per_output": 1e9 * d.per_output_s[k], **host_columns(host)}
                     for k, v in d.per_mac_s.items()])
    return out / PROBE_CSV


def sheet_figures(out: Path = OUT) -> dict:
    """(threads, sheet key) -> the median ns per multiply-add (``<class>_mac``) or per output (``<class>_output``) of
    ``depthwise_probe.csv``: the Zen 4 sheets' figures."""
    from benchmarks.ort_alone import medians

    mac = medians(out / PROBE_CSV, lambda r: (int(r["threads"]), f"{r['class']}_mac"), "ns_per_mac")
    output = medians(out / PROBE_CSV, lambda r: (int(r["threads"]), f"{r['class']}_output"), "ns_per_output")
    return dict(sorted({**mac, **output}.items()))


def report(out: Path = OUT) -> str:
    """Markdown of ``depthwise_conv1d.csv``: measured against learned and roofline, per shape and thread count."""
    with (out / CSV).open() as f:
        rows = list(csv.DictReader(f))
    lines = ["# Depthwise 1-D convolutions in onnxruntime against the product's price (lone nodes)", "",
             f"Reproduce: see the docstring of `benchmarks/depthwise_conv1d.py`. Host: `{out}/lscpu.txt`. An "
             "exploration (2026-12-07), not a plan.", "",
             "| threads | op | channels x length | kernel / stride | measured us | ns per MAC | learned us (x) | "
             "roofline us (x) |", "|---:|---|---|---|---:|---:|---:|---:|"]
    ratios: dict[int, list[float]] = {}
    for r in rows:
        t, learned, roof = float(r["fastest_s"]), float(r["learned_s"]), float(r["roofline_s"])
        ratios.setdefault(int(r["threads"]), []).append(t / learned)
        lines.append(f"| {r['threads']} | {r['op']} | {r['channels']} x {r['length']} | {r['kernel']} / {r['stride']} "
                     f"| {t * 1e6:.0f} | {1e9 * t / int(r['macs']):.3f} | {learned * 1e6:.0f} ({t / learned:.1f}) | "
                     f"{roof * 1e6:.0f} ({t / roof:.1f}) |")
    lines += ["", "(x): measured over the product's time on the sheet without `depthwise_conv1d` figures. " + "; ".join(
        f"{t} thread(s): measured / learned {min(v):.1f}-{max(v):.1f}x, median {statistics.median(v):.1f}x"
        for t, v in sorted(ratios.items())), ""]
    if (out / PROBE_CSV).exists():
        lines += ["`hybridperf probe`'s figures (`measure.probe.depthwise_conv1d`: 256 channels x 4096 steps, kernels 3 "
                  "and 31 at stride 1, 4 and 12 at stride 2, fitted per multiply-add and per output), median over "
                  "rounds: the Zen 4 sheets' `depthwise_conv1d` (ns):", "", "| threads | figure | ns |",
                  "|---:|---|---:|"]
        lines += [f"| {t} | {k} | {v:.4f} |" for (t, k), v in sheet_figures(out).items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, choices=(1, 2), default=1)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--report", action="store_true", help="instead: print the markdown of the rows under --out")
    p.add_argument("--probe", action="store_true", help="instead: time the probe's figures (3 rounds) at --threads")
    a = p.parse_args(argv)
    print(report(a.out) if a.report else probe(a.threads, a.out) if a.probe else measure(a.threads, a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
