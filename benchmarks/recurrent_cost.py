"""Recurrent networks (ONNX LSTM / GRU / RNN, importable since 2026-12-07): predicted against measured.

Until 2026-12-07 every ONNX model with an ``LSTM``, ``GRU`` or ``RNN`` node exited 2 ("TVM's ONNX frontend cannot
import"); :mod:`hybridperf.frontends.recurrent` unrolls them. How good the unrolled pricing is on a CPU under
onnxruntime, whose ``DeepCPU`` kernels run each layer as one node, is measured here on the networks of
:mod:`benchmarks.recurrent_models` (written by others: PyTorch's word-language-model example, Hugging Face Encodec
and Parakeet's RNN-T decoder). No training row holds a recurrent layer; nothing is fitted to these figures.

Protocol (plan (14) of CHANGELOG 2026-12-07, written before any timing):

1. ``predict``: the packaged CPU model's prediction of every export on this CPU's shipped sheets
   (:data:`SETTINGS`), stored in ``<run>/predictions.csv`` before anything is timed;
2. the product's own measurement, ``hybridperf calibrate --device SHEET --measure .zoo/recurrent --rounds 8
   --out <run>/<setting>`` (interleaved rounds with the host speed index, ``lscpu`` and versions recorded; 1 thread
   pinned to one core, 2 threads on both);
3. ``report``: stored predictions against each run's fastest timed run (the CPU label ``latency_min_s``), MAPE and
   share within +-10 %, with the split-half test-retest of the same runs (the second half of the rounds against the first).

Plans (15) / (15b) / (16) repeat steps 1-3 on the sets ``--set check`` and ``--set edge`` of
:mod:`benchmarks.recurrent_models` (runs ``calibration/host-epyc-zen4-recurrent-check`` / ``-edge``, reports
``benchmarks/results/recurrent_check.md`` / ``recurrent_edge.md``); ``probe-llc`` measured the Zen 4 sheets' LLC
rate and ``sweep-llc`` the weight sizes the LLC holds (``llc_probe.csv``, ``llc_sweep.csv`` of the first run).

Usage::

    python -m benchmarks.recurrent_cost predict --run calibration/host-epyc-zen4-recurrent
    taskset -c 1 hybridperf calibrate --device host-epyc-zen4-1c --measure .zoo/recurrent --rounds 8 \\
        --out calibration/host-epyc-zen4-recurrent/host-epyc-zen4-1c
    hybridperf calibrate --device host-epyc-zen4-2c --measure .zoo/recurrent --rounds 8 \\
        --out calibration/host-epyc-zen4-recurrent/host-epyc-zen4-2c
    python -m benchmarks.recurrent_cost report --run calibration/host-epyc-zen4-recurrent \\
        > benchmarks/results/recurrent_cost.md
"""

from __future__ import annotations

import argparse
import csv
import datetime
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from hybridperf.frontends.recurrent import RECURRENT_OPS

#: the shipped sheets of this development host's CPU (AMD EPYC Zen 4, 1 and 2 threads)
SETTINGS = ("host-epyc-zen4-1c", "host-epyc-zen4-2c")
ZOO = Path(".zoo") / "recurrent"
PREDICTIONS = "predictions.csv"
FIELDS = ["model", "device", "predicted_s", "predicted_no_l2_s", "predicted_learned_s", "predicted_no_llc_s",
          "roofline_s", "flops", "kernels", "recurrent_nodes", "calibration", "hybridperf", "date_utc"]


LLC_PROBE = "llc_probe.csv"
LLC_FIELDS = ["round", "threads", "llc_bytes", "weight_bytes", "fastest_s", "bytes_per_s"]


