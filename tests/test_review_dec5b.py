"""Findings of the 2026-12-05 (second session) review, each pinned."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

pytest.importorskip("onnxruntime.quantization")


def _conv_chain(path, n=4, c=8, hw=16):
    """``n`` x (Conv 3x3 c->c + Relu) on 1 x c x hw x hw."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(n):
        inits.append(numpy_helper.from_array(rng.normal(0, 0.1, (c, c, 3, 3)).astype(np.float32), f"w{i}"))
        nodes += [helper.make_node("Conv", [x, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x = f"r{i}"
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, hw, hw])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, c, hw, hw])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_session_keeps_the_convinteger_note(tmp_path):
    # until 2026-12-05b (review): the note was added by the whole-model load only; a Session (predict-many, sweeps,
    # BlockTable) composed the model from cached segments without it
    import hybridperf
    from onnxruntime.quantization import QuantType, quantize_dynamic

    q = tmp_path / "q.onnx"
    quantize_dynamic(str(_conv_chain(tmp_path / "f.onnx")), str(q), weight_type=QuantType.QInt8)
    want = [w for w in hybridperf.predict(str(q), "host-epyc-1c").warnings if "ConvInteger" in w]
    assert len(want) == 1 and want[0].startswith("4 ConvInteger nodes")
    session = hybridperf.Session()
    got = [w for w in session.predict(str(q), "host-epyc-1c").warnings if "ConvInteger" in w]
    assert got == want
    stats = session.stats()  # through the block cache's load (here its whole-model branch), not load_model's
    assert stats["block_models_whole"] + stats["block_models_composed"] == 1


def test_rate_unit_is_one_rule():
    # until 2026-12-05b (review): five copies of "OP/s if integer else FLOP/s", one of them missing uint8
    from hybridperf.precision import Precision, rate_unit

    assert [rate_unit(p) for p in ("int8", "uint8", "int4", "fp32", "bf16", "tf32")] == \
        ["OP/s", "OP/s", "OP/s", "FLOP/s", "FLOP/s", "FLOP/s"]
    assert all(Precision(p.value).rate_unit == rate_unit(p.value) for p in Precision)
