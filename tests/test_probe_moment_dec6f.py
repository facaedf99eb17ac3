"""A probe says when it ran, to the minute (2026-12-06): on a virtual machine the figures move with the hour (the
1-thread Xeon VM of ``host-xeon480-1c`` read fp32 141 GFLOP/s at 04:24 UTC and 172 at 09:54, and the same packaged
model's predictions were 16.7 % off on the slower sheet, 9.6 % on the fresh one; docs/cpu-cross-host.md), so the
sheet's notes, ``host``'s device line and the probe's summary give the UTC minute, not the day alone."""

from __future__ import annotations

import dataclasses
import json

from hybridperf.measure import probe


def test_the_moment_is_the_date_and_the_utc_minute(toy_probe):
    assert toy_probe.moment == "2025-01-01"  # no time recorded (a GPU probe's result, an older caller): the date
    timed = dataclasses.replace(toy_probe, time_utc="09:54")
    assert timed.moment == "2025-01-01T09:54Z"
    notes = probe.spec_dict(timed, "toy")["notes"]
    assert notes.startswith("Probed 2025-01-01T09:54Z by hybridperf 0.1.0 (--quick). CPU: Toy CPU;")
    assert probe.notes_cpu_model(notes) == "Toy CPU"  # the notes stay readable by the code that reads them back


def test_host_sheet_and_identity_say_the_minute(toy_probe, monkeypatch, tmp_path):
    from hybridperf.measure import host

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path))
    timed = dataclasses.replace(toy_probe, time_utc="09:54")
    monkeypatch.setattr(probe, "probe", lambda quick=False, progress=None, use_gpu=None: timed)
    identity = {"model_name": "Toy CPU", "vendor": "ToyVendor", "family": 1, "model": 2, "stepping": 3, "isa": [],
                "threads": 1}
    host._probe_and_store(True, None, identity)
    d = host.host_spec_path(identity).parent
    assert json.loads((d / host.IDENTITY_FILE).read_text())["probed"] == "2025-01-01T09:54Z"
    import yaml

    sheet = yaml.safe_load(host.host_spec_path(identity).read_text())
    assert sheet["name"] == "Toy CPU family 1 model 2 (probed 2025-01-01T09:54Z)"


def test_the_probe_summary_gives_the_minute(toy_probe, tmp_path):
    from hybridperf.report.probe import to_table

    timed = dataclasses.replace(toy_probe, time_utc="09:54")
    out = tmp_path / "toy.yaml"
    spec = probe.write_spec(timed, out)
    text = to_table(timed, spec, out)
    assert "measured by hybridperf probe 0.1.0 on 2025-01-01 at 09:54 UTC (--quick)" in text.splitlines()[1]
