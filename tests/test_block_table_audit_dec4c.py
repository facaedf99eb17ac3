"""Audit of :class:`~hybridperf.block_table.BlockTable` as a NAS user meets it (2026-12-04): figures of variants
composed from real block decompositions against :func:`hybridperf.predict` of the whole network, unknown blocks and
unknown figures, no mixing of tables priced otherwise, input errors naming the parameter, numpy docstrings."""

from __future__ import annotations

import inspect
import re

import pytest

import hybridperf
from benchmarks.nas_sweep import Arch, block_keys, build_blocks
from hybridperf.api import Session
from hybridperf.block_table import BlockTable, TablePrediction
from hybridperf.errors import InputError
from sweep_variants import SMALL
from test_block_table import DEVICES, MIXED, ROOFLINE, _residual, _transformer, _transformer_keys


def _figures(p) -> tuple:
    return p.latency_s, p.energy_j, p.flops


@pytest.fixture(scope="module")
def mobilenet_table():
    """SMALL[0] and SMALL[1] learned (two models built), on a CPU sheet at its roofline and two zero-shot GPUs."""
    table = BlockTable(DEVICES, roofline_only=ROOFLINE)
    for i in (0, 1):
        table.predict(block_keys(Arch(*SMALL[i])), lambda i=i: build_blocks(Arch(*SMALL[i]), i))
    return table


def test_composed_mobilenet_equals_hybridperf_predict_of_the_whole_network(mobilenet_table):
    """MIXED's 12 blocks (stem, 10 inverted residuals, head) taken from two learned variants: latency, energy and
    FLOPs ``==`` to :func:`hybridperf.predict` of the built network; peak memory unknown (None), not 0."""
    got = mobilenet_table.predict(block_keys(MIXED), None)  # None: nothing may be built
    model = build_blocks(MIXED, 7)[0]
    for d in DEVICES:
        want = hybridperf.predict(model, d, residual=_residual(d))
        assert got[d].from_table
        assert _figures(got[d]) == _figures(want)  # identical, not close
        assert want.peak_memory_bytes > 0 and got[d].peak_memory_bytes is None


def test_composed_transformer_at_fp16_equals_hybridperf_predict():
    """A precision override: three transformer layers from two learned variants, at fp16, ``==`` to
    :func:`hybridperf.predict` at fp16 (and not its fp32 figures)."""
    table = BlockTable(DEVICES, precision="fp16", roofline_only=ROOFLINE)
    for i, layers in enumerate([((2, 32),) * 3, ((4, 64),) * 3]):
        table.predict(_transformer_keys(layers), lambda layers=layers, i=i: _transformer(layers, i))
    mixed = ((4, 64), (2, 32), (4, 64))
    got = table.predict(_transformer_keys(mixed), None)
    model = _transformer(mixed, 5)[0]
    differs = []
    for d in DEVICES:
        want = hybridperf.predict(model, d, precision="fp16", residual=_residual(d))
        fp32 = hybridperf.predict(model, d, residual=_residual(d))
        assert got[d].from_table and _figures(got[d]) == _figures(want)
        assert got[d].peak_memory_bytes is None
        differs.append(_figures(got[d]) != _figures(fp32))
    assert any(differs)  # the override reached the table (a GPU this small is host-bound: its latency may not move)


def test_two_tables_on_one_session_do_not_mix_precisions():
    """The session's block cache is shared; each table's figures stay its own precision's."""
    s = Session(keep_analyses=0)
    fp32, fp16 = BlockTable(["t4"], s), BlockTable(["t4"], s, precision="fp16")
    for i, layers in enumerate([((2, 32),) * 2, ((4, 64),) * 2]):
        for t in (fp32, fp16):
            t.predict(_transformer_keys(layers), lambda layers=layers, i=i: _transformer(layers, i))
    mixed = ((4, 64), (2, 32))
    model = _transformer(mixed, 3)[0]
    for t, precision in ((fp32, None), (fp16, "fp16")):
        got = t.predict(_transformer_keys(mixed), None)["t4"]
        assert got.from_table and _figures(got) == _figures(hybridperf.predict(model, "t4", precision=precision))
    assert _figures(fp32.predict(_transformer_keys(mixed), None)["t4"]) != \
        _figures(fp16.predict(_transformer_keys(mixed), None)["t4"])


def test_an_unknown_block_without_build_is_an_error_naming_it(mobilenet_table):
    """Until 2026-12-04 an unknown block with ``build=None`` raised Python's "'NoneType' object is not callable"
    (no block named); now one InputError names the block, and nothing is learned."""
    table = mobilenet_table
    keys = (*block_keys(MIXED)[:-1], ("head", 4242))
    before = (len(table), table.stats())
    with pytest.raises(InputError) as err:
        table.predict(keys, None)
    msg = str(err.value)
    assert "\n" not in msg and "('head', 4242)" in msg and f"keys[{len(keys) - 1}]" in msg and "build" in msg
    with pytest.raises(InputError, match=r"variants\[1\]\[1\] \(build\)"):
        table.predict_many([(block_keys(MIXED), None), (keys, None)])
    assert (len(table), table.stats()["table_groups"]) == (before[0], before[1]["table_groups"])
    assert not table.known(keys)


