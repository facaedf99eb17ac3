"""``benchmarks.cpu_training_curve``: the CPU cross-host model's zero-shot error against the number of training CPUs
(which subsets train, and that the largest is the model of ``cpu_cross_host.md``)."""

from math import comb

from benchmarks import cpu_training_curve as tc
from benchmarks.cpu_cross_host import HOSTS, NOT_TRAINED, SAME_CPU, training_hosts


def test_a_cpu_is_all_its_settings():
    got = tc.cpus()
    # each training setting in exactly one CPU; the hosts that train nothing (the loaded Xeon slice) in none
    assert sorted(h for c in got for h in c) == sorted(set(HOSTS) - set(NOT_TRAINED))
    for c in got:
        for h in c:
            assert set(c) == {h, *SAME_CPU.get(h, ())} - set(NOT_TRAINED)
    assert len(got) == 6  # Zen 3, Zen 4, Zen 5, the AMX Xeon, Zen 1, the slice's Xeon measured quietly (2026-12-06)


def test_subsets_are_every_combination_of_the_other_cpus_and_the_largest_is_the_tables_model():
    for held in HOSTS:
        by_k = tc.subsets(held)
        others = [c for c in tc.cpus() if not {held, *SAME_CPU.get(held, ())} & set(c)]
        assert sorted(by_k) == list(range(1, len(others) + 1))
        for k, combos in by_k.items():
            assert len(combos) == comb(len(others), k) and len(set(combos)) == len(combos)
            assert all(held not in hosts and not set(hosts) & set(SAME_CPU.get(held, ())) for hosts in combos)
        # with every other CPU: exactly the training set (and order) of cpu_cross_host's zero-shot row
        assert by_k[len(others)] == [tuple(training_hosts(held))]


def test_the_loaded_slice_trains_no_subset_but_is_scored():
    assert all("host-xeon-2c" not in hosts for k, combos in tc.subsets("host-epyc-1c").items() for hosts in combos)
    # held out, it is predicted from subsets of the five training CPUs that are not its own: its quiet run
    # (host-xeon480-2c, 2026-12-06) is the same CPU and is left out with it, as in cpu_cross_host
    assert len(tc.subsets("host-xeon-2c")) == 5
    assert all("host-xeon480-2c" not in hosts for combos in tc.subsets("host-xeon-2c").values() for hosts in combos)
