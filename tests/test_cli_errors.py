"""Bad input through the real process: exit 2, exactly one line on stderr, nothing on stdout, no file written.

Also the exit-code rule of ``predict-many`` (2 only when every model fails).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def hybridperf(cwd: Path, *argv: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "hybridperf", *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture()
def workdir(tmp_path, model_dir):
    """An empty working directory holding the test models and a corrupt one."""
    shutil.copy(model_dir / "resnet_like.onnx", tmp_path / "resnet.onnx")
    (tmp_path / "corrupt.onnx").write_bytes(bytes(range(256)) * 7)
    return tmp_path


def assert_one_line_error(proc, workdir, fragments):
    before = {"resnet.onnx", "corrupt.onnx", "pyproject.toml"}
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hybridperf: error: ")
    for f in fragments:
        assert f in lines[0]
    assert {p.name for p in workdir.iterdir()} <= before  # no output file


CASES = {
    "corrupt model": (["predict", "corrupt.onnx", "-d", "t4"], ["corrupt.onnx", "corrupt or not an ONNX model"]),
    "nonexistent path": (["predict", "missing.onnx", "-d", "t4"], ["model file not found: missing.onnx"]),
    "unknown device": (["predict", "resnet.onnx", "--batch", "1", "-d", "a100-sxm-80g"], ["unknown device 'a100-sxm-80g'", "did you mean 'a100-sxm-80gb'?"]),
    "symbolic dim": (["predict", "resnet.onnx", "-d", "t4"], ["symbolic", "--batch", "--shape"]),
    "bad --shape": (["predict", "resnet.onnx", "-d", "t4", "--shape", "x=1x3xHxW"], ["bad --shape 'x=1x3xHxW'", "NAME=DxDxD"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_predict_bad_input(workdir, case):
    argv, fragments = CASES[case]
    assert_one_line_error(hybridperf(workdir, *argv), workdir, fragments)


def test_budget_typo_in_pyproject(workdir):
    (workdir / "pyproject.toml").write_text('[tool.hybridperf.budgets."resnet.onnx"]\nmax-memroy = "1GiB"\n')
    proc = hybridperf(workdir, "check", "resnet.onnx", "--batch", "1", "-d", "t4", "--junit-xml", "report.xml")
    assert_one_line_error(proc, workdir, ["pyproject.toml", "unknown key 'max-memroy'", "did you mean 'max-memory'?"])
    assert not (workdir / "report.xml").exists()


def test_check_bad_unit_writes_no_junit(workdir):
    proc = hybridperf(workdir, "check", "resnet.onnx", "--batch", "1", "-d", "t4", "--max-latency", "20 msec", "--junit-xml", "report.xml")
    assert_one_line_error(proc, workdir, ["--max-latency '20 msec'", "s, ms, us, ns"])


# --------------------------------------------------------------------------- predict-many


@pytest.fixture()
def zoo(tmp_path, model_dir):
    d = tmp_path / "zoo"
    (d / "sub").mkdir(parents=True)
    shutil.copy(model_dir / "resnet_like.onnx", d / "a.onnx")
    shutil.copy(model_dir / "mobilenetv2_like.onnx", d / "sub" / "b.onnx")
    (d / "c.onnx").write_bytes(b"not a model")
    (d / "notes.txt").write_text("ignored")
    return d


def test_predict_many_partial_failure_is_ok(zoo, capsys):
    from hybridperf.cli import main

    code = main(["predict-many", str(zoo), "-d", "t4", "--batch", "1", "--jobs", "1", "--format", "json"])
    out, err = capsys.readouterr()
    # stderr is not a terminal: no progress bar; one line that some models failed (silent until 2026-12-03)
    assert code == 0 and err == "hybridperf: warning: 1 of 3 models failed (their rows say why; --fail-on-error makes that exit 2)\n"
    d = json.loads(out)
    assert d["device"] == "t4"
    rows = d["models"]
    assert [Path(r["model"]).relative_to(zoo).as_posix() for r in rows] == ["a.onnx", "c.onnx", "sub/b.onnx"]
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert "corrupt or not an ONNX model" in rows[1]["error"]
    assert rows[0]["flops"] == 10_511_700 // 2  # resnet_like at batch 1: half the batch-2 arithmetic of test_cli
    from hybridperf.api import predict

    ref = predict(str(zoo / "a.onnx"), "t4", batch=1, runtime="auto")  # a row is what `hybridperf predict` gives
    assert rows[0]["latency_s"] == ref.latency_s and rows[0]["energy_j"] == ref.energy_j
    assert rows[0]["peak_memory_bytes"] == ref.peak_memory_bytes == ref.runtime_memory.peak_bytes  # t4: torch's peak
    assert ref.memory.peak_bytes == ref.memory.planned_bytes + 81_128 + 4 * 3 * 32 * 32  # TVM plan + weights + 3x32x32 input


def test_predict_many_all_fail_is_exit_2(tmp_path, capsys):
    from hybridperf.cli import main

    (tmp_path / "x.onnx").write_bytes(b"junk")
    (tmp_path / "y.onnx").write_bytes(b"junk")
    code = main(["predict-many", str(tmp_path), "-d", "t4", "--jobs", "1"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines()[-1] == "2 models on t4: 0 ok, 2 failed"
    # the exit-code table promises one line on stderr (it was silent before 2026-12-03)
    assert err.splitlines() == ["hybridperf: error: every model failed (2 of 2; each row says why): fix or remove "
                                "those files"]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["-d", "t5"], "unknown device 't5'"),
        (["-d", "t4", "--jobs", "0"], "--jobs must be a positive integer"),
        (["-d", "t4", "-d", "l4"], "predict-many prices one device per run (got -d t4 -d l4)"),  # never the last only
    ],
)
def test_predict_many_bad_input(zoo, capsys, argv, fragment):
    from hybridperf.cli import main

    assert main(["predict-many", str(zoo), *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and fragment in err


def test_predict_many_empty_dir(tmp_path, capsys):
    from hybridperf.cli import main

    assert main(["predict-many", str(tmp_path), "-d", "t4"]) == 2
    assert "no .onnx files under" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_many_process_pool(zoo):
    """Two worker processes give the same rows as the in-process run."""
    proc = hybridperf(zoo.parent, "predict-many", "zoo", "-d", "t4", "--batch", "1", "--jobs", "2", "--format", "json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["models"]
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    # the broken model is counted on stderr, and nothing else is said
    assert len(proc.stderr.splitlines()) == 1 and "1 of 3 models failed" in proc.stderr, proc.stderr
    from hybridperf.api import predict

    ref = predict(str(zoo / "sub" / "b.onnx"), "t4", batch=1, runtime="auto")
    assert rows[2]["latency_s"] == pytest.approx(ref.latency_s)
    assert rows[2]["peak_memory_bytes"] == ref.peak_memory_bytes


def test_progress_bar_only_on_a_terminal():
    import io

    from hybridperf.report.progress import ProgressBar as _Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    bar = _Progress(4, stream=tty, width=8)
    bar.step("a.onnx")
    bar.step("b.onnx")
    bar.close()
    text = tty.getvalue()
    assert "\r[##......] 1/4 a.onnx" in text and "\r[####....] 2/4 b.onnx" in text
    assert text.endswith("\r") and "\n" not in text
    pipe = io.StringIO()
    quiet = _Progress(4, stream=pipe)
    quiet.step("a.onnx")
    quiet.close()
    assert pipe.getvalue() == ""


SQUEEZENET = str(Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx")


@pytest.mark.parametrize("argv, line", [
    (["predict", SQUEEZENET, "--batch", "2.5"],
     "hybridperf: error: predict: argument --batch: invalid int value: '2.5' (see `hybridperf predict --help`)"),
    (["calibrate"], "hybridperf: error: calibrate: the following arguments are required: --device/-d "
                    "(see `hybridperf calibrate --help`)"),
    ([], "hybridperf: error: no command given; `hybridperf --help` lists them (e.g. `hybridperf predict MODEL.onnx`)"),
    (["check", SQUEEZENET, "-d", "t4", "--max-latency", "1ms", "--max-latency", "100ms"],
     "hybridperf: error: check: --max-latency given twice (1ms and 100ms); give it once (see `hybridperf check --help`)"),
    (["predict", SQUEEZENET, "-d", "t4", "--shape", "pixel_values=1x3x224x224", "--shape", "pixel_values=2x3x224x224"],
     "hybridperf: error: --shape pixel_values given twice (1x3x224x224 and 2x3x224x224); give each input one shape"),
])
def test_usage_errors_are_one_line_naming_the_fix(argv, line, capsys):
    """argparse's errors follow the CLI's rule (one stderr line, exit 2; argparse printed the usage block first), and
    a flag or input shape given twice with different values is refused (the last one won silently before)."""
    from hybridperf.cli import main

    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == line + "\n"
