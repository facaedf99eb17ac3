"""The 2-thread Zen 5 in the CPU cross-host benchmark (added 2026-12-05 evening).

``host-epyc-zen5-2c`` is the AMD EPYC Zen 5 of ``host-epyc-zen5-1c`` run with 2 onnxruntime threads on both vCPUs.
It trained nothing until 2026-12-06 and is a training host since; held out, its 1-thread core is left out of the
model that scores it (:data:`~benchmarks.cpu_cross_host.SAME_CPU`, both ways since 2026-12-06): its zero-shot rows
are those of a CPU the model never saw. Its rows are a 16-round run (``DATA_DIRS``), priced on the 2-thread probe kept
beside them, and its test-retest is the independent 16-round run right after.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from benchmarks.cpu_cross_host import (DATA_DIR_WHY, DATA_DIRS, HOSTS, NOT_TRAINED, RETESTS, SAME_CPU, SPLIT_HALVES,
                                       training_hosts)
from hybridperf.device.spec import available_devices, parse_spec

ROOT = Path(__file__).resolve().parents[1]
HOST = "host-epyc-zen5-2c"


def test_zen5_two_threads_is_held_out_with_its_core():
    assert HOSTS[HOST] == 2
    assert SAME_CPU[HOST] == ("host-epyc-zen5-1c",) and SAME_CPU["host-epyc-zen5-1c"] == (HOST,)
    train = training_hosts(HOST)
    assert "host-epyc-zen5-1c" not in train and HOST not in train
    assert len(train) == len(HOSTS) - 2 - len(NOT_TRAINED)
    assert "host-epyc-zen5-1c" in training_hosts(HOST, same_cpu=True)
    assert HOST in training_hosts("host-epyc-1c")  # a training host of the other CPUs' models


def test_zen5_two_threads_rows_sheet_and_retest():
    d = ROOT / "calibration" / DATA_DIRS[HOST]
    sheet = d / f"{HOST}.yaml"
    raw = yaml.safe_load(sheet.read_text())
    spec = parse_spec(raw, str(sheet))
    assert spec.id == HOST and HOST not in available_devices()
    assert spec.compute_unit_count == 2
    ident = raw["cpu_identity"]
    assert (ident["vendor"], int(ident["family"]), int(ident["model"])) == ("AuthenticAMD", 26, 2)
    for run in (DATA_DIRS[HOST], f"{DATA_DIRS[HOST]}-retest"):
        with (ROOT / "calibration" / run / "measurements.csv").open() as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 72
        assert {r["threads"] for r in rows} == {"2"} and {r["cpu_family"] for r in rows} == {"26"}
        assert {r["rounds"] for r in rows} == {"16"}
    assert (d / "features.csv").exists() and (d / "kernel_features.csv").exists()
    assert (HOST, DATA_DIRS[HOST], f"{DATA_DIRS[HOST]}-retest") in RETESTS
    assert (HOST, DATA_DIRS[HOST]) in SPLIT_HALVES


def test_every_data_dir_says_why():
    # the report's notes say why each host's rows come from another directory than calibration/<host>
    assert set(DATA_DIR_WHY) == set(DATA_DIRS)
    assert all(why.strip().endswith(".") for why in DATA_DIR_WHY.values())
