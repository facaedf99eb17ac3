"""GPU energy with a learned latency follows the kernels that latency is priced on (2026-12-04).

Energy = dynamic + idle W x latency. With the cross-device model on a GPU the latency is priced on the runtime's
launches (eager PyTorch / CUDA graphs: about one kernel per op, every intermediate written to DRAM and read back),
while the dynamic part was still summed over TVM's fused kernels: a t4 ``examples/resnet_like.onnx`` at batch 64
read 12.674 mJ where its launches' work gives 14.788 mJ. Now the dynamic part is the launches' (in launch order, as
:class:`~hybridperf.block_table.BlockTable` composes it, so the two stay ``==``); CPU sheets and fused runtimes
(``--runtime tvm``) keep TVM's kernels and their figures.
"""

from pathlib import Path

import pytest

from hybridperf.api import Session, predict_on
from hybridperf.device.spec import available_devices, load_spec
from hybridperf.estimate.pricing import launched_dynamic_energy_j, price
from hybridperf.estimate.roofline import energy_dynamic_j

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ROWS, COLS = 64, 1024


def _fused_dynamic(an, spec, precision=None):
    """The dynamic energy of TVM's fused kernels, in kernel order: what the energy was summed over before."""
    return sum(price(k.cost, k.precision, spec, precision).dynamic_energy_j for k in an.kernels if k.counts_toward_time)


def test_gpu_energy_is_the_launches_work_plus_idle(chain):
    spec = load_spec("t4")
    pred = predict_on(chain, spec)
    assert pred.execution is not None and pred.execution.runtime == "torch" and pred.execution.launches == 2
    assert len(chain.kernels) == 1  # one fused kernel: reads x, writes y
    # each launch reads its 64 x 1024 float32 input and writes its output: the intermediate r goes through DRAM
    assert [kp.kernel.cost.bytes_total for kp in pred.kernels] == [2 * ROWS * COLS * 4] * 2
    assert chain.kernels[0].cost.bytes_total == 2 * ROWS * COLS * 4
    launched = sum(energy_dynamic_j(kp.kernel.cost, spec, "fp32") for kp in pred.kernels)
    assert launched_dynamic_energy_j(pred.kernels) == launched
    assert pred.energy_note.startswith("idle power of t4 estimated")  # not capped
    assert pred.energy_j == launched + spec.idle_power_w * pred.latency_s
    # the old figure, TVM's fused kernel: r's write and read back (2 x 64 x 1024 x 4 B) were missing
    old = _fused_dynamic(chain, spec) + spec.idle_power_w * pred.latency_s
    missing = 2 * ROWS * COLS * 4 * spec.energy_pj_per_byte["dram"] * 1e-12
    assert pred.energy_j - old == pytest.approx(missing, rel=1e-9)


def test_precision_override_prices_the_launches_at_it(chain):
    """Under ``--precision fp16`` the launches' costs are fp16 ones (2 B per element) and so is their energy."""
    spec = load_spec("t4")
    pred = predict_on(chain, spec, "fp16")
    assert [kp.kernel.cost.bytes_total for kp in pred.kernels] == [2 * ROWS * COLS * 2] * 2
    launched = sum(energy_dynamic_j(kp.kernel.cost, spec, "fp16") for kp in pred.kernels)
    assert pred.energy_j == launched + spec.idle_power_w * pred.latency_s


def test_a_fused_runtime_keeps_tvm_kernels(chain):
    """``--runtime tvm`` on a GPU launches TVM's kernels: the energy is theirs, figure for figure."""
    spec = load_spec("t4")
    pred = predict_on(chain, spec, runtime="tvm")
    assert pred.execution.launches == len(chain.kernels) == 1
    assert pred.energy_j == _fused_dynamic(chain, spec) + spec.idle_power_w * pred.latency_s