def test_verify_every_without_build_names_it(mobilenet_table):
    table = BlockTable(DEVICES[1:], verify_every=1)
    for i in (0, 1):
        table.predict(block_keys(Arch(*SMALL[i])), lambda i=i: build_blocks(Arch(*SMALL[i]), i))
    with pytest.raises(InputError, match="verify_every=1 re-checks"):
        table.predict(block_keys(MIXED), None)


def test_build_returning_the_wrong_thing_is_one_input_error():
    """Until 2026-12-04: a build() returning None was "cannot unpack non-iterable NoneType object", a str of tensor
    names was taken one name per character."""
    table = BlockTable(["t4"], roofline_only=["t4"])
    for build, match in ((lambda: None, r"build\(\) must return \(model, tensor names between blocks\), got NoneType"),
                         (lambda: ("m.onnx", "x"), "the names are a sequence of str, got str 'x'"),
                         (lambda: ("m.onnx", [3]), "3 is no tensor name"),
                         ("not callable", "block 'a' .* is not in the table and build is 'not callable'")):
        with pytest.raises(InputError, match=match):
            table.predict(("a", "b"), build)


@pytest.mark.parametrize("keys, match", [
    ((), r"^keys is empty: a variant needs at least one block key$"),
    ("ab", r"^keys must be a sequence of hashable block keys, one per block \(one key alone: \('ab',\)\), got str$"),
    (5, r"^keys must be a sequence of hashable block keys, one per block, got int$"),
    (None, r"^keys must be a sequence"),
    ([("stem", 64), [1, 2]], r"^keys\[1\] = \[1, 2\] is not hashable"),
])
def test_bad_keys_are_one_input_error_naming_keys(keys, match):
    """Until 2026-12-04: ``known(())`` was True, ``"ab"`` was two blocks 'a' and 'b', 5 / None / a list key raised
    Python's TypeError."""
    table = BlockTable(["t4"], roofline_only=["t4"])
    for call in (lambda: table.known(keys), lambda: table.predict(keys, None)):
        with pytest.raises(InputError, match=match):
            call()
    with pytest.raises(InputError, match=r"^variants\[0\]\[0\] \(keys\)" if keys != "ab" else r"^variants\[0\]\[0\]"):
        table.predict_many([(keys, None)])


@pytest.mark.parametrize("variants, match", [
    (5, "variants must be an iterable of"), ("ab", "variants must be an iterable of"),
    ([("a",)], r"variants\[0\] must be a \(keys, build\) pair, got tuple"),
    ([(("a",), None, 3)], r"variants\[0\] must be a \(keys, build\) pair"),
])
def test_bad_variants_are_one_input_error(variants, match):
    """Until 2026-12-04 Python's TypeError / ValueError ("not enough values to unpack")."""
    with pytest.raises(InputError, match=match):
        BlockTable(["t4"], roofline_only=["t4"]).predict_many(variants)


@pytest.mark.parametrize("kwargs, match", [
    ({"verify_every": -1}, r"^verify_every must be an int >= 0 \(0: never re-check\), got -1$"),
    ({"verify_every": 2.5}, "verify_every must be an int >= 0"),
    ({"verify_every": True}, "verify_every must be an int >= 0"),
    ({"precision": "fp33"}, r"^precision='fp33' is not an override"),
    ({"session": 5}, r"^session must be a hybridperf.api.Session .*got int$"),
    ({"roofline_only": None}, "^roofline_only must be device ids"),
    ({"roofline_only": [1]}, "^roofline_only must be device ids"),
])
def test_bad_table_arguments_name_the_parameter(kwargs, match):
    """Until 2026-12-04: verify_every -1 / 2.5 / True and precision 'fp33' were kept (the precision failed at the
    first prediction), session=5 was an AttributeError, roofline_only=None a TypeError."""
    with pytest.raises(InputError, match=match):
        BlockTable(["t4"], **kwargs)


def test_one_device_or_one_roofline_id_alone_is_a_list_of_one():
    """Until 2026-12-04 ``BlockTable("t4")`` priced devices 't' and '4' (SpecError "unknown device 't'") and
    ``roofline_only="t4"`` named 't' and '4'."""
    assert BlockTable("t4", roofline_only="t4").table_devices() == ("t4",)
    with pytest.raises(InputError, match="devices must be a device id"):
        BlockTable(5)


def _documented(doc: str, section: str) -> list[str]:
    """The names a numpy docstring's ``section`` lists, in order (``a, b : int`` is two)."""
    lines = inspect.cleandoc(doc).splitlines()
    out, current = [], None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            current = line.strip()
        elif current == section and line and not line.startswith(" ") and not re.fullmatch(r"-{3,}", line):
            out += [name.strip() for name in line.split(" : ")[0].split(",")]
    return out


@pytest.mark.parametrize("func", [BlockTable.__init__, BlockTable.known, BlockTable.predict, BlockTable.predict_many])
def test_docstrings_list_the_signature_returns_and_raises(func):
    """Until 2026-12-04 known, predict and predict_many had no Parameters / Raises sections."""
    doc = (BlockTable if func is BlockTable.__init__ else func).__doc__
    assert _documented(doc, "Parameters") == [p for p in inspect.signature(func).parameters if p != "self"]
    assert "InputError" in _documented(doc, "Raises")
    if func is not BlockTable.__init__:
        assert _documented(doc, "Returns")


def test_table_prediction_documents_its_fields_in_order():
    fields = [f for f in TablePrediction.__dataclass_fields__]
    assert _documented(TablePrediction.__doc__, "Parameters") == fields
