"""A stored GPU few-shot adaptation (``<home>/models/<id>/gpu_adaptation-<runtime>.json``) is read checked (2026-12-05).

Until 2026-12-05 :func:`hybridperf.residual.zero_shot.for_device` skipped an adaptation of another ``schema_version``
without a word (predict priced zero-shot while the user's file sat there), used one whose recorded ``runtime`` or
``device`` was not the one its place names, read ``log_scale``, ``adapted_on``, ``weighted_host``, ``kernel`` and
``sheet`` unchecked (a missing key or another type was exit 3, a NaN ``log_scale`` exit 3 at the report, an
``adapted_on`` of 0 priced the correction under the zero-shot note, ``weighted_host: "no"`` read as true), and priced a
hand-edited figure as stored. Now each is one line naming the file and the fix, exit 2, and an adaptation stored from
today records the sha256 of its figures (:data:`~hybridperf.residual.sidecar.FIGURES_KEY`); one stored before loads
without it, its figures checked by type and range.
"""

from __future__ import annotations

import json
import math

import pytest

DEVICE = "t4"
FIX = (f"; calibrate again (`hybridperf calibrate --device {DEVICE} --runtime torch --data ROWS.csv`) or delete it "
       "(predict is then zero-shot)")


def _stored(kernel=None, runtime="torch"):
    """An adaptation as ``calibrate`` stores it (host level 0.1, fitted on 4 models), under the test's data home."""
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.zero_shot import ZeroShotGpu

    eager = kernel is None
    model = ZeroShotGpu(None, runtime, {"host": 0.1} if eager else {}, 4, weighted_host=eager, kernel=kernel)
    return model.save_adaptation(DEVICE, sheet=load_spec(DEVICE))


def _edit(path, drop_digest=False, **changes):
    from hybridperf.residual.sidecar import FIGURES_KEY

    meta = json.loads(path.read_text())
    for key, value in changes.items():
        if value is _DROP:
            meta.pop(key)
        else:
            meta[key] = value
    if drop_digest:  # as stored before 2026-12-05
        meta.pop(FIGURES_KEY)
    path.write_text(json.dumps(meta))  # json.dumps writes NaN and Infinity as Python reads them


_DROP = object()


def _load(runtime="torch"):
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.zero_shot import for_device

    return for_device(load_spec(DEVICE), runtime)


def test_an_adaptation_stored_today_records_the_sha256_of_its_figures(home):
    from hybridperf.residual.sidecar import FIGURES_KEY, figures_digest

    path = _stored()
    meta = json.loads(path.read_text())
    figures = {k: meta[k] for k in ("device", "runtime", "log_scale", "weighted_host", "kernel", "adapted_on")}
    assert meta[FIGURES_KEY] == figures_digest(figures)
    adapted = _load()
    assert adapted.adapted_on == 4 and dict(adapted.log_scale) == {"host": 0.1} and adapted.weighted_host
    assert adapted.stored_in_ == str(path)


def test_an_edited_figure_is_refused_where_its_digest_is_recorded(home):
    """Until 2026-12-05 a host level edited from 0.1 to 4.6 (x exp(4.5) = x90 the host time) priced as stored."""
    path = _stored()
    _edit(path, log_scale={"host": 4.6})
    with pytest.raises(Exception) as err:
        _load()
    assert str(err.value) == (f"{path} was edited since hybridperf stored it (its figures that price, e.g. adapted_on, "
                              f"device, kernel, are not the ones its figures_sha256 records){FIX}")


def test_an_adaptation_stored_before_digests_loads_checked_by_type_and_range(home):
    path = _stored()
    _edit(path, drop_digest=True, log_scale={"host": 0.2})
    assert dict(_load().log_scale) == {"host": 0.2}  # unverified, as before
    _edit(path, log_scale={"host": float("nan")})
    with pytest.raises(Exception, match="its log_scale's host nan is not a finite number"):
        _load()


