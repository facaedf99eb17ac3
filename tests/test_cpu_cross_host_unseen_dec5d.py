"""The Zen 1 EPYC in the CPU cross-host benchmark (2026-12-05, second session).

The Zen 1 EPYC was measured with one thread (``host-epyc-zen1-1c``) and then with two threads on both vCPUs
(``host-epyc-zen1-2c``, the setting of ``--device host`` on that machine). They trained nothing until 2026-12-06
(``UNSEEN_HOSTS`` then) and are training hosts since, held out together (``SAME_CPU``): each is priced on the probe
kept in its own calibration directory, with as many threads as the sheet's cores, and each has an independent retest
and a split-half line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from benchmarks.cpu_cross_host import HOSTS, RETESTS, SAME_CPU, SPLIT_HALVES
from hybridperf.device.spec import available_devices, parse_spec

ROOT = Path(__file__).resolve().parents[1]
#: the Zen 1 EPYC's settings
ZEN1 = ("host-epyc-zen1-1c", "host-epyc-zen1-2c")


def test_each_zen1_setting_is_priced_on_its_own_probe_at_its_thread_count():
    # the 2-thread Zen 1 sheet is the `probe --host` sheet with its id renamed
    for host in ZEN1:
        threads = HOSTS[host]
        sheet = ROOT / "calibration" / host / f"{host}.yaml"
        raw = yaml.safe_load(sheet.read_text())
        spec = parse_spec(raw, str(sheet))
        assert spec.id == host
        assert host not in available_devices()  # a probe kept with the measurements, not shipped
        assert spec.compute_unit_count == threads
        ident = raw["cpu_identity"]
        assert (ident["vendor"], int(ident["family"]), int(ident["model"])) == ("AuthenticAMD", 23, 1)


def test_zen1_settings_have_a_retest_and_a_split_half_and_are_held_out_together():
    for host in ZEN1:
        assert (host, host, f"{host}-retest") in RETESTS
        assert (host, host) in SPLIT_HALVES
    assert SAME_CPU[ZEN1[0]] == (ZEN1[1],) and SAME_CPU[ZEN1[1]] == (ZEN1[0],)


def test_two_thread_rows_were_timed_with_two_threads():
    # until 2026-12-07: every row of the 2-thread run and its retest records threads 2
    for d in ("host-epyc-zen1-2c", "host-epyc-zen1-2c-retest"):
        with (ROOT / "calibration" / d / "measurements.csv").open() as f:
            rows = list(csv.DictReader(f))
        assert len(rows) >= 70
        assert {r["threads"] for r in rows} == {"2"}
        assert {r["cpu_family"] for r in rows} == {"23"}
