"""Regression tests for the README check of 2026-12-05 (helper fix2): ``calibrate --shots`` with 2 models, TVMScript
files with the imports ``mod.script()`` prints, and exit code 130 in ``hybridperf --help``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hybridperf.cli import main
from hybridperf.commands.calibrate import _check_shots
from hybridperf.errors import InputError


# --------------------------------------------------------------------------- calibrate --shots K of N models


def _refusal(shots, n, which="given"):
    """The line ``_check_shots`` refuses ``shots`` with, or None where it takes it."""
    try:
        _check_shots(shots, n, which)
    except InputError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_every_shots_value_a_refusal_suggests_is_taken(n):
    # until 2026-12-05, with 2 models, --shots 2 said "use at most 1" and --shots 1 said "use --shots 2 or more":
    # no value worked and neither line said so
    for k in range(-1, n + 2):
        line = _refusal(k, n)
        if line is None:
            continue
        assert "drop --shots" in line, line
        m = re.search(r"use --shots (\d+) to (\d+)", line)
        if m:
            assert all(_refusal(j, n) is None for j in range(int(m[1]), int(m[2]) + 1)), line
        assert "at most" not in line, line


def test_shots_taken_are_two_to_one_fewer_than_the_models():
    # until 2026-12-05 two checks, each with its own words (K >= 2 in run_measure, K < n in _check_shots); one now
    assert [k for k in range(-1, 7) if _refusal(k, 5) is None] == [2, 3, 4]  # 2 to adapt on .. 5 - 1
    assert [k for k in range(-1, 7) if _refusal(k, 2) is None] == []  # 2 + 1 held out take 3
    assert _refusal(None, 2) is None  # no --shots: leave-one-out, whatever the count


def test_two_models_say_no_shots_works():
    for k in (1, 2, 3):
        line = _refusal(k, 2)
        assert "no --shots works with 2" in line and "drop --shots for leave-one-out, or pass 3 or more models" in line


def test_before_the_models_are_read_only_k_below_one_is_refused():
    # until 2026-12-05 --shots 1 was refused before the models were read, with "use --shots 2 or more" for 2 models too
    assert _refusal(5, None) is None and _refusal(1, None) is None  # K = 1: refused once n is known
    line = _refusal(0, None)
    assert "with 2 models drop --shots" in line and line.endswith("use --shots 2 or more (got 0)")


def _two_models(tmp_path, monkeypatch) -> list[Path]:
    import hybridperf.measure.calibrate as mcal
    import hybridperf.measure.probe as probe
    import onnx_models

    def boom(*a, **k):
        raise AssertionError("probed or measured before --shots was checked")

    monkeypatch.setattr(probe, "probe", boom)
    monkeypatch.setattr(mcal, "measure_rounds", boom)
    return onnx_models.save_static(tmp_path / "m", ("resnet_like", "densenet_like"))


@pytest.mark.parametrize("k", ["1", "2"])
def test_cli_two_models_shots_names_the_way_out(k, tmp_path, capsys, monkeypatch, home):
    # until 2026-12-05 `--shots 2` of 2 models: "use at most 1"; `--shots 1`: "use --shots 2 or more"
    models = _two_models(tmp_path, monkeypatch)
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--shots", k])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.endswith("no --shots works with 2 (2 to adapt on and 1 to hold out take 3 models): drop --shots for "
                        "leave-one-out, or pass 3 or more models"), err


# --------------------------------------------------------------------------- annotate: mod.script()'s imports


def _script_with_imports(tmp_path: Path, extra: str = "") -> Path:
    """``mod.script()`` of a small BlockBuilder module, its import comments written as code (as a file run as Python
    has them), ``import tvm`` first."""
    pytest.importorskip("tvm")
    from tvm import relax

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, 16), "float32"))
    w = relax.Var("w", relax.TensorType((16, 8), "float32"))
    with bb.function("main", [x, w]):
        with bb.dataflow():
            y = bb.emit(relax.op.matmul(x, w))
            out = bb.emit_output(relax.op.nn.relu(y))
        bb.emit_func_output(out)
    text = bb.get().script()
    assert "# from tvm.script import relax as R" in text  # what the printer writes, and the file below uncomments
    text = re.sub(r"^# ((from|import) .*)$", r"\1", text, flags=re.M)
    path = tmp_path / "mod.py"
    path.write_text(f"{extra}import tvm\n{text}\n", encoding="utf-8")
    return path


def test_annotate_reads_tvmscript_with_the_imports_it_prints(tmp_path, capsys, home):
    # until 2026-12-05 exit 2: "Visitor of AST node is not implemented: Import (line 1)"
    path = _script_with_imports(tmp_path)
    code = main(["annotate", str(path), "--device", "t4"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{2 * 1 * 16 * 8 + 1 * 8} FLOP" in out.splitlines()[0]  # matmul 2*1*16*8, relu 1*8


def test_tvmscript_with_printed_imports_loads_as_without_them(tmp_path):
    # until 2026-12-05 load_relax_file refused the file with the imports (Import not implemented); now the same module
    pytest.importorskip("tvm")
    from hybridperf.frontends.relax_module import load_relax_file
    from hybridperf.ir.tvm_compat import structural_equal

    path = _script_with_imports(tmp_path)
    bare = tmp_path / "bare.py"
    bare.write_text("".join(ln for ln in path.read_text().splitlines(keepends=True)
                            if not ln.startswith(("import ", "from "))), encoding="utf-8")
    assert structural_equal(load_relax_file(path).module, load_relax_file(bare).module)


def test_tvmscript_with_another_import_is_still_refused(tmp_path, capsys, home):
    path = _script_with_imports(tmp_path, extra="import os\n")
    code = main(["annotate", str(path), "--device", "t4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err == (f"hybridperf: error: {path}: cannot read it as TVMScript (DiagnosticError: Visitor of AST node is "
                   "not implemented: Import (line 1)); write it with mod.script()")


# --------------------------------------------------------------------------- exit code 130 in --help


def test_help_and_cli_docstring_list_exit_130(capsys):
    # until 2026-12-05 both listed 0, 1, 2, 3 and left out 130 (interrupted), which the README's table has
    import hybridperf.cli as cli

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "130 interrupted (Ctrl-C)" in out and "3 internal error," in out
    assert "130 interrupted (Ctrl-C)" in " ".join(cli.__doc__.split())