def probe_llc(run: Path, rounds: int = 3, threads: Sequence[int] = (1, 2)) -> Path:
    """Time :func:`hybridperf.measure.probe.llc_reread` (the rate a sheet's ``memory.llc.bandwidth`` gives) ``rounds``
    times at each thread count, alternating, on this machine's LLC; rows appended to ``<run>/llc_probe.csv`` with
    the host's columns (``lscpu`` in ``<run>/lscpu.txt``). Run 1 thread pinned (``taskset -c 1``): the 2-thread
    sessions then run on that core alone, so pass ``--threads 2`` unpinned separately."""
    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import _llc_bytes, llc_reread, read_caches

    host = start(run)
    llc = _llc_bytes(read_caches())
    out = run / LLC_PROBE
    for r in range(rounds):
        for t in threads:
            f = llc_reread(llc, threads=t)
            append_rows(out, LLC_FIELDS + HOST_FIELDS, [{"round": r, "threads": t, "llc_bytes": llc,
                                                         "weight_bytes": f.weight_bytes, "fastest_s": f.fastest_s,
                                                         "bytes_per_s": f.bytes_per_s, **host_columns(host)}])
    return out


L2_PROBE = "l2_probe.csv"
L2_FIELDS = ["round", "threads", "l2_bytes", "weight_bytes", "small_weight_bytes", "step_s", "small_step_s",
             "bytes_per_s"]


def probe_l2(run: Path, rounds: int = 3, threads: Sequence[int] = (1, 2)) -> Path:
    """Time :func:`hybridperf.measure.probe.l2_reread` (the rate a CPU sheet's ``memory.l2.bandwidth`` gives since
    plan (18c)) ``rounds`` times at each thread count, alternating, on the L2 caches of that many cores; rows
    appended to ``<run>/l2_probe.csv`` with the host's columns. Pin as :func:`probe_llc` says."""
    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import l2_reread, read_caches

    host = start(run)
    l2 = next(c.size_bytes for c in read_caches() if c.level == 2 and c.type in ("Data", "Unified"))
    out = run / L2_PROBE
    for r in range(rounds):
        for t in threads:
            f = l2_reread(l2 * t, threads=t)
            append_rows(out, L2_FIELDS + HOST_FIELDS, [{
                "round": r, "threads": t, "l2_bytes": l2 * t, "weight_bytes": f.weight_bytes,
                "small_weight_bytes": f.small_weight_bytes, "step_s": f.step_s, "small_step_s": f.small_step_s,
                "bytes_per_s": f.bytes_per_s, **host_columns(host)}])
    return out


NODE_STEPS = "node_steps.csv"
NODE_STEP_FIELDS = ["round", "threads", "case", "kind", "units", "batch", "steps", "fastest_s"]
#: plan (18)'s exploration (``steps``): the small set's layers (kind, units, batch), timed as onnxruntime nodes
STEP_LAYERS = (("LSTM", 128, 1), ("LSTM", 192, 1), ("LSTM", 320, 1), ("LSTM", 320, 4), ("GRU", 384, 1),
               ("GRU", 192, 4))
STEP_LENGTHS = (8, 64)


