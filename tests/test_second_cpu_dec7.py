"""Plan (30) (2026-12-07): the blind sets of plans (22), (24)-(29) priced on a second CPU's probed sheets and scored
against runs there (``benchmarks/second_cpu.py``)."""

from __future__ import annotations

import csv
import importlib
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_set_names_the_files_its_module_stores():
    from benchmarks.second_cpu import SETS

    assert len({s.name for s in SETS}) == len(SETS) and len({s.zoo for s in SETS}) == len(SETS)
    for s in SETS:
        mod = importlib.import_module(f"benchmarks.{s.module}")
        if s.name not in ("ssm", "ssm2"):  # their exports write where the set is read from
            assert mod.ZOO == Path(".zoo") / s.zoo, s.name
        assert list(s.stored) == list(mod.STORED), s.name  # its module's files, with the term first, then without
        if s.name == "popular":  # no term of its own: the product as it stands, under a heading naming no plan
            assert list(s.stored.values()) == ["the product"]
            continue
        assert callable(mod.predict), s.name
        assert [h.split()[0] for h in s.stored.values()] == ["with", "without"], s.name


def test_a_probed_sheet_file_is_a_setting_and_its_rows_name_its_id(tmp_path):
    """``predict_sheets`` takes a sheet's file where a setting is a probe of the machine: the rows carry the id
    written in the file, and the figure is the product's prediction on that sheet."""
    yaml = pytest.importorskip("yaml")
    from benchmarks.tcn_conv1d import predict_sheets
    from hybridperf.api import analyze, predict_on
    from hybridperf.device.spec import default_spec_dir, load_spec

    sheet = yaml.safe_load((default_spec_dir() / "host-epyc-zen4-1c.yaml").read_text())
    sheet["id"] = "host-probed-1c"
    path = tmp_path / "host-probed-1c.yaml"
    path.write_text(yaml.safe_dump(sheet))
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    shutil.copy(ROOT / "examples" / "squeezenet1_1.onnx", zoo / "squeezenet1_1.onnx")

    (out,) = predict_sheets(tmp_path / "run", zoo, (str(path),), {"p.csv": lambda spec: spec})
    (row,) = list(csv.DictReader(out.open()))
    assert row["device"] == "host-probed-1c" and row["model"] == "squeezenet1_1"
    want = predict_on(analyze(zoo / "squeezenet1_1.onnx"), load_spec(path)).latency_s
    assert float(row["predicted_s"]) == pytest.approx(want, rel=1e-12)


def test_the_committed_report_is_recomputed_from_the_committed_runs(monkeypatch):
    """``benchmarks/results/second_cpu_zen3.md`` is what ``score`` makes of the stored predictions and the runs
    committed under ``calibration/host-epyc-zen3-sets``: every figure in it comes from those files."""
    from benchmarks.second_cpu import RUN, score

    monkeypatch.chdir(ROOT)
    assert score(RUN) + "\n" == (ROOT / "benchmarks" / "results" / "second_cpu_zen3.md").read_text()


def test_the_judgement_compares_the_term_with_its_absence_per_run(monkeypatch):
    """Each summary row of a set with a term says whether its MAPE with the term is below the one without, as the
    two figures of the row say."""
    from benchmarks.second_cpu import RUN, score

    monkeypatch.chdir(ROOT)
    rows = [line.split(" | ") for line in score(RUN).splitlines()
            if line.startswith("| ") and (" | yes | " in line or " | no | " in line)]
    assert rows
    for cells in rows:
        with_, without, verdict = float(cells[4].rstrip(" %")), float(cells[5].rstrip(" %")), cells[6].rstrip(" |")
        assert verdict == ("yes" if with_ < without else "no")
