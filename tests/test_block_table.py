"""The block table (:mod:`hybridperf.block_table`): variants priced from their blocks' figures equal the session's."""

from __future__ import annotations

import pytest

from benchmarks.nas_sweep import Arch, block_keys, build_blocks
from hybridperf.api import Session
from hybridperf.block_table import BlockTable
from hybridperf.errors import InputError
from sweep_variants import SMALL

#: the sweep's devices: a CPU sheet priced by its roofline (``roofline_only``: it has the cross-host model), two GPUs
#: priced by the cross-device model
DEVICES = ("host-epyc-zen4-1c", "t4", "a100-sxm-80gb")
ROOFLINE = ("host-epyc-zen4-1c",)


def _residual(device):
    return None if device in ROOFLINE else "auto"
#: every block of this variant is in SMALL[0] or SMALL[1] (stages 0 and 2 as SMALL[1]'s, the rest as SMALL[0]'s)
MIXED = Arch(64, (2, 2, 2, 2, 2), ((5, 3), (3, 5), (3, 5), (3, 5), (3, 5)), ((4, 3), (3, 4), (3, 4), (3, 4), (3, 4)))
#: MIXED with one block never seen (kernel 7, expansion 6 in stage 3)
NEW = Arch(64, (2, 2, 2, 2, 2), ((5, 3), (3, 5), (3, 5), (3, 7), (3, 5)), ((4, 3), (3, 4), (3, 4), (3, 6), (3, 4)))


class _Builds:
    """``build`` callables that count their calls."""

    def __init__(self) -> None:
        self.calls = 0

    def of(self, arch: Arch, seed: int):
        def build():
            self.calls += 1
            return build_blocks(arch, seed)
        return build


@pytest.fixture(scope="module")
def learned():
    """A table that learned SMALL[0] and SMALL[1] through its session, and their predictions."""
    table = BlockTable(DEVICES, roofline_only=ROOFLINE)
    builds = _Builds()
    first = [table.predict(block_keys(Arch(*SMALL[i])), builds.of(Arch(*SMALL[i]), i)) for i in (0, 1)]
    return table, builds, first


def _session_figures(arch: Arch, seed: int) -> dict[str, tuple]:
    s = Session(keep_analyses=0)
    analyzed = s.analyze(build_blocks(arch, seed)[0])
    out = {}
    for d in DEVICES:
        p = s.predict_on(analyzed, d, residual=_residual(d))
        out[p.spec.id] = (p.latency_s, p.energy_j, p.flops)
    return out


def test_known_variant_priced_from_the_table_equals_session(learned):
    table, builds, first = learned
    assert table.table_devices() == DEVICES
    assert [p.from_table for f in first for p in f.values()] == [False] * 6  # learned through the session
    assert all(p.peak_memory_bytes > 0 for f in first for p in f.values())  # the session's peak
    assert builds.calls == 2
    assert table.known(block_keys(MIXED))
    got = table.predict(block_keys(MIXED), builds.of(MIXED, 7))
    assert builds.calls == 2  # no model built
    want = _session_figures(MIXED, 7)
    for d in DEVICES:
        p = got[d]
        assert p.from_table
        assert (p.latency_s, p.energy_j, p.flops) == want[d]  # identical, not close
        assert p.peak_memory_bytes is None  # TVM's plan of the whole stream is not composed: unknown


def test_unknown_block_goes_through_the_session_and_is_learned(learned):
    table, builds, _ = learned
    assert not table.known(block_keys(NEW))
    calls = builds.calls
    got = table.predict(block_keys(NEW), builds.of(NEW, 8))
    assert builds.calls == calls + 1
    assert not any(p.from_table for p in got.values())
    assert table.known(block_keys(NEW))
    again = table.predict(block_keys(NEW), builds.of(NEW, 9))
    assert builds.calls == calls + 1
    assert all(p.from_table for p in again.values())
    assert {d: (p.latency_s, p.energy_j, p.flops) for d, p in again.items()} == \
        {d: (p.latency_s, p.energy_j, p.flops) for d, p in got.items()}


def test_block_count_must_match_the_build(learned):
    table, builds, _ = learned
    keys = (*block_keys(NEW)[:-1], ("head", 96))  # an unknown head: the table builds the model
    with pytest.raises(InputError) as err:
        table.predict((*keys, ("extra",)), builds.of(NEW, 10))
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{len(keys) + 1} block keys need {len(keys)} tensors between blocks")


def test_bad_table_arguments():
    with pytest.raises(InputError, match="at least one device"):
        BlockTable([])
    with pytest.raises(InputError, match="block cache"):
        BlockTable(["t4"], Session(block_cache=False))
    with pytest.raises(InputError, match="repeat"):
        BlockTable(["t4", "t4"])
    with pytest.raises(InputError, match="at least one block key"):
        BlockTable(["t4"]).predict((), lambda: None)
    with pytest.raises(InputError, match="roofline_only names devices not in the table"):
        BlockTable(["t4"], roofline_only=["host-epyc-zen4-1c"])


def test_a_cpu_sheet_with_its_learned_model_goes_through_the_session():
    """Without ``roofline_only`` a CPU sheet is priced by the cross-host model (whole-model features): not from
    the table; with it, from the table at its roofline."""
    assert BlockTable(DEVICES).table_devices() == DEVICES[1:]
    assert BlockTable(DEVICES, roofline_only=ROOFLINE).table_devices() == DEVICES


