"""A first-time user's `probe` -> `calibrate --measure` -> `measure` flow on an unknown machine (2026-12-03 audit):
what the stored measurements say about how they were taken, which CPU a cached sheet and a calibrated model belong
to, and what the calibration's output calls its figures.

Structure, labels, files and exit codes only (never timings): the one real measurement times two tiny models for a
few seconds; everything else fakes the measuring or is decided before it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from hybridperf.cli import main
from hybridperf.errors import InputError


def _static_models(d: Path, names=("resnet_like", "densenet_like", "bert_like")) -> list[Path]:
    import onnx_models

    return onnx_models.save_static(d, names)


def _own_home(tmp_path: Path, monkeypatch) -> Path:
    """An empty user data directory of this test's own: what a calibration stores must not reach other tests (the
    session's home is shared, and its `host` is priced zero-shot there)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", str(home))
    return home


def _never(*a, **k):
    raise AssertionError("probed or measured before the input was checked")


# --------------------------------------------------------------------------- the stored measurements


def test_measurements_csv_says_runtime_versions_cpu_and_date(tmp_path):
    """Before: measurements.csv had key, model (the path as typed, relative to where calibrate ran), latencies,
    threads and device only: no runtime or its version, no CPU, no date, so a table from another machine or runtime
    could not be told apart. Now each row carries them, the model path is absolute, and the table keeps them."""
    import onnxruntime

    from hybridperf import __version__
    from hybridperf.measure.calibrate import PROVENANCE_FIELDS, measure_rounds, write_tables
    from hybridperf.measure.onnxruntime import cpu_identity

    models = _static_models(tmp_path / "m", ("densenet_like", "bert_like"))
    rows, profile, failures = measure_rounds(models, "host-epyc-zen4-1c", 1, rounds=2, repeats=2, budget_s=0.02)
    assert failures == [] and len(rows) == 2
    ident = cpu_identity()
    for r, path in zip(sorted(rows, key=lambda r: r["key"]), sorted(models, key=lambda p: p.stem)):
        assert r["model"] == str(path.resolve()) and Path(r["model"]).is_absolute()
        assert (r["device"], r["threads"], r["rounds"]) == ("host-epyc-zen4-1c", 1, 2)
        assert (r["runtime"], r["runtime_version"], r["hybridperf_version"]) == (
            "onnxruntime", onnxruntime.__version__, __version__)
        assert (r["cpu_model"], r["cpu_vendor"], r["cpu_isa"]) == (ident.model_name, ident.vendor, "|".join(ident.isa))
        first, last = dt.datetime.fromisoformat(r["date_utc"]), dt.datetime.fromisoformat(r["date_utc_last"])
        assert first.utcoffset() == dt.timedelta(0) and first <= last
    out = tmp_path / "cal"
    assert write_tables(out, rows, profile, "host-epyc-zen4-1c") == 2
    with open(out / "measurements.csv", newline="") as f:
        header = next(csv.reader(f))
    assert {"device", "threads", "date_utc", "date_utc_last", *PROVENANCE_FIELDS} <= set(header)


def test_a_failed_measurement_keeps_its_whole_reason():
    """Before: a model onnxruntime could not run was named with its reason cut at 200 characters, mid-word
    (``left out: ortfail: not measured: ... check the --shape / -``)."""
    from hybridperf.measure.rounds import SpeedSample, run_round

    reason = "onnxruntime cannot run m.onnx on inputs x=1x6: " + "a long reason " * 20 + "; check the --shape values"

    def fail(key, rnd):
        raise InputError(reason)

    sample = SpeedSample(1e-3, 1e-3, 1e-3, date_utc="2026-12-03T00:00:00+00:00")
    res = run_round(0, ["m"], fail, lambda: sample)
    assert res.failures == (("m", reason),)


# --------------------------------------------------------------------------- whose sheet and model


GOLD, PLATINUM = "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz"


def _ident(name: str) -> dict:
    return {"model_name": name, "vendor": "GenuineIntel", "family": 6, "model": 106, "stepping": 6,
            "isa": ["avx2", "avx512f"], "threads": 1}


