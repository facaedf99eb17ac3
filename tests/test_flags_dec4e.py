"""Options accepted and then without effect on what is printed, with nothing to say so (the audit of 2026-12-04).

Each test is a regression test for one such case; its comment says what happened until 2026-12-04. A case is now
either refused (one line on stderr naming the fix, exit 2, nothing written) or told (a note or warning line).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tvm")

from hybridperf.cli import ExitCode, main  # noqa: E402

TIMINGS = ("load_s", "cost_pass_s", "lower_and_plan_s")  # wall-clock seconds of the analysis: differ run to run


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _without_timings(text: str) -> dict:
    data = json.loads(text)

    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k not in TIMINGS}
        if isinstance(d, list):
            return [strip(v) for v in d]
        return d

    return strip(data)


@pytest.fixture(scope="module")
def resnet(model_dir):
    return str(model_dir / "resnet_like.onnx")


def test_predict_top_with_json_is_noted(resnet, capsys):
    # until 2026-12-04 `predict --format json --top 3` printed the JSON of every kernel, the same as without --top,
    # and said nothing; now a note on stderr says that --top is the table's
    base = [resnet, "-d", "t4", "--batch", "1", "--roofline-only", "--format", "json"]
    code, plain, err = _run(capsys, "predict", *base)
    assert code == ExitCode.OK and "--top" not in err
    code, topped, err = _run(capsys, "predict", *base, "--top", "3")
    assert code == ExitCode.OK
    assert _without_timings(topped) == _without_timings(plain)  # the JSON is every kernel's, as the note says
    assert "hybridperf: note: --top 3 sets the rows of the table; --format json lists every kernel" in err
    code, _, err = _run(capsys, "predict", *base[:-2], "--top", "3")  # the table: --top is its own, no note
    assert code == ExitCode.OK and "note: --top" not in err


def test_no_fuse_under_a_per_op_runtime_is_warned(resnet, capsys):
    # until 2026-12-04 `check -d t4 --no-fuse` (and mig, predict-many) printed the very figures of a check without it:
    # eager PyTorch's latency is priced on its per-op launches, whatever TVM's fusion; nothing said so
    base = [resnet, "-d", "t4", "--batch", "1", "--max-latency", "1s", "--format", "json"]
    code, fused, err = _run(capsys, "check", *base)
    assert code == ExitCode.OK and "--no-fuse" not in err
    code, unfused, err = _run(capsys, "check", *base, "--no-fuse")
    assert code == ExitCode.OK
    a, b = json.loads(fused), json.loads(unfused)
    assert [c["predicted"] for c in a["checks"]] == [c["predicted"] for c in b["checks"]]  # the same latency, memory, energy
    assert "--no-fuse: runtime torch launches one kernel per op already" in err


def test_no_fuse_warning_only_where_it_changes_nothing(chain):
    """The warning is of an unfused analysis priced on per-op launches (the zero-shot GPU model): not of a fused one,
    nor where the figures are the unfused kernels' (the roofline, a fused runtime)."""
    import hybridperf

    path = chain.source  # x -> Relu -> Exp: one fused kernel, two launches under torch
    unfused = hybridperf.analyze(path, fused=False)
    assert any("--no-fuse: runtime torch launches" in w for w in hybridperf.predict(unfused, "t4", runtime="torch").warnings)
    assert not any("--no-fuse" in w for w in hybridperf.predict(chain, "t4", runtime="torch").warnings)
    assert not any("--no-fuse" in w for w in hybridperf.predict(unfused, "t4", runtime="tvm").warnings)
    assert not any("--no-fuse" in w for w in hybridperf.predict(unfused, "t4", residual=None).warnings)
    cg = hybridperf.predict(unfused, "t4", runtime="torch-cudagraph").warnings
    assert any("--no-fuse: runtime torch-cudagraph" in w for w in cg)