def test_cpu_learned_energy_keeps_tvm_kernels(chain):
    """A CPU sheet's learned model corrects TVM's kernels: its energy is their dynamic part, in kernel order."""
    spec = load_spec("host-epyc-1c")
    pred = predict_on(chain, spec)
    assert [kp.kernel for kp in pred.kernels] == list(chain.kernels)
    want = _fused_dynamic(chain, spec) + spec.idle_power_w * pred.latency_s
    assert pred.energy_j == min(want, spec.max_power_w * pred.latency_s)


def test_resnet_like_t4_batch_64_reported_case():
    """The reported case: 12.674 mJ (fused kernels) now 14.788 mJ (its 22 launches), latency unchanged."""
    spec = load_spec("t4")
    pred = Session().predict(str(EXAMPLES / "resnet_like.onnx"), "t4", batch=64)
    assert pred.execution.launches == 22
    launched = launched_dynamic_energy_j(pred.kernels)
    assert pred.energy_j == launched + spec.idle_power_w * pred.latency_s
    assert pred.energy_j * 1e3 == pytest.approx(14.788, abs=5e-4)
    assert (_fused_dynamic(pred.analyzed, spec) + spec.idle_power_w * pred.latency_s) * 1e3 == \
        pytest.approx(12.674, abs=5e-4)


def test_energy_within_the_power_bounds_on_every_sheet(chain):
    """idle W x latency <= energy <= max W x latency on every shipped sheet, for a model whose launches move more
    bytes than its fused kernel."""
    for dev in available_devices():
        spec = load_spec(dev)
        prec = None if "fp32" in spec.peak_flops_per_s else "int8"  # the NPUs compute int8 only
        pred = predict_on(chain, spec, prec)
        lo, hi = spec.idle_power_w * pred.latency_s, spec.max_power_w * pred.latency_s
        assert lo <= pred.energy_j <= hi * (1 + 1e-12), dev


def test_block_table_energy_follows_the_launches():
    """A variant priced from the table has the session's energy (``==``): its launches' dynamic energy in launch
    order plus idle W x latency; the GPU stays a table device (a difference would send it through the session)."""
    from benchmarks.nas_sweep import Arch, block_keys, build_blocks
    from sweep_variants import SMALL

    from hybridperf.block_table import BlockTable

    table = BlockTable(["t4"])
    for i in (0, 1):
        table.predict(block_keys(Arch(*SMALL[i])), lambda i=i: build_blocks(Arch(*SMALL[i]), i))
    mixed = Arch(64, (2, 2, 2, 2, 2), ((5, 3), (3, 5), (3, 5), (3, 5), (3, 5)),
                 ((4, 3), (3, 4), (3, 4), (3, 4), (3, 4)))  # test_block_table's MIXED: blocks of SMALL[0] and [1]
    got = table.predict(block_keys(mixed), lambda: pytest.fail("a known variant must not be built"))["t4"]
    assert table.table_devices() == ("t4",) and got.from_table
    s = Session(keep_analyses=0)
    pred = s.predict_on(s.analyze(build_blocks(mixed, 7)[0]), "t4")
    spec = load_spec("t4")
    assert got.energy_j == pred.energy_j == launched_dynamic_energy_j(pred.kernels) + spec.idle_power_w * pred.latency_s
    assert got.latency_s == pred.latency_s
    [many] = table.predict_many([(block_keys(mixed), lambda: pytest.fail("known"))])
    assert many["t4"] == got


# --------------------------------------------------------------------------- the H100 energy fit on launch bytes


def _write_csv(path, rows):
    import csv

    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_launch_bytes_row_counts_eager_launches_and_fused_kernels(chain):
    from benchmarks import energy_calibration as ec

    fp32 = ec.launch_bytes_row(chain, "chain_b1_x_fp32", "fp32")
    # two launches of 2 x 64 x 1024 float32 each; one fused kernel reading x and writing y
    assert fp32 == {"key": "chain_b1_x_fp32", "launches": 2, "launch_bytes": 2 * 2 * ROWS * COLS * 4,
                    "fused_bytes": 2 * ROWS * COLS * 4}
    fp16 = ec.launch_bytes_row(chain, "chain_b1_x_fp16", "fp16")  # priced under --precision fp16: 2 B an element
    assert (fp16["launch_bytes"], fp16["fused_bytes"]) == (2 * 2 * ROWS * COLS * 2, 2 * ROWS * COLS * 2)