def test_keys_that_do_not_determine_the_blocks_are_an_error(learned):
    table, builds, _ = learned
    keys = (*block_keys(MIXED)[:-1], ("head", 999))  # an unknown head: the table builds the model ...
    wrong = Arch(64, (2, 2, 2, 2, 2), ((5, 3), (3, 5), (3, 5), (3, 3), (3, 5)), ((4, 3), (3, 4), (3, 4), (3, 3), (3, 4)))
    with pytest.raises(InputError, match="priced differently in two variants"):  # ... whose stage 3 is not MIXED's
        table.predict(keys, builds.of(wrong, 11))


def test_predict_many_equals_one_by_one(learned):
    table, builds, _ = learned
    # SMALL[0]'s stages 0-3 and SMALL[1]'s stage 4
    other = Arch(64, (2, 2, 2, 2, 3), ((3, 5), (3, 5), (3, 5), (3, 5), (3, 5, 3)), ((3, 4), (3, 4), (3, 4), (3, 4), (3, 4, 3)))
    later = Arch(96, *SMALL[2][1:])  # unknown: learned through the session between the known ones
    archs = [MIXED, other, later, Arch(*SMALL[0]), MIXED]
    calls = builds.calls
    many = table.predict_many([(block_keys(a), builds.of(a, 20 + i)) for i, a in enumerate(archs)])
    assert builds.calls == calls + 1  # only `later` is built
    assert [all(p.from_table for p in m.values()) for m in many] == [True, True, False, True, True]
    one = [table.predict(block_keys(a), builds.of(a, 30 + i)) for i, a in enumerate(archs)]
    assert many[:2] + many[3:] == one[:2] + one[3:]  # every field identical (`==`), the composed ones included
    assert many[0] == many[4]


def _transformer(layers: tuple[tuple[int, int], ...], seed: int = 0):
    """A pre-norm transformer encoder, 1 x 8 tokens x 16 (HAT / AutoFormer-style space): per layer its
    ``(heads, mlp width)``, heads of 8; every LayerNorm reads one scale and bias, every attention one
    softmax scale and its heads' Reshape shapes (as a random-weight export shares them). Returns the
    model and the residual stream between layers (:meth:`BlockTable.predict`'s ``build``)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    seq, d, hd = 8, 16, 8
    inits = {"ln_s": np.ones(d, np.float32), "ln_b": np.zeros(d, np.float32),
             "scale": np.array(hd ** -0.5, np.float32), "merged": np.array([1, seq, -1], np.int64)}
    nodes = []

    def node(op, ins, **attrs):
        y = f"t{len(nodes)}"
        nodes.append(helper.make_node(op, ins, [y], **attrs))
        return y

    def weight(*shape):
        name = f"w{len(inits)}"
        inits[name] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        return name

    x, between = "x", []
    for heads, mlp in layers:
        split = f"split{heads}"
        inits.setdefault(split, np.array([1, seq, heads, hd], np.int64))
        h = node("LayerNormalization", [x, "ln_s", "ln_b"], axis=-1)
        q, k, v = (node("Transpose", [node("Reshape", [node("MatMul", [h, weight(d, heads * hd)]), split])],
                        perm=[0, 2, 1, 3]) for _ in range(3))
        att = node("Softmax", [node("Mul", [node("MatMul", [q, node("Transpose", [k], perm=[0, 1, 3, 2])]), "scale"])],
                   axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [att, v])], perm=[0, 2, 1, 3]), "merged"])
        x = node("Add", [x, node("MatMul", [ctx, weight(heads * hd, d)])])
        h = node("LayerNormalization", [x, "ln_s", "ln_b"], axis=-1)
        x = node("Add", [x, node("MatMul", [node("Relu", [node("MatMul", [h, weight(d, mlp)])]), weight(mlp, d)])])
        between.append(x)
    graph = helper.make_graph(nodes, "transformer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, d])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, seq, d])],
                              [numpy_helper.from_array(a, n) for n, a in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), between[:-1]


def _transformer_keys(layers):
    return tuple((i == 0, heads, mlp) for i, (heads, mlp) in enumerate(layers))


def test_transformer_space_priced_from_the_table_equals_session():
    """Layers of varying heads and MLP width: the residual stream between layers is a safe cut, so a
    variant made of layers seen in two others is priced from the table, each figure identical to the session's."""
    table = BlockTable(DEVICES, roofline_only=ROOFLINE)
    built = []

    def of(layers, seed):
        def build():
            built.append(layers)
            return _transformer(layers, seed)
        return build

    seen = [((2, 32), (2, 32), (2, 32)), ((4, 64), (4, 64), (4, 64))]
    for i, layers in enumerate(seen):
        assert not any(p.from_table for p in table.predict(_transformer_keys(layers), of(layers, i)).values())
    mixed = ((2, 32), (4, 64), (2, 32))
    got = table.predict(_transformer_keys(mixed), of(mixed, 5))
    assert built == seen  # the mixed variant is not built
    s = Session(keep_analyses=0)
    analyzed = s.analyze(_transformer(mixed, 5)[0])
    assert s.stats()["block_models_composed"] == 1
    for d in DEVICES:
        p, want = got[d], s.predict_on(analyzed, d, residual=_residual(d))
        assert p.from_table
        assert (p.latency_s, p.energy_j, p.flops) == (want.latency_s, want.energy_j, want.flops)


def test_a_variant_with_an_uncosted_op_says_so_and_is_not_learned():
    """NonZero has no cost rule: the session's figures are lower bounds, the table passes that on and learns nothing."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    table = BlockTable(["t4"])
    got = table.predict(("relu", "nonzero"), lambda: (model, ["r"]))["t4"]
    assert got.uncosted_ops == ("relax.nonzero",) and not got.from_table
    assert len(table) == 0 and not table.known(("relu", "nonzero")) and table.learned == 0
