"""Audit 2026-12-05: a runtime's per-call overhead as a sheet figure (``call_overhead``), priced for a model that
launches no kernel.

Until 2026-12-05 a model whose every op is zero-cost (a lone ONNX Reshape: a view) read latency and energy
``unknown`` on every CPU sheet (:data:`hybridperf.estimate.pricing.NO_CALL_OVERHEAD`), although the probe had measured
onnxruntime's ``session.run`` time on the shipped ``host-*`` sheets: it was only words in their ``launch_overhead``
source (``per call 9 us``). Now a CPU sheet may give ``call_overhead.onnxruntime`` ({value, unit, source}), the
shipped sheets whose source quotes the measurement carry it, ``hybridperf probe`` writes it, and such a model is priced
at it (latency = the overhead, energy = that time x idle power) with a note. A sheet without it, ``--roofline-only``,
``--runtime tvm`` and ``annotate`` (the roofline) keep the unknown, with the reason; ``annotate`` printed ``0.0 us`` and
``0.0 uJ`` for it until 2026-12-05. A model that launches kernels is priced as before (no figure moves).
"""

import json
import re
from dataclasses import replace
from types import MappingProxyType

import pytest
import yaml
from onnx import TensorProto, helper
from test_no_silent_zeros import _save
from test_probe import _fake_cpu_result

from hybridperf.api import analyze, predict_on
from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import load_spec, parse_spec
from hybridperf.errors import SpecError
from hybridperf.estimate.pricing import CALL_OVERHEAD_NOTE, NO_CALL_OVERHEAD, ROOFLINE_NO_CALL
from hybridperf.measure import probe
from hybridperf.report.text import to_dict, to_table

F32 = TensorProto.FLOAT
US = 1e-6
#: the shipped sheets whose launch_overhead source quotes the probe's "per call X us": X
MEASURED = {"host-epyc-1c": 9, "host-epyc-zen4-1c": 4.89, "host-epyc-zen4-2c": 9.18, "host-epyc-zen5-1c": 3.98,
            "host-xeon-1c": 12, "host-xeon-amx-2c": 12}


# --------------------------------------------------------------------------- the sheet figure


@pytest.mark.parametrize("device", sorted(MEASURED))
def test_shipped_sheet_gives_the_measured_per_call_time(device):
    # until 2026-12-05 only words in launch_overhead's source; the figure is those words' number
    spec = load_spec(device)
    quoted = re.search(r"per call ([\d.]+) us", spec.sources["launch_overhead"]).group(1)
    assert float(quoted) == MEASURED[device]
    assert spec.call_overhead_s == {"onnxruntime": MEASURED[device] * US}
    assert "call_overhead.onnxruntime" in spec.measured
    assert f'"per call {quoted} us"' in spec.sources["call_overhead.onnxruntime"]
    assert "call_overhead.onnxruntime" not in spec.unused_figures  # priced (a model of no kernel)


@pytest.mark.parametrize("device", ["host-xeon-2c", "raspberry-pi-4b", "t4", "ethos-u55"])
def test_sheets_without_a_measurement_have_none(device):
    assert load_spec(device).call_overhead_s == {}  # unknown, never 0


def _raw(device="host-epyc-1c"):
    with open(load_spec(device).path) as f:
        return yaml.safe_load(f)


def test_refusals_name_the_key_and_fix():
    raw = _raw()
    raw["call_overhead"] = {"onnxruntme": {"value": 9, "unit": "us", "source": "measured"}}
    with pytest.raises(SpecError, match=r"key 'call_overhead.onnxruntme' unknown runtime \(did you mean 'onnxruntime'"):
        parse_spec(raw, "<toy>")
    raw["call_overhead"] = {"onnxruntime": {"value": 9, "unit": "GB/s", "source": "measured"}}
    with pytest.raises(SpecError, match="call_overhead.onnxruntime.unit"):
        parse_spec(raw, "<toy>")
    raw["call_overhead"] = {"onnxruntime": {"value": 9, "unit": "us"}}
    with pytest.raises(SpecError, match="call_overhead.onnxruntime.source"):
        parse_spec(raw, "<toy>")
    gpu = _raw("t4")
    gpu["call_overhead"] = {"onnxruntime": {"value": 9, "unit": "us", "source": "measured"}}
    with pytest.raises(SpecError, match="key 'call_overhead' is for CPU sheets"):
        parse_spec(gpu, "<toy>")


def test_probe_writes_it():
    # until 2026-12-05 the probe's per-call time went into launch_overhead's source text only
    spec = parse_spec(probe.spec_dict(_fake_cpu_result(), "toy"), "<probe>")
    assert spec.call_overhead_s == {"onnxruntime": pytest.approx(4 * US)}  # DispatchOverhead(per_call_s=4e-6)
    assert "call_overhead.onnxruntime" in spec.measured
    assert spec.launch_overhead_s == pytest.approx(0.5 * US)  # per node: unchanged