def _layer_model(kind: str, units: int, batch: int, steps: int) -> bytes:
    """An ONNX ``LSTM`` / ``GRU`` node as ``torch.onnx.export`` writes ``nn.LSTM`` / ``nn.GRU`` (input size = units,
    both biases, ``linear_before_reset`` for a GRU, zero initial state), random weights."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from hybridperf.measure.probe import _onnx_model

    g = {"LSTM": 4, "GRU": 3}[kind]
    rng = np.random.default_rng(units * batch)
    scale = 1.0 / units ** 0.5
    inits = [numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)
             for name, shape in (("W", (1, g * units, units)), ("R", (1, g * units, units)), ("B", (1, 2 * g * units)))]
    attrs = {"hidden_size": units, **({"linear_before_reset": 1} if kind == "GRU" else {})}
    return _onnx_model([helper.make_node(kind, ["X", "W", "R", "B"], ["Y"], **attrs)],
                       [helper.make_tensor_value_info("X", TensorProto.FLOAT, [steps, batch, units])],
                       [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [steps, 1, batch, units])], inits)


def _matmul_model(m: int, k: int, n: int) -> bytes:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from hybridperf.measure.probe import _onnx_model

    w = np.random.default_rng(k * n).standard_normal((k, n)).astype(np.float32)
    return _onnx_model([helper.make_node("MatMul", ["X", "W"], ["Y"])],
                       [helper.make_tensor_value_info("X", TensorProto.FLOAT, [m, k])],
                       [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])], [numpy_helper.from_array(w, "W")])


def node_steps(run: Path, threads: int, rounds: int = 4, runs: int = 300, seed: int = 18) -> Path:
    """Plan (18)'s exploration: each of :data:`STEP_LAYERS` as one onnxruntime node over :data:`STEP_LENGTHS` steps,
    its input product (``[64 x batch, units] x [units, gates x units]``) and one step product
    (``[batch, units] x [units, gates x units]``) as lone MatMuls; the fastest of ``runs`` runs in each of
    ``rounds`` shuffled rounds, rows appended to ``<run>/node_steps.csv``. A layer's time a step is the slope
    between the lengths; less its input product's share a step, the step's product and gates."""
    import random

    import numpy as np

    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import _best_seconds, _ort_session

    host = start(run)
    cases = []
    for kind, units, batch in STEP_LAYERS:
        g = {"LSTM": 4, "GRU": 3}[kind]
        for t in STEP_LENGTHS:
            cases.append((f"{kind.lower()}_h{units}_b{batch}_t{t}", kind, units, batch, t,
                          _layer_model(kind, units, batch, t), (t, batch, units)))
        cases.append((f"input_product_{kind.lower()}_h{units}_b{batch}", "MatMul", units, batch, max(STEP_LENGTHS),
                      _matmul_model(max(STEP_LENGTHS) * batch, units, g * units), (max(STEP_LENGTHS) * batch, units)))
        cases.append((f"step_product_{kind.lower()}_h{units}_b{batch}", "MatMul", units, batch, 1,
                      _matmul_model(batch, units, g * units), (batch, units)))
    out = run / NODE_STEPS
    order = random.Random(seed)
    for r in range(rounds):
        order.shuffle(cases)
        for name, kind, units, batch, steps, model, shape in cases:
            sess = _ort_session(model, threads=threads)
            feed = {sess.get_inputs()[0].name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
            best = _best_seconds(lambda: sess.run(None, feed), runs, warmup=20)
            append_rows(out, NODE_STEP_FIELDS + HOST_FIELDS, [{
                "round": r, "threads": threads, "case": name, "kind": kind, "units": units, "batch": batch,
                "steps": steps, "fastest_s": best, **host_columns(host)}])
    return out


LLC_SWEEP = "llc_sweep.csv"
#: the weight sizes :func:`sweep_llc` times (MiB)
SWEEP_MIB = (2, 4, 8, 12, 16, 20, 24, 28, 32, 40, 64)


def sweep_llc(run: Path, threads: int, sizes_mib: Sequence[int] = SWEEP_MIB, rounds: int = 3) -> Path:
    """Where the LLC stops holding a re-read weight: :func:`hybridperf.measure.probe.llc_reread`'s product with
    weights of ``sizes_mib`` (``rounds`` passes over the sizes, interleaved), rows appended to
    ``<run>/llc_sweep.csv``."""
    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import _llc_bytes, llc_reread, read_caches

    host = start(run)
    llc = _llc_bytes(read_caches())
    out = run / LLC_SWEEP
    for r in range(rounds):
        for mib in sizes_mib:
            f = llc_reread(4 * mib * 2**20, threads=threads, runs=100)
            append_rows(out, LLC_FIELDS + HOST_FIELDS, [{"round": r, "threads": threads, "llc_bytes": llc,
                                                         "weight_bytes": f.weight_bytes, "fastest_s": f.fastest_s,
                                                         "bytes_per_s": f.bytes_per_s, **host_columns(host)}])
    return out


def recurrent_nodes(path: Path) -> str:
    """``"LSTM x2"``-style count of the recurrent nodes of an ONNX file (its graph only, weights not read)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    counts: dict[str, int] = {}
    for n in model.graph.node:
        if n.op_type in RECURRENT_OPS:
            counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return " ".join(f"{k} x{v}" for k, v in sorted(counts.items()))


