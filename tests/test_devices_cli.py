"""``hybridperf devices`` and ``hybridperf devices show ID``: exit codes and output."""

from __future__ import annotations

import json

import pytest
import yaml

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import available_devices, load_spec


def test_list_table(capsys):
    assert main(["devices"]) == ExitCode.OK
    out, err = capsys.readouterr()
    assert err == ""
    header = out.splitlines()[0].split()
    assert header[:6] == ["ID", "NAME", "KIND", "FP32", "FP16", "INT8"]
    for device in available_devices():
        assert device in out
    a100 = next(line for line in out.splitlines() if line.startswith("a100-sxm-80gb "))
    assert "19.5 TFLOP/s" in a100 and "312 TFLOP/s" in a100 and "2.039 TB/s" in a100 and "80 GB" in a100


def test_list_json(capsys):
    assert main(["devices", "--format", "json"]) == ExitCode.OK
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ["host", *available_devices()]
    h100 = next(r for r in rows if r["id"] == "h100-sxm")
    assert h100["kind"] == "gpu"
    assert h100["peak_flops_per_s"]["fp32"] == pytest.approx(66.9 * 10**12)
    assert h100["dram_bandwidth_bytes_per_s"] == pytest.approx(3350 * 10**9)
    assert h100["dram_capacity_bytes"] == pytest.approx(80 * 10**9)


def test_explicit_list_word(capsys):
    assert main(["devices", "list"]) == ExitCode.OK
    assert "h200-sxm" in capsys.readouterr().out


def test_show_table_has_every_source(capsys):
    assert main(["devices", "show", "a100-sxm-80gb"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("a100-sxm-80gb: NVIDIA A100 SXM4 80GB (gpu)")
    for key in ("peak_compute.fp32", "memory.dram.bandwidth", "memory.l2.capacity", "launch_overhead", "power.idle",
                "power.max", "energy.per_mac.int8", "energy.per_byte.dram", "sparsity.structured_2_4", "mig.7g.80gb"):
        assert key in out, key
    assert "NVIDIA A100 Tensor Core GPU datasheet (2021), FP32" in out
    assert "x2 (not in peaks)" in out


def test_show_json(capsys):
    assert main(["devices", "show", "ethos-u55", "--format", "json"]) == ExitCode.OK
    d = json.loads(capsys.readouterr().out)
    assert d["id"] == "ethos-u55" and d["kind"] == "npu"
    assert list(d["peak_compute"]) == ["int8"]
    q = d["peak_compute"]["int8"]
    assert q["value"] == pytest.approx(256 * 2 * 500 * 10**6) and q["unit"] == "OP/s"
    assert q["source"].startswith("derived:") and q["measured"] is False
    assert d["memory"]["dram"]["bandwidth"]["note"].startswith("no DRAM")
    assert d["launch_overhead"]["unit"] == "s"
    # the sheet gives none: null, nothing made up (until 2026-12-04 the keys were left out: {})
    assert d["compute_units"] == {"count": None, "fp32_lanes_per_unit": None, "boost_clock": None}


def test_show_compute_units_of_a_cpu_sheet(capsys):
    """A CPU sheet's core count (the threads the cross-host CPU model runs it with) is shown with its source."""
    assert main(["devices", "show", "ryzen-9-7950x", "--format", "json"]) == ExitCode.OK
    cu = json.loads(capsys.readouterr().out)["compute_units"]
    # the figures it does not give are null (until 2026-12-04 left out: list(cu) == ["count"])
    assert cu["fp32_lanes_per_unit"] is None and cu["boost_clock"] is None
    assert cu["count"]["value"] == 16 and "AMD product page" in cu["count"]["source"]
    assert main(["devices", "show", "ryzen-9-7950x"]) == ExitCode.OK
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("compute_units.count"))
    assert row.split()[1] == "16"


@pytest.mark.parametrize("device, words", [
    ("ryzen-9-7950x", ("zero-shot from spec for ryzen-9-7950x (16 thread(s))", "median offset of")),
    ("host-xeon-1c", ("one of its training CPUs: with its own offset",)),
    ("host-epyc-1c", ("lightgbm residual", "trained on 186 measurements")),
    ("t4", ("cross-device model, not zero-shot: t4 is one of its training GPUs", "runtime torch (per-op kernels")),
    ("l4", ("zero-shot from spec (cross-device model", "runtime torch (per-op kernels")),
    ("ethos-u55", ("roofline only: no residual model for ethos-u55",)),
])
def test_show_says_how_latency_is_priced(device, words, capsys):
    """`devices show` names the latency model `predict` uses there, in the words of predict's report."""
    from hybridperf.api import latency_model

    assert main(["devices", "show", device, "--format", "json"]) == ExitCode.OK
    text = json.loads(capsys.readouterr().out)["latency_model"]
    assert text == latency_model(device) and all(w in text for w in words), text
    assert main(["devices", "show", device]) == ExitCode.OK
    assert capsys.readouterr().out.splitlines()[2] == f"latency: {text}"


def test_show_spec_file_path(tmp_path, capsys):
    from hybridperf.device.spec import default_spec_dir

    raw = yaml.safe_load((default_spec_dir() / "host-xeon-2c.yaml").read_text())
    raw["id"] = "toy"
    raw["memory"]["dram"]["attainable_bandwidth"] = {"value": 9, "unit": "GB/s", "source": "test", "measured": True}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["devices", "show", str(path), "--format", "json"]) == ExitCode.OK
    d = json.loads(capsys.readouterr().out)
    assert d["memory"]["dram"]["attainable_bandwidth"]["measured"] is True