def test_probe_without_onnxruntime_writes_none(toy_probe):
    assert "call_overhead" not in probe.spec_dict(toy_probe, "toy")  # dispatch not measured: not on the sheet


# --------------------------------------------------------------------------- pricing


@pytest.mark.parametrize("device", ["host-epyc-1c", "host-xeon-1c"])
def test_views_priced_at_the_call_overhead(analyzed, device):
    # until 2026-12-05: unknown_figures ("latency_s", "energy_j"), NO_CALL_OVERHEAD
    pred = predict_on(analyzed, device, residual="auto")
    spec = pred.spec
    assert pred.latency_s == MEASURED[device] * US
    assert spec.idle_power_w == 3.0  # estimate: 30 % of the 10 W max
    assert pred.energy_j == pytest.approx(3.0 * MEASURED[device] * US)  # idle power x the call; no dynamic work
    assert pred.unknown_figures == () and pred.unpriced_reason == ""
    assert pred.call_overhead_note == CALL_OVERHEAD_NOTE.format(runtime="onnxruntime", device=device, how="measured")
    assert pred.roofline_latency_s == 0.0 and pred.flops == 0  # no work: the roofline stays 0


def test_the_figure_removed_keeps_unknown(analyzed):
    spec = replace(load_spec("host-epyc-1c"), call_overhead_s=MappingProxyType({}))
    assert predict_on(analyzed, spec, residual="auto").unknown_figures == ("latency_s", "energy_j")


def test_roofline_only_and_tvm_keep_unknown(analyzed):
    # the roofline prices no runtime call; the overhead is onnxruntime's, not TVM's
    roof = predict_on(analyzed, "host-epyc-1c", residual=None)
    assert roof.unknown_figures == ("latency_s", "energy_j")
    assert roof.unpriced_reason == ROOFLINE_NO_CALL.format(runtime="onnxruntime", device="host-epyc-1c")
    tvm = predict_on(analyzed, "host-epyc-1c", residual="auto", runtime="tvm")
    assert tvm.unknown_figures == ("latency_s", "energy_j")
    assert tvm.unpriced_reason == NO_CALL_OVERHEAD.format(runtime="tvm", device="host-epyc-1c")


def test_a_model_with_kernels_is_unchanged(tmp_path):
    # the overhead is not added where a kernel launches: the learned model's constant stands for the call
    relu = _save([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", F32, [4, 8])],
                 [helper.make_tensor_value_info("y", F32, [4, 8])], tmp_path / "relu.onnx")
    an = analyze(relu)
    spec = load_spec("host-epyc-1c")
    without = replace(spec, call_overhead_s=MappingProxyType({}))
    a, b = predict_on(an, spec, residual="auto"), predict_on(an, without, residual="auto")
    assert (a.latency_s, a.energy_j, a.roofline_latency_s) == (b.latency_s, b.energy_j, b.roofline_latency_s)
    assert a.call_overhead_note == ""


# --------------------------------------------------------------------------- reports


def test_table_and_json_say_where_it_comes_from(analyzed):
    pred = predict_on(analyzed, "host-epyc-1c", residual="auto")
    lines = {ln.split()[0]: ln for ln in to_table(pred, top=0).splitlines()}
    assert lines["latency"].startswith(f"latency   9.0 us   ({pred.call_overhead_note})")
    assert lines["energy"].startswith("energy    27.0 uJ")  # 3 W x 9 us
    totals = to_dict(pred)["totals"]
    assert totals["latency_s"] == 9 * US and totals["energy_j"] == pytest.approx(3 * 9 * US)
    assert totals["unknown_fields"] == [] and totals["unpriced_reason"] is None
    assert totals["call_overhead_note"] == pred.call_overhead_note


def test_check_judges_it(views, capsys):
    # until 2026-12-05 exit 2 (unknown) on host-epyc-1c; now 9 us against the limits
    assert main(["check", views, "-d", "host-epyc-1c", "--max-latency", "1ms", "--format", "json"]) == ExitCode.OK
    latency = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["metric"] == "latency")
    assert latency["predicted"] == 9 * US
    assert main(["check", views, "-d", "host-epyc-1c", "--max-latency", "5us"]) == ExitCode.BUDGET_EXCEEDED
    capsys.readouterr()


@pytest.mark.parametrize("device", ["host-epyc-1c", "raspberry-pi-4b"])
def test_annotate_says_unknown_and_why(views, device, capsys):
    # until 2026-12-05: "# hybridperf: DEVICE: latency 0.0 us [...]" and "# energy 0.0 uJ per call"
    assert main(["annotate", views, "-d", device]) == ExitCode.OK
    head, totals = capsys.readouterr().out.splitlines()[:2]
    assert head.startswith(f"# hybridperf: {device}: latency unknown (nothing priced: every op is zero-cost")
    why = ROOFLINE_NO_CALL if device == "host-epyc-1c" else NO_CALL_OVERHEAD
    assert why.format(runtime="onnxruntime", device=device) in head
    assert totals.startswith("# energy unknown per call")
    assert "0.0 us" not in head and "0.0 uJ" not in totals
