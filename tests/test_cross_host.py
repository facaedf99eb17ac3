"""The CPU cross-host residual (host figures as features), the device ``host`` and ``calibrate --measure``."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from hybridperf.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "squeezenet1_1.onnx"
ZEN4 = ROOT / "calibration" / "host-epyc-zen4-1c"


# --------------------------------------------------------------------------- host figures


def test_host_figures_from_sheets():
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import HOST_FEATURES, host_figures

    zen4 = host_figures(load_spec("host-epyc-zen4-1c"), threads=1)
    assert zen4.fp32_flops_per_s == pytest.approx(101.9e9)
    assert zen4.int8_ops_per_s == pytest.approx(357.1e9)
    assert zen4.dram_bytes_per_s == pytest.approx(36.79e9)
    assert zen4.l2_bytes == 1024 * 2**10 and zen4.llc_bytes == 32 * 2**20
    assert zen4.avx512  # "AVX-512" in the sheet's name
    assert not host_figures(load_spec("host-epyc-1c")).avx512  # Zen 3: AVX2
    xeon = host_figures(load_spec("host-xeon-2c"), threads=2)
    v = xeon.vector()
    assert len(v) == 8 < len(HOST_FEATURES)
    assert v[0] == pytest.approx(math.log(333e9 / 2))  # fp32 per thread
    assert v[2] == pytest.approx(math.log(20e9 / 2))  # DRAM per thread
    assert v[5] == pytest.approx(math.log(333e9 / 20e9))  # ridge point, FLOP per byte
    assert v[6] == pytest.approx(math.log(2)) and v[7] == 1.0


def test_probed_sheet_names_avx512(toy_probe):
    """A probed sheet names the CPU's ISA flags, so host_figures reads AVX-512 from it as from a curated sheet
    (before: a probed Zen 4 `host` read as a non-AVX-512 CPU, unlike its training sheet)."""
    import dataclasses

    from hybridperf.device.spec import parse_spec
    from hybridperf.measure import probe
    from hybridperf.residual.cross_host import host_figures
    res = toy_probe
    plain = parse_spec(probe.spec_dict(res, "toy"), "<probe>")
    assert not host_figures(plain).avx512
    assert plain.compute_unit_count == 1  # the usable CPUs: the threads a named probed sheet is predicted with
    res = dataclasses.replace(res, host=dataclasses.replace(res.host, isa=("avx2", "avx512f")))
    sheet = probe.spec_dict(res, "toy")
    assert "ISA flags: avx2 avx512f." in sheet["notes"]
    assert host_figures(parse_spec(sheet, "<probe>")).avx512


def test_host_columns_ratios():
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import HOST_FEATURES, host_columns, host_figures
    from hybridperf.residual.features import KERNEL_FEATURES

    fig = host_figures(load_spec("host-epyc-zen4-1c"))
    Xk = np.zeros((3, len(KERNEL_FEATURES)))
    Xk[:, KERNEL_FEATURES.index("log_bytes")] = math.log(2**20)  # 1 MiB through the kernel
    Xk[:, KERNEL_FEATURES.index("log_intensity")] = math.log(10.0)
    cols = host_columns(Xk, fig)
    assert cols.shape == (3, len(HOST_FEATURES))
    named = dict(zip(HOST_FEATURES, cols[0]))
    assert named["log_bytes_over_l2"] == pytest.approx(math.log(2**20) - math.log(2**20 + 1))  # 1 MiB / 1 MiB L2
    assert named["log_intensity_over_ridge"] == pytest.approx(math.log(10.0) - math.log(101.9e9 / 36.79e9))
    assert (cols[:, :8] == cols[0, :8]).all()  # host part constant across kernels


# --------------------------------------------------------------------------- the packaged model


def _packaged():
    from hybridperf.data import packaged_dir
    from hybridperf.residual.cross_host import CrossHostModel

    return CrossHostModel.load(packaged_dir("models") / "cross-host-cpu")


def test_packaged_model_is_shipped_and_cross_host():
    from hybridperf.data import packaged_dir
    from hybridperf.residual.cross_host import HOST_FEATURES, is_cross_host

    d = packaged_dir("models") / "cross-host-cpu"
    assert is_cross_host(d)
    meta = json.loads((d / "residual.json").read_text())
    assert set(HOST_FEATURES) <= set(meta["kernel_features"])
    assert meta["cross_host"]["host"] is None  # trained across hosts: no host of its own
    effects = {e["figures"]["device"]: e for e in meta["cross_host"]["host_effects"]}
    assert set(effects) == set(meta["metrics"]["hosts"])  # one offset per training CPU
    # lent to other CPUs only by those whose timings reproduce (host-xeon-2c, measured under load, lends none)
    lenders = {h for h, e in effects.items() if e["lends"]}
    assert lenders == {"host-epyc-1c", "host-epyc-zen4-1c", "host-epyc-zen5-1c", "host-xeon-1c", "host-xeon-amx-2c",
                       "host-epyc-zen4-2c", "host-epyc-zen1-1c", "host-epyc-zen1-2c", "host-epyc-zen5-2c",
                       "host-xeon480-2c",  # the slice's CPU measured quietly (2026-12-06) lends its offset
                       "host-epyc-zen3-2c"}  # the Zen 3 VM with 2 threads (2026-12-07), adopted by plan (34)
    assert all(e["lends"] == (e["timing_spread"] <= 1.25) for e in effects.values())
    assert meta["params"]["label"] == "latency_min_s"  # CPU models predict the fastest run (model.CPU_TARGET)


def test_zero_shot_on_a_sheet_without_measurements():
    """A CPU known only from its sheet (no calibration data anywhere) gets a learned prediction."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.residual.cross_host import host_figures

    spec = load_spec("ryzen-9-7950x")
    model = _packaged()
    with pytest.raises(ValueError, match="for_host"):
        predict_on(analyze(EXAMPLE), spec, None, residual=model)
    zs = model.for_host(host_figures(spec, 1))
    pred = predict_on(analyze(EXAMPLE), spec, None, residual=zs)
    assert "zero-shot from spec for ryzen-9-7950x" in pred.calibration
    assert pred.latency_s > 0 and math.isfinite(pred.latency_s)
    assert pred.latency_s != pytest.approx(pred.roofline_latency_s, rel=1e-6)


def test_adapt_save_load_roundtrip(tmp_path):
    """Few-shot adaptation on stored Zen 4 rows; the stored model predicts the same and keeps its host."""
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import CrossHostModel, host_figures, with_host
    from hybridperf.residual.model import load_table, subset

    X, y, _, _, kt, _ = load_table(ZEN4)
    fig = host_figures(load_spec("host-epyc-zen4-1c"))
    base = _packaged().for_host(fig)
    kth = with_host(kt, fig)
    pick = np.arange(10)
    ad = base.adapt(X[pick], y[pick], device="zen4-test", kernels=subset(kth, pick), label="latency_s")
    assert ad.adaptation_["k"] == 10 and "none" in ad.adaptation_["loo_abs_log_error"]
    assert ad.label == "latency_s" and base.label == "latency_min_s"  # label= names the rows' column
    assert base.adaptation_ is None  # adapt returns a new model
    rest = np.arange(10, 20)
    p1 = ad.predict(X[rest], subset(kth, rest))
    ad.save(tmp_path / "m")
    back = CrossHostModel.load(tmp_path / "m")
    assert back.host_ == fig and back.device == "zen4-test" and back.label == "latency_s"
    np.testing.assert_allclose(back.predict(X[rest], subset(kth, rest)), p1)