def without_rate(spec, level: str):
    """``spec`` without the rate of its memory ``level`` (``memory.<level>.bandwidth``; the learned model reads cache
    capacities, not rates, so nothing else changes): ``"llc"``, every recurrent re-read priced from DRAM, as before
    plan (15); ``"l2"``, none at the cores' L2, as before plan (17)."""
    from dataclasses import replace
    from types import MappingProxyType

    got = spec.memory.get(level)
    if got is None:
        return spec
    bare = replace(got, bandwidth_bytes_per_s=None, attainable_bandwidth_bytes_per_s=None)
    return replace(spec, memory=MappingProxyType({**spec.memory, level: bare}))


def without_llc_rate(spec):
    """:func:`without_rate` of the LLC."""
    return without_rate(spec, "llc")


def without_l2_rate(spec):
    """:func:`without_rate` of the L2."""
    return without_rate(spec, "l2")


def learned_recurrent(analyzed):
    """``analyzed`` with no record marked as unrolled from a recurrent node: the learned model prices those kernels
    as any other (plan (15) without (15b)); their re-read weights stay marked."""
    from dataclasses import replace

    records = tuple(replace(r, recurrent_node="") for r in analyzed.analysis.records)
    return replace(analyzed, analysis=replace(analyzed.analysis, records=records))


def predict(run: Path, zoo: Path = ZOO, settings: Sequence[str] = SETTINGS, name: str = PREDICTIONS) -> Path:
    """Store the packaged model's predictions of every export of ``zoo`` on each sheet of ``settings`` in
    ``run / name``: as the product prices them (``predicted_s``: recurrent kernels at their roofline, the re-read
    weights of a layer that fits the cores' L2 caches at their rate, else of one that fits the LLC at its rate),
    without the L2 level (``predicted_no_l2_s``: plan (16)'s product), with the learned model on those kernels
    (``predicted_learned_s``: plan (15)) and as before plan (15) (``predicted_no_llc_s``: that and the sheet
    without its LLC rate). The edge set's stored file also has ``predicted_step_s``: plan (15b)'s rule, written
    while the product priced plan (16)'s share (all up to half the LLC, none from all of it), with the LLC capacity
    doubled so that the share was 1 up to the real capacity (exact there: every kernel of those single layers is
    priced at its roofline, none by the learned model, which reads the capacity); the product has priced (15b)'s
    rule again since (16) was rejected."""
    from hybridperf import __version__
    from hybridperf.api import analyze, predict_on
    from hybridperf.device.spec import load_spec

    run.mkdir(parents=True, exist_ok=True)
    out = run / name
    rows = []
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    for path in sorted(zoo.glob("*.onnx")):
        analyzed = analyze(path)
        for device in settings:
            p = predict_on(analyzed, device)
            no_l2 = predict_on(analyzed, without_l2_rate(load_spec(device)))
            learned = predict_on(learned_recurrent(analyzed), without_l2_rate(load_spec(device)))
            bare = predict_on(learned_recurrent(analyzed), without_l2_rate(without_llc_rate(load_spec(device))))
            rows.append({"model": path.stem, "device": device, "predicted_s": p.latency_s,
                         "predicted_no_l2_s": no_l2.latency_s,
                         "predicted_learned_s": learned.latency_s,
                         "predicted_no_llc_s": bare.latency_s,
                         "roofline_s": p.roofline_latency_s, "flops": analyzed.analysis.flops,
                         "kernels": len(analyzed.kernels), "recurrent_nodes": recurrent_nodes(path),
                         "calibration": p.calibration, "hybridperf": __version__, "date_utc": now})
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(rows)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def measured(setting_dir: Path) -> dict[str, float]:
    """model stem -> fastest timed run (``latency_min_s``) of a ``calibrate --measure`` run's measurements."""
    from hybridperf.residual.model import CPU_TARGET

    rows = _rows(setting_dir / "calibration" / "measurements.csv")
    return {Path(r["model"]).stem: float(r[CPU_TARGET]) for r in rows}


