"""Energy audit 2026-12-03 (an edge / datacenter user who budgets joules per inference).

Energy = dynamic (MACs x pJ/MAC + DRAM bytes x pJ/B) + idle W x latency, capped at max W x latency; with a learned
latency the idle part follows it. Pinned here: the bounds on every shipped sheet with its learned model, one figure in
JSON, table and HTML; a CPU model keeping TVM's kernels' dynamic energy; a cap note whose implied power reads above the
maximum (``implied 6.4 W, above the sheet's maximum`` of 6.4 W until 2026-12-03); an ``Estimate:`` power source read as
an estimate in any case.
"""

import pytest
from test_energy import q, toy
from test_energy_audit import _matmul

from hybridperf.api import analyze, predict_on
from hybridperf.device.spec import available_devices, load_spec, parse_spec
from hybridperf.estimate.pricing import bounded_energy
from hybridperf.report.format import fmt_energy
from hybridperf.report.html import render_html
from hybridperf.report.text import to_dict, to_table


def test_learned_energy_within_the_power_bounds_and_one_figure_in_every_report(tmp_path):
    """With the learned model of every shipped sheet: idle W x latency <= energy <= max W x latency, and JSON's
    totals, the table's energy line and the HTML card give that one figure."""
    an = analyze(_matmul(tmp_path / "mm.onnx", k=256, n=256), batch=4)
    for dev in available_devices():
        spec = load_spec(dev)
        prec = None if "fp32" in spec.peak_flops_per_s else "int8"  # the NPUs compute int8 only
        pred = predict_on(an, spec, prec)
        lo, hi = spec.idle_power_w * pred.latency_s, spec.max_power_w * pred.latency_s
        assert lo <= pred.energy_j <= hi * (1 + 1e-12), dev
        assert to_dict(pred)["totals"]["energy_j"] == pred.energy_j, dev
        assert f"energy    {fmt_energy(pred.energy_j)}" in to_table(pred), dev
        assert f'<div class="k">energy</div><div class="v">{fmt_energy(pred.energy_j)}</div>' in render_html(pred), dev


def test_cpu_learned_energy_keeps_tvm_kernels(chain):
    """A CPU sheet's learned model corrects TVM's kernels' latencies and keeps their estimates: the dynamic part is
    the roofline prediction's, figure for figure (CPU energies did not change with the GPU fix)."""
    spec = load_spec("raspberry-pi-4b")  # idle 2.7 W
    roof = predict_on(chain, spec, residual=None)
    learned = predict_on(chain, spec)
    assert [k.estimate for k in learned.kernels] == [k.estimate for k in roof.kernels]
    dynamic = sum(k.estimate.dynamic_energy_j for k in roof.kernels)
    assert learned.energy_j == pytest.approx(min(dynamic + 2.7 * learned.latency_s, 6.4 * learned.latency_s),
                                             rel=1e-12)


@pytest.mark.parametrize("device, watts, said", [
    ("raspberry-pi-4b", 6.4002, "6.4002"),  # max 6.4 W: one decimal read "implied 6.4 W, above ... 6.4 W"
    ("t4", 70.017, "70.02"),  # max 70 W
    ("snapdragon-855", 7.6, "7.6"),  # max 5 W: one decimal already reads above it, as before
])
def test_cap_note_names_an_implied_power_above_the_maximum(device, watts, said):
    spec = load_spec(device)
    latency = 1e-3
    energy, note = bounded_energy(watts * latency, latency, spec)
    assert energy == spec.max_power_w * latency
    assert f"capped at max power {spec.max_power_w:g} W x latency (the energy model implied {said} W, " in note
    assert float(said) > spec.max_power_w


def test_uncapped_energy_has_no_note():
    spec = load_spec("t4")
    assert bounded_energy(70e-3, 1e-3, spec) == (70e-3, "")  # exactly max power: not above it


@pytest.mark.parametrize("source", ["Estimate: a guess", "ESTIMATED from a similar board", "  estimate: padded"])
def test_an_estimated_power_source_is_read_in_any_case(source):
    """hw_specs/README.md asks for ``estimate: <reasoning>``; a sheet writing ``Estimate:`` priced energy that read as
    measured (no note, ``check`` without ``estimated power``) until 2026-12-03."""
    sheet = parse_spec({
        "schema_version": 1, "id": "toy", "name": "Toy device", "kind": "gpu",
        "peak_compute": {"fp32": q(10, "TFLOP/s")},
        "memory": {"dram": {"bandwidth": q(1000, "GB/s"), "capacity": q(16, "GB")}},
        "launch_overhead": q(5, "us"),
        "power": {"idle": {**q(50, "W"), "source": source}, "max": q(300, "W")},
        "energy": {"per_mac": {"fp32": q(2, "pJ")}, "per_byte": {"dram": q(10, "pJ")}},
    }, "<toy>")
    assert sheet.estimated_power_figures == ("idle",)
    assert sheet.power_note == "idle power of toy estimated, not measured"
    assert toy().power_note == ""  # its sources read "test": no estimate
