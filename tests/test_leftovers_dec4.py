"""Leftovers of 2026-12-04, each a defect fixed and pinned here.

* An :class:`~hybridperf.analysis.analyze.Analyzed` did not pickle ("cannot pickle 'mappingproxy' object"): its
  read-only mappings (and those of the ModelAnalysis and OpRecords it holds) now come back read-only.
* ``predict-many --jobs 64`` started 64 workers on a process that may run on 4 cores: it runs 4 and says so.
* ``--max-energy 2kJ`` was an unknown unit: kJ, and kWh / Wh / mWh, are energy units of budgets and sheets.
* Huge figures printed as digit strings (``57077708.311 s``, ``147573952.590 TFLOP``, ``+285388541455%``): from
  10000 of the largest prefix (or under 0.0001 of the smallest) they print in scientific notation, in the table,
  ``check``, ``predict-many`` and HTML alike; JSON keeps the raw numbers.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
from dataclasses import replace
from types import MappingProxyType

import onnx
import pytest
from onnx import TensorProto, helper
from test_no_silent_zeros import _relu

from hybridperf import api
from hybridperf.cli import ExitCode, main
from hybridperf.commands import _sweep, predict_many
from hybridperf.estimate.budget import BudgetError, parse_limit
from hybridperf.report.format import fmt_bytes, fmt_count, fmt_energy, fmt_percent, fmt_time, format_si
from hybridperf.units import UNITS, bytes_text, scientific

SQUEEZENET = "examples/squeezenet1_1.onnx"


# --- 1. Analyzed pickles --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def squeezenet():
    return api.analyze(SQUEEZENET)


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_analyzed_pickles_equal_and_read_only(squeezenet, protocol):
    back = pickle.loads(pickle.dumps(squeezenet, protocol))
    assert back == squeezenet and back is not squeezenet
    # the fields left out of ==: the same values
    assert dict(back.source_nodes) == dict(squeezenet.source_nodes) and back.segments == squeezenet.segments
    assert [r.attrs for r in back.analysis.records] == [r.attrs for r in squeezenet.analysis.records]
    read_only = [back.input_shapes, back.timings_s, back.source_nodes, back.analysis.input_infos,
                 back.analysis.weight_bytes_by_dtype, *(r.attrs for r in back.analysis.records)]
    assert all(type(m) is MappingProxyType for m in read_only)  # not turned into mutable dicts
    with pytest.raises(TypeError):
        back.input_shapes["x"] = (1,)  # type: ignore[index]


def test_analyzed_round_trip_predicts_the_same(squeezenet):
    back = pickle.loads(pickle.dumps(squeezenet))
    for device in ("t4", "raspberry-pi-4b"):
        a, b = api.predict(squeezenet, device), api.predict(back, device)
        assert (b.latency_s, b.energy_j, b.peak_memory_bytes) == (a.latency_s, a.energy_j, a.peak_memory_bytes)
        assert [k.latency_s for k in b.kernels] == [k.latency_s for k in a.kernels]


def test_analyzed_copies(squeezenet):
    assert copy.deepcopy(squeezenet) == squeezenet  # it failed on the mappingproxy too
    shallow = copy.copy(squeezenet)
    assert shallow == squeezenet and shallow.analysis is squeezenet.analysis


def test_block_composed_analyzed_pickles():
    composed = api.Session().analyze(SQUEEZENET)  # composed from the block cache: it holds its Segments
    assert composed.segments is not None
    back = pickle.loads(pickle.dumps(composed))
    assert back == composed and back.segments == composed.segments


def test_prediction_pickles_but_for_its_sheet(squeezenet):
    """What a :class:`~hybridperf.estimate.pricing.Prediction` holds besides its DeviceSpec pickles (the sheet's
    own mappingproxies are hybridperf/device/spec.py's to fix)."""
    pred = api.predict(squeezenet, "t4", runtime="auto")
    bare = replace(pred, spec=None)
    back = pickle.loads(pickle.dumps(bare))
    assert back == bare
    assert (back.latency_s, back.energy_j, back.peak_memory_bytes) == (pred.latency_s, pred.energy_j,
                                                                       pred.peak_memory_bytes)


def test_prediction_pickles(squeezenet):
    """With the DeviceSpec's own fix (hybridperf/device/spec.py), a whole Prediction round-trips."""
    pred = api.predict(squeezenet, "t4", runtime="auto")
    back = pickle.loads(pickle.dumps(pred))
    assert back == pred and back.spec == pred.spec
    assert (back.latency_s, back.energy_j, back.peak_memory_bytes) == (pred.latency_s, pred.energy_j,
                                                                       pred.peak_memory_bytes)


# --- 2. predict-many --jobs at most the usable cores --------------------------------------------------------------


@pytest.fixture
def two_cores(monkeypatch):
    """This process may run on two cores, whatever the host has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)


@pytest.mark.parametrize(("jobs", "models", "want"), [
    (8, 10, 2),  # capped at the cores, with a note
    (None, 10, 2),  # the default: every usable core, no note
    (2, 10, 2),
    (1, 10, 1),
    (8, 1, 1),  # one model: one worker, whatever the cores (no note: the cores did not cap it)
    (3, 2, 2),
])
def test_capped_jobs(two_cores, jobs, models, want):
    n, note = _sweep.capped_jobs(jobs, models)
    assert n == want
    if jobs is not None and min(jobs, models) > 2:
        assert note == (f"--jobs {jobs} is more than the 2 cores this process may run on (its CPU affinity): running 2 "
                        "workers")
    else:
        assert note == ""


def test_capped_jobs_one_core(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert _sweep.capped_jobs(4, 4) == (1, "--jobs 4 is more than the 1 core this process may run on (its CPU "
                                           "affinity): running 1 worker")


def test_predict_many_runs_at_most_the_usable_cores(two_cores, tmp_path, monkeypatch, capsys):
    d = tmp_path / "models"
    d.mkdir()
    for i in range(3):
        _relu(d / f"relu{i}.onnx")
    started = []

    def pool(models, spec_ref, call, jobs):  # in this process: what matters is how many workers were asked for
        started.append(jobs)
        session = api.Session(keep_analyses=0)
        for m in models:
            yield m, _sweep.predict_row(m, spec_ref, **call, session=session)

    monkeypatch.setattr(predict_many, "_pool_results", pool)
    assert main(["predict-many", str(d), "-d", "t4", "--jobs", "16", "--format", "json"]) == ExitCode.OK
    out, err = capsys.readouterr()
    assert started == [2]
    assert [line for line in err.splitlines() if "--jobs" in line] == [
        "hybridperf: note: --jobs 16 is more than the 2 cores this process may run on (its CPU affinity): running 2 "
        "workers"]
    assert [r["status"] for r in json.loads(out)["models"]] == ["ok"] * 3


def test_predict_many_capped_to_one_core_keeps_a_worker(tmp_path, monkeypatch, capsys):
    """``--jobs 4`` on one usable core: one worker process, not this process (a worker that dies fails its model
    only, as with more workers); ``--jobs 1`` stays in this process."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    d = tmp_path / "models"
    d.mkdir()
    for i in range(2):
        _relu(d / f"relu{i}.onnx")
    started = []

    def pool(models, spec_ref, call, jobs):
        started.append(jobs)
        for m in models:
            yield m, _sweep.predict_row(m, spec_ref, **call)

    monkeypatch.setattr(predict_many, "_pool_results", pool)
    assert main(["predict-many", str(d), "-d", "t4", "--jobs", "4"]) == ExitCode.OK
    assert started == [1] and "--jobs 4 is more than the 1 core" in capsys.readouterr().err
    assert main(["predict-many", str(d), "-d", "t4", "--jobs", "1"]) == ExitCode.OK
    assert started == [1] and "note" not in capsys.readouterr().err  # in this process: no pool started


@pytest.mark.parametrize("jobs", ["0", "-3"])
def test_predict_many_refuses_non_positive_jobs(tmp_path, capsys, jobs):
    model = _relu(tmp_path / "relu.onnx")
    rows = tmp_path / "rows.jsonl"
    assert main(["predict-many", str(model), "-d", "t4", "--jobs", jobs, "-o", str(rows)]) == ExitCode.INPUT_ERROR
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [f"hybridperf: error: --jobs must be a positive integer, got {jobs}"]
    assert not rows.exists()  # nothing written half-way


# --- 3. kJ and watt-hours -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "joules"), [
    ("2kJ", 2 * 1000),
    ("0.3 Wh", 0.3 * 3600),  # 1080 J: a quoted per-query LLM figure
    ("5mWh", 5 * 3.6),
    ("0.1kWh", 0.1 * 3.6e6),
    ("50mJ", 50 / 1000),  # unchanged
])
def test_energy_units(text, joules):
    assert parse_limit(text, "energy") == pytest.approx(joules, rel=1e-15)


