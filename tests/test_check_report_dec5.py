"""check, report and mig as a CI user meets them (audit of 2026-12-05).

What happened until 2026-12-05:

* ``mig --max-latency`` on a model that launches no kernel (a lone Reshape, a view) priced with ``--roofline-only``
  on a GPU sheet read ``0.0 us ... meets budget yes``, suggested a profile and exited 0, where ``predict`` reads the
  latency ``unknown`` (the runtime's call is not modelled) and ``check`` exits 2 on it.
* ``report`` of such a model on a CPU sheet read ``latency -`` and ``energy 0.0 uJ`` on its cards and ``latency 0.0
  us`` on its summary line, beside predict's ``unknown``; ``fmt_energy(None)`` read ``0.0 uJ``.
* ``check --format json`` wrote a memory figure and limit as floats (``9807918.0``, ``536870912.0``) beside predict's
  whole ``peak_bytes`` (``9807918``); JUnit's properties likewise.
* A figure that rounds up to 1000 of its prefix read ``1000.0 us`` (beside a budget of ``1.000 ms``), ``1000.000
  mJ``, ``1000 FLOP``, ``1000.000 kFLOP``; one that rounds to 10000 s read ``10000.000 s``.
"""

from __future__ import annotations

import json

import pytest
from onnx import TensorProto, helper, numpy_helper
from test_no_silent_zeros import _save

import hybridperf
from hybridperf.cli import main
from hybridperf.report.format import fmt_count, fmt_energy, fmt_flops, fmt_time

F32 = TensorProto.FLOAT
CPU = "host-epyc-zen5-1c"
MIG_GPU = "a100-sxm-80gb"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import numpy as np

    d = tmp_path_factory.mktemp("dec5")
    shape = numpy_helper.from_array(np.array([16], dtype=np.int64), "s")
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "W")
    return {
        # x (4x4) -> Reshape to 16: a view, no kernel launches
        "reshape": _save([helper.make_node("Reshape", ["x", "s"], ["y"])],
                         [helper.make_tensor_value_info("x", F32, [4, 4])],
                         [helper.make_tensor_value_info("y", F32, [16])], d / "reshape.onnx", [shape]),
        # x @ W: priced
        "mm": _save([helper.make_node("MatMul", ["x", "W"], ["y"])], [helper.make_tensor_value_info("x", F32, [8, 64])],
                    [helper.make_tensor_value_info("y", F32, [8, 64])], d / "mm.onnx", [w]),
    }


def test_prefix_boundaries_read_at_the_next_prefix():
    """Was ``1000.0 us``, ``1000.000 mJ``, ``1000 FLOP``, ``1000.000 kFLOP``, ``10000.000 s``."""
    assert fmt_time(1e-3 - 4e-8) == "1.000 ms"  # 999.96 us: one decimal would print 1000.0
    assert fmt_time(1e-6 - 4e-11) == "1.0 us"  # 999.96 ns
    assert fmt_time(1e-3 - 5.1e-7) == "999.5 us"  # still under the next prefix once rounded
    assert fmt_time(1e4 - 4e-4) == "1.000e4 s"  # rounds to 10000 of the largest prefix: scientific
    assert fmt_energy(1e-3 - 4e-9) == "1.000 mJ"
    assert fmt_energy(1.0 - 4e-8) == "1.000 J"  # 999.99996 mJ
    assert fmt_flops(999.6) == "1.000 kFLOP"
    assert fmt_flops(1e6 - 0.4) == "1.000 MFLOP"  # 999999.6
    assert fmt_count(999.4) == "999 "


def test_unknown_energy_is_never_zero():
    """Was ``0.0 uJ`` for None (unknown); ``fmt_time(None)`` already read ``-``."""
    assert fmt_energy(None) == "-"
    assert fmt_energy(0.0) == "0.0 uJ"  # a real zero stays one