def test_show_unknown_id_exits_2_with_suggestion(capsys):
    assert main(["devices", "show", "h100-sx"]) == ExitCode.INPUT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "unknown device 'h100-sx'" in err and "did you mean 'h100-sxm'" in err


def test_show_without_id_exits_2(capsys):
    assert main(["devices", "show"]) == ExitCode.INPUT_ERROR
    assert "usage: hybridperf devices show ID" in capsys.readouterr().err


def test_bad_format_exits_2(capsys):
    assert main(["devices", "--format", "xml"]) == ExitCode.INPUT_ERROR


def test_invalid_spec_in_dir_exits_2_naming_file_and_key(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("schema_version: 1\nid: bad\n")
    assert main(["devices", "--spec-dir", str(tmp_path)]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "'name'" in err


def test_missing_spec_dir_exits_2(tmp_path, capsys):
    assert main(["devices", "--spec-dir", str(tmp_path / "nope")]) == ExitCode.INPUT_ERROR
    assert "--spec-dir" in capsys.readouterr().err


def test_host_is_listed_first_unknown_until_probed_and_show_probes_it(tmp_path, monkeypatch, capsys):
    from hybridperf.measure import probe
    from hybridperf.measure.host import install_host_spec

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    calls = []
    monkeypatch.setattr(probe, "probe", lambda **kw: calls.append(kw) or pytest.fail("listing must not probe"))
    assert main(["devices", "--format", "json"]) == ExitCode.OK
    host = json.loads(capsys.readouterr().out)[0]
    assert host["id"] == "host" and "not probed yet" in host["name"]
    assert host["peak_flops_per_s"] == {} and host["dram_bandwidth_bytes_per_s"] is None  # unknown, not 0
    assert main(["devices"]) == ExitCode.OK
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith("host ") and line.split()[-5:] == ["unknown"] * 5 and calls == []  # unknown, not "-"

    install_host_spec(available_devices_path("host-epyc-zen4-1c"))  # as a probe would leave it
    fp32 = load_spec("host-epyc-zen4-1c").peak_flops_per_s["fp32"]
    assert main(["devices", "--format", "json"]) == ExitCode.OK
    host = json.loads(capsys.readouterr().out)[0]
    assert host["id"] == "host" and host["peak_flops_per_s"]["fp32"] == fp32
    assert main(["devices", "show", "host", "--format", "json"]) == ExitCode.OK
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "host" and shown["peak_compute"]["fp32"]["value"] == fp32 and calls == []


def available_devices_path(device_id: str):
    from hybridperf.device.spec import default_spec_dir

    return default_spec_dir() / f"{device_id}.yaml"
