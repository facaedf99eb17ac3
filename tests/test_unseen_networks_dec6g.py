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