def test_check_json_and_junit_bytes_are_whole(models, tmp_path, capsys):
    """Was ``"predicted": 9807918.0, "budget": 536870912.0`` beside predict's ``peak_bytes`` 9807918."""
    pred = hybridperf.predict(models["mm"], CPU, residual=None, runtime="auto")  # the onnxruntime peak check judges
    junit = tmp_path / "j.xml"
    argv = ["check", models["mm"], "-d", CPU, "--roofline-only", "--max-memory", "512MiB"]
    assert main([*argv, "--format", "json", "--junit-xml", str(junit)]) == 0
    (mem,) = [c for c in json.loads(capsys.readouterr().out)["checks"] if c["metric"] == "memory"]
    assert mem["predicted"] == pred.peak_memory_bytes and type(mem["predicted"]) is int
    assert mem["budget"] == 512 * 2**20 and type(mem["budget"]) is int  # 512 * 1024 * 1024
    text = junit.read_text()
    assert f'name="predicted" value="{int(pred.peak_memory_bytes)}"' in text
    assert f'name="budget" value="{512 * 2**20}"' in text


def test_check_json_keeps_a_fractional_byte_limit(models, capsys):
    """A limit of ``0.3KiB`` is 307.2 B (0.3 * 1024): written as given, not rounded to a limit it is not."""
    argv = ["check", models["mm"], "-d", CPU, "--roofline-only", "--max-memory", "0.3KiB", "--format", "json"]
    assert main(argv) == 1
    (mem,) = [c for c in json.loads(capsys.readouterr().out)["checks"] if c["metric"] == "memory"]
    assert mem["budget"] == pytest.approx(0.3 * 1024) and mem["exceeded"]


def test_mig_never_meets_a_budget_on_an_unpriced_latency(models, capsys):
    """Was ``0.0 us ... yes <- suggested``, exit 0, where predict reads ``unknown`` and check exits 2."""
    argv = ["mig", models["reshape"], "-d", MIG_GPU, "--roofline-only", "--max-latency", "1us"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "0.0 us" not in out and "<- suggested" not in out
    assert "latency unknown on every profile (nothing priced: every op is zero-cost" in err
    assert main([*argv, "--format", "json"]) == 2
    d = json.loads(capsys.readouterr().out)
    assert d["suggested"] is None and d["unknown_fields"] == ["latency_s"]
    assert d["unpriced_reason"].startswith("nothing priced: every op is zero-cost")
    assert all(p["latency_s"] is None and p["meets_latency"] is None for p in d["profiles"])


def test_mig_without_budget_suggests_on_memory_and_says_latency_unknown(models, capsys):
    """Without a latency budget the profile is sized on memory alone, and the output says the latency is unknown."""
    # until 2026-12-05 every profile's latency read 0.0 us, where predict reads unknown (no runtime call modelled)
    assert main(["mig", models["reshape"], "-d", MIG_GPU, "--roofline-only"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("1g.", "7g."))]
    assert rows and all("unknown" in r for r in rows)
    assert "latency unknown, not judged" in out.splitlines()[-1]


def test_report_reads_an_unpriced_latency_and_energy_unknown(models, tmp_path, capsys):
    """Was cards ``latency -`` and ``energy 0.0 uJ`` and the line ``latency 0.0 us``, beside predict's ``unknown``."""
    page = tmp_path / "r.html"
    # a CPU sheet without call_overhead (a sheet with it prices the call since 2026-12-05: tests/test_call_overhead_dec5)
    assert main(["report", models["reshape"], "-d", "host-xeon-2c", "--html", str(page)]) == 0
    assert "latency unknown" in capsys.readouterr().out
    html = page.read_text()
    assert '<div class="k">latency</div><div class="v">unknown</div>' in html
    assert '<div class="k">energy</div><div class="v">unknown</div>' in html
    assert '<div class="v">0.0 uJ</div>' not in html  # (a zero-cost kernel's row keeps its real 0.0 uJ)
    assert "from 1 op (" in html  # was "from 1 ops"