def split_half(setting_dir: Path) -> tuple[float, float] | None:
    """Split-half test-retest (the fastest run of the second half of the rounds against the first half's) of a run:
    (MAPE %, share within +-3 %); None where it has fewer than two rounds."""
    from hybridperf.measure.rounds import split_half_min

    stats = split_half_min(_rows(setting_dir / "calibration" / "measurements.csv"))
    return None if stats is None else (100 * stats.mape, 100 * dict(stats.within)[0.03])


def _pct(v: float) -> str:
    return f"{v:+.1f} %"


#: plan (18)'s run: its directories (a retest of each thread count after the first runs, planned at 02:39 UTC; two
#: more 2-thread runs, plan (19)), the
#: predictions stored at each stage of the plan and the columns scored
STEPS_RUN = "host-epyc-zen4-recurrent-steps"
STEPS2_RUN = "host-epyc-zen4-recurrent-steps2"
RUN_OPTIONS = {STEPS_RUN: {
    "settings": ("host-epyc-zen4-1c", "host-epyc-zen4-1c-retest", "host-epyc-zen4-2c", "host-epyc-zen4-2c-retest",
                 # plan (19) of CHANGELOG 2026-12-07 (02:41 UTC): the decision on (18) at 2 threads
                 "host-epyc-zen4-2c-r3", "host-epyc-zen4-2c-r4"),
    "extra": (("predictions_18ab.csv", "(18a) + (18b)"), ("predictions_18a.csv", "(18a): splits as views"),
              ("predictions_shipped.csv", "before (18)")),
    "columns": ("predicted_s", "extra:(18a) + (18b)", "extra:(18a): splits as views", "extra:before (18)")},
    # plan (20) of CHANGELOG 2026-12-07 (03:00 UTC): (18) judged again on a new set, runs gated on their steadiness;
    # stored while (18) was reverted (plan (19)); (18) reinstated by this plan
    STEPS2_RUN: {"settings": ("host-epyc-zen4-1c", "host-epyc-zen4-1c-r2", "host-epyc-zen4-2c"),
                 "extra": (("predictions_18.csv", "with (18)"),), "columns": ("extra:with (18)", "predicted_s"),
                 "labels": {"predicted_s": "without (18)"}}}

#: what a run's report says of itself, by the run's directory name
ABOUT = {
    "host-epyc-zen4-recurrent-small": ("Plan (17): the small set (`--set small`); the stored *product* column has the "
                                       "cores' L2 level, *before (17)* does not."),
    STEPS_RUN: ("Plan (18): the steps set (`--set steps`). The stored *product* column is (18) whole (the splits "
                "as views, no dispatch for the kernels a recurrent node runs inside itself on a CPU, the L2 re-read "
                "rate from onnxruntime's LSTM); the others were stored at each stage, all before any timing. The "
                "`-retest` runs were planned after the first runs (the 2-thread one was unsteady), before they ran; "
                "`-r3` / `-r4` are plan (19)'s, which reverted (18) (not lower on both); plan (20) reinstated it. "
                "The node tables are priced now (the product's pricing when the report was written)."),
    STEPS2_RUN: ("Plan (20): (18) judged again on a new set (`--set steps2`), a run counting only where its "
                 "split-half test-retest is within 3 % (an unsteady one measured again, at most twice: the first "
                 "1-thread run was, `-r2` is its repeat). *with (18)* and *without (18)* (the product between plans "
                 "(19) and (20)) were both stored before any timing; (18) won on the first steady run of both thread "
                 "counts and is the product again. The node tables are priced now (with (18))."),
    "host-epyc-zen4-recurrent": "Plan (14): the networks of `benchmarks.recurrent_models` (`--set networks`).",
    "host-epyc-zen4-recurrent-check": ("Plans (15) / (15b): the check set (`--set check`); the stored *product* "
                                       "column is (15b); the section priced after the runs adds plan (17)'s L2 "
                                       "level, the product since."),
    "host-epyc-zen4-recurrent-edge": (
        "Plan (16): the edge set (`--set edge`). The stored *product* column is plan (16)'s share (all of a step's "
        "weights from the LLC up to half of it, none from all of it, linearly between), the product while the file "
        "was written; the *(15b)'s rule* column is the product's pricing again since (16) failed its plan at 2 "
        "threads. The node tables are priced now (that rule)."),
}

