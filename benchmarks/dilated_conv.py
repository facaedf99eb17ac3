"""Does onnxruntime's CPU convolution skip the kernel taps that land in the zero padding?

One 3x3 convolution (256 -> 256 channels, 32x32 map, padding = dilation) per
dilation; nominal FLOPs are the same for every dilation, the share of taps that
read the input (:func:`hybridperf.residual.features.valid_tap_fraction`, both axes) falls
from 0.96 to 0.11. Where the time follows the valid taps, a roofline over
nominal FLOPs overestimates dilated convolutions (deeplab's ASPP) on this runtime.

Usage::

    taskset -c 0 python -m benchmarks.dilated_conv      # prints a table, writes benchmarks/results/dilated_conv.md
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

C, HW, K = 256, 32, 3
DILATIONS = (1, 2, 4, 8, 12, 16, 24, 31, 36)


def conv_model(dilation: int):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((C, C, K, K)).astype(np.float32) * 0.01, "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], dilations=[dilation] * 2, pads=[dilation] * 4,
                            kernel_shape=[K, K], name="conv")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, HW, HW])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, C, HW, HW])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def main() -> int:
    import argparse

    # no options: --help prints the usage instead of running (it measured and rewrote the results file until
    # 2026-12-03)
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    import onnx
    import onnxruntime as ort

    from hybridperf.report.format import table
    from hybridperf.residual.features import valid_tap_fraction

    flops = 2 * C * C * K * K * HW * HW
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for dil in DILATIONS:
            path = Path(d) / f"conv_d{dil}.onnx"
            onnx.save(conv_model(dil), str(path))
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            x = {"x": np.random.default_rng(1).standard_normal((1, C, HW, HW)).astype(np.float32)}
            for _ in range(3):
                s.run(None, x)
            ts = []
            for _ in range(15):
                t0 = time.perf_counter()
                s.run(None, x)
                ts.append(time.perf_counter() - t0)
            t = statistics.median(ts)
            frac = valid_tap_fraction(HW, HW, K, 1, dil, dil) ** 2
            rows.append((dil, frac, t))
    t1 = rows[0][2] / rows[0][1]  # seconds per valid-tap-share at dilation 1
    lines = ["# Dilated 3x3 convolution on onnxruntime (CPU, 1 thread)", "",
             "Reproduce: `taskset -c 0 python -m benchmarks.dilated_conv`", "",
             f"onnxruntime {ort.__version__}; {C} -> {C} channels, {HW}x{HW} map, padding = dilation; nominal "
             f"{flops / 1e9:.3f} GFLOP at every dilation.", "",
             table([[str(dil), f"{frac:.3f}", f"{t * 1e3:.3f} ms", f"{flops / t / 1e9:.1f}", f"{t / (t1 * frac):.2f}"]
                    for dil, frac, t in rows],
                   ["dilation", "valid-tap share", "median time", "nominal GFLOP/s", "time / (valid-tap share x t(d=1) / share(d=1))"],
                   "rrrrr"), ""]
    text = "\n".join(lines)
    out = Path("benchmarks") / "results" / "dilated_conv.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
