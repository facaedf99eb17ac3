"""Audit 2026-12-05: the ``call_overhead`` sheet figure shown where a sheet's figures are (``devices show``) and where
a prediction priced with it is reported (the HTML page); device sheets written by a user for their own board.
"""

import json

import pytest

from hybridperf.api import predict_on
from hybridperf.cli import ExitCode, main
from hybridperf.report.html import render_html

US = 1e-6


# --------------------------------------------------------------------------- devices show: call_overhead


def _show(capsys, *argv):
    assert main(["devices", "show", *argv]) == ExitCode.OK
    return capsys.readouterr().out


def test_devices_show_lists_call_overhead(capsys):
    # until 2026-12-05 `devices show host-epyc-1c` had no call_overhead row nor JSON key, though predict priced it
    rows = {ln.split()[0]: ln for ln in _show(capsys, "host-epyc-1c").splitlines() if ln.strip()}
    row = rows["call_overhead.onnxruntime"]
    assert row.split()[1:4] == ["9", "us", "[measured]"]
    assert '"per call 9 us" of launch_overhead' in row  # its source
    q = json.loads(_show(capsys, "host-epyc-1c", "--format", "json"))["call_overhead"]["onnxruntime"]
    assert q["value"] == 9 * US and q["unit"] == "s" and q["measured"] is True
    assert q["source"].startswith("measured by hybridperf probe 0.1.0 on 2026-11-23")


def test_devices_show_call_overhead_absent_reads_unknown(capsys):
    # a CPU sheet without it: `unknown`, the wording of cpu_identity's absent row (never 0, never left out)
    rows = {ln.split()[0]: ln for ln in _show(capsys, "host-xeon-2c").splitlines() if ln.strip()}
    assert rows["call_overhead.onnxruntime"].split()[1:3] == ["unknown", "not"]
    assert "not on the sheet" in rows["call_overhead.onnxruntime"]
    assert json.loads(_show(capsys, "host-xeon-2c", "--format", "json"))["call_overhead"] == {"onnxruntime": None}


def test_devices_show_gpu_has_no_call_overhead_row(capsys):
    # a GPU sheet may not give it (refused at load): no row; the JSON key is null
    assert "call_overhead" not in _show(capsys, "t4")
    assert json.loads(_show(capsys, "t4", "--format", "json"))["call_overhead"] == {"onnxruntime": None}


# --------------------------------------------------------------------------- HTML: call_overhead_note


def test_html_says_the_latency_is_the_call_overhead(analyzed):
    # until 2026-12-05 the latency card read "9.0 us" alone and the kernel note called the 9 us "the learned model's
    # whole-model term"
    pred = predict_on(analyzed, "host-epyc-1c", residual="auto")
    assert pred.latency_s == 9 * US and pred.call_overhead_note
    page = render_html(pred)
    from hybridperf.report.html import _e

    card = page.split('<div class="k">latency</div>')[1].split('<div class="card">')[0]
    assert '<div class="v">9.0 us</div>' in card and _e(pred.call_overhead_note) in card
    assert "whole-model term" not in page
    assert _e(f"the total is no kernel's ({pred.call_overhead_note})") in page


def test_html_without_the_figure_keeps_unknown(analyzed):
    pred = predict_on(analyzed, "host-xeon-2c", residual="auto")
    page = render_html(pred)
    assert pred.call_overhead_note == "" and "per-call overhead of onnxruntime on host-xeon-2c is not modelled" in page


# --------------------------------------------------------------------------- a sheet of the user's own


def _pi(tmp_path, old="", new=""):
    """raspberry-pi-4b.yaml as ``my-pi.yaml`` (id my-pi), ``old`` replaced by ``new``."""
    from hybridperf.device.spec import load_spec

    text = open(load_spec("raspberry-pi-4b").path).read().replace("id: raspberry-pi-4b", "id: my-pi")
    assert old in text
    p = tmp_path / "my-pi.yaml"
    p.write_text(text.replace(old, new, 1))
    return p


