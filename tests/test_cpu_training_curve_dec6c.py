"""``benchmarks.cpu_training_curve``: the CPU cross-host model's zero-shot error against the number of training CPUs
(which subsets train, and that the largest is the model of ``cpu_cross_host.md``)."""

from math import comb

from benchmarks import cpu_training_curve as tc
from benchmarks.cpu_cross_host import HOSTS, SAME_CPU, training_hosts


def test_a_cpu_is_all_its_settings():
    got = tc.cpus()
    assert sorted(h for c in got for h in c) == sorted(HOSTS)  # each setting in exactly one CPU
    for c in got:
        for h in c:
            assert set(c) == {h, *SAME_CPU.get(h, ())}
    assert len(got) == 6  # Zen 3, the Xeon slice, Zen 4, Zen 5, the AMX Xeon, Zen 1


def test_subsets_are_every_combination_of_the_other_cpus_and_the_largest_is_the_tables_model():
    for held in HOSTS:
        by_k = tc.subsets(held)
        others = [c for c in tc.cpus() if held not in c]
        assert sorted(by_k) == list(range(1, len(others) + 1))
        for k, combos in by_k.items():
            assert len(combos) == comb(len(others), k) and len(set(combos)) == len(combos)
            assert all(held not in hosts and not set(hosts) & set(SAME_CPU.get(held, ())) for hosts in combos)
        # with every other CPU: exactly the training set (and order) of cpu_cross_host's zero-shot row
        assert by_k[len(others)] == [tuple(training_hosts(held))]


def test_the_loaded_slice_alone_cannot_price_a_new_cpu():
    from hybridperf.residual.cross_host import MAX_OFFSET_SPREAD, lends_offset

    assert not lends_offset(1.48) and lends_offset(MAX_OFFSET_SPREAD)
    assert ("host-xeon-2c",) in tc.subsets("host-epyc-1c")[1]  # scored as left out, never as 0