def test_energy_units_in_the_one_table():
    assert [UNITS[u] for u in ("kWh", "kJ", "Wh", "mWh")] == [("energy", 3.6e6), ("energy", 1e3), ("energy", 3600.0),
                                                              ("energy", 3.6)]


@pytest.mark.parametrize(("text", "message"), [
    ("1kWh", "is more than the largest energy limit, 1000000 J"),  # 3.6 MJ: said, not offered 'Wh'
    ("2 KJ", "unknown unit 'KJ' (did you mean 'kJ'?)"),
    ("2MWh", "(did you mean 'mWh'? case matters: m is milli, M mega, and 'MWh' is not a unit here)"),
    ("2000kJ", "is more than the largest energy limit"),
])
def test_energy_units_refused(text, message):
    with pytest.raises(BudgetError, match=re.escape(message)):
        parse_limit(text, "energy")


def test_check_takes_kilojoules(capsys):
    assert main(["check", SQUEEZENET, "-d", "t4", "--max-energy", "2kJ"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert re.search(r"energy\s+\S+ mJ\s+2\.000 kJ\s+ok", out), out


# --- 4. huge and tiny figures -------------------------------------------------------------------------------------


def test_formatters_large_and_small():
    year = 365 * 24 * 3600  # 31536000 s
    assert fmt_time(year) == "3.154e7 s" and fmt_time(9999.9) == "9999.900 s"  # four integer digits stay
    assert fmt_time(1e-15) == "1.0e-15 s" and fmt_time(1e-12) == "0.001 ns"  # it read "1e-06 ns"
    assert fmt_time(2.51e-3) == "2.510 ms" and fmt_time(0) == "0.0 us"
    assert fmt_count(2 * 4194304**3) + "FLOP" == "1.476e20 FLOP"  # 2 * 2^66 = 147573952589676412928
    assert fmt_count(2.5e15) == "2500.000 T" and fmt_count(706.624e6) == "706.624 M"
    assert [fmt_energy(j) for j in (2e3, 1662.848e6, 2e10, 1e-18, 0.0396)] == [
        "2.000 kJ", "1662.848 MJ", "2.000e10 J", "1.0e-18 J", "39.600 mJ"]
    assert [fmt_bytes(n) for n in (2**55, 2**62, 20000 * 2**60)] == ["32.00 PiB", "4.00 EiB", "2.306e22 B"]
    assert bytes_text(198.53 * 2**40) == "198.53 TiB"
    assert format_si(1e20, "FLOP/s") == "1e20 FLOP/s" and format_si(3e7, "s") == "3e7 s"  # "1e+05 PFLOP/s"
    assert format_si(1.5e-12, "s") == "1.5e-12 s" and format_si(19.5e12, "FLOP/s") == "19.5 TFLOP/s"
    assert fmt_percent(2853885414.55, 0) == "2.854e11%" and fmt_percent(99.99, 0) == "9999%"
    assert scientific(-3e7) == "-3.000e7" and scientific(1e-15, 2) == "1.0e-15"


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    """A MatMul of two 2^22 x 2^22 float32 inputs (64 TiB each, under the 2^48 B a tensor may take):
    2 * (2^22)^3 = 1.476e20 FLOP, months on a T4."""
    n = 2**22
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])], "huge",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])])
    path = tmp_path_factory.mktemp("huge") / "huge.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _no_digit_strings(text: str) -> None:
    assert not re.search(r"\d{9,}", text), text