def test_calibration_adapts_to_the_fastest_run(tmp_path):
    """``calibrate --measure``'s adaptation (``adapt_cross_host``) is labelled by measurements.csv's fastest run:
    the per-model ``measured`` figures are ``latency_min_s``, and the stored model says so."""
    import csv

    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import adapt_cross_host
    from hybridperf.residual.model import CPU_TARGET, ResidualModel

    d = tmp_path / "cal"
    d.mkdir()
    keys = None
    for name in ("features.csv", "kernel_features.csv", "measurements.csv"):
        with (ZEN4 / name).open() as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
        keys = keys or [r["key"] for r in rows[:4]]
        with (d / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=reader.fieldnames)
            w.writeheader()
            w.writerows(r for r in rows if r["key"] in keys)
    fastest = {r["key"]: float(r[CPU_TARGET]) for r in csv.DictReader((d / "measurements.csv").open())}
    median = {r["key"]: float(r["latency_s"]) for r in csv.DictReader((d / "measurements.csv").open())}
    assert all(fastest[k] < median[k] for k in keys)
    res = adapt_cross_host(d, load_spec("host-epyc-zen4-1c"), threads=1)
    assert res.n == 4 and res.model.label == CPU_TARGET
    assert res.model.adaptation_["alone_weight"] == 0.0 and res.model.alone_ is None  # too few models (ALONE_MIN_MODELS)
    # roofline x exp(label / roofline) with the roofline's log rounded to 6 decimals in features.csv
    assert {r[0]: r[1] for r in res.per_model} == pytest.approx(fastest, rel=1e-5)
    assert {r[0]: r[1] for r in res.per_model} != pytest.approx(median, rel=1e-5)
    res.model.save(tmp_path / "m")
    assert ResidualModel.load(tmp_path / "m").describe().endswith("latency = fastest timed run")


def test_train_removes_each_host_offset_and_predicts_with_the_median_offset(tmp_path):
    """Host effects: each training host's median log ratio is removed before training and kept; a new host
    gets the median of the training hosts' offsets (not the nearest one's, the rule until 2026-12-03), also after a
    save / load."""
    from hybridperf.residual.cross_host import CrossHostModel, HostFigures, train
    from hybridperf.residual.features import MODEL_FEATURES

    rng = np.random.default_rng(0)

    def host(name, fp32, ratio):
        X = rng.normal(size=(40, len(MODEL_FEATURES)))
        X[:, MODEL_FEATURES.index("log_roofline_s")] = rng.uniform(-6.0, -2.0, 40)
        y = math.log(ratio) + 0.01 * rng.normal(size=40)
        fig = HostFigures(name, 1, fp32, fp32, 20e9, 2**20, 32 * 2**20, False)
        return X, y, None, [f"family{i % 5}" for i in range(40)], fig

    tables = {"slow": host("slow", 50e9, 3.0), "fast": host("fast", 100e9, 1.2)}
    m = train(tables)
    offsets = {e.figures.device: e.log_offset for e in m.host_effects_}
    assert offsets["slow"] == pytest.approx(float(np.median(tables["slow"][1])))  # about log 3
    assert offsets["fast"] == pytest.approx(float(np.median(tables["fast"][1])))  # about log 1.2
    assert m.host_offset() == 0.0  # no host chosen yet
    new = HostFigures("new", 1, 90e9, 90e9, 20e9, 2**20, 32 * 2**20, False)  # fp32 nearer the fast host's
    zs = m.for_host(new)
    assert zs.nearest_host().figures.device == "fast"  # the rule before
    both = (offsets["slow"] + offsets["fast"]) / 2  # the median of two offsets: about log sqrt(3.0 x 1.2)
    assert zs.lent_offset() == pytest.approx(both) and zs.host_offset() == pytest.approx(both)
    assert f"with the median offset of 2 of its training CPUs (x{math.exp(both):.2f})" in zs.describe()
    assert f"(x{math.sqrt(3.0 * 1.2):.2f})" in zs.describe()
    X_fast = tables["fast"][0]
    assert float(np.median(zs.predict(X_fast))) == pytest.approx(math.log(math.sqrt(3.0 * 1.2)), abs=0.05)
    zs.save(tmp_path / "m")
    back = CrossHostModel.load(tmp_path / "m")
    assert back.host_effects_ == zs.host_effects_ and back.host_ == new
    np.testing.assert_allclose(back.predict(X_fast), zs.predict(X_fast))


def test_only_hosts_with_reproducible_timings_lend_their_offset(tmp_path):
    """``spreads``: a host whose timed runs spread above MAX_OFFSET_SPREAD still trains the boosters on its
    offset-free rows and keeps its offset for its own sheet, but a new host never gets it, even when it is the
    nearest; a spread missing for a training host, or no lending host at all, is an error."""
    from hybridperf.residual.cross_host import MAX_OFFSET_SPREAD, CrossHostModel, HostFigures, train
    from hybridperf.residual.features import MODEL_FEATURES

    rng = np.random.default_rng(1)

    def host(name, fp32, ratio):
        X = rng.normal(size=(40, len(MODEL_FEATURES)))
        y = math.log(ratio) + 0.01 * rng.normal(size=40)
        return X, y, None, [f"family{i % 5}" for i in range(40)], HostFigures(name, 1, fp32, fp32, 20e9, 2**20,
                                                                              32 * 2**20, False)

    tables = {"loaded": host("loaded", 100e9, 3.6), "quiet": host("quiet", 50e9, 1.15)}
    new = HostFigures("new", 1, 95e9, 95e9, 20e9, 2**20, 32 * 2**20, False)  # nearest: the loaded host
    assert train(tables).for_host(new).nearest_host().figures.device == "loaded"  # no spreads: every host lends
    m = train(tables, spreads={"loaded": MAX_OFFSET_SPREAD + 0.01, "quiet": MAX_OFFSET_SPREAD})
    assert {e.figures.device: e.lends for e in m.host_effects_} == {"loaded": False, "quiet": True}
    zs = m.for_host(new)
    assert zs.nearest_host().figures.device == "quiet"
    assert zs.host_offset() == pytest.approx(float(np.median(tables["quiet"][1])))  # about log 1.15
    assert "zero-shot from spec for new" in zs.describe()
    assert f"with the offset of one of its training CPUs (x{math.exp(zs.lent_offset()):.2f})" in zs.describe()
    # the loaded host's own sheet: its own offset (a fit to its rows, not zero-shot), lent or not
    own = m.for_host(tables["loaded"][4])
    assert own.own_host() is own.nearest_host() and own.nearest_host().figures.device == "loaded"
    assert own.host_offset() == pytest.approx(float(np.median(tables["loaded"][1])))  # about log 3.6
    assert "one of its training CPUs: with its own offset (x3.60)" in own.describe()
    assert "zero-shot" not in own.describe()
    # the same boosters with every host lending: the benchmark's row for the rule before
    assert m.lending({"loaded", "quiet"}).for_host(new).nearest_host().figures.device == "loaded"
    with pytest.raises(ValueError, match="not training hosts"):
        m.lending({"elsewhere"})
    m.save(tmp_path / "m")
    back = CrossHostModel.load(tmp_path / "m")
    assert back.host_effects_ == m.host_effects_
    with pytest.raises(ValueError, match="no timing spread for"):
        train(tables, spreads={"quiet": 1.1})
    with pytest.raises(ValueError, match="no training host lends"):
        train(tables, spreads={"loaded": 2.0, "quiet": 1.5})


