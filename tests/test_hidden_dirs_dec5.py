"""A directory search (``predict-many DIR``, ``check DIR``) leaves hidden and environment folders out (audit of
2026-12-05): until then ``predict-many .`` in a project predicted every model file under ``.venv`` (the onnx package
ships ~300 test models under site-packages/onnx/backend/test/data: 152 in this checkout's .venv), ``.git``, ``.tox``
and caches. A folder named on the command line is still searched, and the folders left out that hold models are
named once on stderr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hybridperf.cli import ExitCode, main
from hybridperf.commands.predict_many import SWEEP_SUFFIXES, find_models, search_models
from hybridperf.errors import InputError


def _touch(root: Path, *names: str) -> None:
    for n in names:
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        (root / n).write_bytes(b"x")  # nothing reads them


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder as ``predict-many .`` meets it: two models of its own and environments that hold more."""
    _touch(tmp_path, "a/m.onnx", "b/.hidden.onnx", ".venv/lib/site-packages/onnx/t.onnx", "node_modules/p/x.onnx",
           "__pycache__/y.onnx", "sub/.tox/z.onnx", "sub/site-packages/w.tflite", ".git/HEAD", ".zoo/m.onnx",
           ".zoo/sub/n.onnx")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_hidden_and_environment_folders_are_not_searched(project):
    # until 2026-12-05 all 9 model files were found, 7 of them inside .venv, node_modules, __pycache__, .tox, ...
    found = search_models(".", suffixes=SWEEP_SUFFIXES)
    assert [str(f) for f in found.files] == ["a/m.onnx", "b/.hidden.onnx"]  # a hidden *file* is a model
    # the outermost folder left out that holds a model, sorted by path; .git holds none, so it is not named
    assert [str(s) for s in found.skipped] == [".venv", ".zoo", "__pycache__", "node_modules", "sub/.tox",
                                               "sub/site-packages"]
    assert find_models(".", suffixes=SWEEP_SUFFIXES) == list(found.files)


def test_a_hidden_folder_named_is_searched_in_order_and_once(project):
    # until 2026-12-05 too; now the only way into a hidden folder, and the first spelling of a file still wins
    found = search_models(".zoo/m.onnx", ".", ".zoo", suffixes=SWEEP_SUFFIXES)
    assert [str(f) for f in found.files] == [".zoo/m.onnx", "a/m.onnx", "b/.hidden.onnx", ".zoo/sub/n.onnx"]
    assert ".zoo" not in [str(s) for s in found.skipped]  # searched: not named as left out
    assert [str(f) for f in search_models(str(project / ".venv")).files] == []  # its site-packages left out


def test_links_and_non_files_are_kept_as_before(tmp_path):
    # the walk that prunes replaced Path.rglob on 2026-12-05: a link to a folder is not entered, a dangling link is
    # kept (it fails as its model), a pipe named like a model is no model
    _touch(tmp_path, "real/m.onnx")
    (tmp_path / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "gone.onnx").symlink_to(tmp_path / "missing.onnx")
    os.mkfifo(tmp_path / "pipe.onnx")
    assert search_models(tmp_path).files == (tmp_path / "gone.onnx", tmp_path / "real" / "m.onnx")


def test_predict_many_names_the_folders_left_out_once(project, capsys, monkeypatch):
    # until 2026-12-05 `predict-many .` predicted the models under .venv, node_modules, ... and named no folder
    import hybridperf.commands.predict_many as pm

    def fake_results(args, todo, spec, spec_ref, call):
        for m in todo:
            yield str(m), {"model": str(m), "status": "error", "error": "fake", "warnings": []}

    monkeypatch.setattr(pm, "_results", fake_results)
    code = main(["predict-many", ".", "-d", "t4", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == ExitCode.INPUT_ERROR  # every (fake) row failed
    assert '"a/m.onnx"' in out and ".venv" not in out
    notes = [line for line in err.splitlines() if "hidden/environment" in line]
    assert notes == ["hybridperf: note: skipped 6 hidden/environment folders holding model files (.venv, .zoo, "
                     "__pycache__, ...): name one to search it"]


def test_bad_input_gets_its_one_line_alone(project, capsys):
    # the note waits until the arguments are checked: an unknown device is one line on stderr
    assert main(["predict-many", ".", "-d", "no-such-device"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "hidden/environment" not in err


@pytest.mark.parametrize("command", ["predict-many", "check"])
def test_a_folder_whose_models_are_all_left_out_names_them(tmp_path, capsys, monkeypatch, command):
    # until 2026-12-05 these models were found; now "no model file" must say where they are and how to reach them
    _touch(tmp_path, "proj/.venv/t.onnx", "proj/README")
    monkeypatch.chdir(tmp_path)
    extra = ["--max-latency", "1s"] if command == "check" else []
    assert main([command, "proj", "-d", "t4", *extra]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not searched: proj/.venv, a hidden/environment folder that holds model files: name one "\
        "to search it" in err[0]


def test_check_finds_a_folders_models_as_predict_many_does(project):
    # until 2026-12-05 `check .` checked the models under .venv, __pycache__, node_modules, .tox and site-packages too
    from hybridperf.commands.check import _models_of

    models, skipped = _models_of([".", ".zoo", "a/m.onnx"])
    assert models == ["a/m.onnx", "b/.hidden.onnx", ".zoo/m.onnx", ".zoo/sub/n.onnx", "a/m.onnx"]  # dedup: later
    assert [str(s) for s in skipped] == [".venv", "__pycache__", "node_modules", "sub/.tox", "sub/site-packages"]


def test_a_missing_path_is_still_refused(project):
    with pytest.raises(InputError, match="not found: nope"):
        search_models("nope")
