"""Which CPUs train which model in the CPU cross-host benchmark (since 2026-12-06).

Every measured CPU setting whose timings reproduce is a training host (:data:`~benchmarks.cpu_cross_host.HOSTS` but
:data:`~benchmarks.cpu_cross_host.NOT_TRAINED`, the loaded Xeon slice; the Zen 1 with 1 and 2 threads and the 2-thread
Zen 5 trained nothing until 2026-12-06) and every setting is held out in turn with the same CPU at its other thread
count (:data:`~benchmarks.cpu_cross_host.SAME_CPU`, both ways): a held-out figure is always that of a CPU the model
never saw. ``--save-model`` trains on the same hosts; the packaged model holds one offset per training host.
"""

from __future__ import annotations

import json

from benchmarks.cpu_cross_host import DESIGN_HOSTS, HOSTS, LABELS, NOT_TRAINED, PAIR_HOSTS, SAME_CPU, training_hosts

#: the CPUs measured in more than one setting: the four at 1 and 2 threads, (1 thread, 2 threads), and the Xeon slice
#: (loaded, one pass) with its quiet runs of 2026-12-06 (2 threads, then 1 thread)
TWINS = (("host-xeon-1c", "host-xeon-amx-2c"), ("host-epyc-zen4-1c", "host-epyc-zen4-2c"),
         ("host-epyc-zen5-1c", "host-epyc-zen5-2c"), ("host-epyc-zen1-1c", "host-epyc-zen1-2c"),
         ("host-xeon-2c", "host-xeon480-2c", "host-xeon480-1c"),
         # the Zen 3 of 2026-11-23 (1 thread) and the same CPU model on another VM with 2 threads (2026-12-07)
         ("host-epyc-1c", "host-epyc-zen3-2c"))


def test_every_measured_setting_trains_and_is_held_out_with_its_twin():
    assert len(HOSTS) == 13 and set(LABELS) == set(HOSTS)
    assert set(PAIR_HOSTS) <= set(DESIGN_HOSTS) <= set(HOSTS)
    assert {h: set(t) for h, t in SAME_CPU.items()} == {h: set(c) - {h} for c in TWINS for h in c}
    trained = [h for h in HOSTS if h not in NOT_TRAINED]
    assert training_hosts(None) == trained  # the packaged model's training set
    for held in HOSTS:
        train = training_hosts(held)
        twins = SAME_CPU.get(held, ())
        assert held not in train and not set(train) & set(twins)
        assert set(train) == set(trained) - {held, *twins}
        # the row "same CPU at its other thread count trained on" adds the twin back
        assert set(training_hosts(held, same_cpu=True)) == set(trained) - {held}
    assert set(training_hosts("host-xeon480-2c", same_cpu=True)) == set(training_hosts("host-xeon480-2c"))


def test_the_hosts_that_train_nothing_are_those_whose_timings_do_not_reproduce_or_not_adopted():
    """NOT_TRAINED: the rule that keeps a host's offset from being lent (median p90 / p10 of its timed runs above
    MAX_OFFSET_SPREAD), applied to its rows too (the Xeon slice, measured in one pass under load), and the quiet
    settings the adoption rule did not adopt (the quiet Xeon's 1-thread run, 2026-12-06); each with its reason."""
    from benchmarks.cpu_cross_host import NOT_TRAINED_WHY, timing_spreads
    from benchmarks.subnormal_scan import hazard_keys
    from hybridperf.residual.cross_host import lends_offset

    spreads = timing_spreads(None, hazard_keys())
    assert set(spreads) == set(HOSTS)
    assert {h for h, v in spreads.items() if not lends_offset(v)} == {"host-xeon-2c"}
    assert set(NOT_TRAINED) == set(NOT_TRAINED_WHY) == {"host-xeon-2c", "host-xeon480-1c"}
    assert lends_offset(spreads["host-xeon480-1c"]) and NOT_TRAINED_WHY["host-xeon480-1c"].startswith("not adopted")


def test_the_packaged_model_has_an_offset_for_every_training_host():
    from hybridperf.data import packaged_dir

    meta = json.loads((packaged_dir("models") / "cross-host-cpu" / "residual.json").read_text())
    trained = set(HOSTS) - set(NOT_TRAINED)
    assert set(meta["metrics"]["hosts"]) == trained
    effects = {e["figures"]["device"]: e["figures"] for e in meta["cross_host"]["host_effects"]}
    assert set(effects) == trained
    # a machine is recognised as a training CPU by its lscpu identity and threads (CrossHostModel.own_host)
    assert effects["host-epyc-zen5-2c"]["cpu"] == "AuthenticAMD family 26 model 2 stepping 1"
    assert effects["host-epyc-zen5-2c"]["threads"] == 2
    assert effects["host-epyc-zen1-2c"]["cpu"] == "AuthenticAMD family 23 model 1 stepping 2"
    assert effects["host-xeon480-2c"]["cpu"] == "GenuineIntel family 6 model 167 stepping 1"
    assert effects["host-xeon480-2c"]["threads"] == 2