def test_named_cpu_sheets_get_the_cross_host_model(tmp_path):
    """Every CPU sheet without a model of its own is priced by the packaged cross-host model: zero-shot from spec
    with the sheet's core count as threads, a training host's sheet with its own offset, a sheet without a core
    count with 1 thread and a note saying so; never "roofline only"."""
    import yaml

    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on

    an = analyze(EXAMPLE)
    ryzen = predict_on(an, "ryzen-9-7950x")
    assert "zero-shot from spec for ryzen-9-7950x (16 thread(s))" in ryzen.calibration
    assert ryzen.latency_s != pytest.approx(ryzen.roofline_latency_s, rel=1e-6)
    pred = predict_on(an, "host-xeon-1c")  # a training CPU: its own offset
    assert "for host-xeon-1c (" in pred.calibration and "one of its training CPUs" in pred.calibration, pred.calibration
    # the loaded Xeon slice's rows train nothing since 2026-12-06 (benchmarks.cpu_cross_host.NOT_TRAINED): zero-shot
    pred = predict_on(an, "host-xeon-2c")
    assert "zero-shot from spec for host-xeon-2c (2 thread(s))" in pred.calibration, pred.calibration
    assert "roofline only" not in pred.calibration
    raw = yaml.safe_load((ROOT / "hybridperf" / "data" / "hw_specs" / "ryzen-9-7950x.yaml").read_text())
    del raw["compute_units"]
    raw["id"] = "no-core-count"
    sheet = tmp_path / "no-core-count.yaml"
    sheet.write_text(yaml.safe_dump(raw))
    pred = predict_on(an, str(sheet))
    assert "(1 thread(s), 1 assumed: the sheet gives no compute_units.count)" in pred.calibration
    assert predict_on(an, "t4").calibration.find("cross-host") == -1  # GPUs keep the cross-device model


@pytest.mark.parametrize("text, isa", [
    ("AMD Ryzen 9 7950X (16 cores, Zen 4)", "x86-64"),
    ("Intel(R) Xeon(R) Processor family 6 model 167", "x86-64"),
    ("probed; ISA flags: avx2 avx512f", "x86-64"),
    ("Raspberry Pi 4 Model B (4GB, BCM2711, 4x Cortex-A72 at 1.5 GHz)", "arm"),
    ("AWS Graviton3 (Neoverse-V1)", "arm"),
    ("a CPU", ""),
    ("an Arm core beside an AMD one", ""),  # both named: unknown, never a guess
    ("warm-up notes; swarm", ""),  # words, not substrings
])
def test_sheet_isa(text, isa):
    from hybridperf.device.spec import sheet_isa

    assert sheet_isa(text) == isa


def test_a_cpu_of_another_instruction_set_is_marked_unverified():
    """The training CPUs are all x86-64: an ARM sheet still gets the model's figure, marked unverified; an x86-64
    sheet and a sheet whose instruction set is unknown are not marked; a model whose training hosts carry no
    instruction set (a sidecar from before it was stored) marks none (the 4-core board is still marked for its
    threads: `test_more_threads_than_any_training_cpu_is_marked_unverified`)."""
    import dataclasses

    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import for_sheet

    note = "unverified (its training CPUs are all x86-64: no arm CPU measured"
    assert {e.figures.isa for e in _packaged().host_effects_} == {"x86-64"}
    for dev in ("raspberry-pi-4b", "snapdragon-855"):
        assert note in for_sheet(load_spec(dev)).describe()
    assert "x86-64" not in for_sheet(load_spec("ryzen-9-7950x")).describe()
    pi = for_sheet(load_spec("raspberry-pi-4b"))
    unknown = pi.for_host(dataclasses.replace(pi.host_, isa="", threads=1, assumed=()))
    assert "unverified" not in unknown.describe()
    old = copy.copy(pi)
    old.host_effects_ = tuple(dataclasses.replace(e, figures=dataclasses.replace(e.figures, isa=""))
                              for e in pi.host_effects_)
    assert "CPU measured" not in old.describe()


def test_more_threads_than_any_training_cpu_is_marked_unverified():
    """A sheet run with more threads than any training CPU ran (the 16-core Ryzen desktop; the 4-core ARM board,
    beside its instruction set) is marked unverified, naming both counts; a sheet within the training range is
    not."""
    import dataclasses

    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import for_sheet

    ran = sorted({e.figures.threads for e in _packaged().host_effects_})
    assert ran == [1, 2]
    ryzen = for_sheet(load_spec("ryzen-9-7950x"))
    assert ryzen.host_.threads == 16
    assert ", unverified (16 threads: its training CPUs ran 1-2)" in ryzen.describe()
    pi = for_sheet(load_spec("raspberry-pi-4b"))
    assert ("no arm CPU measured; 4 threads: its training CPUs ran 1-2; its sheet gives no peak_compute.int8 (its fp32 "
            "rate assumed) and no memory.llc.capacity (0 B assumed))") in pi.describe()
    two = ryzen.for_host(dataclasses.replace(ryzen.host_, threads=2))
    assert "unverified" not in two.describe()


