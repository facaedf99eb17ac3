"""benchmarks.h100_zero_shot's bookkeeping (no torch, no TVM analysis, no .zoo): which rows are scored, the cache
fingerprint, exports it runs and drops, failures listed as excluded."""

from __future__ import annotations

import json
import stat
import sys

import pytest

from benchmarks import h100_zero_shot as hz

HEADER = "model,batch,dtype,status,latency_median_s,onnx_file,onnx_export_cmd\n"


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Two tiny calibration files, an empty zoo, a package of a two-file cross-device model, a sheet and a source
    file and a command (which pricing does not read), all under tmp_path."""
    cal, zoo, pkg = tmp_path / "cal", tmp_path / "zoo", tmp_path / "pkg"
    cd = pkg / "data" / "models" / "cross-device"
    for d in (cal, zoo, cd, pkg / "commands"):
        d.mkdir(parents=True)
    rows = ("a,1,fp32,ok,0.001,a_b1.onnx,python -m benchmarks.zoo --export a --batch 1\n"
            "a,1,fp16,ok,0.001,a_b1.onnx,python -m benchmarks.zoo --export a --batch 1\n"
            "b,8,fp32,ok,0.002,b_b8.onnx,python -m benchmarks.zoo --export b --batch 8\n"
            "c,32,fp32,error,,c_b32.onnx,python -m benchmarks.zoo --export c --batch 32\n")
    for _, name, _, _ in hz.SETS:
        (cal / name).write_text(HEADER + rows)
    (cd / "m.txt").write_text("tree 1")
    (cd / "m.json").write_text("{}")
    (pkg / "data" / "h100-sxm.yaml").write_text("name: h100")
    (pkg / "api.py").write_text("x = 1")
    (pkg / "commands" / "predict.py").write_text("y = 1")
    monkeypatch.setattr(hz, "H100", cal)
    monkeypatch.setattr(hz, "ZOO", zoo)
    monkeypatch.setattr(hz, "ZOO_DIRS", (zoo,))
    monkeypatch.setattr(hz, "PACKAGE", pkg)
    # the tests do not depend on this host's free disk (the run refuses to export under 4 GB free)
    real_usage = hz.shutil.disk_usage
    monkeypatch.setattr(hz.shutil, "disk_usage", lambda p: real_usage(p)._replace(free=10**12))
    # pricing without TVM: one fake entry per (runtime, dtype)
    monkeypatch.setattr(hz, "_price_one", lambda path, combos, *a: {
        f"{path.name}|{rt}|{dt}": {"device_s": [1e-3], "group": ["gemm"], "host_floor_s": 1e-5, "host_weights": [1.0],
                                   "roofline_s": 1e-3} for rt, dt in combos})
    return tmp_path


def _fake_python(tmp_path, fail: str = "") -> str:
    """An 'interpreter' that runs ``-m benchmarks.zoo --export NAME --batch B`` by writing .zoo/NAME_bB.onnx into
    the zoo of the fixture (or fails for the model ``fail``)."""
    script = tmp_path / "fakepython"
    script.write_text(f"""#!{sys.executable}
import sys
args = sys.argv[1:]
name, batch = args[args.index("--export") + 1], args[args.index("--batch") + 1]
if name == {fail!r}:
    sys.exit("ZooError: legacy export of " + name + " failed: no symbolic")
open({str(tmp_path / 'zoo')!r} + f"/{{name}}_b{{batch}}.onnx", "w").write("onnx")
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_missing_export_is_an_error_naming_its_command(world):
    (world / "zoo" / "a_b1.onnx").write_text("onnx")
    with pytest.raises(SystemExit, match=r"1 configuration.*\n  python -m benchmarks.zoo --export b --batch 8$"):
        hz._price_all(world / "cache.json", None)


def test_every_ok_row_is_priced_and_only_its_own_exports_are_dropped(world):
    before = world / "zoo" / "a_b1.onnx"
    before.write_text("onnx")
    cache = hz._price_all(world / "cache.json", None, _fake_python(world), drop_exports=True)
    # 2 configurations x 2 runtimes; a_b1 in fp32 and fp16, b_b8 in fp32; the error row is not scored
    assert len(cache["entries"]) == 2 * 3 and cache["failed"] == {}
    assert before.exists()  # there before: kept
    assert not (world / "zoo" / "b_b8.onnx").exists()  # exported by the run: dropped
    assert json.loads((world / "cache.json").read_text())["entries"] == cache["entries"]
    # the cache answers on the next run: nothing missing, nothing exported
    before.unlink()
    assert hz._price_all(world / "cache.json", None)["entries"] == cache["entries"]


def test_a_changed_model_file_invalidates_the_cache(world):
    hz._price_all(world / "cache.json", None, _fake_python(world), drop_exports=True)
    fp = hz.fingerprint()
    assert hz.load_cache(world / "cache.json", fp)["entries"]
    (world / "pkg" / "commands" / "predict.py").write_text("y = 2")  # the command line: prices unchanged
    assert hz.fingerprint() == fp
    for changed in ("api.py", "data/h100-sxm.yaml"):  # the analysis, the sheet
        (world / "pkg" / changed).write_text("edited")
        assert hz.fingerprint() != fp
        fp = hz.fingerprint()
    (world / "pkg" / "data" / "models" / "cross-device" / "m.txt").write_text("tree 2")
    assert hz.fingerprint() != fp
    assert hz.load_cache(world / "cache.json", hz.fingerprint())["entries"] == {}
    with pytest.raises(SystemExit, match="2 configuration"):  # stale entries are not used: both exports missing
        hz._price_all(world / "cache.json", None)


def test_an_export_failure_is_excluded_with_its_reason(world):
    cache = hz._price_all(world / "cache.json", None, _fake_python(world, fail="b"), drop_exports=True)
    assert set(cache["failed"]) == {"b_b8.onnx"} and "no symbolic" in cache["failed"]["b_b8.onnx"]
    assert [r["onnx_file"] for r in hz._rows("torch-eager-fp32-fp16.csv", cache["failed"])] == ["a_b1.onnx"] * 2
    assert hz.excluded(cache) == [("b_b8.onnx", cache["failed"]["b_b8.onnx"], 2)]
    # recorded: a run without --export-missing does not ask for it again
    assert set(hz._price_all(world / "cache.json", None)["failed"]) == {"b_b8.onnx"}
