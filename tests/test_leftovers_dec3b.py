"""Leftovers of the 2026-12-03 review, each a defect fixed and pinned here.

* ``check``'s budget read a roofline of 0 as "nothing priced" by a rule of its own, beside pricing's explicit
  marker (:attr:`~hybridperf.estimate.pricing.Prediction.unknown_figures`): it reads the marker now.
* ``--max-energy '3 Mj'`` (and ``3 MJ``) was offered ``mJ`` as if the case were a slip, though ``M`` is mega;
  ``--max-memory 1e30GB`` was taken and printed as ``888178419700125178789888.00 PiB``.
* ``check DIR`` was refused ("is a directory") where ``predict-many DIR`` takes it.
* the QOperator rewrite walked the whole graph for each integer op (its zero points' producer, its readers).
* ``LegalizeCache.legalize_map`` and ``lowering._fixed_legalize_map`` each walked ``main`` their own way.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_no_silent_zeros import _nms, _relu

from hybridperf.cli import ExitCode, main
from hybridperf.estimate.budget import LARGEST, Budget, BudgetError, Metric, compare, parse_limit

F32 = TensorProto.FLOAT


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A 4x8 Relu (5.0008 us on t4's roofline: its 5 us launch), a 1024x1024 Relu (31.2 us: 8 MiB through 320 GB/s
    and the launch) and NonMaxSuppression alone (nothing priced)."""
    d = tmp_path_factory.mktemp("dec3b")
    return {
        "relu": _relu(d / "relu.onnx"),
        "big": _relu(d / "big.onnx", (1024, 1024)),
        "nms": _nms(d / "nms.onnx"),
    }


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- 1. one "nothing priced" rule


class _Constant:
    """A learned model reduced to its constant: 10 us over any roofline (a GPU model's floor)."""

    calibration = "a constant of 10 us"

    def apply(self, pred):
        return replace(pred, latency_s=pred.roofline_latency_s + 1e-5, calibration=self.calibration)


def test_compare_reads_the_predictions_own_unknown_marker(models):
    from hybridperf.api import analyze, predict_on

    pred = predict_on(analyze(models["nms"]), "t4", residual=_Constant())
    assert {"latency_s", "energy_j"} <= set(pred.unknown_figures)  # pricing's marker: the constant is not applied
    lat, mem, en = compare(pred, Budget(1e-3, 2**30, 1.0), "nms.onnx", "t4", allow_unsupported=True)
    assert [c.metric for c in (lat, en) if c.value is None and c.undecided] == [Metric.LATENCY, Metric.ENERGY]
    assert lat.unknown == en.unknown == ("nothing priced: 1 op type has no cost "
                                         "(relax.vision.all_class_non_max_suppression)")
    assert mem.value == pred.peak_memory_bytes and not mem.unknown  # not a figure pricing marks unknown


def test_compare_judges_what_the_marker_does_not_name(models):
    """The marker is the one rule: a figure it does not name is judged, whatever the roofline under it."""
    from hybridperf.api import analyze, predict_on

    pred = predict_on(analyze(models["nms"]), "t4", residual=None)
    assert pred.roofline_latency_s == 0.0 and "latency_s" in pred.unknown_figures

    class Marked:  # the fields compare reads, the marker emptied: compare must not find "nothing priced" alone
        def __getattr__(self, name):
            return () if name == "unknown_figures" else getattr(pred, name)

    lat, _, _ = compare(Marked(), Budget(1e-3), "nms.onnx", "t4", allow_unsupported=True)
    assert lat.value == 0.0 and not lat.unknown  # judged on the figure: the marker, not a roofline of 0, decides


def test_check_never_passes_a_directory_model_it_could_not_price(models, tmp_path, capsys):
    shutil.copy(models["nms"], tmp_path / "nms.onnx")
    code, out, _ = _run(capsys, "check", str(tmp_path), "-d", "t4", "--max-latency", "1ms", "--allow-unsupported",
                        "--format", "json")
    (lat, _, _) = json.loads(out)["checks"]
    assert code == ExitCode.INPUT_ERROR and lat["predicted"] is None and lat["undecided"] and not lat["passed"]