def test_api_fused_false_on_a_fused_analysis_is_refused(chain):
    # until 2026-12-04 predict(analyzed, "t4", fused=False) (and check, Session.predict, Session.predict_many,
    # Session.analyze) priced the Analyzed's fused kernels: fused=False was ignored without a word
    import hybridperf
    from hybridperf.errors import InputError

    assert chain.fused
    with pytest.raises(InputError, match="fused=False: this Analyzed model was analysed with fused kernels"):
        hybridperf.predict(chain, "t4", fused=False)
    with pytest.raises(InputError, match="fused=False"):
        hybridperf.check(chain, "t4", max_latency="1s", fused=False)
    s = hybridperf.Session()
    with pytest.raises(InputError, match="fused=False"):
        s.predict(chain, "t4", fused=False)
    with pytest.raises(InputError, match="fused=False"):
        s.predict_many([chain], "t4", fused=False)
    assert hybridperf.analyze(chain) is chain and hybridperf.analyze(chain, fused=True) is chain  # as it was


def test_devices_show_a_file_with_spec_dir_is_refused(tmp_path, capsys):
    # until 2026-12-04 `devices show my.yaml --spec-dir DIR` showed my.yaml, the same as without --spec-dir: the
    # directory was never read, and nothing said so
    from hybridperf.device.spec import default_spec_dir

    (tmp_path / "sheets").mkdir()
    sheet = default_spec_dir() / "l4.yaml"
    code, out, err = _run(capsys, "devices", "show", str(sheet), "--spec-dir", str(tmp_path / "sheets"))
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err.count("\n") == 1 and "is a spec file, read as it is, not a sheet of that directory; drop --spec-dir" in err
    assert _run(capsys, "devices", "show", str(sheet))[0] == ExitCode.OK  # without it: shown


@pytest.mark.parametrize("title", ["", "  "])
def test_report_empty_title_is_refused(resnet, tmp_path, capsys, title):
    # until 2026-12-04 `report --title ''` wrote the page with the default title (an empty one was taken for none),
    # and '  ' a blank one; neither said anything
    page = tmp_path / "r.html"
    code, out, err = _run(capsys, "report", resnet, "-d", "t4", "--batch", "1", "--html", str(page), "--title", title)
    assert code == ExitCode.INPUT_ERROR and out == "" and not page.exists()
    assert err == "hybridperf: error: --title is empty; give the page a title, or drop --title for the default " \
                  "(model and device)\n"


def test_check_shape_replacing_the_files_shapes_is_noted(resnet, tmp_path, capsys):
    # until 2026-12-04 `check m.onnx --shape x=1x3x32x32` over a pyproject.toml whose entry for m.onnx has
    # shapes = {x = "2x3x32x32"} checked batch 1 with no word of the file's batch 2, where --batch and --precision
    # said "replaces ... of pyproject.toml: the command line wins"
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(f'[tool.hybridperf]\ndevices = ["t4"]\nmax-latency = "1s"\n\n'
                   f'[tool.hybridperf.budgets."{resnet}"]\nshapes = {{x = "2x3x32x32"}}\n')
    argv = ["check", resnet, "--config", str(cfg), "--roofline-only"]
    code, _, err = _run(capsys, *argv, "--shape", "x=1x3x32x32")
    assert code == ExitCode.OK
    assert f"hybridperf: note: --shape x=1x3x32x32 replaces shapes x=2x3x32x32 of {cfg}: the command line wins" in err
    code, _, err = _run(capsys, *argv, "--shape", "x=2x3x32x32")  # the file's own shapes: nothing to say
    assert code == ExitCode.OK and "note" not in err


