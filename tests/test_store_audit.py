"""A device-sheet audit of what is stored for a sheet (2026-12-03): a model calibrated with one sheet and then priced
on the edited sheet, a sheet file that takes this machine's id ``host``, and a CPU sheet without a cache capacity or
an int8 peak.

* A model calibrated for ``my-box.yaml`` (CPU ``--data``, the cross-host adaptation of ``--measure`` / ``host``, a
  GPU adaptation) kept pricing the edited sheet with nothing said. Now every stored model records the figures of
  its sheet; a prediction on other figures keeps the model but names each change in its calibration note and marks
  its latency unverified (``check``: ``ok (unverified)``); a model stored before says "sheet not recorded".
* ``./host.yaml`` (``id: host``) was priced with this machine's calibrated model: now refused (exit 2, one line).
* The cross-host CPU model read a sheet without ``memory.l2`` / ``llc`` capacity as 0 B of cache and one without an
  int8 peak as its fp32 rate, silently: now the figure is unverified and says which was assumed.

No measurement, no probe: the CPU models are trained on a made-up table or adapted on made-up labels, the GPU rows are
made up (as in ``test_calibrate_cli`` / ``test_gpu_calibrate_audit``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from hybridperf.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "squeezenet1_1.onnx"
ZEN4 = ROOT / "hybridperf" / "data" / "hw_specs" / "host-epyc-zen4-1c.yaml"
A100 = ROOT / "hybridperf" / "data" / "hw_specs" / "a100-sxm-80gb.yaml"


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", str(h))
    return h


@pytest.fixture(scope="module")
def squeezenet():
    from hybridperf.analysis.analyze import analyze

    return analyze(EXAMPLE)


def _sheet(path: Path, source: Path = ZEN4, edit=None) -> Path:
    """``source`` as the user's sheet ``path`` (its id the file name), changed by ``edit(raw)``."""
    raw = yaml.safe_load(source.read_text())
    raw["id"] = path.stem
    if edit is not None:
        edit(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _table(data: Path, n: int = 30) -> Path:
    """A features.csv and measurements.csv of ``n`` made-up models whose fastest run is 1.5 x roofline."""
    from test_calibrate_cli import _write_table

    _write_table(data, n)
    return data


def _double_fp32(raw) -> None:
    raw["peak_compute"]["fp32"]["value"] *= 2


# --------------------------------------------------------------------------- 1. CPU residual (calibrate --data)


def test_a_cpu_model_says_when_its_sheet_was_edited(tmp_path, home, squeezenet, capsys):
    """Before: the model stored for my-box priced the edited sheet (fp32 peak doubled) with nothing said."""
    from hybridperf.api import predict_on

    sheet = _sheet(tmp_path / "my-box.yaml")
    assert main(["calibrate", "--device", str(sheet), "--data", str(_table(tmp_path / "data"))]) == 0
    capsys.readouterr()
    stored = json.loads((home / "models" / "my-box" / "residual.json").read_text())["sheet"]
    fp32 = 101.9e9  # host-epyc-zen4-1c.yaml: peak_compute.fp32 101.9 GFLOP/s
    assert stored["peak_compute.fp32"] == pytest.approx(fp32) and stored["kind"] == "cpu"
    assert stored["memory.l2.capacity"] == 1024 * 2**10 and stored["compute_units.count"] == 1
    same = predict_on(squeezenet, str(sheet))
    assert same.latency_note == "" and "sheet" not in same.calibration

    _sheet(sheet, edit=lambda raw: raw.update(notes="sources and notes edited"))  # not a figure the model reads
    assert predict_on(squeezenet, str(sheet)).calibration == same.calibration

    _sheet(sheet, edit=_double_fp32)
    pred = predict_on(squeezenet, str(sheet))
    change = "peak_compute.fp32 101.9 GFLOP/s -> 203.8 GFLOP/s"  # fp32 -> 2 * fp32, as the reports write FLOP/s
    assert pred.latency_note == (f"unverified: calibrated with other figures of this sheet: {change}; calibrate "
                                 "again to fit this sheet")
    assert pred.calibration == (f"{same.calibration}; calibrated with other sheet figures ({change}; calibrate again "
                                "to fit this sheet)")
    assert pred.latency_s != same.latency_s  # still the model's figure, on the new roofline
    assert pred.warnings == (f"latency {pred.latency_note}",) and same.warnings == ()  # one warning line too
    assert main(["check", str(EXAMPLE), "-d", str(sheet), "--max-latency", "1s", "--format", "json"]) == 0
    lat = json.loads(capsys.readouterr().out)["checks"][0]
    assert lat["metric"] == "latency" and lat["estimated"] == pred.latency_note
    assert main(["check", str(EXAMPLE), "-d", str(sheet), "--max-latency", "1s"]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith(" ok (unverified)")
    assert main(["predict", str(EXAMPLE), "-d", str(sheet), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["calibration"] == pred.calibration


def test_a_model_stored_before_sheets_were_recorded_keeps_working(tmp_path, home, squeezenet, capsys):
    from hybridperf.api import predict_on

    sheet = _sheet(tmp_path / "my-box.yaml")
    assert main(["calibrate", "--device", str(sheet), "--data", str(_table(tmp_path / "data"))]) == 0
    capsys.readouterr()
    side = home / "models" / "my-box" / "residual.json"
    before = predict_on(squeezenet, str(sheet))
    meta = json.loads(side.read_text())
    del meta["sheet"]
    side.write_text(json.dumps(meta))
    old = predict_on(squeezenet, str(sheet))
    assert old.calibration == f"{before.calibration}; sheet not recorded"
    assert old.latency_note == "" and old.latency_s == before.latency_s
    # a packaged model is made with the packaged sheet of its id: nothing to say
    assert "sheet" not in predict_on(squeezenet, "host-epyc-1c").calibration


# --------------------------------------------------------------------------- 1. cross-host adaptation, host


def _adapted(spec, threads: int = 1):
    """The cross-host model adapted to four made-up measurements on ``spec`` (model rows only: fast)."""
    from hybridperf.residual.cross_host import base_model

    rng = np.random.default_rng(1)
    from hybridperf.residual.features import MODEL_FEATURES

    X = rng.normal(size=(4, len(MODEL_FEATURES)))
    return base_model(spec, threads).adapt(X, np.full(4, 0.2), device=spec.id)


def test_a_cross_host_adaptation_says_when_its_sheet_was_edited(tmp_path, home, squeezenet):
    """The adaptation of ``calibrate --measure`` keeps the sheet of the zero-shot model it started from, with what
    the host features read from its words (AVX-512)."""
    from hybridperf.api import predict_on
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.store import save_model

    sheet = _sheet(tmp_path / "my-box.yaml")
    model = _adapted(load_spec(sheet))
    assert model.sheet_["avx512"] is True and model.sheet_["isa"] == "x86-64"  # its name and notes say AVX-512
    save_model(model, home / "models" / "my-box")
    assert predict_on(squeezenet, str(sheet)).latency_note == ""

    def edit(raw):
        raw["memory"]["l2"]["capacity"]["value"] = 2048  # KiB, was 1024
        raw["name"], raw["notes"] = "AMD EPYC (Zen 4)", "lscpu flags avx2"

    _sheet(sheet, edit=edit)
    note = predict_on(squeezenet, str(sheet)).latency_note
    # 1024 KiB = 2**20 B = 1.049 MB (decimal prefixes, 4 significant digits), 2048 KiB = 2.097 MB
    assert note == ("unverified: calibrated with other figures of this sheet: avx512 True -> False; memory.l2.capacity "
                    "1.049 MB -> 2.097 MB; calibrate again to fit this sheet")


def test_host_says_its_model_was_adapted_with_the_previous_probe(home, squeezenet):
    """``probe --host`` said so once; predict after it said nothing and priced the new sheet with the old model."""
    from hybridperf.api import predict_on
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.host import host_model_dir, host_threads, install_host_spec
    from hybridperf.residual.store import save_model

    cached = install_host_spec(ZEN4)
    save_model(_adapted(load_spec(cached), host_threads()), host_model_dir())
    assert predict_on(squeezenet, "host").latency_note == ""
    raw = yaml.safe_load(cached.read_text())
    raw["memory"]["dram"]["attainable_bandwidth"]["value"] = 40.0  # GB/s, was 36.79: a second probe
    cached.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert predict_on(squeezenet, "host").latency_note == (
        "unverified: calibrated with other figures of this sheet: memory.dram.attainable_bandwidth "
        "36.79 GB/s -> 40 GB/s; calibrate again to fit this sheet")


# --------------------------------------------------------------------------- 1. GPU adaptation


def _gpu_rows(path: Path) -> Path:
    rows = [("resnet_like", 1, "fp32", "eager", "ok", 0.8e-3, "resnet_like.onnx"),
            ("mobilenetv2_like", 1, "fp32", "eager", "ok", 1.3e-3, "mobilenetv2_like.onnx"),
            ("bert_like", 1, "fp32", "eager", "ok", 0.7e-3, "bert_like.onnx"),
            ("resnet_like", 2, "fp32", "eager", "ok", 0.9e-3, "resnet_like.onnx")]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("model", "batch", "dtype", "mode", "status", "latency_median_s", "onnx_file"))
        w.writerows(rows)
    return path


def test_a_gpu_adaptation_says_when_its_sheet_was_edited(model_dir, tmp_path, home, capsys):
    sheet = _sheet(tmp_path / "my-gpu.yaml", A100)
    rows = _gpu_rows(tmp_path / "rows.csv")
    assert main(["calibrate", "--device", str(sheet), "--data", str(rows), "--models", str(model_dir)]) == 0
    stored = home / "models" / "my-gpu" / "gpu_adaptation-torch.json"
    assert json.loads(stored.read_text())["sheet"]["compute_units.count"] == 108  # the A100's SMs
    model = str(model_dir / "resnet_like.onnx")
    argv = ["predict", model, "--batch", "1", "-d", str(sheet), "--runtime", "torch", "--format", "json"]
    capsys.readouterr()
    assert main(argv) == 0
    same = json.loads(capsys.readouterr().out)["calibration"]
    assert "few-shot adapted on 4 measured models of my-gpu" in same and "sheet" not in same

    def halve_sms(raw):  # the MIG profiles' SM counts (sm_count) must fit in the edited count: drop the profiles
        raw["compute_units"]["count"].update(value=54)
        raw.pop("mig_profiles")

    _sheet(sheet, A100, edit=halve_sms)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["calibration"] == (
        f"{same}; calibrated with other sheet figures (compute_units.count 108 -> 54; calibrate again to fit this sheet)")
    assert main(["check", model, "--batch", "1", "-d", str(sheet), "--runtime", "torch", "--max-latency", "1s"]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith(" ok (unverified)")

    meta = json.loads(stored.read_text())
    del meta["sheet"]  # an adaptation stored before 2026-12-03
    stored.write_text(json.dumps(meta))
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["calibration"] == f"{same}; sheet not recorded"


# --------------------------------------------------------------------------- 2. id: host


def test_a_sheet_file_with_the_id_host_is_refused(tmp_path, capsys):
    """Before: ./host.yaml was priced with this machine's calibrated model and its probe's offset."""
    sheet = _sheet(tmp_path / "host.yaml")
    for argv in (["predict", str(EXAMPLE), "-d", str(sheet)],
                 ["calibrate", "--device", str(sheet), "--data", str(tmp_path)]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and err == (f"hybridperf: error: {sheet}: key 'id' is 'host', reserved for this machine's "
                                     "probed sheet (--device host); give your sheet another id (and file name), e.g. "
                                     "id: my-box in my-box.yaml\n")
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.host import host_spec_path

    assert load_spec(host_spec_path()).id == "host"  # this machine's cached sheet (conftest installs it)


# --------------------------------------------------------------------------- 3. CPU figures assumed


def test_a_cpu_sheet_without_caches_or_int8_is_unverified(tmp_path, squeezenet, capsys):
    """Before: priced as a CPU with 0 B of L2 / LLC and int8 at its fp32 rate, unmarked. The figures used are the
    same; the latency now says which were assumed."""
    from hybridperf.api import predict_on
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import for_sheet

    def edit(raw):
        del raw["memory"]["l2"], raw["memory"]["llc"], raw["peak_compute"]["int8"]
        raw["energy"]["per_byte"].pop("l2", None), raw["energy"]["per_byte"].pop("llc", None)
        raw["energy"]["per_mac"].pop("int8", None)

    sheet = _sheet(tmp_path / "bare-box.yaml", edit=edit)
    model = for_sheet(load_spec(sheet))
    assert model.host_.l2_bytes == 0.0 and model.host_.llc_bytes == 0.0
    assert model.host_.int8_ops_per_s == model.host_.fp32_flops_per_s == pytest.approx(101.9e9)
    why = ("its sheet gives no peak_compute.int8 (its fp32 rate assumed) and no memory.l2.capacity (0 B assumed) "
           "and no memory.llc.capacity (0 B assumed)")
    assert model.unverified_reason() == why
    assert predict_on(squeezenet, str(sheet)).latency_note == f"unverified: {why}"
    assert main(["check", str(EXAMPLE), "-d", str(sheet), "--max-latency", "1s"]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith(" ok (unverified)")
    assert for_sheet(load_spec(ZEN4)).unverified_reason() == ""  # the full sheet assumes nothing


def test_a_cpu_sheet_without_a_core_count_is_unverified(tmp_path):
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import for_sheet

    def edit(raw):
        del raw["compute_units"]

    model = for_sheet(load_spec(_sheet(tmp_path / "no-count.yaml", edit=edit)))
    assert model.host_.threads == 1
    assert model.unverified_reason() == "its sheet gives no compute_units.count (1 thread assumed)"
