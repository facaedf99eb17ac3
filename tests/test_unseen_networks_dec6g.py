"""Networks never measured on any CPU (2026-12-06, plan of 12:16 UTC): ``collect_cpu --plan``, the run
``calibration/host-xeon480-1c-unseen`` and what ``benchmarks.unseen_networks`` reports of it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "calibration" / "host-xeon480-1c-unseen"


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_the_unseen_plan_is_networks_outside_the_training_plan():
    from benchmarks.collect_cpu import PLAN, UNSEEN_PLAN, configs

    trained = {name for name, _, _ in PLAN}
    unseen = configs(None, {1, 2}, True, "unseen")
    assert len(unseen) == len(UNSEEN_PLAN) == 16 and not {c["name"] for c in unseen} & trained
    both = configs(None, {1, 2}, True, "both")
    train = configs(None, {1, 2}, True)
    assert [c["key"] for c in train] == [c["key"] for c in configs(None, {1, 2}, True, "train")]
    assert {c["key"] for c in both} == {c["key"] for c in train} | {c["key"] for c in unseen}
    assert len(both) == len(train) + len(unseen) == 72 + 16
    # a planned size that is not the network's default is kept by --default-size (the segmentation ResNets at 256)
    assert {c["key"] for c in unseen if c["name"].endswith("resnet50") and c["name"] != "hf_resnet50"} == {
        "fcn_resnet50_b1_256", "deeplabv3_resnet50_b1_256"}


def test_the_default_size_rule_keeps_the_training_plan_as_measured():
    """The 72 default-size batch 1 and 2 configurations of every 72-configuration run (here the interleaved one)."""
    from benchmarks.collect_cpu import configs

    measured = {r["key"] for r in _rows(ROOT / "calibration" / "host-xeon480-1c-alt" / "measurements.csv")}
    assert {c["key"] for c in configs(None, {1, 2}, True)} == measured


def test_sets_and_family_folds():
    from benchmarks.unseen_networks import NEW_FAMILY, NEW_MEMBER, SEEN, family_folds, set_of

    assert [set_of(k) for k in ("resnet18_b1_224", "resnet101_b1_224", "maxvit_t_b1_224",
                                "deeplabv3_resnet50_b1_256", "wav2vec2_base_b1_16000")] == [
        SEEN, NEW_MEMBER, NEW_FAMILY, NEW_MEMBER, NEW_FAMILY]
    nets = ["resnet18", "resnet50", "vgg11", "bert_base", "bert_tiny", "gpt2", "alexnet"]
    fold = family_folds(nets, 3)
    # families sorted: alexnet, bert, gpt2, resnet, vgg -> folds 0, 1, 2, 0, 1; a family is never split
    assert fold == {"alexnet": 0, "bert_base": 1, "bert_tiny": 1, "gpt2": 2, "resnet18": 0, "resnet50": 0,
                    "vgg11": 1}


def test_the_run_is_the_planned_setting_and_trains_nothing():
    from benchmarks.collect_cpu import configs
    from benchmarks.cpu_cross_host import DATA_DIRS, HOSTS, RETESTS, SPLIT_HALVES

    rows = _rows(RUN / "measurements.csv")
    assert {r["key"] for r in rows} <= {c["key"] for c in configs(None, {1, 2}, True, "both")}
    assert {(r["device"], r["cpu_vendor"], r["cpu_model_id"], r["cpu_stepping"], r["threads"], r["pinned_cores"])
            for r in rows} == {("host-xeon480-1c", "GenuineIntel", "167", "1", "1", "1")}
    assert {r["seed"] for r in _rows(RUN / "speed_index.csv")} == {"80"}
    assert "5200.00" in (RUN / "lscpu.txt").read_text() and "480 MiB" in (RUN / "lscpu.txt").read_text()
    name = RUN.name
    assert name not in HOSTS and name not in DATA_DIRS.values()
    assert all(name not in r for r in (*RETESTS, *SPLIT_HALVES))


def test_the_stored_predictions_were_made_on_the_runs_probe():
    """``fresh_probe_predictions.csv`` (committed before any timing): every configuration of the plan priced by the
    packaged model on the probe kept beside it, none zero-shot (the model has this CPU's 2-thread rows)."""
    from benchmarks.collect_cpu import configs
    from hybridperf.device.spec import available_devices, parse_spec

    pred = _rows(RUN / "fresh_probe_predictions.csv")
    assert {r["model"] for r in pred} == {str(c["path"]) for c in configs(None, {1, 2}, True, "both")}
    probe = RUN / "host-xeon480-1c-probe-unseen.yaml"
    spec = parse_spec(yaml.safe_load(probe.read_text()), str(probe))
    assert spec.id == "host-xeon480-1c-probe-unseen" and spec.id not in available_devices()
    assert spec.compute_unit_count == 1 and spec.cpu_identity is not None
    assert {r["device"] for r in pred} == {spec.id} and {r["status"] for r in pred} == {"ok"}
    assert all(float(r["latency_s"]) > 0 and "not zero-shot" in r["calibration"] for r in pred)
    assert yaml.safe_load(probe.read_text())["notes"].startswith("Probed 2026-12-06T12:1")


@pytest.mark.parametrize("name", ["bert_large", "maxvit_t"])
def test_an_unseen_network_is_in_no_training_run(name):
    from benchmarks.cpu_cross_host import CALIB, DATA_DIRS, HOSTS

    for host in HOSTS:
        keys = {r["key"] for r in _rows(CALIB / DATA_DIRS.get(host, host) / "measurements.csv")}
        assert not any(k.startswith(name + "_b") for k in keys), host


def test_a_subnormal_rescan_keeps_the_rows_of_exports_it_does_not_have(tmp_path, capsys):
    """Rerunning ``benchmarks.subnormal_scan`` where some configurations' exports are missing keeps their earlier rows
    (with the hosts that measured them now) instead of dropping their hazards."""
    import benchmarks.subnormal_scan as scan

    d = tmp_path / "calibration" / "host-a"
    d.mkdir(parents=True)
    model = ".zoo/not_exported_here_b1_r224_legacy.onnx"
    (d / "measurements.csv").write_text(f"key,model,input_shapes\nx_b1_224,{model},x=1x3x224x224\n")
    out = tmp_path / "scan.csv"
    earlier = {f: "" for f in scan.FIELDS} | {"model": model, "input_shapes": "x=1x3x224x224", "keys": "x_b1_224",
                                              "hosts": "host-old", "nodes": "3", "values": "10", "subnormal": "9", "share": "0.900000",
                                              "mean_node_share": "0.900000", "nodes_mostly_subnormal": "3",
                                              "worst_node": "n", "worst_node_share": "0.9000", "hazard": "1"}
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, scan.FIELDS)
        w.writeheader()
        w.writerow(earlier)
    assert scan.main(["--calibration", str(tmp_path / "calibration"), "--out", str(out)]) == 0
    assert "0 configurations scanned, 1 without an export under .zoo/ kept from the earlier scan" in capsys.readouterr().out
    assert _rows(out) == [{**earlier, "hosts": "host-a"}]
    assert scan.hazard_keys(out) == {"x_b1_224"}


