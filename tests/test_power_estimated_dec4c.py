"""Energy audit 2026-12-04 (c): an estimated energy figure marks the energy priced on it, as an estimated power does.

energy = MACs x pJ/MAC[precision] + DRAM bytes x pJ/B + idle W x latency: each of the four figures (``power.idle``,
``power.max`` through the cap, ``energy.per_mac.<p>``, ``energy.per_byte.dram``) may be an estimate, its source
starting ``estimate`` (hw_specs/README.md). :attr:`DeviceSpec.power_estimated` and :attr:`DeviceSpec.power_note` are
the one place every consumer reads that from: predict's energy note, check's ``estimated``, BlockTable; ``devices
show`` tags each such figure ``[estimate]`` by the same test (:func:`hybridperf.device.spec.is_estimate`).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest
from test_energy import q, toy
from test_energy_audit_dec4c import _gpu_spec
from test_no_silent_zeros import _relu

from hybridperf.api import analyze, predict_on
from hybridperf.device.spec import is_estimate, load_spec
from hybridperf.estimate.budget import Budget, Metric, compare
from hybridperf.estimate.pricing import estimated_power_note
from hybridperf.report.devices import ESTIMATE_FLAG, show_table

GUESS = "estimate, not measured: a typical board"


def _with_sources(spec, **sources):
    """``spec`` with the sources of ``sources`` (keys with ``__`` for ``.``) replaced."""
    new = {k.replace("__", "."): v for k, v in sources.items()}
    return dataclasses.replace(spec, sources=MappingProxyType({**spec.sources, **new}))


def test_gpu_probe_with_nvml_power_but_no_copy_reading_says_its_energy_is_estimated():
    """NVML gave the limit (72 W), the idle draw (16 W) and the GEMM loops' power, but the copy loop drew no more than
    idle, so the DRAM pJ/B is the GDDR5 literature estimate. Until 2026-12-04 power_estimated looked at power.idle and
    power.max only: this sheet priced energy with no note and ``check`` did not mark it estimated."""
    spec = _gpu_spec(power_limit_w=72.0, idle_power_w=16.0, gemm_avg_power_w={"fp32": 60.0, "fp16": 70.0},
                     dram_copy_avg_power_w=9.0)
    assert spec.estimated_power_figures == ()  # both watts measured by NVML
    assert spec.estimated_energy_figures == ("energy.per_byte.dram",)
    assert spec.power_estimated
    assert spec.power_note == "energy per DRAM byte of l4-probed estimated, not measured"
    assert estimated_power_note(spec) == ("energy per DRAM byte of l4-probed estimated, not measured: "
                                          "`hybridperf devices show l4-probed`")
    # with the copy loop measured too (40 W), nothing is an estimate
    measured = _gpu_spec(power_limit_w=72.0, idle_power_w=16.0, gemm_avg_power_w={"fp32": 60.0, "fp16": 70.0},
                         dram_copy_avg_power_w=40.0)
    assert not measured.power_estimated and measured.power_note == ""


@pytest.mark.parametrize(("sources", "note"), [
    ({"energy__per_mac__fp32": GUESS}, "energy per MAC (fp32) of toy estimated, not measured"),
    ({"energy__per_mac__fp32": GUESS, "energy__per_mac__fp16": "Estimate: half of fp32"},
     "energy per MAC (fp32, fp16) of toy estimated, not measured"),
    ({"energy__per_byte__dram": GUESS, "power__idle": GUESS},
     "idle power and energy per DRAM byte of toy estimated, not measured"),
    ({"power__idle": GUESS, "power__max": GUESS, "energy__per_byte__dram": GUESS, "energy__per_mac__fp16": GUESS},
     "power, energy per DRAM byte and energy per MAC (fp16) of toy estimated, not measured"),
])
def test_power_note_names_each_estimated_figure(sources, note):
    """Until 2026-12-04 an estimated pJ/MAC or pJ/B left ``power_note`` empty (or named the power figures alone)."""
    spec = _with_sources(toy(), **sources)
    assert spec.power_estimated and spec.power_note == note


def test_an_energy_figure_no_prediction_reads_marks_nothing():
    """A pJ/MAC of a precision without a peak (work runs at the fallback's peak) is not priced: its estimate does not
    make the energy one."""
    spec = toy(per_mac={"fp32": q(2, "pJ"), "fp16": q(0.5, "pJ"), "int8": {**q(0.2, "pJ"), "source": GUESS}})
    assert "energy.per_mac.int8" in spec.unused_figures
    assert not spec.power_estimated and spec.power_note == ""


@pytest.fixture(scope="module")
def relu(tmp_path_factory):
    return analyze(_relu(tmp_path_factory.mktemp("pe") / "relu.onnx"))


def test_energy_note_and_check_follow_an_estimated_dram_energy(relu):
    """Until 2026-12-04 an energy priced with an estimated pJ/B had no energy note and check's energy row was not
    ``estimated``; the figure itself does not change."""
    spec = toy()
    plain = predict_on(relu, spec, residual=None)
    guessed = predict_on(relu, _with_sources(spec, energy__per_byte__dram=GUESS), residual=None)
    assert plain.energy_note == ""
    assert guessed.energy_j == plain.energy_j
    assert guessed.energy_note == ("energy per DRAM byte of toy estimated, not measured: "
                                   "`hybridperf devices show toy`")
    budget = Budget(None, None, 1.0)
    energy = {c.metric: c for c in compare(guessed, budget, "relu.onnx", "toy")}[Metric.ENERGY]
    assert energy.estimated == "energy per DRAM byte of toy estimated, not measured"
    assert {c.metric: c for c in compare(plain, budget, "relu.onnx", "toy")}[Metric.ENERGY].estimated == ""


def _row(table: str, key: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(key + " "))


def test_devices_show_tags_power_and_energy_estimates():
    """Until 2026-12-04 ``devices show`` tagged measured figures ``[measured]`` but estimated power and energy figures
    nothing: only the source column said so."""
    from hybridperf.commands.devices import show_device

    out = show_table(show_device("host-epyc-1c"))
    for key in ("power.idle", "power.max", "energy.per_byte.dram"):
        assert ESTIMATE_FLAG in _row(out, key)
    # derived from the estimated watts: its source says "derived", and the watts it rests on carry the tag
    assert ESTIMATE_FLAG not in _row(out, "energy.per_mac.fp32")
    assert f"\n{ESTIMATE_FLAG.strip()}: its source says so; energy priced on it is an estimate too" in out
    t4 = show_table(show_device("t4"))
    assert ESTIMATE_FLAG in _row(t4, "power.idle") and ESTIMATE_FLAG not in _row(t4, "power.max")
    measured = show_table(show_device("h100-sxm-measured"))
    assert ESTIMATE_FLAG not in measured


def test_devices_show_tags_exactly_what_power_estimated_reads():
    """Every shipped sheet: the ``[estimate]`` tags on the priced power and energy rows are
    :attr:`estimated_power_figures` + :attr:`estimated_energy_figures`, the figures ``power_estimated`` reads."""
    from hybridperf.commands.devices import show_device
    from hybridperf.device.spec import available_devices

    for dev in available_devices():
        if dev == "host":
            continue
        spec = load_spec(dev)
        out = show_table(show_device(dev))
        tagged = {line.split()[0] for line in out.splitlines()
                  if ESTIMATE_FLAG in line and line.startswith(("power.", "energy."))}
        tagged -= set(spec.unused_figures)
        want = {f"power.{k}" for k in spec.estimated_power_figures} | set(spec.estimated_energy_figures)
        assert tagged == want, dev
        assert spec.power_estimated == bool(want)


def test_is_estimate_reads_the_readme_mark_in_any_case():
    assert is_estimate("estimate: a guess") and is_estimate("  Estimate, not measured (no NVML)")
    assert is_estimate("ESTIMATED from a similar board")
    assert not is_estimate("derived: (estimated max power 10 W - idle 3 W) / (rate / 2)")
    assert not is_estimate("NVIDIA T4 datasheet") and not is_estimate("")
