"""The Session's roofline memo and the GPU launch table never change a figure: estimates, launch columns and
whole predictions compared with ``==`` against the paths without them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from prediction_figures import figures
from sweep_variants import write_variants

DEVICES = ("host-epyc-zen4-1c", "t4", "a100-sxm-80gb")


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    return write_variants(tmp_path_factory.mktemp("memo_variants"), (0, 1))


def test_roofline_memo_answers_as_price_and_is_bounded():
    from hybridperf.costs import OpCost
    from hybridperf.device.spec import load_spec
    from hybridperf.errors import InputError
    from hybridperf.estimate.pricing import RooflineMemo, price

    spec = load_spec("a100-sxm-80gb")
    costs = [OpCost(2 * 64 * 64 * 64, 3 * 64 * 64 * 4, 64 * 64 * 4, 64 * 64 * 4), OpCost(0, 4096, 4096, 0), OpCost()]
    memo = RooflineMemo(max_entries=2)
    for c in costs:
        assert memo.price(c, "fp32", spec) == price(c, "fp32", spec)
    assert memo.price(costs[1], "fp32", spec, "fp16") == price(costs[1], "fp32", spec, "fp16")
    assert memo.misses == 4 and memo.hits == 0 and len(memo) == 2  # the oldest two dropped
    again = memo.price(costs[1], "fp32", spec, "fp16")
    assert again is memo.price(costs[1], "fp32", spec, "fp16") and memo.hits == 2
    # an edited copy of the sheet (same id) is another sheet: its memo starts afresh
    slower = dataclasses.replace(spec, launch_overhead_s=2 * spec.launch_overhead_s)
    got = memo.price(costs[1], "fp32", slower)
    assert got == price(costs[1], "fp32", slower) and got != price(costs[1], "fp32", spec)
    assert len(memo) == 1
    with pytest.raises(InputError, match="max_entries"):
        RooflineMemo(0)


def test_launch_table_columns_are_the_launches(variants):
    from hybridperf import api
    from hybridperf.estimate.execution import Granularity
    from hybridperf.residual.neusight import OPS, SHAPE_COLUMNS, shape_row
    from hybridperf.residual.zero_shot import HOST_WEIGHT, launch_table, launches

    analyzed = api.analyze(str(variants[1]))
    ls = launches(analyzed, Granularity.PER_OP)
    table = launch_table(analyzed, Granularity.PER_OP)
    assert table.launches == ls
    assert table.group == tuple(ln.group for ln in ls)
    assert table.host_weights == tuple(HOST_WEIGHT.get(ln.op, 1.0) for ln in ls)
    assert [k.cost for k in table.kernels] == [ln.cost for ln in ls]
    assert sum(len(m.index) for m in table.mapped) == sum(ln.op is not None for ln in ls) > 0
    for m in table.mapped:
        assert all(ls[i].precision == m.precision and ls[i].op is not None for i in m.index)
        assert m.op.tolist() == [ls[i].op for i in m.index]
        assert m.family.tolist() == [OPS[ls[i].op][1] for i in m.index]
        assert m.flops.tolist() == [float(ls[i].cost.flops) for i in m.index]
        for j, c in enumerate(SHAPE_COLUMNS):
            assert m.shapes[c].tolist() == [shape_row(ls[i].op, ls[i].dims)[j] for i in m.index]
        with pytest.raises(ValueError):  # shared by every GPU the analysis is priced on: read-only
            m.flops[0] = 0.0


def test_session_with_memos_equals_without(variants):
    from hybridperf import api

    memo = api.Session(keep_analyses=0)
    bare = api.Session(keep_analyses=0, keep_kernel_scores=0, keep_rooflines=0)
    assert bare.stats()["rooflines"] == 0
    for path in [*variants, variants[0]]:  # the repeat is priced from the memos alone
        analyzed = memo.analyze(path)
        for dev in DEVICES:
            got = memo.predict_on(analyzed, dev)
            assert figures(got) == figures(bare.predict_on(analyzed, dev)), (path.name, dev)
            assert figures(got) == figures(api.predict_on(analyzed, dev)), (path.name, dev)
        fp16 = memo.predict_on(analyzed, "a100-sxm-80gb", "fp16")
        assert figures(fp16) == figures(api.predict_on(analyzed, "a100-sxm-80gb", "fp16"))
    rooflines = memo._rooflines
    assert rooflines.hits > 0 and memo.stats()["rooflines"] == len(rooflines) > 0
    assert np.isfinite(got.latency_s)