def _refused(capsys, path):
    assert main(["devices", "show", str(path)]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err
    return err


@pytest.mark.parametrize("idle, pmax", [("2.7, unit: mW", "6.4, unit: mW"), ("0.0027, unit: W", "0.0064, unit: W")])
def test_power_in_milliwatts_is_refused(tmp_path, capsys, idle, pmax):
    # until 2026-12-05 a 6.4 W board written `max: {value: 6.4, unit: mW}` loaded, its idle energy priced 1000x low;
    # its per-MAC energies at its peaks draw 77.1 pJ x 96 GFLOP/s / 2 = 3.7 W, 578x 6.4 mW
    p = _pi(tmp_path, "idle: {value: 2.7, unit: W", f"idle: {{value: {idle}")
    p.write_text(p.read_text().replace("max: {value: 6.4, unit: W", f"max: {{value: {pmax}"))
    err = _refused(capsys, p)
    assert "key 'power.max' is 0.0064 W" in err and "3.7 W of MACs at the peak" in err and "fix its unit" in err


def test_energy_in_nanojoules_is_refused(tmp_path, capsys):
    # 77.1 nJ per MAC x 96 GFLOP/s / 2 = 3.7 kW on a 6.4 W board: until 2026-12-05 loaded, energy priced 1000x high
    err = _refused(capsys, _pi(tmp_path, "fp32: {value: 77.1, unit: pJ,", "fp32: {value: 77.1, unit: nJ,"))
    assert "energy.per_mac.fp32 x peak_compute.fp32 / 2 is 3.7e3 W" in err


def test_every_shipped_sheet_is_under_the_power_limit():
    from hybridperf.device.spec import POWER_AT_PEAK_LIMIT, available_devices, default_spec_dir, load_spec

    assert POWER_AT_PEAK_LIMIT == 10.0
    for dev in available_devices(default_spec_dir()):
        s = load_spec(dev)
        for p, peak in s.peak_flops_per_s.items():
            assert s.energy_pj_per_mac[p] * 1e-12 * peak / 2 <= s.max_power_w, dev  # (max - idle) / (peak / 2)


def test_call_overhead_without_its_runtime_names_the_level(tmp_path, capsys):
    # until 2026-12-05: "key 'call_overhead.value' unknown runtime; use onnxruntime", not saying where value goes
    p = _pi(tmp_path, "power:", 'call_overhead: {value: 9, unit: us, source: "estimate: x"}\npower:')
    err = _refused(capsys, p)
    assert "key 'call_overhead' is by runtime: write call_overhead: {onnxruntime: {value:" in err


@pytest.mark.parametrize("old, new, words", [
    ("unit: GFLOP/s, source: \"derived: 4 cores x 2 NEON FMA pipes x 4", "unit: TFLOPS, source: \"derived: 4 cores x 2 NEON FMA pipes x 4",
     "'peak_compute.fp32.unit' unknown unit 'TFLOPS' (did you mean 'TFLOP/s'?)"),
    ("{value: 12.8, unit: GB/s", "{value: 102.4, unit: Gb/s", "a lowercase b is a bit"),
    ("{value: 4, unit: GB,", "{value: 4, unit: GB/s,", "'memory.dram.capacity.unit' 'GB/s' is a bandwidth unit"),
    ("{value: 96, unit", "{value: .nan, unit", "must be a positive number, got nan"),
    ("{value: 96, unit", '{value: "96", unit', "write the number without quotes"),
    ("launch_overhead:", "lauch_overhead:", "did you mean 'launch_overhead'"),
    ("  fp32: {value: 96", "  fp32: {value: 960, unit: GFLOP/s, source: x}\n  fp32: {value: 96", "duplicate key 'fp32'"),
])
def test_user_sheet_slips_are_one_line_exit_2(tmp_path, capsys, old, new, words):
    # the audit of 2026-12-05 found these refused already; pinned so they stay refused
    assert words in _refused(capsys, _pi(tmp_path, old, new))


def test_gibibytes_per_second_read_as_binary(tmp_path, capsys):
    # 11.92 GiB/s = 11.92 x 2^30 B/s
    p = _pi(tmp_path, "{value: 12.8, unit: GB/s", "{value: 11.92, unit: GiB/s")
    q = json.loads(_show(capsys, str(p), "--format", "json"))["memory"]["dram"]["bandwidth"]
    assert q["value"] == pytest.approx(11.92 * 2**30)
