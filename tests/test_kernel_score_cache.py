"""The Session's cache of cross-device kernel scores never changes a figure: GPU predictions with and
without it compared with ``==`` (every figure: :func:`prediction_figures.figures`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from prediction_figures import figures
from sweep_variants import write_variants

#: (device, runtime) pairs priced zero-shot by the cross-device model
GPUS = (("t4", None), ("a100-sxm-80gb", None), ("h100-sxm", "torch-eager"))


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    return write_variants(tmp_path_factory.mktemp("variants"), (0, 1, 2))


def _cache(session, device, runtime=None):
    spec = session.spec(device)
    from hybridperf.api import _resolve_auto

    return session.residual(spec, _resolve_auto(runtime, spec)).cache


def test_cached_gpu_pricing_is_identical(variants):
    from hybridperf import api

    if api._load_residual(api.device_spec("t4")) is None:
        pytest.fail("no cross-device model installed: the packaged model is missing")
    cached = api.Session(keep_analyses=0)
    plain = api.Session(keep_analyses=0, keep_kernel_scores=0)
    for path in [*variants, variants[0]]:  # the repeat is priced from the cache alone
        analyzed = cached.analyze(path)
        for device, runtime in GPUS:
            got = cached.predict_on(analyzed, device, runtime=runtime)
            want = plain.predict_on(analyzed, device, runtime=runtime)
            assert figures(got) == figures(want), (path.name, device, runtime)
            if runtime is None:  # the module function, no session at all
                assert figures(got) == figures(api.predict_on(analyzed, device))
    for device, runtime in GPUS:
        c = _cache(cached, device, runtime)
        assert c is not None and len(c) > 0 and c.hits > 0
        assert _cache(plain, device, runtime) is None
    assert cached.stats()["kernel_scores"] == sum(len(_cache(cached, d, r)) for d, r in GPUS)


def test_cached_pricing_with_family_probes_is_identical(variants):
    """A probed sheet's family probes are scored through the cache too (their rescaling unchanged)."""
    from hybridperf import api
    from hybridperf.device.spec import FamilyProbe
    from hybridperf.residual.cross_device import FAMILY_PROBE_SHAPES

    base = api.device_spec("t4")
    shapes = [s for f in ("conv", "ln") for s in FAMILY_PROBE_SHAPES if s[0] == f][::16]  # four of each
    probes = tuple(FamilyProbe(op, tuple(d.items()), lat) for (op, d), lat in zip(
        shapes, (31e-6, 55e-6, 140e-6, 410e-6, 22e-6, 120e-6, 260e-6, 1.1e-3)))
    spec = dataclasses.replace(base, family_probes=probes, family_probes_measured_on="2026-01-01")
    cached = api.Session(keep_analyses=0)
    plain = api.Session(keep_analyses=0, keep_kernel_scores=0)
    for path in variants[:2]:
        analyzed = cached.analyze(path)
        got, want = cached.predict_on(analyzed, spec), plain.predict_on(analyzed, spec)
        assert "rescaled by family probes" in got.calibration
        assert figures(got) == figures(want)
        assert figures(got) != figures(cached.predict_on(analyzed, base))  # the probes did change the figures


def test_prediction_cache_is_bounded_and_serves_one_model():
    from hybridperf.errors import InputError
    from hybridperf.residual.cross_device import FEATURES, SIDECAR_FILE, CrossDeviceModel, PredictionCache
    from hybridperf.residual.model import model_search_path
    from hybridperf.residual.zero_shot import MODEL_ID, load_cross_device

    model = load_cross_device()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, len(FEATURES)))
    X[:, 0] = [0, 1, 2, 1, 0]  # the op index (categorical)
    X[3] = X[1]  # a row twice in one call
    cache = PredictionCache(max_rows=3)
    first = model.predict(X, cache)
    assert first.tolist() == model.predict(X).tolist()
    assert len(cache) == 3 and cache.misses == 4 and cache.hits == 1  # 4 distinct rows, the oldest dropped
    assert model.predict(X[::-1], cache).tolist() == model.predict(X[::-1]).tolist()
    other = CrossDeviceModel.load(next(b / MODEL_ID for b in model_search_path()
                                       if (b / MODEL_ID / SIDECAR_FILE).exists()))
    assert other is not model
    with pytest.raises(InputError, match="one cache per model"):
        other.predict(X, cache)
    with pytest.raises(InputError, match="max_rows"):
        PredictionCache(0)
