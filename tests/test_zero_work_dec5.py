"""Audit 2026-12-05: a model that launches no kernel (a lone ONNX Reshape: a view) priced on a CPU sheet that does not
give the runtime's per-call overhead (``call_overhead``: ``host-xeon-2c``, ``raspberry-pi-4b``).

Until 2026-12-05 ``predict -d host-xeon-2c`` (and ``raspberry-pi-4b``, ``host``) printed ``latency 0.0 us`` and
``energy 0.0 uJ`` for it, the JSON wrote ``0.0``, and ``check --max-latency`` passed it (exit 0): a silent zero, since
a runtime call (onnxruntime's ``session.run``) is never free. The CPU learned models' fitted overhead (100 us, a grid
value chosen by cross-validation on models of milliseconds) is no per-call figure, so on such a sheet the latency and
energy are unknown, with the reason (:data:`hybridperf.estimate.pricing.NO_CALL_OVERHEAD`): ``unknown`` in the table,
``null`` in JSON, and ``check`` does not pass them (exit 2, README "Exit codes"). The roofline (0: no work) and the
FLOPs (0) stay figures. A sheet that gives ``call_overhead`` prices the call (since commit 18de8ca:
tests/test_call_overhead_dec5.py). A GPU sheet's execution model adds its synchronisation once per call (10 us under
torch): unchanged.
"""

import json

import pytest
from onnx import TensorProto, helper
from test_no_silent_zeros import _save

from hybridperf.api import analyze, predict_on
from hybridperf.cli import ExitCode, main
from hybridperf.estimate.budget import Budget, Metric, compare
from hybridperf.estimate.execution import GPU_SYNC_S
from hybridperf.estimate.pricing import NO_CALL_OVERHEAD
from hybridperf.report.text import to_dict, to_table

F32 = TensorProto.FLOAT


@pytest.mark.parametrize("device", ["host-xeon-2c", "raspberry-pi-4b"])
def test_views_on_a_cpu_sheet_have_unknown_latency_and_energy(analyzed, device):
    # until 2026-12-05: latency_s 0.0 and energy_j 0.0, unknown_figures () -- a silent zero
    pred = predict_on(analyzed, device, residual="auto")
    assert pred.complete and not any(kp.kernel.counts_toward_time for kp in pred.kernels)
    assert pred.unknown_figures == ("latency_s", "energy_j") and pred.call_overhead_note == ""
    assert pred.unpriced_reason == NO_CALL_OVERHEAD.format(runtime="onnxruntime", device=device)
    assert pred.roofline_latency_s == 0.0 and pred.flops == 0  # no work: exact figures, not unknown


def test_table_says_unknown_and_why(analyzed):
    # until 2026-12-05: "latency   0.0 us   [...]" and "energy    0.0 uJ"
    pred = predict_on(analyzed, "host-xeon-2c", residual="auto")
    lines = {ln.split()[0]: ln for ln in to_table(pred, top=0).splitlines()}
    assert lines["latency"].startswith(f"latency   unknown   ({pred.unpriced_reason})")
    assert "per-call overhead of onnxruntime on host-xeon-2c is not modelled" in lines["latency"]
    assert lines["energy"].startswith("energy    unknown")
    assert "roofline 0.0 us" in lines["latency"]  # the roofline's own figure: no work


def test_json_writes_null_and_the_reason(analyzed):
    # until 2026-12-05: "latency_s": 0.0, "energy_j": 0.0, "unknown_fields": []
    pred = predict_on(analyzed, "host-xeon-2c", residual="auto")
    totals = to_dict(pred)["totals"]
    assert totals["latency_s"] is None and totals["energy_j"] is None
    assert totals["unknown_fields"] == ["latency_s", "energy_j"]
    assert totals["unpriced_reason"] == pred.unpriced_reason and totals["lower_bound"] is False
    assert totals["roofline_latency_s"] == 0.0 and totals["flops"] == 0


def test_roofline_only_is_unknown_too(analyzed):
    # --roofline-only prices no call on any sheet: until 2026-12-05 "0.0 us" on t4 as on a CPU
    pred = predict_on(analyzed, "t4", residual=None)
    assert pred.unknown_figures == ("latency_s", "energy_j")


def test_gpu_sheet_under_torch_keeps_its_sync(analyzed):
    # the execution model's one synchronisation per call: a figure, not unknown (unchanged)
    pred = predict_on(analyzed, "t4", residual="auto", runtime="torch")
    assert pred.latency_s == pytest.approx(GPU_SYNC_S) and pred.unknown_figures == () and not pred.unpriced_reason


def test_a_model_with_kernels_is_unchanged(tmp_path):
    relu = _save([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", F32, [4, 8])],
                 [helper.make_tensor_value_info("y", F32, [4, 8])], tmp_path / "relu.onnx")
    pred = predict_on(analyze(relu), "host-xeon-2c", residual="auto")
    assert pred.latency_s > 0 and pred.unknown_figures == () and pred.unpriced_reason == ""


def test_compare_never_passes_it(analyzed):
    # until 2026-12-05 a latency limit of 1 ms passed a figure of 0.0 us
    pred = predict_on(analyzed, "host-xeon-2c", residual="auto")
    checks = {c.metric: c for c in compare(pred, Budget(max_latency_s=1e-3, max_energy_j=1e-3), "views", "host-xeon-2c",
                                           allow_unsupported=True)}
    for m in (Metric.LATENCY, Metric.ENERGY):
        assert checks[m].value is None and checks[m].undecided and not checks[m].passed
        assert checks[m].unknown == pred.unpriced_reason


@pytest.mark.parametrize("device", ["host-xeon-2c", "raspberry-pi-4b"])
def test_check_exits_2(views, device, capsys):
    # until 2026-12-05: exit 0, "latency  0.0 us  1.000 ms  ok"
    code = main(["check", views, "-d", device, "--max-latency", "1ms", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == ExitCode.INPUT_ERROR  # README "Exit codes": 2 when a limit cannot be judged
    latency = next(c for c in out["checks"] if c["metric"] == "latency")
    assert out["passed"] is False and latency["predicted"] is None and latency["undecided"] is True
    assert "per-call overhead of onnxruntime" in latency["unknown"]


def test_predict_many_rows_are_null(views, tmp_path, capsys):
    # until 2026-12-05 the row's latency_s and energy_j were 0.0 (the table: "0.0 uJ")
    d = tmp_path / "m"
    d.mkdir()
    (d / "views.onnx").write_bytes(open(views, "rb").read())
    assert main(["predict-many", str(d), "-d", "host-xeon-2c", "--format", "json"]) == ExitCode.OK
    row = json.loads(capsys.readouterr().out)["models"][0]
    assert row["latency_s"] is None and row["energy_j"] is None and row["unknown_fields"] == ["latency_s", "energy_j"]
    assert main(["predict-many", str(d), "-d", "host-xeon-2c"]) == ExitCode.OK
    body = capsys.readouterr().out.splitlines()[2].split()
    assert body[1:3] == ["unknown", "unknown"]