# --------------------------------------------------------------------------- 2. units: case, absurd limits


@pytest.mark.parametrize(("text", "metric", "hint"), [
    ("3 Mj", "energy", "(did you mean 'mJ'? case matters: m is milli, M mega, and 'MJ' is not a unit here)"),
    ("3 MJ", "energy", "(did you mean 'mJ'? case matters: m is milli, M mega, and 'MJ' is not a unit here)"),
    ("3 MS", "latency", "(did you mean 'ms'? case matters: m is milli, M mega, and 'Ms' is not a unit here)"),
    ("3 PJ", "energy", "(did you mean 'pJ'? case matters: p is pico, P peta, and 'PJ' is not a unit here)"),
])
def test_an_upper_case_prefix_is_not_folded_into_milli(text, metric, hint):
    with pytest.raises(BudgetError) as info:
        parse_limit(text, metric, allow_number=False)
    assert f"unknown unit {text.split()[1]!r} {hint}; write a positive number" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("unit", "quantity", "hint"), [
    ("mj", "energy", " (did you mean 'mJ'?)"),  # the same prefix: the case is a slip
    ("mb", "capacity", " (did you mean 'MB'? a lowercase b is a bit, 1/8 of a byte)"),  # no millibytes
    ("kb", "capacity", " (did you mean 'KB'? a lowercase b is a bit, 1/8 of a byte)"),
    ("MW", "power", " (did you mean 'mW'? case matters: m is milli, M mega, and 'MW' is not a unit here)"),  # sheets
    ("Mhz", "frequency", " (did you mean 'MHz'?)"),
])
def test_unit_hints_where_case_is_a_slip_and_where_it_is_a_prefix(unit, quantity, hint):
    from hybridperf.units import unit_hint

    assert unit_hint(unit, quantity) == hint


def test_absurd_limits_are_refused_with_the_largest_named(models, tmp_path, capsys):
    assert LARGEST[Metric.MEMORY][0] == 2**60 and LARGEST[Metric.LATENCY][0] == LARGEST[Metric.ENERGY][0] == 10**6
    assert parse_limit("1000000s", "latency") == 10**6 and parse_limit("1000000J", "energy") == 10**6
    assert parse_limit(f"{2**60}B", "memory") == 2**60  # the largest itself is taken
    for text, metric in (("1000001s", "latency"), ("1e30GB", "memory"), ("1e7J", "energy")):
        with pytest.raises(BudgetError, match=r"is more than the largest \w+ limit, .*; leave the limit out to set none$"):
            parse_limit(text, metric)
    with pytest.raises(BudgetError, match="max_energy=10000000.0: is more than the largest energy limit, 1000000 J"):
        parse_limit(1e7, "energy", "max_energy=")  # the Python API's plain numbers too
    # the CLI: one line, exit 2, nothing written (was a pass printed as "888178419700125178789888.00 PiB")
    code, out, err = _run(capsys, "check", models["relu"], "-d", "t4", "--max-memory", "1e30GB", "--junit-xml",
                          str(tmp_path / "j.xml"))
    assert code == ExitCode.INPUT_ERROR and out == "" and not (tmp_path / "j.xml").exists()
    assert err == ("hybridperf: error: --max-memory '1e30GB': is more than the largest memory limit, 1048576 TiB "
                   "(2^60 B, 1024 PiB); leave the limit out to set none\n")


# --------------------------------------------------------------------------- 3. check DIR


@pytest.fixture()
def model_dir(models, tmp_path):
    """``models/a/relu.onnx`` (within 10 us) and ``models/b/big.onnx`` (31.2 us: over), and a file that is no model."""
    d = tmp_path / "models"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    shutil.copy(models["relu"], d / "a" / "relu.onnx")
    shutil.copy(models["big"], d / "b" / "big.onnx")
    (d / "README.md").write_text("not a model")
    return d


