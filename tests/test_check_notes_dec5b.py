"""``check``'s warnings: one line per model and warning, naming the devices it holds on."""

from __future__ import annotations

from hybridperf.cli import main
from test_frontends_dec5 import _fc_seq


def test_a_model_note_is_one_line_for_every_device(tmp_path, capsys):
    # until 2026-12-05b: a TFLite dynamic batch's load note was printed once per device (three lines here)
    model = tmp_path / "dyn.tflite"
    model.write_bytes(_fc_seq((-1, 4, 8)))
    rc = main(["check", str(model), "-d", "t4", "-d", "a100-sxm-40gb", "--roofline-only", "--max-latency", "1s"])
    assert rc == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if "dynamic batch" in x]
    assert len(lines) == 1
    assert f"{model} on t4, a100-sxm-40gb: input x has a dynamic batch" in lines[0]