def _section(text: str, setting: str) -> str:
    return text.split(f"## 1. Measured: networks never measured on any CPU, `{setting}`")[1].split("\n## ")[0]


@pytest.mark.parametrize("setting", ["host-xeon480-1c", "host-xeon480-2c", "host-epyc-zen4-1c",
                                     "host-epyc-zen4-2c"])
def test_the_stored_figures_are_those_of_the_files(setting):
    """``unseen_networks.md`` section 1: the stored predictions' figures per set and per unseen network, recomputed
    from ``fresh_probe_predictions.csv`` and ``measurements.csv`` (the held-out columns need training: not here)."""
    import statistics

    from benchmarks.subnormal_scan import hazard_keys
    from benchmarks.unseen_networks import NEW_FAMILY, NEW_MEMBER, RUNS, SEEN, set_of

    run = ROOT / RUNS[setting]
    pred = {r["model"]: float(r["latency_s"]) for r in _rows(run / "fresh_probe_predictions.csv")}
    pairs = {r["key"]: (pred[r["model"]], float(r["latency_min_s"])) for r in _rows(run / "measurements.csv")
             if r["key"] not in hazard_keys()}
    assert len(pairs) == 86  # 88 configurations less the two MobileViT ones (collapsed activations)
    text = _section((ROOT / "benchmarks" / "results" / "unseen_networks.md").read_text(), setting)
    lines = {x.split("  ")[0]: [c.strip() for c in x.split("  ") if c.strip()] for x in text.splitlines()}
    for name in (SEEN, NEW_MEMBER, NEW_FAMILY, "all unseen networks"):
        ks = [k for k in pairs if (set_of(k) == name) or (name.startswith("all") and set_of(k) != SEEN)]
        err = [abs(pairs[k][0] / pairs[k][1] - 1) for k in ks]
        med = statistics.median(pairs[k][0] / pairs[k][1] for k in ks)
        within = 100 * sum(e <= 0.10 for e in err) / len(err)
        assert lines[name][1:6] == [str(len(ks)), str(len(ks)), f"{100 * statistics.fmean(err):.1f} %",
                                    f"{within:.1f} %", f"{med:.3f}"], name
    for k, (p, m) in pairs.items():
        if set_of(k) != SEEN:
            assert lines[k][3:6] == [f"{m * 1e3:.2f}", f"{p * 1e3:.2f}", f"{100 * (p / m - 1):+.1f} %"], k