def test_two_skus_of_one_family_model_and_stepping_keep_their_own_sheet_and_model(tmp_path, monkeypatch):
    """Before: the cache key was vendor, family, model, stepping, ISA and threads only, so a Xeon Gold 6338 and a
    Platinum 8380 (both Ice Lake SP, family 6 model 106 stepping 6) sharing one home used one probed sheet and one
    calibrated model: the second machine never probed and was priced with the first one's figures."""
    import hybridperf.measure.host as host

    _own_home(tmp_path, monkeypatch)
    gold, plat = _ident(GOLD), _ident(PLATINUM)
    assert host.host_key(gold) != host.host_key(plat)
    assert host.host_key({**gold, "model_name": ""}) == "genuineintel-f6-m106-s6-avx2.avx512f-1t"  # no name: as before
    from hybridperf.device.spec import default_spec_dir

    host.install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml", identity=gold)
    assert host.host_spec_state(gold) is host.CacheState.CURRENT
    assert host.host_spec_state(plat) is host.CacheState.MISSING  # the other SKU probes its own
    assert host.host_dir(gold) != host.host_dir(plat) and host.host_model_dir(gold) != host.host_model_dir(plat)


def test_a_cache_written_before_the_name_was_in_the_key_is_kept_for_its_cpu_only(tmp_path, monkeypatch):
    """A home filled before 2026-12-03 (key without the model name) keeps serving the CPU its identity.json names:
    no new probe, its calibrated model still found; another SKU of that key gets a folder of its own."""
    import hybridperf.measure.host as host

    _own_home(tmp_path, monkeypatch)
    gold, plat = _ident(GOLD), _ident(PLATINUM)
    legacy = tmp_path / "home" / "hosts" / "genuineintel-f6-m106-s6-avx2.avx512f-1t"
    legacy.mkdir(parents=True)
    (legacy / host.IDENTITY_FILE).write_text(json.dumps({**gold, "format": host.HOST_SHEET_FORMAT}))
    (legacy / host.SPEC_FILE).write_text("id: host\n")
    assert host.host_dir(gold) == legacy and host.host_spec_state(gold) is host.CacheState.CURRENT
    assert host.host_dir(plat) == legacy.parent / host.host_key(plat)
    assert host.host_spec_state(plat) is host.CacheState.MISSING
    (legacy / host.IDENTITY_FILE).write_text("{}")  # a legacy identity without a name is not known to be this CPU
    assert host.host_dir(gold) == legacy.parent / host.host_key(gold)


def _probed_sheet(tmp_path: Path, cpu: str) -> Path:
    """A sheet as `hybridperf probe --out my-box.yaml` writes one on a machine whose CPU is ``cpu``."""
    import yaml

    from hybridperf.device.spec import default_spec_dir

    raw = yaml.safe_load((default_spec_dir() / "host-epyc-zen4-1c.yaml").read_text())
    raw["id"] = "my-box"
    raw["notes"] = (f"Probed 2026-12-03 by hybridperf 0.1.0. CPU: {cpu}; 1 usable of 2 logical CPUs; governor not "
                    "exposed; x86_64.")
    p = tmp_path / "my-box.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def test_a_sheet_probed_on_another_cpu_is_not_calibrated_here(tmp_path, capsys, monkeypatch):
    """Before: `calibrate --device my-box.yaml --measure ...` on a machine other than the one `probe --out` ran on
    stored a model adapting that machine's sheet to this one's timings, silently. Now: exit 2, one line naming both
    CPUs, before anything is measured."""
    import hybridperf.measure.calibrate as mcal

    _own_home(tmp_path, monkeypatch)
    monkeypatch.setattr(mcal, "measure_rounds", _never)
    models = _static_models(tmp_path / "m", ("resnet_like", "densenet_like"))
    sheet = _probed_sheet(tmp_path, "Some Other CPU 9000")
    code = main(["calibrate", "--device", str(sheet), "--measure", *map(str, models)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("hybridperf: error: --device my-box: its sheet was probed on another CPU (Some Other CPU "
                          "9000; this machine: ")
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("residual.json"))

    from hybridperf.commands.calibrate import _check_probed_here
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.probe import probed_cpu_model

    _check_probed_here(load_spec(_probed_sheet(tmp_path, probed_cpu_model())))  # probed here: goes on
    _check_probed_here(load_spec("host-epyc-zen4-1c"))  # a sheet naming no probed CPU: not judged


# --------------------------------------------------------------------------- what the output calls its figures


def _fake_measured_host(tmp_path, monkeypatch, fastest_s, failed=None):
    """``host`` in an own home with one thread, its sheet the packaged Zen 4 core's, and ``measure_rounds`` replaced:
    the first ``len(fastest_s)`` of the static models measure those fastest times (median 1.1x), the next one fails
    with ``failed`` where given. Returns the models' paths."""
    import hybridperf.measure.calibrate as cal
    import hybridperf.measure.host as host
    from hybridperf.device.spec import default_spec_dir

    _own_home(tmp_path, monkeypatch)
    monkeypatch.setattr(host, "host_threads", lambda: 1)
    host.install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    models = _static_models(tmp_path / "m")
    n = len(fastest_s)

    def fake(models, device, threads, rounds=2, seed=0, on_measured=None, batch=None):
        rows = [{"key": p.stem, "model": str(p), "latency_s": t * 1.1, "latency_min_s": t, "latency_norm_median": 1.0,
                 "round_spread": 0.0, "rounds": rounds, "threads": threads, "device": device}
                for p, t in zip(models[:n], fastest_s)]
        return rows, [], ([(models[n].stem, failed)] if failed else [])

    monkeypatch.setattr(cal, "measure_rounds", fake)
    return models


def test_the_measured_column_says_it_is_the_fastest_run(tmp_path, capsys, monkeypatch):
    """Before: the table's column read "measured", which a user compares with `hybridperf measure`'s first figure,
    the median; the calibration (and every CPU prediction) is of the fastest timed run."""
    models = _fake_measured_host(tmp_path, monkeypatch, (2e-3, 1e-3, 5e-4))
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("model "))
    assert header.split() == ["model", "measured", "fastest", "roofline", "zero-shot", "adapted", "(held", "out)"]