def test_huge_figures_print_readably(huge, tmp_path, capsys):
    assert main(["predict", str(huge), "-d", "t4", "--format", "json"]) == ExitCode.OK
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["flops"] == 2 * (2**22) ** 3  # raw in JSON
    assert totals["latency_s"] > 1e4 and totals["energy_j"] > 1e9  # figures this test is about
    latency, energy = fmt_time(totals["latency_s"]), fmt_energy(totals["energy_j"])
    assert "e" in latency and latency.endswith(" s")

    assert main(["predict", str(huge), "-d", "t4"]) == ExitCode.OK
    table = capsys.readouterr().out
    _no_digit_strings(table)
    assert f"latency   {latency}" in table and f"energy    {energy}" in table
    assert "compute   1.476e20 FLOP (FLOP = 2 x MAC)" in table

    code = main(["check", str(huge), "-d", "t4", "--max-latency", "20ms", "--max-energy", "2kJ"])
    assert code == ExitCode.BUDGET_EXCEEDED
    check = capsys.readouterr().out
    _no_digit_strings(check)
    assert re.search(rf"latency\s+{re.escape(latency)}\s+20\.000 ms\s+OVER \(\+\d\.\d{{3}}e\d+%\)", check), check
    assert re.search(rf"energy\s+{re.escape(energy)}\s+2\.000 kJ\s+OVER", check), check

    assert main(["predict-many", str(huge), "-d", "t4", "-j", "1"]) == ExitCode.OK
    many = capsys.readouterr().out
    _no_digit_strings(many)
    assert latency in many and "1.476e20 FLOP" in many

    html = tmp_path / "huge.html"
    assert main(["report", str(huge), "-d", "t4", "--html", str(html)]) == ExitCode.OK
    capsys.readouterr()
    page = html.read_text()
    # the text a reader sees (the data-* attributes keep raw numbers, as JSON does)
    shown = re.sub(r"<[^>]*>", " ", page.split("<body", 1)[1])
    _no_digit_strings(shown)
    assert latency in shown and "1.476e20" in shown
