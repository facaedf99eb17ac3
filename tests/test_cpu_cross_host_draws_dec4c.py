"""Few-shot draws of the CPU cross-host benchmark (2026-12-04): K networks, scored on the other networks.

Until 2026-12-04 ``benchmarks/cpu_cross_host.py`` drew K=10 *configurations* and scored the adaptation on the
others, so ``resnet18_b2_224`` could be scored while ``resnet18_b1_224`` was among the rows adapted on. The draw is
now of networks (:func:`benchmarks.cpu_cross_host.network_of` of the configuration key), and the rests hold no
configuration of a drawn network. The held-out sections of the hosts the settings were chosen on are marked.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.cpu_cross_host import (DESIGN_HOSTS, DESIGN_MARK, HOSTS, draw_networks, draws, network_of,
                                       rests_line)


@pytest.mark.parametrize("key, network", [
    ("resnet18_b1_224", "resnet18"),
    ("resnet18_b2_224", "resnet18"),
    ("resnet18_b32_160", "resnet18"),
    ("efficientnet_b0_b1_224", "efficientnet_b0"),  # the network's own "_b0" is not the batch
    ("bert_base_b8_128_fp16", "bert_base"),
    ("hf_mobilevit_small_b2_256", "hf_mobilevit_small"),
    ("deeplabv3_mobilenet_v3_large_b1_512", "deeplabv3_mobilenet_v3_large"),
])
def test_network_of_key(key, network):
    assert network_of(key) == network


@pytest.mark.parametrize("key", ["resnet18", "resnet18_b1", "resnet18_bx_224", ""])
def test_network_of_rejects_other_keys(key):
    with pytest.raises(ValueError, match="<network>_b<batch>_<size>"):
        network_of(key)


def _table():
    """12 networks: net0..net5 at batch 1, 2 and 4 (3 configurations each), net6..net11 at batch 1 only."""
    keys = [f"net{n}_b{b}_224" for n in range(6) for b in (1, 2, 4)]
    return keys + [f"solo{n}_b1_224" for n in range(6)]  # 6 * 3 + 6 = 24 rows


def test_draw_scores_no_configuration_of_a_drawn_network():
    # until 2026-12-04: the draw was of 10 configurations, and a drawn network's other batch sizes were scored
    keys = _table()
    rng = np.random.default_rng(0)
    for _ in range(50):
        pick, rest = draw_networks(keys, 4, rng)
        picked = [network_of(keys[i]) for i in pick]
        assert len(pick) == 4 and len(set(picked)) == 4  # K rows, one per drawn network
        assert not {network_of(keys[i]) for i in rest} & set(picked)
        # every configuration of a network not drawn is scored: 24 rows less the drawn networks' configurations
        assert len(rest) == 24 - sum(3 if n.startswith("net") else 1 for n in picked)
        assert list(pick) == sorted(pick) and list(rest) == sorted(rest)


def test_draw_of_singletons_is_the_draw_of_configurations():
    # one configuration per network (the Xeon slice's 25 rows): the same rows as the draw before 2026-12-04
    keys = [f"solo{n}_b1_224" for n in range(25)]
    new = draw_networks(keys, 10, np.random.default_rng(0))
    old = np.random.default_rng(0).choice(25, size=10, replace=False)
    assert list(new[0]) == sorted(old)
    assert list(new[1]) == sorted(set(range(25)) - set(old))


def test_draw_that_leaves_nothing_to_score_is_none():
    keys = [f"net{n}_b{b}_224" for n in range(10) for b in (1, 2)]  # 10 networks, 20 configurations
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert draw_networks(keys, 10, rng) is None
    assert rng.bit_generator.state == state
    assert draws(keys) == []
    assert "leaves none to score" in rests_line(keys)


def test_draws_keep_seed_and_count():
    keys = _table()
    a, b = draws(keys, k=4, trials=10, seed=0), draws(keys, k=4, trials=10, seed=0)
    assert len(a) == 10
    assert all((p == q).all() and (r == s).all() for (p, r), (q, s) in zip(a, b))


def test_design_hosts_marked():
    # until 2026-12-04 the table did not say which held-out hosts had chosen its settings
    assert set(DESIGN_HOSTS) == {"host-epyc-1c", "host-xeon-2c", "host-epyc-zen4-1c", "host-epyc-zen4-2c"}
    assert set(HOSTS) - set(DESIGN_HOSTS) == {"host-epyc-zen5-1c", "host-xeon-1c", "host-xeon-amx-2c",
                                              "host-epyc-zen1-1c", "host-epyc-zen1-2c", "host-epyc-zen5-2c",
                                              # the slice's CPU measured quietly (2026-12-06): its rows chose nothing
                                              "host-xeon480-2c", "host-xeon480-1c",
                                              # the Zen 3 VM with 2 threads (2026-12-07): its rows chose nothing
                                              "host-epyc-zen3-2c"}
    assert "design host" in DESIGN_MARK
