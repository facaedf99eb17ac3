""":class:`~hybridperf.block_table.TablePrediction`'s notes (2026-12-04): composed from the table, its
``latency_note`` and ``energy_note`` are :func:`hybridperf.predict`'s for the whole network, as its figures are.

Until 2026-12-04 a table prediction had no notes: a sweep on h100-pcie read "1.2 ms" where ``predict`` says
"unverified: its fp32 peak 51.2 TFLOP/s is outside the training GPUs' 5.5-19.5", and every sheet's "idle power of
t4 estimated, not measured" was dropped, so figures read as verified."""

from __future__ import annotations

import pytest

import hybridperf
from benchmarks.nas_sweep import Arch, block_keys, build_blocks
from hybridperf.block_table import BlockTable, TablePrediction
from hybridperf.device.spec import load_spec
from sweep_variants import SMALL
from test_block_table import MIXED, _transformer, _transformer_keys

#: a GPU unlike the zero-shot model's training GPUs (an unverified latency), two inside their range, a CPU sheet at
#: its roofline; every one of them has estimated power figures
DEVICES = ("h100-pcie", "t4", "a100-sxm-80gb", "host-epyc-zen4-1c")
ROOFLINE = ("host-epyc-zen4-1c",)


def _residual(device: str):
    return None if device in ROOFLINE else "auto"


def _said(p) -> tuple:
    """Figures and notes."""
    return p.latency_s, p.energy_j, p.flops, p.latency_note, p.energy_note


def _check(got: dict[str, TablePrediction], model, precision: str | None = None) -> dict[str, tuple]:
    """``got`` composed from the table, each device's figures and notes ``==`` :func:`hybridperf.predict`'s."""
    out = {}
    for d in DEVICES:
        want = hybridperf.predict(model, d, precision=precision, residual=_residual(d))
        assert got[d].from_table, d
        assert _said(got[d]) == _said(want), d
        out[d] = _said(want)
    return out


@pytest.fixture(scope="module")
def mobilenet_table():
    """SMALL[0] and SMALL[1] learned: MIXED's blocks are all known."""
    table = BlockTable(DEVICES, roofline_only=ROOFLINE)
    for i in (0, 1):
        got = table.predict(block_keys(Arch(*SMALL[i])), lambda i=i: build_blocks(Arch(*SMALL[i]), i))
        for d in DEVICES:  # through the session: its notes copied
            want = hybridperf.predict(build_blocks(Arch(*SMALL[i]), i)[0], d, residual=_residual(d))
            assert not got[d].from_table and _said(got[d]) == _said(want)
    return table


def test_composed_mobilenet_notes_equal_hybridperf_predict(mobilenet_table):
    """MIXED (12 blocks from two learned variants) on every device: notes ``==`` predict's, one by one and
    batched. Until 2026-12-04 the table's notes did not exist."""
    assert mobilenet_table.table_devices() == DEVICES  # no device sent through the session by its notes
    got = mobilenet_table.predict(block_keys(MIXED), None)
    said = _check(got, build_blocks(MIXED, 7)[0])
    many = mobilenet_table.predict_many([(block_keys(MIXED), None)] * 2)
    assert all({d: _said(p) for d, p in m.items()} == said for m in many)
    assert said["h100-pcie"][3].startswith("unverified: its fp32 peak 51.2 TFLOP/s")
    assert not said["t4"][3] and not said["host-epyc-zen4-1c"][3]
    for d in DEVICES:
        assert "estimated, not measured" in said[d][4]


@pytest.mark.parametrize("precision", [None, "fp16"])
def test_composed_transformer_notes_equal_hybridperf_predict(precision):
    """Three transformer layers from two learned variants; at fp16 the zero-shot note names the fp16 peak each GPU
    prices its launches at (t4's 65 TFLOP/s is then unverified too), recorded per block when learned."""
    table = BlockTable(DEVICES, precision=precision, roofline_only=ROOFLINE)
    for i, layers in enumerate([((2, 32),) * 3, ((4, 64),) * 3]):
        table.predict(_transformer_keys(layers), lambda layers=layers, i=i: _transformer(layers, i))
    mixed = ((4, 64), (2, 32), (4, 64))
    keys = _transformer_keys(mixed)
    got = table.predict(keys, None)
    said = _check(got, _transformer(mixed, 5)[0], precision)
    assert {d: _said(p) for d, p in table.predict_many([(keys, None)])[0].items()} == said
    assert table.table_devices() == DEVICES
    if precision == "fp16":
        for d in ("h100-pcie", "t4", "a100-sxm-80gb"):
            assert said[d][3].startswith("unverified: its fp16 peak (priced as the fp32 operators' rate)"), d
    else:
        assert said["h100-pcie"][3] and not said["t4"][3] and not said["a100-sxm-80gb"][3]


def test_capped_energy_note_composed(tmp_path):
    """A sheet whose max power is below what the energy model implies: the composed energy is capped and its note
    says so, as predict's (bounded_energy's words, then the estimated power figures')."""
    import yaml

    data = yaml.safe_load(open(load_spec("host-epyc-zen4-1c").path).read())
    data["id"] = "low-power-zen4"
    data["power"]["max"]["value"] = data["power"]["idle"]["value"] * 1.01  # hypothetical: max power 1 % above idle
    path = tmp_path / "low-power-zen4.yaml"
    path.write_text(yaml.safe_dump(data))
    table = BlockTable([str(path)], roofline_only=["low-power-zen4"])
    for i, layers in enumerate([((2, 32),) * 2, ((4, 64),) * 2]):
        table.predict(_transformer_keys(layers), lambda layers=layers, i=i: _transformer(layers, i))
    mixed = ((4, 64), (2, 32))
    got = table.predict(_transformer_keys(mixed), None)["low-power-zen4"]
    want = hybridperf.predict(_transformer(mixed, 3)[0], str(path), residual=None)
    assert got.from_table and _said(got) == _said(want)
    assert _said(table.predict_many([(_transformer_keys(mixed), None)])[0]["low-power-zen4"]) == _said(want)
    assert want.energy_note.startswith("capped at max power") and "estimated, not measured" in want.energy_note


def test_a_device_through_the_session_keeps_its_notes():
    """A CPU sheet with its cross-host model goes through the session for every variant: the notes are the
    session's prediction's, copied (until 2026-12-04 dropped)."""
    table = BlockTable(["host-epyc-zen4-1c"])
    layers = ((2, 32),) * 2
    got = table.predict(_transformer_keys(layers), lambda: _transformer(layers, 0))["host-epyc-zen4-1c"]
    want = hybridperf.predict(_transformer(layers, 0)[0], "host-epyc-zen4-1c")
    assert not got.from_table and _said(got) == _said(want) and got.energy_note


def test_a_note_not_composed_exactly_sends_the_device_through_the_session(monkeypatch):
    """The learning check compares notes as well as figures: a device whose composed note would differ from the
    session's leaves the table (every variant through the session), never a note predict would not give."""
    from hybridperf import block_table

    monkeypatch.setattr(block_table._Device, "energy_note", lambda self, capped: "not the session's")
    table = BlockTable(["t4"])
    layers = ((2, 32),) * 2
    got = table.predict(_transformer_keys(layers), lambda: _transformer(layers, 0))["t4"]
    assert table.table_devices() == () and table.learned == 1
    again = table.predict(_transformer_keys(layers), lambda: _transformer(layers, 0))["t4"]
    want = hybridperf.predict(_transformer(layers, 0)[0], "t4")
    assert not again.from_table and _said(again) == _said(got) == _said(want)