def test_the_networks_trained_column_is_the_cross_host_zero_shot_figure():
    """``unseen_networks.md`` section 2's baseline is the held-out zero-shot model of ``cpu_cross_host.md`` (same
    training hosts, rows and settings): per held-out setting, the same MAPE."""
    from benchmarks.cpu_cross_host import DESIGN_HOSTS, HOSTS, LABELS

    results = ROOT / "benchmarks" / "results"
    cross = [x.split()[-4] for x in (results / "cpu_cross_host.md").read_text().splitlines()
             if x.startswith("cross-host, zero-shot from spec ")]
    assert len(cross) == len(HOSTS)
    text = (results / "unseen_networks.md").read_text().split("## 2. Leave CPU and networks out")[1]
    for host, figure in zip(HOSTS, cross):
        label = LABELS[host] + (" (design host)" if host in DESIGN_HOSTS else "")
        line = next(x for x in text.splitlines() if x.startswith(label + "  "))
        cells = [c.strip() for c in line.split("  ") if c.strip()]
        assert cells[3] == f"{figure} %", host
        assert float(cells[5].rstrip(" %")) - float(figure) == pytest.approx(float(cells[7]), abs=0.11), host  # rounded each


#: (setting, index in RETESTS[setting], shuffle seed, threads, pinned cores) of each independent retest (planned
#: before it ran: CHANGELOG 2026-12-06 13:41, 17:55, 19:13 and 20:34 UTC)
RETEST_RUNS = [("host-xeon480-1c", 0, "82", "1", "1"), ("host-epyc-zen4-1c", 0, "87", "1", "1"),
               ("host-epyc-zen4-1c", 1, "89", "1", "1"), ("host-epyc-zen4-2c", 0, "88", "2", "0,1"),
               ("host-epyc-zen4-2c", 1, "91", "2", "0,1")]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("  ") if c.strip()]


def _no_stream(run: Path) -> dict[str, float]:
    """key -> min over rounds of (the configuration's fastest run in the round / the round's fastest
    sqrt(GEMM x conv) reference run)."""
    index: dict[str, float] = {}
    for r in _rows(run / "reference_samples.csv"):
        v = (float(r["gemm_min_s"]) * float(r["conv_min_s"])) ** 0.5
        index[r["round"]] = min(index.get(r["round"], v), v)
    out: dict[str, float] = {}
    for r in _rows(run / "rounds.csv"):
        v = float(r["latency_min_s"]) / index[r["round"]]
        out[r["key"]] = min(out.get(r["key"], v), v)
    return out


