"""A CPU no model was trained on, in the CPU cross-host benchmark (2026-12-05).

``benchmarks/cpu_cross_host.py`` holds each host out in turn and trains on the others. A host of
:data:`~benchmarks.cpu_cross_host.UNSEEN_HOSTS` (AMD EPYC Zen 1, measured 2026-12-05) is in no training set: not in
another host's leave-one-out model and not in the packaged model (``--save-model`` trains on :data:`HOSTS`), so its
section is what the packaged model's training set gives on a CPU it never saw. Its sheet is the probe kept in its
calibration directory, not a packaged sheet.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks.cpu_cross_host import (DESIGN_HOSTS, HOSTS, LABELS, PAIR_HOSTS, SAME_CPU, UNSEEN_HOSTS, UNSEEN_MARK,
                                       training_hosts)
from hybridperf.device.spec import available_devices, parse_spec

ROOT = Path(__file__).resolve().parents[1]


def test_unseen_hosts_are_no_training_host():
    assert UNSEEN_HOSTS
    for host in UNSEEN_HOSTS:
        assert host not in HOSTS and host not in SAME_CPU and host not in DESIGN_HOSTS and host not in PAIR_HOSTS
        assert host in LABELS
        # scored by a model of every training host: the packaged model's training set
        assert training_hosts(host) == list(HOSTS) == training_hosts(None)
    for held in HOSTS:
        train = training_hosts(held)
        assert held not in train
        assert not set(train) & set(UNSEEN_HOSTS)
        assert not set(train) & set(SAME_CPU.get(held, ()))
        # the row "same CPU at its other thread count trained on" adds the twin back, still no unseen host
        both = training_hosts(held, same_cpu=True)
        assert set(both) == set(HOSTS) - {held}


def test_unseen_mark_says_never_trained():
    assert UNSEEN_MARK.startswith("(never trained on")


def test_zen1_sheet_is_its_own_probe_not_a_packaged_sheet():
    host = "host-epyc-zen1-1c"
    sheet = ROOT / "calibration" / host / f"{host}.yaml"
    raw = yaml.safe_load(sheet.read_text())
    spec = parse_spec(raw, str(sheet))
    assert spec.id == host
    assert host not in available_devices()  # a probe kept with the measurements, not shipped
    ident = raw["cpu_identity"]
    assert (ident["vendor"], int(ident["family"]), int(ident["model"])) == ("AuthenticAMD", 23, 1)
    assert spec.compute_unit_count == UNSEEN_HOSTS[host] == 1
