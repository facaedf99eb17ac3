"""Regression tests of defects the lead fixed on 2026-12-05."""

import argparse

import hybridperf.commands._common as common
import hybridperf.measure.host as host


def test_annotate_of_a_relax_file_on_an_unprobed_host_is_not_read_as_onnx(tmp_path, monkeypatch):
    # until 2026-12-05 `hybridperf annotate mod.py` (no --device) on a machine whose host sheet was not probed yet
    # read the TVMScript file as ONNX first: "cannot read mod.py as ONNX (DecodeError)", exit 2
    mod = tmp_path / "mod.py"
    mod.write_text("# from tvm.script import relax as R\n")
    monkeypatch.setattr(host, "host_spec_state", lambda: host.CacheState.MISSING)
    monkeypatch.setattr(common, "device_spec_of", lambda device: ("spec of", device))
    args = argparse.Namespace(model=str(mod), device=host.HOST_ID, shape=None, batch=None)
    assert common.model_device_spec(args) == ("spec of", host.HOST_ID)