@pytest.mark.parametrize("argv, flag, values", [
    (["predict", "{m}", "-d", "t4", "-d", "l4", "--batch", "1"], "-d", "t4 and l4"),
    (["predict", "{m}", "-d", "t4", "--batch", "1", "--batch", "2"], "--batch", "1 and 2"),
    (["predict", "{m}", "-d", "t4", "--batch", "1", "--precision", "fp16", "--precision", "int8"], "--precision",
     "fp16 and int8"),
    (["predict", "{m}", "-d", "t4", "--batch", "1", "--runtime", "torch", "--runtime", "tvm"], "--runtime",
     "torch and tvm"),
    (["predict", "{m}", "-d", "t4", "--batch", "1", "--format", "json", "--format", "table"], "--format",
     "json and table"),
    (["predict", "{m}", "-d", "t4", "--batch", "1", "--top", "3", "--top", "5"], "--top", "3 and 5"),
    (["annotate", "{m}", "-d", "t4", "--device", "l4", "--batch", "1"], "--device", "t4 and l4"),
    (["mig", "{m}", "-d", "a100-sxm-80gb", "--batch", "1", "--batch", "2"], "--batch", "1 and 2"),
    (["report", "{m}", "-d", "t4", "--html", "a.html", "--html", "b.html"], "--html", "a.html and b.html"),
    (["report", "{m}", "-d", "t4", "--html", "a.html", "--title", "A", "--title", "B"], "--title", "A and B"),
    (["check", "{m}", "-d", "t4", "--max-latency", "1s", "--precision", "fp16", "--precision", "int8"], "--precision",
     "fp16 and int8"),
    (["check", "{m}", "-d", "t4", "--max-latency", "1s", "--batch", "1", "--batch", "2"], "--batch", "1 and 2"),
    (["check", "{m}", "-d", "t4", "--max-latency", "1s", "--format", "json", "--format", "github"], "--format",
     "json and github"),
    (["predict-many", "{m}", "-d", "t4", "-j", "1", "-j", "2"], "-j", "1 and 2"),
    (["predict-many", "{m}", "-d", "t4", "--batch", "1", "--batch", "4"], "--batch", "1 and 4"),
    (["measure", "{m}", "--repeats", "3", "--repeats", "4"], "--repeats", "3 and 4"),
    (["measure", "{m}", "--threads", "1", "--threads", "2"], "--threads", "1 and 2"),
    (["measure", "{m}", "-d", "host", "-d", "host-epyc-1c"], "-d", "host and host-epyc-1c"),
    (["devices", "--format", "json", "--format", "table"], "--format", "json and table"),
    (["probe", "--out", "a.yaml", "--out", "b.yaml"], "--out", "a.yaml and b.yaml"),
])
def test_a_single_valued_flag_given_twice_is_refused(resnet, tmp_path, monkeypatch, capsys, argv, flag, values):
    # until 2026-12-04 the last value won without a word: `predict -d t4 -d l4` priced l4 alone, `--batch 1 --batch 2`
    # batch 2, `measure --repeats 3 --repeats 4` timed 4 runs (only the budgets and mig's --headroom were refused)
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{m}", resnet) for a in argv]
    code, out, err = _run(capsys, *argv)
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err.count("\n") == 1 and f"{flag} given twice ({values}); give it once" in err
    assert not list(tmp_path.iterdir())  # nothing written (no page, no sheet)


def test_a_flag_given_twice_with_one_value_is_taken(resnet, capsys):
    # the same value twice (a script that adds a default of its own) is no conflict: taken as once
    code, out, _ = _run(capsys, "predict", resnet, "-d", "t4", "-d", "t4", "--batch", "1", "--batch", "1",
                        "--roofline-only", "--top", "0", "--top", "0")
    assert code == ExitCode.OK and "device    t4" in out


@pytest.mark.parametrize("argv", [
    ["--measure", "a.onnx", "--measure", "b.onnx"],
    ["--measure", "a.onnx", "--shots", "3", "--shots", "5"],
    ["--data", "d1", "--rounds", "2", "--rounds", "3"],
])
def test_calibrate_refuses_a_flag_given_twice(argv, capsys):
    # until 2026-12-04 calibrate took the last value without a word: `--measure a.onnx --measure b.onnx` measured b alone
    from hybridperf.cli import main

    assert main(["calibrate", "--device", "host", *argv]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "given twice" in err and err.count("\n") == 1


def test_no_fuse_under_tvm_says_unfused_kernels(model_dir, capsys):
    # until 2026-12-04 `--runtime tvm --no-fuse` on a GPU said "runtime tvm (fused kernels, ...)" of unfused launches
    m = str(model_dir / "resnet_like.onnx")
    assert main(["predict", m, "-d", "t4", "--runtime", "tvm", "--batch", "1", "--no-fuse", "--top", "0"]) == ExitCode.OK
    assert "runtime tvm (unfused (--no-fuse) kernels" in capsys.readouterr().out
    assert main(["predict", m, "-d", "t4", "--runtime", "tvm", "--batch", "1", "--top", "0"]) == ExitCode.OK
    assert "runtime tvm (fused kernels" in capsys.readouterr().out