# --------------------------------------------------------------------------- models that fail, fewer left than --shots


def _ort_fails(path: Path) -> Path:
    """A readable ONNX model onnxruntime cannot run: a Reshape of 6 elements to 4x4."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    shape = numpy_helper.from_array(np.array([4, 4], np.int64), "shape")
    g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "g", [x], [y], [shape])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(path))
    return path


def test_a_model_onnxruntime_cannot_run_is_one_line_on_stderr(tmp_path, capfd):
    """Before: onnxruntime also logged the failure natively, in red with its C++ source location, before the error
    line (and once more per calibration round)."""
    model = _ort_fails(tmp_path / "reshape.onnx")
    code = main(["measure", str(model), "--no-subnormal-scan"])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    assert err.splitlines() == [err.strip()] and err.startswith(f"hybridperf: error: onnxruntime cannot run {model}")


def test_shots_that_leave_no_model_once_some_failed_are_said(tmp_path, capsys, monkeypatch):
    """`--shots 2` of 3 models passes the check before measuring; one then fails to measure. Before: the run fell back
    to leave-one-out over the 2 left without a word. Now a warning says --shots was dropped and why."""
    models = _fake_measured_host(tmp_path, monkeypatch, (2e-3, 1e-3), failed="onnxruntime cannot run it")
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--shots", "2", "--rounds", "1",
                 "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0
    assert ("hybridperf: warning: --shots 2 leaves no model to hold out of the 2 measured and analysed (1 left out): "
            "adapted on all 2, held-out error by leave-one-out instead") in err.splitlines()
    r = json.loads(out)
    assert (r["models"], r["adapted_on"], r["heldout"]) == (2, 2, "leave-one-out over the 2 models")
    assert r["heldout_mape_pct"]["adapted"] is None  # each fold saw 1 model: unknown, never 0


def test_the_calibration_output_says_how_and_when_it_measured(tmp_path, capsys, monkeypatch):
    """Before: neither the JSON nor the text of `calibrate --measure` said which runtime (and version) or CPU timed
    the models, or when: what a `hybridperf measure` to compare with must match. Unknown stays None (JSON), and the
    text line is left out, never filled with a guess."""
    import hybridperf.measure.calibrate as cal
    import hybridperf.measure.host as host
    from hybridperf.device.spec import default_spec_dir

    _own_home(tmp_path, monkeypatch)
    monkeypatch.setattr(host, "host_threads", lambda: 1)
    host.install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    models = _static_models(tmp_path / "m")
    how = {"runtime": "onnxruntime", "runtime_version": "1.32.0", "cpu_model": "AMD EPYC",
           "hybridperf_version": "0.1.0"}
    dates = iter(["2026-12-03T10:00:0%d+00:00" % i for i in range(6)])

    def fake(models, device, threads, rounds=2, seed=0, on_measured=None, batch=None):
        rows = [{"key": p.stem, "model": str(p), "latency_s": t * 1.1, "latency_min_s": t, "latency_norm_median": 1.0,
                 "round_spread": 0.0, "rounds": rounds, "threads": threads, "device": device, **how,
                 "date_utc": next(dates), "date_utc_last": next(dates)}
                for p, t in zip(models, (2e-3, 1e-3, 5e-4))]
        return rows, [], []

    monkeypatch.setattr(cal, "measure_rounds", fake)
    argv = ["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"]
    assert main([*argv, "--format", "json"]) == 0
    m = json.loads(capsys.readouterr().out)["measured"]
    assert m == {**how, "cpu_vendor": None, "cpu_family": None, "cpu_model_id": None, "cpu_stepping": None,
                 "cpu_isa": None, "first_utc": "2026-12-03T10:00:00+00:00", "last_utc": "2026-12-03T10:00:05+00:00"}
    dates = iter(["2026-12-03T10:00:0%d+00:00" % i for i in range(6)])
    assert main(argv) == 0
    assert ("measured with onnxruntime 1.32.0 on AMD EPYC, 1 thread(s), 2026-12-03T10:00:00+00:00 to "
            "2026-12-03T10:00:05+00:00") in capsys.readouterr().out.splitlines()


def test_measure_says_when_a_label_looks_like_a_mistyped_sheet_id(capsys):
    """`measure --device ID` keeps an id without a sheet as the user's label for this machine. Before: a mistyped
    sheet id (`host-epyc-1` for `host-epyc-1c`) was recorded as such a label without a word; now a warning names the
    sheet meant. A label like no sheet's id stays silent."""
    from hybridperf.commands.measure import _check_device

    assert _check_device("host-epyc-1") is None
    assert capsys.readouterr().err == ("hybridperf: warning: --device host-epyc-1: no sheet has this id, so it is "
                                       "recorded as your label for this machine (did you mean 'host-epyc-1c'?)\n")
    assert _check_device("my-box") is None and capsys.readouterr().err == ""