def test_a_kernel_adaptation_round_trips(home):
    from hybridperf.residual.zero_shot import GROUPS, ResidualKernel

    n = len(GROUPS) + 2  # Breakdown.composition: the group shares, log device time, log launches
    kernel = ResidualKernel((0.0,) * n, (1.0,) * n, ((0.0,) * n, (1.0,) * n), (0.1, -0.2), 1.0, 0.0)
    _stored(kernel, runtime="torch-cudagraph")
    adapted = _load("torch-cudagraph")
    assert adapted.kernel == kernel and adapted.adapted_on == 4


@pytest.mark.parametrize("changes, says", [
    # a missing key or another type: exit 3 until 2026-12-05 (KeyError, TypeError, ValueError)
    ({"log_scale": _DROP}, "it has no 'log_scale'"),
    ({"log_scale": [0.1]}, "its log_scale is a JSON array, not an object"),
    ({"log_scale": {"host": "0.1"}}, "its log_scale's host '0.1' is not a finite number"),
    ({"log_scale": {"hots": 0.1}}, "its log_scale corrects 'hots', not one of gemm, conv, norm, elementwise, "
                                   "roofline, host"),  # was ignored (no group of that name)
    # NaN, inf: exit 3 at the report; 1000: exp overflows (exit 3)
    ({"log_scale": {"host": float("nan")}}, "its log_scale's host nan is not a finite number"),
    ({"log_scale": {"host": float("-inf")}}, "its log_scale's host -inf is not a finite number"),
    ({"log_scale": {"host": 1000.0}}, "its log_scale's host 1000.0 is beyond +-5 (a factor 148), which no adaptation "
                                      "fits"),
    ({"adapted_on": _DROP}, "it has no 'adapted_on'"),
    ({"adapted_on": "four"}, "its adapted_on 'four' is not an integer of at least 1"),
    ({"adapted_on": 0}, "its adapted_on 0 is not an integer of at least 1"),  # was priced under the zero-shot note
    ({"adapted_on": 4.7}, "its adapted_on 4.7 is not an integer of at least 1"),  # was read as 4
    ({"adapted_on": True}, "its adapted_on True is not an integer of at least 1"),
    ({"weighted_host": "no"}, "its weighted_host 'no' is not true or false"),  # was read as true
    ({"kernel": [1]}, "its kernel is a JSON array, not an object"),
    ({"kernel": {"center": [0.0]}}, "its kernel has no scale"),
    ({"sheet": [1]}, "its sheet is a JSON array, not an object"),
])
def test_a_figure_of_another_type_or_range_is_one_line(home, changes, says):
    path = _stored()
    _edit(path, drop_digest=True, **changes)  # as stored before 2026-12-05: the checks alone
    with pytest.raises(Exception) as err:
        _load()
    assert str(err.value) == f"{path} is not an adaptation hybridperf wrote: {says}{FIX}"


@pytest.mark.parametrize("kernel, says", [
    ({"center": [0.0] * 6}, "its kernel's center is not a list of 7 numbers"),
    ({"scale": [1.0] * 6 + [0.0]}, "its kernel's scale[6] 0.0 is not positive"),
    ({"alpha": [0.1]}, "its kernel's alpha is not a list of 2 numbers"),
    ({"alpha": [0.1, float("nan")]}, "its kernel's alpha[1] nan is not a finite number"),
    ({"points": [[0.0] * 7, [1.0] * 6]}, "its kernel's points[1] is not a list of 7 numbers"),
    ({"length": 0}, "its kernel's length 0 is not positive"),
    ({"bias": -1.0}, "its kernel's bias -1.0 is not a finite number of at least 0"),
])
def test_a_kernel_of_another_shape_is_one_line(home, kernel, says):
    """Until 2026-12-05 a kernel of the wrong length or a NaN weight priced NaN or was exit 3 (numpy's broadcast)."""
    from hybridperf.residual.zero_shot import ResidualKernel

    n = 7
    stored = ResidualKernel((0.0,) * n, (1.0,) * n, ((0.0,) * n, (1.0,) * n), (0.1, -0.2), 1.0, 0.0)
    path = _stored(stored, runtime="torch-cudagraph")
    _edit(path, drop_digest=True, kernel={**stored.to_dict(), **kernel})
    with pytest.raises(Exception) as err:
        _load("torch-cudagraph")
    assert str(err.value) == (f"{path} is not an adaptation hybridperf wrote: {says}"
                              f"{FIX.replace('--runtime torch ', '--runtime torch-cudagraph ')}")


