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


def test_dtype_bits_keeps_its_cache():
    # until 2026-12-05b (review): rate_unit was inserted between @functools.cache and dtype_bits (9x slower per tensor)
    from hybridperf.precision import dtype_bits, rate_unit

    assert hasattr(dtype_bits, "cache_info") and not hasattr(rate_unit, "cache_info")


def _qdq_conv(tmp_path):
    """A QDQ model with int8 activations, whose convolutions onnxruntime's x86 optimiser leaves float32."""
    from test_qdq_float_convs_dec5b import _float_convs, _static

    return _static(_float_convs(tmp_path / "f.onnx"), tmp_path / "q.onnx", "QInt8")


def test_qdq_with_unnamed_nodes_is_not_matched_by_name(tmp_path):
    # until 2026-12-05b (review): anchors matched by node name; with every name empty, "21 of 21 QDQ matmuls stay
    # float32" was claimed of a ResNet-18 (11 of 20 convolutions do) and one kernel was widened, unmarked
    import hybridperf
    from hybridperf.estimate import pricing

    q = _qdq_conv(tmp_path)
    m = onnx.load(str(q))
    for node in m.graph.node:
        node.name = ""
    unnamed = tmp_path / "unnamed.onnx"
    onnx.save(m, str(unnamed))
    pred = hybridperf.predict(str(unnamed), "host-epyc-zen4-1c")
    why = "its QDQ convolutions / matmuls have no unique node names to match"
    assert pricing.ORT_QDQ_UNCHECKED.format(why=why) in pred.warnings
    assert pricing.ORT_QDQ_UNVERIFIED in pred.latency_note


def test_qdq_as_an_in_memory_proto_says_it_was_not_checked(tmp_path):
    # until 2026-12-05b (review): predict(onnx.load(f)) kept int8 pricing with nothing said (the file: float32 priced)
    import hybridperf
    from hybridperf.estimate import pricing

    pred = hybridperf.predict(onnx.load(str(_qdq_conv(tmp_path))), "host-epyc-zen4-1c")
    assert pricing.ORT_QDQ_UNCHECKED.format(why="an in-memory onnx.ModelProto: pass its file") in pred.warnings
    assert pricing.ORT_QDQ_UNVERIFIED in pred.latency_note


def test_qdq_float_note_says_a_precision_override_reprices_them(tmp_path):
    # until 2026-12-05b (review): --precision int8 re-priced the float32 convolutions at int8 while the note said float32
    import hybridperf

    q = str(_qdq_conv(tmp_path))
    plain = [w for w in hybridperf.predict(q, "host-epyc-zen4-1c").warnings if "stay float32" in w]
    over = [w for w in hybridperf.predict(q, "host-epyc-zen4-1c", precision="int8").warnings if "stay float32" in w]
    assert len(plain) == 1 and not plain[0].endswith("--precision int8, as every float32 kernel)")
    assert over == [plain[0] + " (then re-priced at --precision int8, as every float32 kernel)"]