@pytest.mark.parametrize(("setting", "index", "seed", "threads", "cores"), RETEST_RUNS)
def test_the_retest_lines_are_those_of_the_files(setting, index, seed, threads, cores):
    """Section 1's independent retests (planned before they ran): each set's test-retest on the goal's unit-free
    figure against the run and against every retest before it, and the stored predictions scored on the retest,
    recomputed from the files."""
    import statistics

    from benchmarks.subnormal_scan import hazard_keys
    from benchmarks.unseen_networks import RETESTS, RUNS, SEEN, set_of

    retest = RETESTS[setting][index]
    a = {r["key"]: r for r in _rows(ROOT / RUNS[setting] / "measurements.csv") if r["key"] not in hazard_keys()}
    b = {r["key"]: r for r in _rows(ROOT / retest / "measurements.csv")}
    assert set(a) <= set(b) and {r["seed"] for r in _rows(ROOT / retest / "speed_index.csv")} == {seed}
    assert {(r["device"], r["threads"], r["pinned_cores"]) for r in b.values()} == {(setting, threads, cores)}
    # the same machine as the run, and no training set reads it
    from benchmarks.cpu_cross_host import DATA_DIRS
    from benchmarks.cpu_cross_host import RETESTS as TRAIN_RETESTS

    assert (ROOT / retest / "lscpu.txt").read_text() == (ROOT / RUNS[setting] / "lscpu.txt").read_text()
    assert retest.name not in DATA_DIRS.values() and all(retest.name not in r for r in TRAIN_RETESTS)
    pred = {r["model"]: float(r["latency_s"]) for r in _rows(ROOT / RUNS[setting] / "fresh_probe_predictions.csv")}
    text = _section((ROOT / "benchmarks" / "results" / "unseen_networks.md").read_text(), setting)
    text = text.split(f"Independent retest `{retest}`")[1].split("Independent retest")[0]
    col = "latency_min_run_norm"
    for earlier in (RUNS[setting], *RETESTS[setting][:index]):
        first = {r["key"]: r for r in _rows(ROOT / earlier / "measurements.csv")}
        block = text.split(f"Against `{earlier}`")[1].split("Against `")[0]
        for name, seen in (("networks measured before", True), ("unseen networks", False)):
            ks = [k for k in a if (set_of(k) == SEEN) == seen]
            mape = statistics.fmean(abs(float(b[k][col]) / float(first[k][col]) - 1) for k in ks)
            line = next(x for x in block.splitlines() if x.startswith(name + "  ") and "goal's figure" in x)
            assert line.split(")")[-1].split()[:3] == [str(len(ks)), f"{100 * mape:.1f}", "%"], line
            # no stream: the fastest over rounds of (the round's fastest run / the round's fastest GEMM and conv
            # reference runs, their geometric mean), from rounds.csv and reference_samples.csv
            na, nb = (_no_stream(ROOT / d) for d in (earlier, retest))
            mape = statistics.fmean(abs(nb[k] / na[k] - 1) for k in ks)
            line = next(x for x in block.splitlines() if x.startswith(name + "  ") and "(no stream)" in x)
            assert line.split(")")[-1].split()[:3] == [str(len(ks)), f"{100 * mape:.1f}", "%"], line
    for name, seen in (("networks measured before", True), ("unseen networks", False)):
        ks = [k for k in a if (set_of(k) == SEEN) == seen]
        err = statistics.fmean(abs(pred[a[k]["model"]] / float(b[k]["latency_min_s"]) - 1) for k in ks)
        scored = next(x for x in text.split("scored on this retest")[1].splitlines() if x.startswith(name + "  "))
        assert _cells(scored)[1:3] == [str(len(ks)), f"{100 * err:.1f} %"]


def test_the_retest_summary_repeats_the_pair_tables():
    """The test-retest summary at the head of ``unseen_networks.md``: one row per pair of runs, each figure that of
    the pair's table in section 1."""
    from benchmarks.unseen_networks import NO_STREAM, RETEST_COLUMNS, retest_pairs

    text = (ROOT / "benchmarks" / "results" / "unseen_networks.md").read_text()
    summary = text.split("Test-retest of the measured runs")[1].split("## 1.")[0]
    goal, raw = RETEST_COLUMNS.values()
    n = 0
    for setting in dict.fromkeys(s for s, *_ in RETEST_RUNS):
        for first, second in retest_pairs(setting):
            n += 1
            block = _section(text, setting).split(f"Independent retest `{second}`")[1].split(
                f"Against `{first}`")[1].split("```")[1]
            by = {(c[0], c[1]): c[3] for c in map(_cells, block.splitlines()) if len(c) > 3}
            line = next(x for x in summary.splitlines() if x.startswith(f"`{setting}`  ")
                        and f"`{first.name}`" in x and f"`{second.name}`" in x)
            assert _cells(line)[-6:] == [by[(name, what)] for what in (goal, raw, NO_STREAM)
                                         for name in ("networks measured before", "unseen networks")], line
    assert n == sum(1 for x in summary.splitlines() if x.startswith("`host-"))