@pytest.mark.parametrize("table_device, fix", [
    ("host", "calibrate this machine with `hybridperf calibrate --device host --measure MODEL.onnx ...`"),
    ("host-epyc-1c", "use --device host-epyc-1c"),
])
def test_data_featurized_for_another_device_is_refused(table_device, fix, tmp_path, capsys, monkeypatch):
    """Before: `calibrate --device host-epyc-zen5-1c --data <the tables `calibrate --device host --measure` left>`
    trained a model on this machine's timings and its probed sheet's features and stored it for the packaged Zen 5
    sheet, which `predict -d host-epyc-zen5-1c` then used ("trained on 4 measurements"). Now exit 2, one line, no
    model stored."""
    from hybridperf.residual.features import FEATURES_VERSION, MODEL_FEATURES

    data = tmp_path / "cal"
    data.mkdir()
    feats = [{"key": f"m{i}", "device": table_device, "features_version": FEATURES_VERSION,
              "roofline_latency_s": 1e-3, "measured_latency_s": 2e-3, "op_families": "conv",
              **dict.fromkeys(MODEL_FEATURES, 0.5)} for i in range(4)]
    with (data / "features.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(feats[0]))
        w.writeheader()
        w.writerows(feats)
    (data / "measurements.csv").write_text("key,latency_min_s\n" + "".join(f"m{i},2e-3\n" for i in range(4)))
    _own_home(tmp_path, monkeypatch)
    out = tmp_path / "model"
    code = main(["calibrate", "--device", "host-epyc-zen5-1c", "--data", str(data), "--out", str(out)])
    o, err = capsys.readouterr()
    assert code == 2 and o == "" and not out.exists()
    assert err == (f"hybridperf: error: --data {data} was measured and featurized for {table_device}, not "
                   f"host-epyc-zen5-1c: its timings and features are of that sheet; {fix}, or measure for "
                   "host-epyc-zen5-1c on its machine\n")
