"""The Python API's documentation against the API: every public function's numpy ``Parameters`` section lists its
real parameters in signature order, the signatures the package docstring shows name real parameters with their real
defaults, the docstring examples run as written, and an error message keeps a CLI command it quotes."""

import doctest
import inspect
import re
from pathlib import Path

import onnx
import pytest

import hybridperf
from hybridperf import api
from hybridperf.errors import InputError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _documented_parameters(doc: str) -> list[str]:
    """The names a numpy docstring's ``Parameters`` section lists, in order (``a, b : int`` is two)."""
    lines = inspect.cleandoc(doc).splitlines()
    out, section = [], None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            section = line.strip()
        elif section == "Parameters" and line and not line.startswith(" ") and not re.fullmatch(r"-{3,}", line):
            out += [name.strip() for name in line.split(" : ")[0].split(",")]
    return out


def _public_callables():
    for name in api.__all__:
        obj = getattr(api, name)
        yield name, (obj.__init__ if inspect.isclass(obj) else obj), obj.__doc__
    for name, member in vars(api.Session).items():
        if not name.startswith("_") and callable(member):
            yield f"Session.{name}", member, member.__doc__


PUBLIC = {name: (func, doc) for name, func, doc in _public_callables()}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_parameters_section_lists_the_signature(name):
    func, doc = PUBLIC[name]
    # until 2026-12-04: check() documented only devices and the limits ("Other parameters are predict's", though
    # allow_unsupported is not predict's and model was nowhere), predict() left out residual and runtime and put
    # precision after fused, run_check() listed analyzed/specs after runtime
    real = [p for p in inspect.signature(func).parameters if p != "self"]
    assert _documented_parameters(doc or "") == real, name


def test_package_docstring_signatures_name_real_parameters_and_defaults():
    # until 2026-12-04 check's line read max_latency=..., max_memory=..., max_energy=... (defaults are None) and
    # predict's / analyze's lines gave no sign of their other options
    shown = re.findall(r"hybridperf\.(\w+)\((.*?)\) ->", hybridperf.__doc__)
    assert {name for name, _ in shown} == {"predict", "analyze", "check", "report_dict"}
    for name, args in shown:
        params = inspect.signature(getattr(hybridperf, name)).parameters
        for arg in (a.strip() for a in args.split(",")):
            if arg in ("*", "...") or arg.endswith("_or_check_result"):  # report_dict(prediction_or_check_result)
                continue
            key, _, default = arg.partition("=")
            assert key in params, (name, key)
            if default:
                assert default == repr(params[key].default), (name, key)
        if len(params) > len([a for a in args.split(",") if a.strip() not in ("*", "...")]):
            assert "..." in args, name  # options left out are marked as left out


def test_docstring_examples_pass_doctest():
    # every >>> example is marked +SKIP (it needs torch or files of the caller's); none may fail to parse
    for module in (api, hybridperf):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_roofline_only_message_keeps_the_command_it_quotes():
    # until 2026-12-04 python_words rewrote the command's flag as a parameter: "(the roofline alone, as predict-many
    # residual=None)", a command that does not exist
    with pytest.raises(InputError) as info:
        hybridperf.Session().predict_many([str(EXAMPLES / "squeezenet1_1.onnx")], "t4", roofline_only="yes")
    assert "`predict-many --roofline-only`" in str(info.value)
    assert "predict-many residual=None" not in str(info.value)


def test_module_docstring_example_runs_as_written():
    """``predict(..., batch=8)`` on a model with a symbolic batch dim; ``analyze(proto, batch=1)`` then ``check`` on
    two GPUs: a CheckResult keyed by the proto's label, truthy within budget and falsy over it."""
    pred = hybridperf.predict(str(EXAMPLES / "resnet_like.onnx"), "a100-sxm-80gb", batch=8)
    assert pred.analyzed.input_shapes["x"] == (8, 3, 32, 32)
    assert isinstance(pred.latency_s, float) and pred.latency_s > 0
    assert isinstance(pred.energy_j, float) and pred.energy_j > 0
    assert isinstance(pred.peak_memory_bytes, int) and pred.peak_memory_bytes > 0

    candidate_proto = onnx.load(str(EXAMPLES / "squeezenet1_1.onnx"))
    analyzed = hybridperf.analyze(candidate_proto, batch=1)
    result = hybridperf.check(analyzed, ["a100-sxm-80gb", "t4"], max_latency="5ms", max_memory=256 * 2**20)
    assert {device for _, device in result.predictions} == {"a100-sxm-80gb", "t4"}
    assert bool(result) is result.passed
    over = hybridperf.check(analyzed, ["a100-sxm-80gb", "t4"], max_latency="1ns")
    assert not over and len(over.failures) == 2  # one latency failure per device
