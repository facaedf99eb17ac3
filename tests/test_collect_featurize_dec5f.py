"""``python -m benchmarks.collect_cpu featurize`` with a sheet that cannot be used.

Until 2026-12-05 (afternoon) a refused sheet (here: a file outside the package that takes a shipped sheet's id with
other figures) failed every configuration one by one, listed every key in ``skipped.csv`` as "analysis failed" and
exited 0 with "featurized 0 new configuration(s)". It now says why in one line, exits 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import yaml

from benchmarks import collect_cpu
import hybridperf.data

REPO = Path(__file__).resolve().parents[1]


def _clashing_sheet(tmp_path: Path) -> Path:
    """The shipped Zen 5 sheet with its fp32 peak doubled, under its own id."""
    src = Path(hybridperf.data.__file__).parent / "hw_specs" / "host-epyc-zen5-1c.yaml"
    doc = yaml.safe_load(src.read_text())
    assert doc["id"] == "host-epyc-zen5-1c"
    fp32 = doc["peak_compute"]["fp32"]
    fp32["value"] = 2 * float(fp32["value"])
    out = tmp_path / "host-epyc-zen5-1c.yaml"
    out.write_text(yaml.safe_dump(doc))
    return out


def test_refused_sheet_exits_2_and_writes_nothing(tmp_path, capsys):
    sheet = _clashing_sheet(tmp_path)
    d = tmp_path / "run"
    d.mkdir()
    shutil.copy(REPO / "calibration" / "host-epyc-zen5-1c-r4" / "measurements.csv", d / "measurements.csv")
    before = sorted(p.name for p in d.iterdir())
    rc = collect_cpu.cmd_featurize(argparse.Namespace(out=str(d), device=str(sheet), target="latency_min_s"))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "shipped sheet's id" in err[0] and "own id" in err[0]
    assert sorted(p.name for p in d.iterdir()) == before == ["measurements.csv"]
