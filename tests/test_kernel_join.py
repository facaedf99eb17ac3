"""Per-kernel ground truth: source-node provenance, profile join, conv shape features."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from hybridperf.analysis.analyze import analyze
from hybridperf.api import predict_on
from hybridperf.residual.features import KERNEL_FEATURES, featurize, kernel_unit_times, valid_tap_fraction


def test_valid_tap_fraction_golden():
    # 3x3, stride 1, padding 1 on a 7-pixel axis: the first and last outputs lose one tap each
    assert valid_tap_fraction(7, 7, 3, 1, 1, 1) == pytest.approx((7 * 3 - 2) / (7 * 3))
    # no padding: every tap is inside
    assert valid_tap_fraction(9, 7, 3, 1, 1, 0) == 1.0
    # deeplab ASPP: dilation 36 = padding 36 on a 16-pixel axis: only the centre tap lands inside
    assert valid_tap_fraction(16, 16, 3, 1, 36, 36) == pytest.approx(16 / (16 * 3))
    # dilation 12 on 16 pixels: centre tap always; left tap for outputs 12..15, right tap for outputs 0..3
    assert valid_tap_fraction(16, 16, 3, 1, 12, 12) == pytest.approx((16 + 4 + 4) / (16 * 3))


@pytest.fixture(scope="module")
def resnet(model_dir):
    path = model_dir / "resnet_like.onnx"
    an = analyze(path, batch=1, provenance=True)
    return onnx.load(str(path)), an


def test_every_timed_op_knows_its_onnx_node(resnet):
    model, an = resnet
    op_of_output = {n.output[0]: n.op_type for n in model.graph.node}
    timed = [r for r in an.analysis.records if r.counts_toward_time]
    assert timed and all(r.var in an.source_nodes for r in timed)
    for r in timed:
        node = an.source_nodes[r.var]
        assert node.startswith("output:")  # the test graph's nodes are unnamed
        if r.op == "relax.nn.conv2d":
            assert op_of_output[node.removeprefix("output:")] == "Conv"
        if r.op == "relax.nn.max_pool2d":
            assert op_of_output[node.removeprefix("output:")] == "MaxPool"


def test_provenance_is_off_by_default(model_dir):
    assert analyze(model_dir / "resnet_like.onnx", batch=1).source_nodes == {}


def test_conv_shape_features(resnet):
    _, an = resnet
    f = featurize(predict_on(an, "host-epyc-1c", None, residual=None))
    area = f.kernels[:, KERNEL_FEATURES.index("conv_kernel_area")]
    stride = f.kernels[:, KERNEL_FEATURES.index("conv_stride")]
    frac = f.kernels[:, KERNEL_FEATURES.index("conv_valid_tap_fraction")]
    conv_rows = [i for i, g in enumerate(f.kernel_groups) if g == "conv"]
    # resnet_like: stem 3x3, two 3x3 per block, one 1x1 shortcut (stride 2)
    assert sorted(area[conv_rows].tolist()) == [1.0] + [9.0] * 5
    assert sorted(stride[conv_rows].tolist()) == [1.0] * 4 + [2.0] * 2
    # the stem conv: 3x3 pad 1 on 32x32 -> (32*3-2)/(32*3) per axis
    assert frac[conv_rows[0]] == pytest.approx(((32 * 3 - 2) / (32 * 3)) ** 2)
    assert np.all(frac[[i for i in range(len(frac)) if i not in conv_rows]] == 0.0)


def test_profile_join_gives_each_conv_kernel_its_node_time(resnet):
    model, an = resnet
    pred = predict_on(an, "host-epyc-1c", None, residual=None)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    # a runtime that times each Conv node (its BN/Relu fused in, as onnxruntime does) at 1, 2, 3 ... ms,
    # every other node at 0.5 ms, plus an unattributed layout reorder
    times = [(f"output:{n.output[0]}", 1e-3 * (i + 1)) for i, n in enumerate(convs)]
    others = [(f"output:{n.output[0]}", 0.5e-3) for n in model.graph.node if n.op_type != "Conv"]
    profile = [*times, *others, ("", 4e-3)]
    attributed = sum(t for _, t in times) + sum(t for _, t in others)
    latency = 2 * attributed
    rows = kernel_unit_times(pred, profile, latency)
    f = featurize(pred)
    assert len(rows) == len(f.kernel_index)
    units = {u: (r, m) for u, r, m in rows}
    # units partition the latency: everything attributed is scaled up to the measured total
    assert sum(m for _, m in units.values()) == pytest.approx(latency)
    # each conv kernel is its own unit, measured at its node's time times one common scale, which is
    # latency / (time of the nodes joined to some kernel): 2x, a little more as a few nodes (Flatten) price no kernel
    conv_units = sorted(m for (u, r, m), g in zip(rows, f.kernel_groups) if g == "conv")
    scale = conv_units[0] / times[0][1]
    assert conv_units == pytest.approx(sorted(scale * t for _, t in times))
    unjoined = attributed - latency / scale
    assert 2.0 <= scale and 0 <= unjoined < 2 * 0.5e-3 + 1e-12
    # a unit's roofline is the sum of its kernels'
    for u, (r, _) in units.items():
        assert r == pytest.approx(sum(f.kernel_roofline_s[i] for i, row in enumerate(rows) if row[0] == u))


def test_renamed_fused_node_is_shared_by_its_family_group(resnet):
    """A profiled node whose name matches no source node (onnxruntime renames some fusions) goes to the
    kernels of its op type's group; a layout reorder stays unattributed (spread by the final scale)."""
    model, an = resnet
    pred = predict_on(an, "host-epyc-1c", None, residual=None)
    f = featurize(pred)
    profile = [(f"output:{n.output[0]}", 1e-3) for n in model.graph.node]
    latency = 0.1
    base = kernel_unit_times(pred, profile, latency)
    extra = kernel_unit_times(pred, [*profile, ("", 5e-3, "MaxPool"), ("", 7e-3, "ReorderOutput")], latency)
    assert sum(m for _, _, m in {u: (u, r, m) for u, r, m in extra}.values()) == pytest.approx(latency)
    pool = [i for i, g in enumerate(f.kernel_groups) if g == "pool"]
    other = [i for i, g in enumerate(f.kernel_groups) if g != "pool" and base[i][2] > 0]
    assert pool and other
    c = extra[other[0]][2] / base[other[0]][2]
    assert c < 1  # the same latency now covers more profiled time
    assert all(extra[i][2] == pytest.approx(c * base[i][2]) for i in other)
    assert all(extra[i][2] > c * base[i][2] * 1.5 for i in pool)
