"""Which CPUs train which model in the CPU cross-host benchmark (since 2026-12-06).

Every measured CPU setting is a training host (:data:`~benchmarks.cpu_cross_host.HOSTS`; the Zen 1 with 1 and 2
threads and the 2-thread Zen 5 trained nothing until 2026-12-06) and each is held out in turn with the same CPU at its
other thread count (:data:`~benchmarks.cpu_cross_host.SAME_CPU`, both ways): a held-out figure is always that of a
CPU the model never saw. ``--save-model`` trains on all of them; the packaged model holds one offset per host.
"""

from __future__ import annotations

import json

from benchmarks.cpu_cross_host import DESIGN_HOSTS, HOSTS, LABELS, PAIR_HOSTS, SAME_CPU, training_hosts

#: the four CPUs measured at two thread counts: (1 thread, 2 threads)
TWINS = (("host-xeon-1c", "host-xeon-amx-2c"), ("host-epyc-zen4-1c", "host-epyc-zen4-2c"),
         ("host-epyc-zen5-1c", "host-epyc-zen5-2c"), ("host-epyc-zen1-1c", "host-epyc-zen1-2c"))


def test_every_measured_setting_trains_and_is_held_out_with_its_twin():
    assert len(HOSTS) == 10 and set(LABELS) == set(HOSTS)
    assert set(PAIR_HOSTS) <= set(DESIGN_HOSTS) <= set(HOSTS)
    assert SAME_CPU == {**{a: (b,) for a, b in TWINS}, **{b: (a,) for a, b in TWINS}}
    assert training_hosts(None) == list(HOSTS)  # the packaged model's training set
    for held in HOSTS:
        train = training_hosts(held)
        twins = SAME_CPU.get(held, ())
        assert held not in train and not set(train) & set(twins)
        assert set(train) == set(HOSTS) - {held, *twins}
        # the row "same CPU at its other thread count trained on" adds the twin back
        assert set(training_hosts(held, same_cpu=True)) == set(HOSTS) - {held}


def test_the_packaged_model_has_an_offset_for_every_host():
    from hybridperf.data import packaged_dir

    meta = json.loads((packaged_dir("models") / "cross-host-cpu" / "residual.json").read_text())
    assert set(meta["metrics"]["hosts"]) == set(HOSTS)
    effects = {e["figures"]["device"]: e["figures"] for e in meta["cross_host"]["host_effects"]}
    assert set(effects) == set(HOSTS)
    # a machine is recognised as a training CPU by its lscpu identity and threads (CrossHostModel.own_host)
    assert effects["host-epyc-zen5-2c"]["cpu"] == "AuthenticAMD family 26 model 2 stepping 1"
    assert effects["host-epyc-zen5-2c"]["threads"] == 2
    assert effects["host-epyc-zen1-2c"]["cpu"] == "AuthenticAMD family 23 model 1 stepping 2"