@pytest.mark.parametrize("schema, says", [
    (1, "a GPU adaptation of schema 1, not this hybridperf's (2); "),
    (3, "a GPU adaptation of schema 3, newer than this hybridperf's (2); upgrade hybridperf, or "),
    ("2", "a GPU adaptation of schema \"2\" (a JSON string, not a number), not this hybridperf's (2); "),
])
def test_an_adaptation_of_another_schema_is_said_not_skipped(home, schema, says):
    """Until 2026-12-05 it was skipped: predict priced zero-shot, and nothing said the user's file was ignored."""
    path = _stored()
    _edit(path, schema_version=schema)
    with pytest.raises(Exception) as err:
        _load()
    assert str(err.value) == f"{path}: {says}{FIX[2:]}"


@pytest.mark.parametrize("key, value, names", [("runtime", "torch-cudagraph", "file name"), ("device", "a100", "folder")])
def test_an_adaptation_of_another_runtime_or_device_than_its_place_is_refused(home, key, value, names):
    """Until 2026-12-05 a CUDA-graph adaptation renamed (or copied) to ``gpu_adaptation-torch.json`` corrected eager."""
    path = _stored()
    _edit(path, **{key: value})
    with pytest.raises(Exception) as err:
        _load()
    want = "torch" if key == "runtime" else DEVICE
    assert str(err.value) == f"{path} is an adaptation of {key} {value!r}, not of {want!r} its {names} names " \
                             f"(copied or renamed?){FIX}"


def test_predict_says_it_in_one_line_exit_2(home, model_dir, capsys):
    """The CLI and the API: one line naming the file and the fix (the schema case priced zero-shot, exit 0; a NaN
    host level was exit 3)."""
    from hybridperf.api import predict
    from hybridperf.cli import main

    path = _stored()
    model = str(model_dir / "resnet_like.onnx")
    for changes in ({"schema_version": 1}, {"log_scale": {"host": math.nan}}):
        _edit(path, **changes)
        assert main(["predict", model, "--batch", "1", "-d", DEVICE, "--runtime", "torch"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith(f"hybridperf: error: {path}")
        assert err.endswith(f"{FIX[2:]}\n")
        with pytest.raises(Exception) as exc:
            predict(model, DEVICE, batch=1, runtime="torch")
        assert type(exc.value).__name__ == "InputError" and str(exc.value) == err[len("hybridperf: error: "):-1]
        path.unlink()
        path = _stored()


def test_calibrate_names_what_it_replaces_only_where_it_is_a_count(home, tmp_path):
    """Until 2026-12-05 a replaced file's ``adapted_on`` of "four" was printed as the models it was fitted on."""
    from hybridperf.commands.calibrate_gpu import _stored_before

    path = tmp_path / "gpu_adaptation-torch.json"
    path.write_text(json.dumps({"adapted_on": "four", "saved_on": 3}))
    assert _stored_before(path) == {"adapted_on": None, "saved_on": None}
    path.write_text(json.dumps({"adapted_on": 5, "saved_on": "2026-12-05T00:00:00+00:00"}))
    assert _stored_before(path) == {"adapted_on": 5, "saved_on": "2026-12-05T00:00:00+00:00"}