def test_check_says_an_unverified_latency_beside_its_verdict(capsys):
    """``check`` judges an unverified zero-shot latency all the same, and says so beside the verdict (table and
    JSON ``estimated``); a training CPU's sheet (its own offset) is not marked (before: the mark was in ``predict``
    only, and ``check`` printed a plain "ok")."""
    argv = ["check", str(EXAMPLE), "--max-latency", "1s"]
    assert main([*argv, "-d", "ryzen-9-7950x"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.split()[2] == "latency" and row.endswith(" ok (unverified)")
    assert main(["check", str(EXAMPLE), "--max-latency", "1us", "-d", "raspberry-pi-4b", "--format", "json"]) == 1
    lat = json.loads(capsys.readouterr().out)["checks"][0]
    assert lat["metric"] == "latency" and lat["exceeded"]
    assert lat["estimated"] == ("unverified: its training CPUs are all x86-64: no arm CPU measured; 4 threads: its "
                                "training CPUs ran 1-2; its sheet gives no peak_compute.int8 (its fp32 rate assumed) and "
                                "no memory.llc.capacity (0 B assumed)")
    assert main([*argv, "-d", "host-epyc-zen5-1c"]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith(" ok")


def test_training_sheets_match_the_packaged_host_figures():
    """The packaged model's training hosts were priced on their sheets with their core counts as threads: the shipped
    sheet, or for a host without one (the Zen 1 and the 2-thread Zen 5) the probe kept with its rows; a named
    training sheet is predicted with exactly the figures its rows were trained with."""
    from benchmarks.cpu_cross_host import host_spec
    from hybridperf.device.spec import available_devices, load_spec
    from hybridperf.residual.cross_host import host_figures, sheet_threads

    import dataclasses

    shipped = set(available_devices())
    for e in _packaged().host_effects_:
        spec = load_spec(e.figures.device) if e.figures.device in shipped else host_spec(e.figures.device)
        threads, given = sheet_threads(spec)
        assert given and host_figures(spec, threads) == dataclasses.replace(e.figures, cpu="")


def test_a_machine_with_a_training_cpu_gets_that_hosts_offset():
    """The training hosts carry the CPU their rows were measured on (none for the two whose rows predate it); a
    machine with that CPU and the same threads (``--device host`` there) gets that host's offset and the report
    says so, not "zero-shot"; other threads, another CPU or an unknown one: the median offset, zero-shot (other
    threads of a training CPU: not called zero-shot since 2026-12-04 evening)."""
    import dataclasses

    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import base_model, cpu_label

    zen4 = cpu_label("AuthenticAMD", "25", "17", "1")
    assert zen4 == "AuthenticAMD family 25 model 17 stepping 1" and cpu_label("AuthenticAMD", None, 17, 1) == ""
    assert cpu_label("AuthenticAMD", "0x19", 17, 1) == cpu_label("", 25, 17, 1) == cpu_label(None, 25, 17, 1) == ""
    cpus = {e.figures.device: e.figures.cpu for e in _packaged().host_effects_}
    assert cpus["host-epyc-zen4-1c"] == cpus["host-epyc-zen4-2c"] == zen4
    assert cpus["host-epyc-1c"] == "" and "host-xeon-2c" not in cpus  # the slice trains nothing (NOT_TRAINED)
    # its CPU measured quietly (2026-12-06) trains, with the lscpu identity its rows recorded
    assert cpus["host-xeon480-2c"] == "GenuineIntel family 6 model 167 stepping 1"
    two = {e.figures.device: e for e in _packaged().host_effects_}["host-epyc-zen4-2c"]
    sheet = load_spec("host-epyc-zen4-2c")  # stands in for this machine's probed sheet
    mine = base_model(dataclasses.replace(sheet, id="host"), 2, zen4)
    assert mine.own_host() is not None and mine.own_host().figures.device == "host-epyc-zen4-2c"
    assert mine.host_offset() == pytest.approx(two.log_offset)
    text = mine.describe()
    assert (f"for host (2 thread(s)), the CPU of its training host host-epyc-zen4-2c ({zen4}, the same threads): "
            f"with that host's offset (x{math.exp(two.log_offset):.2f}), not zero-shot") in text
    assert "zero-shot from spec" not in text
    for threads, cpu in ((4, zen4), (2, cpu_label("GenuineIntel", 6, 143, 8)), (2, "")):
        other = base_model(dataclasses.replace(sheet, id="host"), threads, cpu)
        assert other.own_host() is None and other.host_offset() == pytest.approx(other.lent_offset())
        if cpu == zen4:  # Zen 4 trained on with 1 and 2 threads: not zero-shot at 4 (until 2026-12-04 evening it said so)
            assert other.same_cpu_hosts() and "zero-shot from spec" not in other.describe()
            assert (f"for host (4 thread(s)): not zero-shot, its CPU ({zen4}) was trained on with other threads: "
                    "host-epyc-zen4-1c (1 thread(s)), host-epyc-zen4-2c (2 thread(s)); priced from spec with the median "
                    "offset of") in other.describe()
        else:
            assert other.same_cpu_hosts() == () and "zero-shot from spec for host" in other.describe()


def _zen4_rows():
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import host_figures, with_host
    from hybridperf.residual.model import load_table

    X, y, _, _, kt, _ = load_table(ZEN4)
    fig = host_figures(load_spec("host-epyc-zen4-1c"))
    return X, y, with_host(kt, fig), _packaged().for_host(fig)


def test_kernel_correction_learns_a_slower_op_group(tmp_path):
    """A CPU whose convolutions run 2x slower than the zero-shot model says (every other kernel as predicted):
    the few-shot kernel trees learn it from 10 models' kernel rows and carry it to models they did not see,
    which a model-level offset cannot; the grown kernel booster survives save / load."""
    from hybridperf.residual.cross_host import CrossHostModel
    from hybridperf.residual.features import GROUPS, KERNEL_FEATURES
    from hybridperf.residual.model import KernelTable, _kernel_log_ratio, subset

    X, y, kth, base = _zen4_rows()
    n_groups = sum(1 for f in KERNEL_FEATURES if f.startswith("group_"))
    conv = np.argmax(kth.X[:, :n_groups], axis=1) == GROUPS.index("conv")
    assert conv.any() and not conv.all()
    f = base.kernel_booster_.predict(base._kernel_inputs(kth.X, kth.row)) + base.host_offset()
    ky = f + np.where(conv, math.log(2.0), 0.0)  # measured kernel ratios: the model's, convolutions doubled
    kt2 = KernelTable(kth.X, ky, kth.row, kth.families)
    idx = np.arange(len(y))
    # whole-model truth with the same composition as predict(): the zero-shot model plus the doubled conv time
    y2 = base.predict(X, kth) + _kernel_log_ratio(ky, kth.X, kth.row, idx) - _kernel_log_ratio(f, kth.X, kth.row, idx)
    pick, rest = idx[::7][:10], np.setdiff1d(idx, idx[::7][:10])
    ad = base.adapt(X[pick], y2[pick], kernels=subset(kt2, pick))
    a = ad.adaptation_
    assert a["method"].startswith("kernels+offset") and a["kernel_rounds"] > 0
    assert a["loo_abs_log_error"][a["method"]] < min(a["loo_abs_log_error"]["offset"], a["loo_abs_log_error"]["none"])
    err = lambda m: float(np.mean(np.abs(m.predict(X[rest], subset(kt2, rest)) - y2[rest])))  # noqa: E731
    zs_rest = base.predict(X[rest], subset(kt2, rest))
    offset = float(np.mean(y2[pick] - base.predict(X[pick], subset(kt2, pick))))
    assert err(ad) < 0.5 * float(np.mean(np.abs(zs_rest + offset - y2[rest])))  # a model-level offset alone
    assert err(ad) < 0.5 * float(np.mean(np.abs(zs_rest - y2[rest])))  # zero-shot
    assert base.kernel_booster_.current_iteration() < ad.kernel_booster_.current_iteration()  # trees added to a copy
    ad.save(tmp_path / "m")
    back = CrossHostModel.load(tmp_path / "m")
    assert back.adaptation_["kernel_rounds"] == a["kernel_rounds"]
    np.testing.assert_allclose(back.predict(X[rest], subset(kt2, rest)), ad.predict(X[rest], subset(kt2, rest)))


def test_adapt_keeps_an_exact_zero_shot_model():
    """When the zero-shot model already predicts the K models and their kernels exactly, adaptation changes nothing."""
    from hybridperf.residual.model import KernelTable, subset

    X, y, kth, base = _zen4_rows()
    f = base.kernel_booster_.predict(base._kernel_inputs(kth.X, kth.row)) + base.host_offset()
    kt2 = KernelTable(kth.X, f, kth.row, kth.families)
    pick = np.arange(10)
    y2 = base.predict(X, kth)
    ad = base.adapt(X[pick], y2[pick], kernels=subset(kt2, pick))
    assert ad.adaptation_["method"] == "none" and ad.adaptation_["loo_abs_log_error"]["none"] < 1e-12
    np.testing.assert_allclose(ad.predict(X, kth), y2)


def test_adapt_on_one_model_changes_nothing():
    """One measured model leaves nothing to leave out, so no correction can be chosen: the adaptation keeps the
    zero-shot model ("none"), however far off that model is (here 3x: a group-scale fit would take it as fact)."""
    from hybridperf.residual.model import subset

    X, y, kth, base = _zen4_rows()
    one = np.array([0])
    ad = base.adapt(X[one], base.predict(X[one], subset(kth, one)) + math.log(3.0), kernels=subset(kth, one))
    assert ad.adaptation_["method"] == "none" and ad.adaptation_["k"] == 1
    assert "group_scales" not in ad.adaptation_["loo_abs_log_error"]
    np.testing.assert_allclose(ad.predict(X, kth), base.predict(X, kth))


def test_loo_folds_cover_every_model_once():
    from hybridperf.residual.cross_host import ADAPT_FOLDS, _loo_folds

    assert [f.tolist() for f in _loo_folds(3)] == [[0], [1], [2]]  # K <= ADAPT_FOLDS: leave one model out
    folds = _loo_folds(25)
    assert len(folds) == ADAPT_FOLDS and sorted(np.concatenate(folds).tolist()) == list(range(25))


def test_shrink_trees_scales_only_the_added_trees():
    """Shrinkage multiplies what the trees after ``start`` add (leaf values), so the booster predicts
    first-trees + lam x (all trees - first trees), and its text form keeps that."""
    import lightgbm as lgb

    from hybridperf.residual.cross_host import _method, _shrink_trees

    rng = np.random.default_rng(0)
    x = rng.random((200, 3))
    b = lgb.train({"verbose": -1, "num_leaves": 4, "num_threads": 1, "seed": 0, "deterministic": True},
                  lgb.Dataset(x, x[:, 0] + x[:, 1] ** 2), num_boost_round=8)
    first, full = b.predict(x, num_iteration=3), b.predict(x)
    shrunk = _shrink_trees(b, 3, 0.25)
    np.testing.assert_allclose(shrunk.predict(x), first + 0.25 * (full - first), atol=1e-12)
    np.testing.assert_allclose(lgb.Booster(model_str=shrunk.model_to_string()).predict(x), shrunk.predict(x))
    assert _method(0) == "offset" and _method(30, 0.4) == "kernels+offset (30 trees), shrunk x0.4"


def test_adapt_shrinks_a_noisy_correction():
    """K models whose kernels run as the zero-shot model says and whose whole-model times are its prediction times
    independent noise (nothing to learn): the adaptation keeps the zero-shot model or shrinks the correction, and
    stays close to zero-shot on the rest."""
    from hybridperf.residual.cross_host import ADAPT_SHRINK
    from hybridperf.residual.model import KernelTable, subset

    X, y, kth, base = _zen4_rows()
    f = base.kernel_booster_.predict(base._kernel_inputs(kth.X, kth.row)) + base.host_offset()
    kth = KernelTable(kth.X, f, kth.row, kth.families)
    zs = base.predict(X, kth)
    noisy = zs + np.random.default_rng(3).normal(0.0, 0.1, len(zs))
    pick, rest = np.arange(10), np.arange(10, len(zs))
    ad = base.adapt(X[pick], noisy[pick], kernels=subset(kth, pick))
    a = ad.adaptation_
    assert a["method"] == "none" or a["shrink"] < 1.0
    assert a["shrink"] in (0.0, *ADAPT_SHRINK)
    assert float(np.mean(np.abs(ad.predict(X[rest], subset(kth, rest)) - zs[rest]))) < 0.05


def test_adapt_without_the_alone_blend_is_unchanged(monkeypatch):
    """The blend with a model of the K rows alone is chosen after the rounds and shrinkage, so it does not move them:
    with weight 0 only, an adaptation has no alone model and its own leave-one-out error, and with the grid, the
    adapted model is that one blended in log space with its alone model (Zen 4 rows 0-9). The exact figures of the
    pre-blend code were pinned here on the packaged model of 2026-12-02 15:00 UTC and held until it was retrained."""
    from hybridperf.residual import cross_host as ch
    from hybridperf.residual.model import subset

    X, y, kth, base = _zen4_rows()
    pick, rows = np.arange(10), np.arange(20, 25)
    full = base.adapt(X[pick], y[pick], kernels=subset(kth, pick))
    monkeypatch.setattr(ch, "ADAPT_ALONE_WEIGHTS", (0.0,))
    ad = base.adapt(X[pick], y[pick], kernels=subset(kth, pick))
    a = ad.adaptation_
    assert a["alone_weight"] == 0.0 and ad.alone_ is None and a["alone_model"] is None
    assert a["alone_loo_abs_log_error"] == {"0": a["loo_abs_log_error"][a["method"]]}
    p0 = ad.predict(X[rows], subset(kth, rows))
    for key in ("method", "offset", "kernel_rounds", "shrink", "loo_abs_log_error"):
        assert full.adaptation_[key] == a[key]
    w = full.adaptation_["alone_weight"]
    assert set(full.adaptation_["alone_loo_abs_log_error"]) == {"0", "0.25", "0.5", "0.75", "1"}
    alone = full.alone_.predict(X[rows], ch._kernel_only(subset(kth, rows))) if w else 0.0
    np.testing.assert_allclose(full.predict(X[rows], subset(kth, rows)), (1 - w) * p0 + w * alone, atol=1e-12)


@pytest.fixture(scope="module")
def mirrored():
    """Zen 4 rows whose kernels run the mirror image of what the zero-shot model says (its slowest kernel ratios the
    fastest): a base model far off in its kernel pattern, not only in its offset; adapted on every seventh model."""
    from hybridperf.residual.model import KernelTable, _kernel_log_ratio, subset

    X, y, kth, base = _zen4_rows()
    f = base.kernel_booster_.predict(base._kernel_inputs(kth.X, kth.row)) + base.host_offset()
    ky = 2.0 * f.mean() - f
    kt2 = KernelTable(kth.X, ky, kth.row, kth.families)
    idx = np.arange(len(y))
    y2 = base.predict(X, kth) + _kernel_log_ratio(ky, kth.X, kth.row, idx) - _kernel_log_ratio(f, kth.X, kth.row, idx)
    pick = idx[::7][:10]
    return X, y2, kt2, base, base.adapt(X[pick], y2[pick], kernels=subset(kt2, pick)), np.setdiff1d(idx, pick)


def test_adapt_blends_in_the_rows_alone_when_the_base_model_is_far_off(mirrored):
    """Trees grown on a mirrored kernel pattern leave much of it; the leave-models-out blend weight moves towards the
    model of the K rows alone, and that predicts the other models better than the adaptation without it."""
    from hybridperf.residual.model import subset

    X, y2, kt2, base, ad, rest = mirrored
    a = ad.adaptation_
    assert a["alone_weight"] >= 0.5 and ad.alone_ is not None and a["alone_model"] == "few_shot_alone"
    loo = a["alone_loo_abs_log_error"]
    assert loo[f"{a['alone_weight']:g}"] == min(loo.values()) < loo["0"] == a["loo_abs_log_error"][a["method"]]
    without = copy.copy(ad)
    without.adaptation_ = {**a, "alone_weight": 0.0}
    err = lambda m: float(np.mean(np.abs(m.predict(X[rest], subset(kt2, rest)) - y2[rest])))  # noqa: E731
    assert err(ad) < 0.7 * err(without) and err(ad) < 0.1 * err(base)
    assert "blended" in ad.describe()


def test_alone_blend_save_load_and_apply(mirrored, tmp_path):
    """The alone model is stored as LightGBM text + sidecar in ``few_shot_alone/`` (no pickle) and read back with the
    adaptation's weight; ``apply`` composes as ``predict``: adapted ** (1 - w) * alone ** w, kernels and total; a
    later adaptation without a blend saved there leaves no alone model behind."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.residual.cross_host import CrossHostModel
    from hybridperf.residual.model import subset

    X, y2, kt2, base, ad, rest = mirrored
    ad.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m" / "few_shot_alone").iterdir()) == [
        "residual.json", "residual.txt", "residual_kernel.txt"]
    meta = json.loads((tmp_path / "m" / "residual.json").read_text())
    assert meta["adaptation"]["alone_weight"] == ad.adaptation_["alone_weight"]
    back = CrossHostModel.load(tmp_path / "m")
    assert back.alone_ is not None and back.adaptation_ == json.loads(json.dumps(ad.adaptation_))
    np.testing.assert_allclose(back.predict(X[rest], subset(kt2, rest)), ad.predict(X[rest], subset(kt2, rest)))
    half = copy.copy(back)
    half.adaptation_ = {**back.adaptation_, "alone_weight": 0.5}
    without = copy.copy(back)
    without.adaptation_ = {**back.adaptation_, "alone_weight": 0.0}
    spec, a = load_spec("host-epyc-zen4-1c"), analyze(EXAMPLE)
    p, p0, pa = (predict_on(a, spec, None, residual=m) for m in (half, without, back.alone_))
    assert p.latency_s == pytest.approx(math.sqrt(p0.latency_s * pa.latency_s), rel=1e-9)
    for k, k0, ka in zip(p.kernels, p0.kernels, pa.kernels):
        assert k.latency_s == pytest.approx(math.sqrt(k0.latency_s * ka.latency_s) if k.calibrated else k0.latency_s)
    assert predict_on(a, spec, None, residual=back).latency_s == pytest.approx(
        predict_on(a, spec, None, residual=ad).latency_s, rel=1e-12)
    without.save(tmp_path / "m")
    assert not (tmp_path / "m" / "few_shot_alone").exists() and CrossHostModel.load(tmp_path / "m").alone_ is None
    half.alone_ = None
    with pytest.raises(ValueError, match="missing"):
        half.predict(X[rest], subset(kt2, rest))


def test_adaptation_slope_does_not_extrapolate():
    m = _packaged()
    m.adaptation_ = {"offset": 0.1, "slope": 2.0, "center": 0.0, "log_roofline_range": [-1.0, 1.0]}
    from hybridperf.residual.features import MODEL_FEATURES

    X = np.zeros((3, len(MODEL_FEATURES)))
    X[:, MODEL_FEATURES.index("log_roofline_s")] = [-5.0, 0.5, 5.0]
    np.testing.assert_allclose(m._adaptation(X), [0.1 - 2.0, 0.1 + 1.0, 0.1 + 2.0])


# --------------------------------------------------------------------------- the device `host`


def test_host_key_names_identity_and_threads():
    from hybridperf.measure.host import host_key

    ident = {"vendor": "AuthenticAMD", "family": 25, "model": 17, "stepping": 1, "isa": ["avx2", "avx512f"], "threads": 4}
    assert host_key(ident) == "authenticamd-f25-m17-s1-avx2.avx512f-4t"
    assert host_key({**ident, "model": 1}) != host_key(ident)
    assert host_key({**ident, "threads": 1}) != host_key(ident)


def test_default_device_is_host(capsys):
    """conftest installed a sheet as this host's (no probe): predict without --device uses it, zero-shot."""
    from hybridperf.measure.host import host_spec_path

    assert host_spec_path().exists()
    assert main(["predict", str(EXAMPLE), "--top", "0"]) == 0
    out = capsys.readouterr().out
    assert "device    host (" in out and "(probed " in out
    assert "zero-shot from spec for host" in out


def test_check_defaults_to_host(capsys):
    assert main(["check", str(EXAMPLE), "--max-latency", "10s"]) == 0
    assert "host" in capsys.readouterr().out


def test_host_on_a_training_cpu_is_priced_with_its_offset(tmp_path, monkeypatch, capsys):
    """``--device host`` on a machine whose CPU and threads are a training host's (faked here: the 2-thread Zen 4's
    identity and sheet) says so in the report and is not zero-shot; predict and devices show agree."""
    import hybridperf.measure.host as host
    from hybridperf.device.spec import default_spec_dir

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(host, "host_threads", lambda: 2)
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: "AuthenticAMD family 25 model 17 stepping 1")
    host.install_host_spec(default_spec_dir() / "host-epyc-zen4-2c.yaml")
    assert main(["predict", str(EXAMPLE), "--top", "0"]) == 0
    out = capsys.readouterr().out
    assert "the CPU of its training host host-epyc-zen4-2c (AuthenticAMD family 25 model 17 stepping 1" in out
    assert "not zero-shot" in out and "zero-shot from spec" not in out
    assert main(["devices", "show", "host"]) == 0
    assert "the CPU of its training host host-epyc-zen4-2c" in capsys.readouterr().out


def test_install_host_spec_rejects_bad_sheet(tmp_path):
    from hybridperf.errors import HybridperfError
    from hybridperf.measure.host import install_host_spec

    with pytest.raises(HybridperfError):
        install_host_spec(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- calibrate --measure


def _tiny_models(d: Path) -> Path:
    import onnx_models

    d.mkdir()
    onnx_models.save_static(d, ("resnet_like", "mobilenetv2_like", "bert_like", "densenet_like"))
    return d


@pytest.mark.parametrize("argv, msg", [
    (["--measure", "nope.onnx", "also-nope.onnx"], "file not found"),
    (["--measure", str(EXAMPLE)], "at least 2 models"),
    (["--measure", str(EXAMPLE), str(EXAMPLE), "--shots", "2"], "all different"),  # one model, named twice
    (["--measure", str(EXAMPLE), str(EXAMPLE.with_name("resnet_like.onnx")), "--batch", "1", "--shots", "2"],
     "leaves no model to hold out"),
    (["--measure", str(EXAMPLE), str(EXAMPLE), "--shots", "0"], "--shots must be >= 1"),
    (["--measure", str(EXAMPLE), str(EXAMPLE), "--few-shot", "3"], "--few-shot/--base-device go with --data"),
])
def test_measure_inputs_checked_before_measuring(argv, msg, capsys):
    code = main(["calibrate", "--device", "host", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and msg in err, err


def test_measure_on_a_named_sheet_runs_its_core_count(capsys, monkeypatch):
    """A named CPU sheet is measured with as many threads as it has cores (what its predictions assume): another
    --threads, or fewer usable CPUs than that, is refused before anything is measured."""
    import hybridperf.measure.host as host
    from hybridperf.commands.calibrate import _sheet_measure_threads
    from hybridperf.device.spec import load_spec

    code = main(["calibrate", "--device", "host-xeon-1c", "--measure", str(EXAMPLE), str(EXAMPLE), "--threads", "2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "covers 1 core(s)" in err, err
    monkeypatch.setattr(host, "host_threads", lambda: 2)
    code = main(["calibrate", "--device", "ryzen-9-7950x", "--measure", str(EXAMPLE), str(EXAMPLE)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "covers 16 core(s) but this process may use 2 CPU(s)" in err, err
    assert _sheet_measure_threads(load_spec("host-xeon-amx-2c"), None, 2) == 2
    assert _sheet_measure_threads(load_spec("host-xeon-1c"), None, 2) == 1  # one core of this machine


def test_measure_symbolic_input_refused(model_dir, capsys):
    code = main(["calibrate", "--device", "host", "--measure", str(model_dir / "resnet_like.onnx"), str(EXAMPLE)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "symbolic dimension" in err and len(err.splitlines()) == 1


def test_measure_batch_binds_a_symbolic_leading_dim_for_measuring_and_featurizing(model_dir, capsys):
    """``calibrate --measure ... --batch N``: the check passes, and the rows' ``batch`` reaches the analysis."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.errors import InputError
    from hybridperf.measure.calibrate import collect_models
    from hybridperf.residual.features import featurize_measured

    dynamic = model_dir / "resnet_like.onnx"
    other = model_dir / "mobilenetv2_like.onnx"  # symbolic batch too
    assert collect_models([dynamic, other], batch=3) == [dynamic, other]
    with pytest.raises(InputError, match="--batch 3 cannot be applied to 1 of 2 models"):  # since 2026-12-04 here
        collect_models([dynamic, EXAMPLE], batch=3)  # (squeezenet is fixed at batch 1), not in the command
    code = main(["calibrate", "--device", "host", "--measure", str(dynamic), str(EXAMPLE)])
    assert code == 2 and "has a symbolic dimension at axis 0; pass --batch N to bind it" in capsys.readouterr().err
    assert main(["calibrate", "--device", "host", "--data", str(model_dir), "--batch", "3"]) == 2
    assert "--batch goes with --measure" in capsys.readouterr().err
    row = {"key": "r", "model": str(dynamic), "latency_s": "1e-3", "latency_min_s": "1e-3", "batch": "3"}
    feats, _ = featurize_measured([row], None, device="host-epyc-zen4-1c", target="latency_min_s")
    assert feats[0]["batch"] == "3"
    assert float(feats[0]["log_flops"]) == pytest.approx(math.log(analyze(dynamic, batch=3).analysis.flops))


def test_measure_gpu_device_refused(tmp_path, capsys):
    d = _tiny_models(tmp_path / "m")
    code = main(["calibrate", "--device", "a100-sxm-80gb", "--measure", str(d)])
    assert code == 2 and "calibrates CPUs" in capsys.readouterr().err


@pytest.mark.slow
def test_measure_adapt_store(tmp_path, capsys, monkeypatch):
    """Measure 4 tiny models here, adapt the cross-host model, store it under the user data dir, use it."""
    import csv

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    from hybridperf.device.spec import default_spec_dir
    from hybridperf.measure.host import host_model_dir, install_host_spec

    install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    d = _tiny_models(tmp_path / "m")
    assert main(["calibrate", "--device", "host", "--measure", str(d), "--format", "json"]) == 0
    cap = capsys.readouterr()
    res = json.loads(cap.out)
    assert res["models"] == 4 and res["adapted_on"] == 4 and "leave-one-out" in res["heldout"]
    h = res["heldout_mape_pct"]
    assert ("is above the zero-shot model's" in cap.err) == (h["adapted"] > h["zero_shot"])
    assert {r["key"] for r in res["per_model"]} == {"resnet_like", "mobilenetv2_like", "bert_like", "densenet_like"}
    assert all(r["measured_s"] > 0 and r["adapted_s"] > 0 for r in res["per_model"])
    assert Path(res["stored"]) == host_model_dir() and (host_model_dir() / "residual.json").exists()
    assert str(tmp_path / "home") in res["data"]
    with (Path(res["data"]) / "measurements.csv").open() as f:
        measured = list(csv.DictReader(f))
    fastest = {r["key"]: float(r["latency_min_s"]) for r in measured}
    assert {r["key"]: r["measured_s"] for r in res["per_model"]} == pytest.approx(fastest, rel=1e-5)
    # the run's own test-retest: rounds 3-4's fastest runs against rounds 1-2's, as stored beside the label
    halves = [float(r["latency_min_second_half_s"]) / float(r["latency_min_first_half_s"]) for r in measured]
    assert all(min(float(r["latency_min_first_half_s"]), float(r["latency_min_second_half_s"]))
               == pytest.approx(float(r["latency_min_s"]), rel=1e-9) for r in measured)
    mr = res["measurement_retest"]
    assert mr["rounds"] == 4 and mr["halves"] == [[1, 2], [3, 4]] and mr["models"] == 4
    assert mr["mape_pct"] == pytest.approx(100 * sum(abs(q - 1) for q in halves) / 4)
    assert main(["predict", str(EXAMPLE), "--top", "0"]) == 0
    out = capsys.readouterr().out
    assert "few-shot adapted with 4" in out and "latency = fastest timed run" in out


def test_an_adaptation_worse_than_zero_shot_is_said_on_stderr(capsys):
    """The held-out errors of a calibration: adapted above zero-shot is one warning line on stderr naming both;
    equal or below, nothing."""
    from hybridperf.commands._common import warn_if_adaptation_worse

    warn_if_adaptation_worse({"roofline": 28.1, "zero_shot": 14.8, "adapted": 15.4})
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "held-out error (15.4 %) is above the zero-shot model's (14.8 %)" in err
    for adapted in (14.8, 9.0):
        warn_if_adaptation_worse({"zero_shot": 14.8, "adapted": adapted})
        assert capsys.readouterr().err == ""


def _fake_rounds(latencies: dict[Path, float], failures=(), second_half: float = 1.0):
    """A stand-in for ``measure_rounds``: the given fastest runs (seconds), no profile, ``failures`` as reported;
    with two rounds or more the second half of the rounds ran ``second_half`` times the first's fastest run."""
    def fake(models, device, threads, rounds=2, seed=0, on_measured=None, batch=None):
        def halves(t: float) -> dict:
            return {"latency_min_first_half_s": t, "latency_min_second_half_s": t * second_half} if rounds >= 2 else {}

        rows = [{"key": p.stem, "model": str(p), "latency_s": t * 1.1, "latency_min_s": t, "latency_norm_median": 1.0,
                 "round_spread": 0.0, "rounds": rounds, "threads": threads, "device": device, **halves(t)}
                for p, t in latencies.items()]
        return rows, [], list(failures)
    return fake


def test_a_calibration_says_how_well_its_own_measurements_reproduce(zen4_host, tmp_path, monkeypatch, capsys):
    """Beside the held-out errors, the measurements' own test-retest (second half of the rounds against the first):
    4 % when every model's second half ran 1.04x; unknown with one round (never 0)."""
    import hybridperf.measure.calibrate as cal

    d = _tiny_models(tmp_path / "m")
    latencies = {d / "resnet_like.onnx": 2e-3, d / "mobilenetv2_like.onnx": 1e-3, d / "bert_like.onnx": 5e-4}
    monkeypatch.setattr(cal, "measure_rounds", _fake_rounds(latencies, second_half=1.04))
    argv = ["calibrate", "--device", "host", "--measure", *map(str, latencies)]
    assert main([*argv, "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)["measurement_retest"]  # 4 rounds by default
    assert r == {"rounds": 4, "halves": [[1, 2], [3, 4]], "models": 3, "mape_pct": pytest.approx(4.0),
                 "within_10_pct": 100.0,
                 # one run (no --steady): its figure, and that it is the one used (2026-12-07)
                 "steady_pct": None, "run_used": 1, "runs_mape_pct": [pytest.approx(4.0)]}
    assert main([*argv, "--rounds", "2"]) == 0
    assert ("measurement test-retest (fastest run, round 2 against round 1, 3 models): 4.0 % MAPE, 100 % "
            "within +-10 %") in capsys.readouterr().out
    assert main([*argv, "--rounds", "1", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)["measurement_retest"]
    assert r == {"rounds": 1, "halves": None, "models": None, "mape_pct": None, "within_10_pct": None,
                 "steady_pct": None, "run_used": 1, "runs_mape_pct": [None]}
    assert main([*argv, "--rounds", "1"]) == 0
    assert ("measurement test-retest: unknown (1 round; --rounds 2 or more compares the halves)"
            in capsys.readouterr().out)


@pytest.fixture
def zen4_host(tmp_path, monkeypatch):
    """An empty user data directory whose ``host`` is the Zen 4 sheet (no probe), and one host thread."""
    import hybridperf.measure.host as host

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(host, "host_threads", lambda: 1)
    from hybridperf.device.spec import default_spec_dir

    host.install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    return host


def test_measure_threads_other_than_the_hosts_refused_before_measuring(zen4_host, monkeypatch, capsys):
    """``host`` predicts for the CPUs this process may use, and its model is stored for that count: a calibration
    measured at another count would be stored for it silently."""
    import hybridperf.measure.calibrate as cal

    monkeypatch.setattr(cal, "measure_rounds", lambda *a, **k: pytest.fail("measured"))
    assert main(["calibrate", "--device", "host", "--measure", str(EXAMPLE), str(EXAMPLE), "--threads", "2"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("hybridperf: error: --threads 2: device host predicts for 1 thread(s), the CPUs this "
                                 "process may use, and its model is stored for that count; drop --threads, or run "
                                 "under `taskset -c` with 2 CPUs\n")


def test_a_failed_calibration_leaves_the_user_data_directory_as_it_was(zen4_host, tmp_path, monkeypatch, capsys):
    """One of two models fails in both rounds: one warning (not one per round), exit 2, and the previous
    calibration's tables are untouched, with no model stored (before: its tables were replaced by the failed run's,
    beside the model fitted to the old ones)."""
    import hybridperf.measure.calibrate as cal

    d = _tiny_models(tmp_path / "m")
    previous = zen4_host.host_dir() / "calibration"
    previous.mkdir()
    (previous / "measurements.csv").write_text("key,latency_min_s\nold,1e-3\n")
    before = sorted(p.relative_to(zen4_host.host_dir()) for p in zen4_host.host_dir().rglob("*"))
    why = "onnxruntime cannot load it"
    monkeypatch.setattr(cal, "measure_rounds", _fake_rounds({d / "resnet_like.onnx": 1e-3},
                                                            [("bert_like", why), ("bert_like", why)]))
    assert main(["calibrate", "--device", "host", "--measure", str(d / "resnet_like.onnx"),
                 str(d / "bert_like.onnx")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"hybridperf: warning: bert_like: not measured: {why}",
        "hybridperf: error: only 1 of 2 models could be measured and analysed; calibration needs 2: pass more models "
        "(the warnings above say why each was left out)"]
    assert sorted(p.relative_to(zen4_host.host_dir()) for p in zen4_host.host_dir().rglob("*")) == before
    assert (previous / "measurements.csv").read_text() == "key,latency_min_s\nold,1e-3\n"


def test_a_calibration_replaces_the_previous_tables_whole(zen4_host, tmp_path, monkeypatch, capsys):
    """A calibration that succeeds stores its model and swaps its tables in for the previous ones (no leftovers)."""
    import csv

    import hybridperf.measure.calibrate as cal

    d = _tiny_models(tmp_path / "m")
    previous = zen4_host.host_dir() / "calibration"
    previous.mkdir()
    (previous / "stale.csv").write_text("x\n")
    latencies = {d / "resnet_like.onnx": 2e-3, d / "mobilenetv2_like.onnx": 1e-3, d / "bert_like.onnx": 5e-4}
    monkeypatch.setattr(cal, "measure_rounds", _fake_rounds(latencies))
    assert main(["calibrate", "--device", "host", "--measure", *map(str, latencies), "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["models"] == 3 and res["threads"] == 1 and Path(res["data"]) == previous
    assert (zen4_host.host_model_dir() / "residual.json").exists()
    assert sorted(p.name for p in previous.iterdir()) == ["features.csv", "measurements.csv"]  # no profile: no kernels
    rows = list(csv.DictReader((previous / "measurements.csv").open()))
    assert {r["key"]: float(r["latency_min_s"]) for r in rows} == {p.stem: t for p, t in latencies.items()}
    assert sorted(p.name for p in zen4_host.host_dir().iterdir()) == [".calibration.lock", ".model.lock", "calibration",
                                                                       "host.yaml", "identity.json", "model"]  # locks stay