#: the prediction columns a report scores, where the predictions file has them: column -> heading
COLUMNS = {"predicted_s": "product", "predicted_no_l2_s": "before (17): no L2 level", "predicted_step_s": "(15b)'s rule: all of a step's weights from the LLC where they fit it",
           "predicted_learned_s": "(15): learned on recurrent kernels",
           "predicted_no_llc_s": "before (15): DRAM every step"}


def _stats(pred: Mapping[str, float], truth: Mapping[str, float]) -> tuple[float, float, float]:
    """(MAPE %, share within +-10 % in %, median error %) of ``pred`` against ``truth`` over their shared keys."""
    errs = [pred[k] / truth[k] - 1 for k in pred if k in truth]
    ape = [abs(e) for e in errs]
    return 100 * statistics.mean(ape), 100 * sum(a <= 0.10 for a in ape) / len(ape), 100 * statistics.median(errs)


def node_times(setting_dir: Path) -> dict[tuple[str, str], float]:
    """(model, ONNX node) -> onnxruntime's median profiled time of each recurrent node of a ``calibrate --measure``
    run (its ``calibration/profile.csv``)."""
    times: dict[tuple[str, str], list[float]] = {}
    for r in _rows(setting_dir / "calibration" / "profile.csv"):
        if r["op_type"] in RECURRENT_OPS:
            times.setdefault((r["key"], r["graph_node"] or r["node"]), []).append(float(r["duration_s"]))
    return {k: statistics.median(v) for k, v in times.items()}


def node_predictions(zoo: Path, model: str, device: str) -> dict[str, tuple[float, float, float]]:
    """ONNX recurrent node -> (the product's time of its kernels, the learned model's ((15)), their roofline from
    DRAM (before (15))) of ``zoo / model.onnx`` on ``device``."""
    from hybridperf.api import analyze, predict_on
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.pricing import price

    analyzed = analyze(zoo / f"{model}.onnx")
    records = analyzed.analysis.records
    spec = load_spec(device)
    bare = without_llc_rate(spec)
    product = predict_on(analyzed, spec)
    learned = predict_on(learned_recurrent(analyzed), spec)
    out: dict[str, list[float]] = {}
    for kp, kl in zip(product.kernels, learned.kernels):
        nodes = {records[j].recurrent_node for j in kp.kernel.op_indices} - {""}
        if len(nodes) != 1 or not kp.kernel.counts_toward_time:
            continue
        k = kp.kernel
        sums = out.setdefault(nodes.pop(), [0.0, 0.0, 0.0])
        sums[0] += kp.latency_s
        sums[1] += kl.latency_s
        sums[2] += price(k.cost, k.precision, bare).latency_s
    return {n: (a, b, c) for n, (a, b, c) in out.items()}


