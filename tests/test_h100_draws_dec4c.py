"""benchmarks.h100_zero_shot's few-shot draws hold out whole networks (a model at batch 1, 8 and 32 is one network):
no network is both fitted on and scored. Seconds to run: no torch, no TVM analysis, no .zoo."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass

import numpy as np
import pytest

from benchmarks import h100_zero_shot as hz


def test_a_row_network_is_its_model_column_at_any_batch():
    with open(hz.H100 / "torch-cudagraph-fp32-fp16.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "ok" and r["model"] in ("resnet18", "vgg16")]
    by = {}
    for r in rows:
        by.setdefault(hz.network(r), set()).add(r["batch"])
    assert by == {"resnet18": {"1", "8", "32"}, "vgg16": {"1", "8", "32"}}


def test_a_row_without_a_model_name_is_an_error_naming_the_column():
    with pytest.raises(SystemExit, match="`model` column"):
        hz.network({"model": " ", "onnx_file": "x_b1.onnx"})


def test_draws_fit_one_configuration_of_k_networks_and_score_every_configuration_of_the_rest():
    nets = [f"n{i}" for i in range(12) for _ in range(3)]  # 12 networks x 3 batches = 36 rows
    draws = hz.network_draws(nets, 10, 10, seed=0)
    assert len(draws) == 10
    for train, test in draws:
        drawn = {nets[i] for i in train}
        assert len(train) == 10 and len(drawn) == 10  # one configuration of each of 10 networks
        assert len(test) == (12 - 10) * 3  # every configuration of the 2 networks not drawn
        assert not drawn & {nets[i] for i in test}
    again = hz.network_draws(nets, 10, 10, seed=0)
    assert all((a == c).all() and (b == d).all() for (a, b), (c, d) in zip(draws, again))


def test_too_few_networks_to_hold_any_out_is_an_error():
    with pytest.raises(SystemExit, match="lower K"):
        hz.network_draws(["a", "a", "b"], 2, 1)


@dataclass(frozen=True)
class _Bd:
    """Stands for a priced configuration: its network and a latency."""

    net: str
    device_s: tuple = (1e-3,)
    host_floor_s: float = 1e-5

    def latency_s(self):
        return 1e-3


def test_evaluate_never_scores_a_network_it_adapted_on(tmp_path, monkeypatch):
    # Until 2026-12-04 evaluate drew 10 random *configurations* (rng.permutation over rows) and scored the others,
    # so resnet18 at batch 8 could be among the 10 while resnet18 at batch 1 and 32 were scored: near-copies.
    header = "model,batch,dtype,status,latency_median_s,onnx_file,onnx_export_cmd\n"
    body = "".join(f"m{i},{b},fp32,ok,0.001,m{i}_b{b}.onnx,cmd\n" for i in range(12) for b in (1, 8, 32))
    for _, name, _, _ in hz.SETS:
        (tmp_path / name).write_text(header + body)
    (tmp_path / "probe.json").write_text(json.dumps({"launch_queued_s": 1e-5}))
    monkeypatch.setattr(hz, "H100", tmp_path)
    entries = {f"m{i}_b{b}.onnx|{rt}|fp32": {"net": f"m{i}", "roofline_s": 1e-3, "group": ["conv"]}
               for i in range(12) for b in (1, 8, 32) for rt, _, _, _ in hz.SETS}
    draws = []  # per adapt call: (networks fitted on, networks scored)

    class _Adapted:
        def __init__(self, pairs):
            self.scored = []
            draws.append(({b.net for b, _ in pairs}, self.scored))

        def latency_s(self, bd):
            self.scored.append(bd.net)
            return 1e-3

    class _Zs:
        def __init__(self, base, runtime):
            pass

        def adapt(self, pairs):
            return _Adapted(pairs)

    import hybridperf.residual.zero_shot as zs

    monkeypatch.setattr(zs, "ZeroShotGpu", _Zs)
    monkeypatch.setattr(zs, "load_cross_device", lambda: None)
    monkeypatch.setattr(hz, "_breakdown", lambda e, rt, key="device_s": _Bd(e["net"]))
    res = hz.evaluate({"entries": entries, "failed": {}})
    assert [r["n"] for r in res] == [36, 36]
    assert len(draws) == 2 * hz.DRAWS  # two sets (CUDA graphs, eager), fp32 only
    for fitted, scored in draws:
        assert len(fitted) == hz.K
        assert len(scored) == (12 - hz.K) * 3  # every batch of the 2 networks not drawn
        assert not fitted & set(scored)
    assert np.isfinite([r["few_shot"][0] for r in res]).all()
