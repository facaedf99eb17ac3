"""Third audit of the Python API (:mod:`hybridperf`, :mod:`hybridperf.api`) as a notebook user, a NAS framework and a
CI plugin embed it: arguments of the wrong kind are :class:`~hybridperf.errors.InputError` naming the fix (not an
AttributeError / TypeError from deep inside, nor a silently wrong reading), a numpy batch binds like an int, a
:class:`CheckResult` has the CLI's JSON, and ``import hybridperf`` stays free of TVM and the other heavy modules."""

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

import hybridperf
from hybridperf import api
from hybridperf.errors import InputError
from test_api_audit import K, N, matmul  # y = x @ W, x float32 [B, K], W [K, N]


@pytest.fixture(scope="module")
def mm_path(tmp_path_factory):
    """The MatMul with a symbolic batch ``B``, saved as a file."""
    path = tmp_path_factory.mktemp("user_audit") / "mm.onnx"
    onnx.save(matmul(), str(path))
    return str(path)


def test_import_hybridperf_loads_no_heavy_module():
    """``import hybridperf`` and reaching ``hybridperf.predict`` import neither TVM nor onnx, onnxruntime, numpy, torch
    or LightGBM (the API is loaded on first use); ``dir(hybridperf)`` lists no stray ``annotations`` (the package's
    ``from __future__ import annotations`` put one there)."""
    code = ("import sys, hybridperf\n"
            "heavy = ('tvm', 'onnx', 'onnxruntime', 'numpy', 'torch', 'lightgbm')\n"
            "seen = lambda: sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
            "print(seen()); hybridperf.predict, hybridperf.Session; print(seen())\n"
            "print('annotations' in dir(hybridperf))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["[]", "[]", "False"]


def test_every_exported_name_exists():
    ns: dict = {}
    exec("from hybridperf import *", ns)  # noqa: S102 - the star import a notebook writes
    assert {n for n in ns if not n.startswith("__")} == set(hybridperf.__all__) - {"__version__"}
    assert all(hasattr(api, n) for n in api.__all__)


def test_a_numpy_batch_binds_like_an_int(mm_path):
    """``batch=np.int64(2)`` was refused ('batch must be a positive integer') where ``shapes`` took numpy ints."""
    got = hybridperf.predict(mm_path, "t4", batch=np.int64(2), residual=None)
    assert got.flops == 2 * 2 * K * N  # FLOP = 2 x MAC
    assert dict(got.analyzed.input_shapes) == {"x": (2, K)}
    s = api.Session()
    s.analyze(mm_path, batch=np.int32(2))
    s.analyze(mm_path, batch=2)
    assert s.stats()["analyses"] == 1  # one key for the one binding
    for bad in (True, 2.0, "2", 0):
        with pytest.raises(InputError, match="batch must be a positive integer"):
            hybridperf.analyze(mm_path, batch=bad)


def test_fused_must_be_a_bool():
    """``fused="no"`` (or "False") was truthy: TVM's fused kernels were priced without a word."""
    with pytest.raises(InputError, match=r"fused must be True .* or False .*, got 'no'"):
        hybridperf.predict(matmul(8), "t4", fused="no", residual=None)
    with pytest.raises(InputError, match="fused must be True"):
        api.Session().analyze(matmul(8), fused=None)
    assert hybridperf.analyze(matmul(8), fused=np.bool_(False)).fused is False


@pytest.mark.parametrize(
    ("call", "fix"),
    [  # each was an AttributeError or TypeError from inside the package
        (lambda: hybridperf.check(matmul(8), None, max_latency="1s"), "devices must be a device id"),
        (lambda: hybridperf.check(matmul(8), 4, max_latency="1s"), "devices must be a device id"),
        (lambda: hybridperf.predict_on(matmul(8), "t4"), r"predict_on prices an Analyzed, got ModelProto: analyze"),
        (lambda: hybridperf.predict_on("m.onnx", "t4"), r"got str: .*hybridperf.predict\(model, device\)"),
        (lambda: api.Session().predict_on(matmul(8), "t4"), "predict_on prices an Analyzed"),
        (lambda: hybridperf.report_dict(None), "report_dict takes a Prediction or a CheckResult, got NoneType"),
        (lambda: hybridperf.report_dict(hybridperf.analyze(matmul(8))), r"got Analyzed; price it first"),
        (lambda: api.Session(keep_analyses="8"), r"keep_analyses must be a count >= 0 \(0: keep none\), got '8'"),
        (lambda: api.Session(keep_rooflines=-1), "keep_rooflines must be a count >= 0"),
        (lambda: api.Session(block_cache="yes"), "block_cache must be True or False"),
        (lambda: api.analyze_torch(object(), None, fused="no"), "fused must be True"),  # before torch is needed
        (lambda: hybridperf.check(matmul(8), "t4", max_latency="1s", allow_unsupported="no"),
         r"allow_unsupported must be True \(judge a lower bound\) or False"),  # "no" judged lower bounds
    ],
)
def test_arguments_of_the_wrong_kind_are_input_errors(call, fix):
    with pytest.raises(InputError, match=fix):
        call()


def test_refusals_of_a_model_kind_name_the_conversion(mm_path):
    """Serialized ONNX bytes, a bare Relax function and shapes passed by position were refused without the fix."""
    with pytest.raises(InputError, match=r"\(serialized ONNX: pass onnx.load_model_from_string\(data\)\)"):
        hybridperf.analyze(matmul(8).SerializeToString())
    from hybridperf.frontends.load import load_model

    func = load_model(matmul(8)).module["main"]
    with pytest.raises(InputError, match=r"\(a Relax function: pass tvm.IRModule\(\{'main': func\}\)\)"):
        hybridperf.analyze(func)
    with pytest.raises(InputError, match=r"to bind input shapes write shapes=\{'x': \(1, 64\)\}"):
        hybridperf.analyze(mm_path, {"x": (1, K)})


def test_predict_many_takes_one_device_and_refuses_one_path(mm_path):
    """``predict_many(models, "t4")`` priced devices 't' and '4' (unknown device 't'), and ``predict_many("m.onnx",
    ...)`` analysed each character of the path ('/ is a directory')."""
    s = api.Session()
    got = s.predict_many([mm_path], "t4", batch=1, residual=None)
    assert list(got) == [(0, "t4")] and got[(0, "t4")].flops == 2 * 1 * K * N
    with pytest.raises(InputError, match=r"models must be a list of models, got one str: pass \[model\]"):
        s.predict_many(mm_path, ["t4"], batch=1)
    with pytest.raises(InputError, match="got one ModelProto"):
        s.predict_many(matmul(1), ["t4"])


def test_predict_many_refuses_two_sheets_with_one_id():
    """Two edited copies of one sheet were keyed by their one id: the second's predictions replaced the first's."""
    import dataclasses

    sheet = api.device_spec("ryzen-9-7950x")
    with pytest.raises(InputError, match="two different device sheets have the id 'ryzen-9-7950x'"):
        api.Session().predict_many([matmul(1)], [sheet, dataclasses.replace(sheet, compute_unit_count=4)])


def test_report_dict_of_a_check_result_is_the_cli_json(mm_path, capsys):
    """A CI plugin had no JSON of a :class:`CheckResult` (``dataclasses.asdict`` fails on its predictions);
    ``report_dict`` of it is what ``hybridperf check --format json`` prints."""
    from hybridperf.cli import main

    rc = main(["check", mm_path, "--device", "t4", "--device", "host-epyc-1c", "--batch", "4", "--max-latency", "1s",
               "--max-memory", "1KiB", "--format", "json"])
    cli = json.loads(capsys.readouterr().out)
    result = hybridperf.check(mm_path, ["t4", "host-epyc-1c"], batch=4, max_latency="1s", max_memory="1KiB")
    assert rc == 1 and not result  # (4*64 + 64*32 + 4*32) * 4 B of tensors alone is over 1 KiB
    mine = json.loads(json.dumps(hybridperf.report_dict(result)))
    assert mine == cli
    assert [c["metric"] for c in mine["checks"]] == ["latency", "memory", "energy"] * 2


def test_an_in_memory_onnx_model_is_judged_on_onnxruntimes_peak_as_its_file(model_dir):
    """``check(proto, cpu, max_memory=...)`` judged the TVM plan's peak ("the onnxruntime model needs an ONNX file"):
    resnet_like loaded with ``onnx.load`` passed 1 MiB that the same model as a file exceeds (onnxruntime's peak)."""
    path = str(model_dir / "resnet_like.onnx")
    proto = onnx.load(path)
    by_file = hybridperf.predict(path, "host-epyc-1c", batch=1, runtime="auto")
    assert by_file.runtime_memory is not None and by_file.peak_memory_bytes > 2**20  # onnxruntime's session alone
    for pred in (hybridperf.predict(proto, "host-epyc-1c", batch=1, runtime="auto"),
                 api.Session().predict(proto, "host-epyc-1c", batch=1, runtime="auto")):
        assert pred.runtime_memory_note == ""
        assert pred.peak_memory_bytes == by_file.peak_memory_bytes
        assert pred.analyzed.source == f"<onnx.ModelProto {proto.graph.name}>"  # the label, not the temporary file
    file_check = hybridperf.check(path, "host-epyc-1c", batch=1, max_memory="1MiB")
    proto_check = hybridperf.check(proto, "host-epyc-1c", batch=1, max_memory="1MiB")
    assert not file_check and not proto_check
    (mem,) = [c for c in proto_check.checks if c.metric.value == "memory"]
    assert (mem.value, mem.figure) == (by_file.peak_memory_bytes, "onnxruntime peak")
    assert hybridperf.predict(proto, "host-epyc-1c", batch=1).runtime_memory is None  # runtime=None: the plan's peak


def test_refusing_a_model_of_no_kind_imports_no_tvm():
    """``analyze(None)`` imported TVM (about 2 s) to find None was not an IRModule."""
    code = ("import sys, hybridperf\n"
            "from hybridperf.errors import InputError\n"
            "for bad in (None, {}, b'\\x08\\x08', 3):\n"
            "    try:\n"
            "        hybridperf.analyze(bad)\n"
            "    except InputError:\n"
            "        pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tvm', 'onnx', 'numpy'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"