def _with_extra(rows: list[dict[str, str]], run: Path, extra: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """``rows`` with the ``predicted_s`` of each ``(file, heading)`` of ``extra`` (predictions stored under ``run``
    before the same timing, at an earlier stage of a plan) as the column ``extra:<heading>``."""
    for name, heading in extra:
        got = {(r["model"], r["device"]): r["predicted_s"] for r in _rows(run / name)}
        for r in rows:
            r[f"extra:{heading}"] = got.get((r["model"], r["device"]), "")
    return rows


def _device(setting: str) -> str:
    """The sheet a run directory measured: ``host-epyc-zen4-2c-retest`` / ``-r3`` -> ``host-epyc-zen4-2c``."""
    import re

    return re.sub(r"-(retest|r\d+)$", "", setting)


def report(run: Path, settings: Sequence[str] = SETTINGS, zoo: Path = ZOO, stored_name: str = PREDICTIONS,
           now_name: str | None = None, heading: str = "", about: str = "",
           extra: Sequence[tuple[str, str]] = (), columns: Sequence[str] | None = None,
           labels: Mapping[str, str] | None = None) -> str:
    """Stored predictions (``run / stored_name``, with ``extra`` files' as more columns; ``now_name``: predictions
    made after the runs, reported apart as not blind) against each setting's ``calibrate --measure`` run (a
    ``<sheet>-retest`` directory: that sheet's predictions again), and each recurrent node's profiled time against its
    kernels' prediction. ``columns``: the prediction columns scored (default: :data:`COLUMNS` the file has);
    ``labels``: headings of columns other than :data:`COLUMNS` gives."""
    stored = _with_extra(_rows(run / stored_name), run, extra)
    now = _rows(run / now_name) if now_name else []
    heads = {**COLUMNS, **{f"extra:{h}": h for _, h in extra}, **(labels or {})}
    wanted = list(columns) if columns is not None else list(COLUMNS)
    lines = [heading or "# Recurrent networks: stored predictions against the product's measurement", "",
             "Reproduce: see the docstring of `benchmarks/recurrent_cost.py` (predict, the two `hybridperf calibrate "
             "--measure` runs, report).", "",
             (f"Predictions stored in `{run / stored_name}` before any timing; measured by `hybridperf calibrate "
              "--measure` (8 interleaved rounds, onnxruntime, `lscpu` in each run's `calibration/`); label: the "
              "fastest timed run. Error = predicted / measured - 1. Columns: *product*, as `hybridperf predict` "
              "prices them when the file was written; *(15)*, the learned model on the recurrent kernels, their "
              "re-read weights at the LLC rate; *before (15)*, every step's weight from DRAM (the product until "
              "2026-12-07)."), ""]
    if now_name:
        lines += [f"`{run / now_name}`: the same networks priced after plan (15) / (15b) were built, from what these "
                  "runs showed: not blind, reported apart.", ""]
    if about:
        lines += [about, ""]
    for setting in settings:
        d = run / setting
        if not (d / "calibration" / "measurements.csv").exists():
            lines += [f"## {setting}: not measured", ""]
            continue
        truth = measured(d)
        for title, rows in (("stored before timing", stored), ("priced after the runs (not blind)", now)):
            mine = {r["model"]: r for r in rows if r["device"] == _device(setting) and r["model"] in truth}
            if not mine:
                continue
            cols = [c for c in wanted if c in next(iter(mine.values())) and mine[next(iter(mine))].get(c)]
            lines += [f"## {setting}: {title}", "",
                      "| network | recurrent nodes | GFLOP | measured ms | "
                      + " | ".join(f"{heads[c]} ms (error)" for c in cols) + " |",
                      "|---|---|---:|---:|" + "---:|" * len(cols)]
            for k in sorted(mine):
                r = mine[k]
                cells = " | ".join(f"{float(r[c]) * 1e3:.2f} ({_pct(100 * (float(r[c]) / truth[k] - 1))})" for c in cols)
                lines.append(f"| `{k}` | {r['recurrent_nodes']} | {float(r['flops']) / 1e9:.2f} | "
                             f"{truth[k] * 1e3:.2f} | {cells} |")
            lines.append("")
            for c in cols:
                m, w, med = _stats({k: float(r[c]) for k, r in mine.items()}, truth)
                lines.append(f"- {heads[c]}: MAPE {m:.1f} % over {len(mine)} networks, {w:.0f} % within +-10 %, "
                             f"median error {_pct(med)}")
            lines.append("")
        sh = split_half(d)
        if sh is not None:
            lines += [f"Split-half test-retest of this run (the second half of the rounds against the first, fastest "
                      f"runs): MAPE {sh[0]:.1f} %, {sh[1]:.0f} % within +-3 %.", ""]
        nodes = node_times(d)
        if nodes:
            lines += [f"### {setting}: each recurrent node, onnxruntime's profile against its kernels", "",
                      "| network | node | profiled ms | product ms (error) | (15) ms (error) | before (15) roofline ms "
                      "(error) |", "|---|---|---:|---:|---:|---:|"]
            errs: dict[int, list[float]] = {0: [], 1: [], 2: []}
            for model in sorted({m for m, _ in nodes}):
                pred = node_predictions(zoo, model, _device(setting))
                for (m, node), t in sorted(nodes.items()):
                    if m != model or node not in pred:
                        continue
                    cells = []
                    for i, v in enumerate(pred[node]):
                        errs[i].append(v / t - 1)
                        cells.append(f"{v * 1e3:.3f} ({_pct(100 * (v / t - 1))})")
                    lines.append(f"| `{model}` | `{node}` | {t * 1e3:.3f} | " + " | ".join(cells) + " |")
            if errs[0]:
                lines += ["", "MAPE over the nodes: " + ", ".join(
                    f"{name} {100 * statistics.mean(abs(e) for e in errs[i]):.1f} %"
                    for i, name in enumerate(("product", "(15)", "before (15) roofline"))), ""]
    return "\n".join(lines)


#: the runs before plan (18) and their exports: run directory -> zoo
EARLIER = {"host-epyc-zen4-recurrent": ZOO, "host-epyc-zen4-recurrent-check": Path(".zoo") / "recurrent-check",
           "host-epyc-zen4-recurrent-edge": Path(".zoo") / "recurrent-edge",
           "host-epyc-zen4-recurrent-small": Path(".zoo") / "recurrent-small"}
AFTER_18 = "predictions_after18.csv"


def rescore(root: Path = Path("calibration"), earlier: Mapping[str, Path] = EARLIER) -> str:
    """The runs before plan (18) priced again as the product prices them now (``predict`` into each run's
    ``predictions_after18.csv``; not blind: their timings were known when (18) was built), against their stored
    predictions: a markdown section."""
    lines = ["## The sets measured before plan (18), priced again with it (not blind)", "",
             "| set | setting | stored (product then) MAPE | with (18) MAPE |", "|---|---|---:|---:|"]
    for name, zoo in earlier.items():
        run = root / name
        if not (run / AFTER_18).exists():
            predict(run, zoo, name=AFTER_18)
        stored, now = _rows(run / PREDICTIONS), _rows(run / AFTER_18)
        for setting in SETTINGS:
            truth = measured(run / setting)
            cells = []
            for rows in (stored, now):
                pred = {r["model"]: float(r["predicted_s"]) for r in rows if r["device"] == setting}
                cells.append(f"{_stats(pred, truth)[0]:.1f} %")
            lines.append(f"| `{name}` | {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("probe-llc", "sweep-llc", "probe-l2", "steps", "predict", "report"))
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="probe-llc / probe-l2 / steps: thread counts")
    p.add_argument("--run", type=Path, default=Path("calibration") / "host-epyc-zen4-recurrent")
    p.add_argument("--zoo", type=Path, default=ZOO)
    p.add_argument("--name", default=PREDICTIONS, help="predict: the file under --run to store them in")
    a = p.parse_args(argv)
    if a.step == "probe-llc":
        print(probe_llc(a.run, threads=a.threads))
    elif a.step == "probe-l2":
        print(probe_l2(a.run, threads=a.threads))
    elif a.step == "steps":
        for t in a.threads:
            print(node_steps(a.run, t))
    elif a.step == "sweep-llc":
        for t in a.threads:
            print(sweep_llc(a.run, t))
    elif a.step == "predict":
        print(predict(a.run, a.zoo, name=a.name))
    else:
        now = "predictions_now.csv" if (a.run / "predictions_now.csv").exists() else None
        text = report(a.run, zoo=a.zoo, now_name=now, about=ABOUT.get(a.run.name, ""), **RUN_OPTIONS.get(a.run.name, {}))
        print(text + ("\n" + rescore(a.run.parent) if a.run.name == STEPS_RUN else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