def test_check_a_directory_checks_every_model_in_it(model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "check", "models", "-d", "t4", "--max-latency", "10us", "--roofline-only",
                          "--junit-xml", "r/j.xml", "--format", "json")
    assert code == ExitCode.BUDGET_EXCEEDED, err
    checks = [c for c in json.loads(out)["checks"] if c["metric"] == "latency"]
    # one result per model, in predict-many's order (recursively, sorted by path)
    assert [(c["model"], c["exceeded"]) for c in checks] == [("models/a/relu.onnx", False), ("models/b/big.onnx", True)]
    root = ET.parse(tmp_path / "r" / "j.xml").getroot()
    assert [s.get("name") for s in root] == ["models/a/relu.onnx", "models/b/big.onnx"]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "1", "0")  # 2 models x 3 metrics
    code, out, _ = _run(capsys, "check", "models", "-d", "t4", "--max-latency", "10us", "--roofline-only",
                        "--format", "github")
    assert code == ExitCode.BUDGET_EXCEEDED
    (error,) = [x for x in out.splitlines() if x.startswith("::error ")]
    assert error.startswith("::error file=models/b/big.onnx,title=hybridperf%3A latency over budget on t4::")
    assert out.splitlines()[-1] == "2 limits checked on 2 model x device pairs: 1 over budget, 1 within budget"


def test_check_of_a_directory_and_a_model_in_it_checks_it_once(model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "check", "models", "./models/a/relu.onnx", "-d", "t4", "--max-latency", "1s",
                        "--roofline-only", "--format", "json")
    assert code == ExitCode.OK
    assert sorted({c["model"] for c in json.loads(out)["checks"]}) == ["models/a/relu.onnx", "models/b/big.onnx"]


