"""A CPU no model was trained on, in the CPU cross-host benchmark (2026-12-05).

``benchmarks/cpu_cross_host.py`` holds each host out in turn and trains on the others. A host of
:data:`~benchmarks.cpu_cross_host.UNSEEN_HOSTS` (AMD EPYC Zen 1, measured 2026-12-05) is in no training set: not in
another host's leave-one-out model and not in the packaged model (``--save-model`` trains on :data:`HOSTS`), so its
section is what the packaged model's training set gives on a CPU it never saw. Its sheet is the probe kept in its
calibration directory, not a packaged sheet (``test_cpu_cross_host_unseen_dec5d.py``).
"""

from __future__ import annotations

from benchmarks.cpu_cross_host import (DESIGN_HOSTS, HOSTS, LABELS, PAIR_HOSTS, SAME_CPU, UNSEEN_HOSTS, UNSEEN_MARK,
                                       training_hosts)


def test_unseen_hosts_are_no_training_host():
    assert UNSEEN_HOSTS
    for host in UNSEEN_HOSTS:
        assert host not in HOSTS and host not in DESIGN_HOSTS and host not in PAIR_HOSTS
        assert host in LABELS
        # scored by a model of every training host (the packaged model's training set) but, where its CPU is a
        # training host at another thread count (the 2-thread Zen 5), that host
        twins = SAME_CPU.get(host, ())
        assert set(twins) <= set(HOSTS)
        assert training_hosts(host) == [h for h in HOSTS if h not in twins]
        assert training_hosts(host, same_cpu=True) == list(HOSTS) == training_hosts(None)
    for held in HOSTS:
        train = training_hosts(held)
        assert held not in train
        assert not set(train) & set(UNSEEN_HOSTS)
        assert not set(train) & set(SAME_CPU.get(held, ()))
        # the row "same CPU at its other thread count trained on" adds the twin back, still no unseen host
        both = training_hosts(held, same_cpu=True)
        assert set(both) == set(HOSTS) - {held}


def test_unseen_mark_says_never_trained():
    assert UNSEEN_MARK.startswith("(never trained on")