def test_count_launch_bytes_writes_each_featurized_row_once(chain, tmp_path, monkeypatch):
    """Each measured configuration with features is exported (here: a saved model) and analysed once, and a rerun
    skips what the file has."""
    import benchmarks.zoo
    from benchmarks import energy_calibration as ec

    exported = []
    monkeypatch.setattr(benchmarks.zoo, "export", lambda name, **kw: exported.append((name, kw)) or chain.source)
    feats = _write_csv(tmp_path / "features.csv", [{"key": "chain_b1_128_fp32"}, {"key": "chain_b1_128_fp16"}])
    meas = [{"model": "chain", "batch": "1", "resolution": "", "seq_len": "128", "dtype": d, "status": "ok"}
            for d in ("fp32", "fp16")]
    meas.append({**meas[0], "model": "other"})  # no features: not counted
    measured = _write_csv(tmp_path / "eager.csv", meas)
    out = tmp_path / "launch_bytes.csv"
    assert ec.count_launch_bytes(out, feats, measured) == 2
    assert exported == [("chain", {"batch": 1, "resolution": None, "seq_len": 128})]
    assert ec.read_launch_bytes(out) == {"chain_b1_128_fp16": 2 * 2 * ROWS * COLS * 2,
                                         "chain_b1_128_fp32": 2 * 2 * ROWS * COLS * 4}
    assert ec.count_launch_bytes(out, feats, measured) == 0 and len(exported) == 1


def test_load_rows_takes_the_launch_bytes_and_leaves_out_rows_without(tmp_path):
    import math

    from benchmarks import energy_calibration as ec

    feat = {"key": "", "family": "f", "log_flops": math.log(2e9), "log_bytes": math.log(1e8), "predicted_energy_j": 1}
    feats = _write_csv(tmp_path / "features.csv", [{**feat, "key": "a_b1_128_fp32"}, {**feat, "key": "b_b1_128_fp32"}])
    m = {"model": "a", "batch": "1", "resolution": "", "seq_len": "128", "dtype": "fp32", "status": "ok",
         "energy_j": "0.5", "throughput_latency_s": "0.001"}
    eager = _write_csv(tmp_path / "eager.csv", [m, {**m, "model": "b"}])
    fused = ec.load_rows(feats, {"eager": eager})
    assert [r.dram_bytes for r in fused] == [pytest.approx(1e8)] * 2
    launched = ec.load_rows(feats, {"eager": eager}, launch_bytes={"a_b1_128_fp32": 3e8})
    assert [(r.key, r.dram_bytes) for r in launched] == [("a_b1_128_fp32", 3e8)]
    assert launched[0].macs == pytest.approx(1e9)  # 2e9 FLOP / 2


@pytest.mark.parametrize("argv, said", [
    (["--write-spec", "--bytes", "fused"], "error: --write-spec takes the fit on launch bytes"),
    (["--bytes", "launches"], "error: no launch bytes in benchmarks/results/energy_h100_launch_bytes.csv; run"),
])
def test_energy_calibration_refuses_a_fit_the_pipeline_does_not_price(argv, said, tmp_path, monkeypatch, capsys):
    from benchmarks import energy_calibration as ec

    monkeypatch.setattr(ec, "LAUNCH_BYTES", ec.ROOT / "benchmarks" / "results" / "energy_h100_launch_bytes.csv")
    monkeypatch.setattr(ec, "read_launch_bytes", lambda path=None: {})
    spec_before = ec.MEASURED_SPEC.read_text()
    assert ec.main([*argv, "--out", str(tmp_path / "out.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count("\n") == 1
    assert not (tmp_path / "out.md").exists() and ec.MEASURED_SPEC.read_text() == spec_before