def test_check_of_a_directory_keeps_the_exit_code_precedence(model_dir, models, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(models["nms"], model_dir / "b" / "nms.onnx")  # cannot be judged: 2 wins over the 1 of big.onnx
    code, out, err = _run(capsys, "check", "models", "-d", "t4", "--max-latency", "10us", "--roofline-only")
    assert code == ExitCode.INPUT_ERROR
    assert out.splitlines()[-1] == "3 limits checked on 3 model x device pairs: 1 over budget, 1 cannot be judged, " \
                                   "1 within budget"
    assert err.startswith("hybridperf: error: cannot judge 1 limit: latency of models/b/nms.onnx on t4 (nothing priced")
    # a model that cannot be read stops the check: one line naming it, no report, no JUnit file
    (model_dir / "b" / "broken.onnx").write_bytes(b"not a model")
    code, out, err = _run(capsys, "check", "models", "-d", "t4", "--max-latency", "10us", "--roofline-only",
                          "--junit-xml", "r/k.xml")
    assert code == ExitCode.INPUT_ERROR and out == "" and not (tmp_path / "r" / "k.xml").exists()
    assert err.count("\n") == 1 and "models/b/broken.onnx" in err


def test_check_of_a_directory_without_models_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("")
    code, out, err = _run(capsys, "check", str(tmp_path / "empty"), "-d", "t4", "--max-latency", "1s")
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == (f"hybridperf: error: no model file (.onnx, .tflite, .pt2) under {tmp_path / 'empty'}; pass a directory "
                   "of models or model files\n")


def test_junit_xml_naming_a_model_of_the_directory_is_still_refused(model_dir, capsys):
    target = model_dir / "a" / "relu.onnx"
    before = target.read_bytes()
    code, out, err = _run(capsys, "check", str(model_dir), "--junit-xml", str(target), "-d", "t4", "--max-latency",
                          "1s", "--roofline-only")
    assert code == ExitCode.INPUT_ERROR and out == "" and target.read_bytes() == before
    assert err.startswith(f"hybridperf: error: --junit-xml {target} is a model file, not a report")


# --------------------------------------------------------------------------- 4. the QOperator rewrite: one walk


def _dynamic_matmuls(k: int) -> onnx.ModelProto:
    """``quantize_dynamic``'s form, ``k`` times in a chain: x -> DynamicQuantizeLinear -> MatMulInteger(int8 W 8x8,
    its zero point an initializer; x's the DynamicQuantizeLinear's) -> Cast to float."""
    nodes, inits, x = [], [], "x"
    for i in range(k):
        inits += [numpy_helper.from_array(np.ones((8, 8), np.int8), f"W{i}"),
                  numpy_helper.from_array(np.zeros((), np.int8), f"wz{i}")]
        nodes += [helper.make_node("DynamicQuantizeLinear", [x], [f"q{i}", f"s{i}", f"z{i}"]),
                  helper.make_node("MatMulInteger", [f"q{i}", f"W{i}", f"z{i}", f"wz{i}"], [f"m{i}"], name=f"mm{i}"),
                  helper.make_node("Cast", [f"m{i}"], [f"y{i}"], to=TensorProto.FLOAT)]
        x = f"y{i}"
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F32, [2, 8])],
                          [helper.make_tensor_value_info(x, F32, [2, 8])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_the_integer_op_rewrite_reads_the_graph_once(monkeypatch):
    from hybridperf.frontends import qoperator

    calls = []
    real = qoperator._subgraph_reads
    monkeypatch.setattr(qoperator, "_subgraph_reads", lambda n: calls.append(n.name or n.op_type) or real(n))
    k = 6
    out = qoperator.qoperator_to_qdq(_dynamic_matmuls(k))
    assert len(calls) == 3 * k  # each node once (was every node for each of the k MatMulIntegers: 3 * k * k)
    ops = [n.op_type for n in out.graph.node]
    # every zero point recognised as a DynamicQuantizeLinear's; the Cast to float takes the float result as it is
    assert ops == ["DynamicQuantizeLinear", "DequantizeLinear", "DequantizeLinear", "MatMul", "Cast"] * k


# --------------------------------------------------------------------------- 5. one walk for a legalize map


def test_both_legalize_maps_come_from_one_walk_of_main(monkeypatch):
    from tvm.script import ir as I, relax as R  # noqa: N812

    from hybridperf.ir import lowering, tvm_compat

    @I.ir_module
    class Mod:
        @R.function
        def main(x: R.Tensor((1, 4, 2, 2), "float16"), g: R.Tensor((4,), "float16"), b: R.Tensor((4,), "float16"),
                 m: R.Tensor((4,), "float16"), v: R.Tensor((4,), "float16")):
            with R.dataflow():
                y = R.nn.relu(x)
                bn = R.nn.batch_norm(y, g, b, m, v, axis=1)
                z = bn[0]
                w = R.nn.relu(z)
                R.output(w)
            return w

    walks, homes = [], []
    real, home = tvm_compat.bindings, lowering._legalizations
    monkeypatch.setattr(lowering._tvm, "bindings", lambda f: walks.append(1) or real(f))
    monkeypatch.setattr(lowering, "_legalizations", lambda *a: homes.append(a[1:]) or home(*a))
    fixed = lowering._fixed_legalize_map(Mod)
    assert len(walks) == 1 and list(fixed) == ["relax.nn.batch_norm"]
    cached = lowering.LegalizeCache().legalize_map(Mod)
    assert len(walks) == 2 and list(cached) == ["relax.nn.relu", "relax.nn.batch_norm"]  # first call's order
    assert homes == [(lowering._LEGALIZE_FIXES,), ()]  # both through the one walk (each had its own until 2026-12-03)
    # the batch norm fix is in both (the cache's wraps it): the two maps legalize to the same module
    _, relax = tvm_compat.tvm_modules()
    assert tvm_compat.structural_equal(relax.transform.LegalizeOps(fixed)(Mod), relax.transform.LegalizeOps(cached)(Mod))
