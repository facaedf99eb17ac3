"""Input errors that named what is wrong but not the fix (errmsg2, 2026-12-04): each is now one line that names it.

The house rule: bad input gets one line on stderr naming the fix, exit 2. Until 2026-12-04 the messages below said
only what was wrong (``--few-shot K and --base-device ID go together``), and the sheet's ``family_probes`` refusal
carried the raw exception text, which could span lines.
"""
from __future__ import annotations

import pytest

from hybridperf.cli import main
from hybridperf.errors import InputError, SpecError


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize("given, fix", [
    (["--few-shot", "3"], "pass --base-device ID with --few-shot K"),
    (["--base-device", "t4"], "pass --few-shot K with --base-device ID"),
])
def test_few_shot_without_base_device_names_the_missing_flag(home, tmp_path, capsys, given, fix):
    # until 2026-12-04: "--few-shot K and --base-device ID go together", naming neither the flag missing nor the way out
    (tmp_path / "tables").mkdir()
    assert main(["calibrate", "--device", "host-xeon-2c", "--data", str(tmp_path / "tables"), *given]) == 2
    err = _one_line(capsys)
    assert "--few-shot K and --base-device ID go together" in err and fix in err and "to train from scratch" in err


def test_probe_host_with_id_names_the_fix(home, capsys):
    # until 2026-12-04: "--id / --name go with --out; the sheet --host writes is always the device `host`"
    assert main(["probe", "--host", "--id", "box"]) == 2
    assert _one_line(capsys).endswith("drop --id / --name, or probe into a sheet of its own with --out ID.yaml")


def test_measure_on_an_npu_sheet_names_a_cpu_sheet(home, capsys):
    # until 2026-12-04: "--measure calibrates CPUs (onnxruntime CPU provider); ethos-u55 is a npu", and no fix
    assert main(["calibrate", "--device", "ethos-u55", "--measure", "a.onnx", "b.onnx"]) == 2
    assert _one_line(capsys) == ("hybridperf: error: --measure calibrates CPUs (onnxruntime CPU provider); ethos-u55 is "
                                 "a npu: name a CPU sheet, or host for this machine (`hybridperf devices` lists each "
                                 "sheet's kind)")


def test_api_shapes_key_and_example_inputs_name_the_fix(tmp_path):
    import hybridperf

    # until 2026-12-04: "shapes keys are input names (str), got 0", and "example_inputs is for torch.nn.Module
    # models, not str" with no way out
    with pytest.raises(InputError, match=r"got 0; key each shape by its input's name, e.g. shapes=\{'input'"):
        hybridperf.analyze(str(tmp_path / "m.onnx"), shapes={0: (1, 3)})
    with pytest.raises(InputError) as exc:
        hybridperf.analyze(str(tmp_path / "m.onnx"), object())
    assert str(exc.value).endswith("not str; drop example_inputs (batch= and shapes= bind a model file's inputs)")


def test_block_table_refusals_name_the_fix():
    from hybridperf.block_table import BlockTable

    # until 2026-12-04: "BlockTable needs at least one device" / "BlockTable devices repeat an id: ['t4', 't4']"
    with pytest.raises(InputError, match=r"; pass a list of device ids, e.g. BlockTable\(\['t4'\]\)$"):
        BlockTable([])
    with pytest.raises(InputError, match=r"repeat an id: \['t4', 't4'\]; name each device once$"):
        BlockTable(["t4", "t4"])
    # until 2026-12-04: "... the block keys do not determine where the graph is cut", and nothing on what to change
    table = BlockTable(["t4"])
    table._grouped.add("a")
    with pytest.raises(InputError, match=r"do not determine where the graph is cut: give each block a key that differs "
                                         r"wherever the block does"):
        table._add(("a",), None)


def test_family_probes_that_cannot_be_priced_are_one_line(monkeypatch):
    import hybridperf.residual.cross_device as cross_device
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.zero_shot import ZeroShotGpu

    def fail(*_a, **_k):
        raise ValueError("shape mismatch\n  at kernel 3\n  in probe 'mm'")

    monkeypatch.setattr(cross_device, "family_probe_ops", fail)
    monkeypatch.setattr(ZeroShotGpu, "_family_probe_shapes", lambda self, spec: ())
    # until 2026-12-04: "t4: key 'family_probes' cannot be priced: shape mismatch\n  at kernel 3\n  in probe 'mm'"
    with pytest.raises(SpecError) as exc:
        ZeroShotGpu._family_probes(object.__new__(ZeroShotGpu), load_spec("t4"))
    text = str(exc.value)
    assert "\n" not in text
    assert text.endswith("key 'family_probes' cannot be priced (shape mismatch); probe the GPU again (`hybridperf probe "
                         "--out SHEET.yaml` on it), or remove the key")


def test_a_target_no_row_fills_names_the_fix(tmp_path):
    from hybridperf.residual.features import FEATURES_VERSION
    from hybridperf.residual.model import load_table

    # until 2026-12-04: "DIR/measurements.csv: no row of DIR/features.csv has a `latency_min_s` value", no fix
    (tmp_path / "features.csv").write_text("key,measured_latency_s,roofline_latency_s,features_version\n"
                                           f"a,1e-3,1e-4,{FEATURES_VERSION}\n")
    (tmp_path / "measurements.csv").write_text("key,latency_min_s\na,\n")
    with pytest.raises(InputError, match=r"has a `latency_min_s` value; pass --target with a column those rows fill "
                                         r"\(measured_latency_s: features.csv's own label\), or remeasure$"):
        load_table(tmp_path, target="latency_min_s")
