"""Interleaved measurement rounds normalised by a host speed index: ground truth that reproduces.

On a shared host the same model measured twice a few hours apart can differ by more than 10 %:
neighbours change the core's clock, the shared last-level cache and the memory bandwidth. One
measurement per configuration cannot tell such a spell from the model. The protocol:

Rounds
    Round ``r`` measures every configuration once, in an order shuffled with a seed derived from
    ``(seed, r)`` (:func:`round_order`), so a slow spell hits different configurations in different
    rounds instead of one block of the plan.
Host speed index
    A fixed reference workload (:func:`reference_models`: a GEMM, a convolution and a streaming add,
    built in code with fixed shapes and seeded values, run by onnxruntime with the measurement's
    session options) is timed at the start and at the end of every round (:class:`ReferenceWorkload`).
    A timing's index is the geometric mean of its three kernels' medians, in seconds
    (:attr:`SpeedSample.index_s`); the round's index is the geometric mean of its start and end
    timings (:func:`round_speed_index`). A slower host has a larger index. Each timing also keeps every
    kernel's fastest run (:attr:`SpeedSample.index_min_s`; the round's smallest:
    :attr:`RoundResult.min_run_index_s`), to pair with a configuration's fastest run. On the 2-vCPU
    development host the streaming add follows DRAM contention from the other core much more than
    single-thread models do, so ``benchmarks/retest_cpu.py`` also normalises by the GEMM and conv runs alone.
Normalisation
    A latency in *reference units* is ``latency_s / index_s`` (:func:`normalise`): dimensionless, and
    comparable between runs on the same CPU taken at different host speeds.
Summary
    Per configuration over rounds (:func:`summarize`): median and minimum of the raw latency and of the
    normalised latency, and ``latency_norm_s`` = normalised median x the median index of all rounds
    summarised (seconds at this host's typical speed).
Test-retest
    :func:`retest` compares two figures per configuration (two halves of the rounds, or two runs hours
    apart): MAPE, median ratio, share within +-3 % and +-10 %.

Isolation
    Pin the process to a core that no other job is given (``taskset -c 1``), and where other people's
    unpinned processes may still be scheduled there, raise its priority (``nice -n -20``, as root;
    children inherit it): on the 2-vCPU development host a pinned measurement otherwise shared its core
    with whatever the scheduler moved there (one configuration ran 4x slower than in the round before).

The pure parts (order, speed index arithmetic, summary, retest) take plain values, so they are tested
without timing anything; :func:`run_round` is the driver that times.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hybridperf.errors import HybridperfError, InputError, error_line
from hybridperf.measure.onnxruntime import Measurement, csv_row

#: bump when the reference workload's shapes, values or timing change (indices are then not comparable)
REFERENCE_VERSION = 1
REFERENCE_SEED = 0
#: (M = K = N) of the reference GEMM
GEMM_SIZE = 512
#: (channels, height = width) of the reference 3x3 convolution, batch 1, padding 1
CONV_SHAPE = (64, 56)
#: float32 elements of each operand of the reference streaming add (3 x 16 MiB moved per run)
STREAM_ELEMENTS = 4 * 2**20
#: retest thresholds reported as "share within"
WITHIN = (0.03, 0.10)


# --------------------------------------------------------------------------- order


def round_order(keys: Iterable[str], round_index: int, seed: int = 0) -> list[str]:
    """The order in which round ``round_index`` measures ``keys``.

    Parameters
    ----------
    keys : iterable of str
        Configuration keys; their input order does not matter (they are sorted first).
    round_index : int
        The round, from 0.
    seed : int
        Run seed: the same ``(keys, round_index, seed)`` always gives the same order.

    Returns
    -------
    list of str
        Every key exactly once.
    """
    order = sorted(set(keys))
    random.Random(seed * 1_000_003 + round_index).shuffle(order)
    return order


# --------------------------------------------------------------------------- speed index


@dataclass(frozen=True)
class SpeedSample:
    """One timing of the reference workload: the median seconds of each reference kernel, and optionally
    the fastest run of each (``*_min_s``; 0 where not recorded)."""

    gemm_s: float
    conv_s: float
    stream_s: float
    date_utc: str = ""
    gemm_min_s: float = 0.0
    conv_min_s: float = 0.0
    stream_min_s: float = 0.0

    @property
    def index_s(self) -> float:
        """Geometric mean of the three kernels' medians (seconds)."""
        return geometric_mean((self.gemm_s, self.conv_s, self.stream_s))

    @property
    def index_min_s(self) -> float:
        """Geometric mean of the three kernels' fastest runs (seconds); :attr:`index_s` where not recorded."""
        lows = (self.gemm_min_s, self.conv_min_s, self.stream_min_s)
        return geometric_mean(lows) if min(lows) > 0 else self.index_s


def geometric_mean(values: Sequence[float]) -> float:
    """Geometric mean of positive values.

    Raises
    ------
    ValueError
        ``values`` is empty or holds a non-positive value.
    """
    if not values or min(values) <= 0:
        raise ValueError(f"geometric mean needs positive values, got {list(values)}")
    return math.exp(sum(math.log(v) for v in values) / len(values))


def round_speed_index(start: SpeedSample, end: SpeedSample) -> float:
    """A round's speed index (seconds): geometric mean of its start and end reference timings."""
    return geometric_mean((start.index_s, end.index_s))


def normalise(latency_s: float, index_s: float) -> float:
    """A latency in reference units: ``latency_s / index_s`` (dimensionless).

    Raises
    ------
    ValueError
        ``index_s`` is not positive.
    """
    if index_s <= 0:
        raise ValueError(f"speed index must be positive, got {index_s}")
    return latency_s / index_s


# --------------------------------------------------------------------------- reference workload


def reference_models() -> dict[str, Any]:
    """The reference kernels as ONNX models (``gemm``, ``conv``, ``stream``), built in code.

    Shapes are :data:`GEMM_SIZE`, :data:`CONV_SHAPE` and :data:`STREAM_ELEMENTS`; weights are drawn
    from a generator seeded with :data:`REFERENCE_SEED`, so every call returns the same models.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(REFERENCE_SEED)

    def model(name: str, node, x_shape: Sequence[int], y_shape: Sequence[int], inits) -> Any:
        graph = helper.make_graph(
            [node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y_shape))],
            [numpy_helper.from_array(a, n) for n, a in inits.items()])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)

    n = GEMM_SIZE
    c, hw = CONV_SHAPE
    e = STREAM_ELEMENTS
    return {
        "gemm": model("reference_gemm", helper.make_node("MatMul", ["x", "w"], ["y"]), (n, n), (n, n),
                      {"w": rng.standard_normal((n, n), dtype=np.float32)}),
        "conv": model("reference_conv", helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
                      (1, c, hw, hw), (1, c, hw, hw), {"w": rng.standard_normal((c, c, 3, 3), dtype=np.float32)}),
        "stream": model("reference_stream", helper.make_node("Add", ["x", "b"], ["y"]), (e,), (e,),
                        {"b": rng.standard_normal(e, dtype=np.float32)}),
    }


class ReferenceWorkload:
    """onnxruntime sessions of :func:`reference_models`, created once and timed on demand.

    Parameters
    ----------
    threads : int
        ``intra_op_num_threads``, as in the measurements the index normalises.
    runs : int
        Timed runs per kernel per timing (the median is kept).
    warmup : int
        Untimed runs per kernel before each timing.
    """

    def __init__(self, threads: int = 1, runs: int = 15, warmup: int = 3):
        self.threads = threads
        self.runs = runs
        self.warmup = warmup
        self._sessions: dict[str, Any] | None = None

    def _open(self) -> dict[str, Any]:
        import numpy as np
        import onnxruntime as ort

        from hybridperf.measure.onnxruntime import _session_options

        sessions = {}
        rng = np.random.default_rng(REFERENCE_SEED + 1)
        for name, m in reference_models().items():
            shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
            sess = ort.InferenceSession(m.SerializeToString(), _session_options(ort, self.threads),
                                        providers=["CPUExecutionProvider"])
            sessions[name] = (sess, {"x": rng.standard_normal(shape, dtype=np.float32)})
        return sessions

    def time(self) -> SpeedSample:
        """Time every reference kernel now (median of :attr:`runs` runs each)."""
        if self._sessions is None:
            self._sessions = self._open()
        medians, lows = {}, {}
        for name, (sess, feeds) in self._sessions.items():
            for _ in range(self.warmup):
                sess.run(None, feeds)
            times = []
            for _ in range(self.runs):
                t0 = time.perf_counter()
                sess.run(None, feeds)
                times.append(time.perf_counter() - t0)
            medians[name] = statistics.median(times)
            lows[name] = min(times)
        return SpeedSample(gemm_s=medians["gemm"], conv_s=medians["conv"], stream_s=medians["stream"],
                           date_utc=_now(), gemm_min_s=lows["gemm"], conv_min_s=lows["conv"],
                           stream_min_s=lows["stream"])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- one round


@dataclass(frozen=True)
class RoundResult:
    """What one round measured: the reference timings taken during it and one measurement per configuration.

    Attributes
    ----------
    round_index : int
    samples : tuple of SpeedSample
        Reference timings in the order taken: the first before the first configuration, the last after
        the last one, others in between (``reference_every``); at least two.
    measurements : tuple of (str, Measurement)
        ``(key, measurement)`` in the order measured.
    brackets : tuple of int
        For each measurement, the index in :attr:`samples` of the timing just before it (the one just
        after it is the next).
    failures : tuple of (str, str)
        ``(key, first line of the error)`` for configurations that could not be measured.
    """

    round_index: int
    samples: tuple[SpeedSample, ...]
    measurements: tuple[tuple[str, Measurement], ...] = ()
    brackets: tuple[int, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def start(self) -> SpeedSample:
        return self.samples[0]

    @property
    def end(self) -> SpeedSample:
        return self.samples[-1]

    @property
    def index_s(self) -> float:
        """The round's speed index: geometric mean of its start and end timings (:func:`round_speed_index`)."""
        return round_speed_index(self.start, self.end)

    @property
    def mean_index_s(self) -> float:
        """Geometric mean of every reference timing of the round."""
        return geometric_mean([x.index_s for x in self.samples])

    @property
    def min_index_s(self) -> float:
        """The fastest reference timing of the round (the host's best speed in it; pairs with minimum latencies)."""
        return min(x.index_s for x in self.samples)

    @property
    def min_run_index_s(self) -> float:
        """The fastest runs' index of the round: minimum over its timings of :attr:`SpeedSample.index_min_s`
        (pairs a configuration's fastest run with the reference's fastest runs)."""
        return min(x.index_min_s for x in self.samples)

    def local_index_s(self, position: int) -> float:
        """Speed index around measurement ``position``: geometric mean of the timings bracketing it."""
        b = self.brackets[position]
        return round_speed_index(self.samples[b], self.samples[b + 1])


def run_round(round_index: int, keys: Iterable[str], measure_one: Callable[[str, int], Measurement],
              reference: Callable[[], SpeedSample], seed: int = 0, reference_every: int | None = None,
              on_measured: Callable[[str, Measurement], None] | None = None) -> RoundResult:
    """Time the reference, measure every key once in :func:`round_order`, time the reference again.

    Parameters
    ----------
    round_index : int
    keys : iterable of str
        The configurations.
    measure_one : callable
        ``measure_one(key, round_index) -> Measurement``; a :class:`~hybridperf.errors.HybridperfError`
        it raises is recorded in :attr:`RoundResult.failures` and the round goes on.
    reference : callable
        Times the reference workload, e.g. :meth:`ReferenceWorkload.time`.
    seed : int
        Run seed for :func:`round_order`.
    reference_every : int, optional
        Also time the reference after every this many configurations (a local index per
        measurement: :meth:`RoundResult.local_index_s`). Default: only at the start and the end.
    on_measured : callable, optional
        Called with ``(key, measurement)`` after each configuration (progress).
    """
    samples = [reference()]
    done, brackets, failed = [], [], []
    order = round_order(keys, round_index, seed)
    for n, key in enumerate(order, start=1):
        try:
            m = measure_one(key, round_index)
        except HybridperfError as exc:
            failed.append((key, error_line(exc)))  # whole: cut at 200 until 2026-12-03, mid-word
        else:
            done.append((key, m))
            brackets.append(len(samples) - 1)
            if on_measured is not None:
                on_measured(key, m)
        if reference_every and n % reference_every == 0 and n < len(order):
            samples.append(reference())
    samples.append(reference())
    return RoundResult(round_index, tuple(samples), tuple(done), tuple(brackets), tuple(failed))


# --------------------------------------------------------------------------- rows

#: columns of a speed-index row (one per round)
SPEED_FIELDS = ("round", "reference_version", "start_utc", "end_utc", "start_gemm_s", "start_conv_s",
                "start_stream_s", "start_index_s", "end_gemm_s", "end_conv_s", "end_stream_s", "end_index_s",
                "speed_index_s", "samples", "mean_index_s", "min_index_s", "max_index_s", "drift",
                "min_run_index_s")


def speed_row(result: RoundResult, **extra: Any) -> dict[str, Any]:
    """The round's reference timings as one CSV row (``drift`` = end index / start index)."""
    s, e = result.start, result.end
    idx = [x.index_s for x in result.samples]
    return {"round": result.round_index, "reference_version": REFERENCE_VERSION, "start_utc": s.date_utc,
            "end_utc": e.date_utc, "start_gemm_s": s.gemm_s, "start_conv_s": s.conv_s, "start_stream_s": s.stream_s,
            "start_index_s": s.index_s, "end_gemm_s": e.gemm_s, "end_conv_s": e.conv_s, "end_stream_s": e.stream_s,
            "end_index_s": e.index_s, "speed_index_s": result.index_s, "samples": len(idx),
            "mean_index_s": result.mean_index_s, "min_index_s": min(idx), "max_index_s": max(idx),
            "drift": e.index_s / s.index_s, "min_run_index_s": result.min_run_index_s, **extra}


def sample_rows(result: RoundResult) -> list[dict[str, Any]]:
    """Every reference timing of the round, one row each (``round, sample, date_utc, *_s, index_s``, then the
    fastest runs ``*_min_s`` and ``index_min_s``)."""
    return [{"round": result.round_index, "sample": i, "date_utc": x.date_utc, "gemm_s": x.gemm_s, "conv_s": x.conv_s,
             "stream_s": x.stream_s, "index_s": x.index_s, "gemm_min_s": x.gemm_min_s, "conv_min_s": x.conv_min_s,
             "stream_min_s": x.stream_min_s, "index_min_s": x.index_min_s} for i, x in enumerate(result.samples)]


def round_rows(result: RoundResult, extra: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One raw row per measured configuration.

    Columns: ``key``, ``round``, ``position`` (order in the round), ``extra[key]``,
    :func:`hybridperf.measure.onnxruntime.csv_row`, the CPU identity, then ``speed_index_s`` (the round's index),
    ``local_index_s`` (the timings bracketing this measurement), ``round_mean_index_s`` (every timing of
    the round, :attr:`RoundResult.mean_index_s`), ``round_min_index_s`` (its fastest timing),
    ``round_min_run_index_s`` (the reference's fastest runs, :attr:`RoundResult.min_run_index_s`), ``reference_version``,
    ``latency_norm`` and ``latency_min_norm`` (by the round's index, reference units).
    """
    idx = result.index_s
    rows = []
    for pos, (key, m) in enumerate(result.measurements):
        row = {"key": key, "round": result.round_index, "position": pos, **(extra or {}).get(key, {}), **csv_row(m)}
        row.update(m.extra.get("cpu", {}))
        row.update({"speed_index_s": idx, "local_index_s": result.local_index_s(pos),
                    "round_mean_index_s": result.mean_index_s, "round_min_index_s": result.min_index_s,
                    "round_min_run_index_s": result.min_run_index_s, "reference_version": REFERENCE_VERSION, "latency_norm": normalise(m.latency_s, idx),
                    "latency_min_norm": normalise(m.latency_min_s or m.latency_s, idx)})
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class ConfigSummary:
    """One configuration over the rounds it was measured in.

    Attributes
    ----------
    key : str
    rounds : int
        Rounds summarised.
    latency_median_s : float
        Median over rounds of the round's median latency (raw).
    latency_min_s : float
        Minimum over rounds of the round's fastest run (raw).
    latency_norm_median : float
        Median over rounds of the round's median / its speed index (reference units).
    latency_norm_min : float
        Minimum over rounds of the round's fastest run / its speed index.
    round_spread : float
        Largest / smallest round median (raw): 1.0 means the rounds agreed.
    reference_index_s : float
        Median speed index over the rows summarised (the host's typical speed).
    """

    key: str
    rounds: int
    latency_median_s: float
    latency_min_s: float
    latency_norm_median: float
    latency_norm_min: float
    round_spread: float
    reference_index_s: float

    @property
    def latency_norm_s(self) -> float:
        """The normalised median in seconds at the typical host speed."""
        return self.latency_norm_median * self.reference_index_s

    def as_row(self) -> dict[str, Any]:
        return {"key": self.key, "rounds": self.rounds, "latency_median_s": self.latency_median_s,
                "latency_min_s": self.latency_min_s, "latency_norm_median": self.latency_norm_median,
                "latency_norm_min": self.latency_norm_min, "latency_norm_s": self.latency_norm_s,
                "round_spread": self.round_spread, "reference_index_s": self.reference_index_s}


def summarize(rows: Iterable[Mapping[str, Any]], rounds: Iterable[int] | None = None,
              index_column: str = "speed_index_s") -> list[ConfigSummary]:
    """Per-configuration summary of raw round rows (:func:`round_rows`, or the same columns read from CSV).

    Parameters
    ----------
    rows : iterable of mapping
        Each with ``key``, ``round``, ``latency_s``, ``speed_index_s`` and optionally ``latency_min_s``
        (the round median is used where it is missing or empty). Values may be strings.
    rounds : iterable of int, optional
        Only these rounds (e.g. one half for a split-half retest).
    index_column : str
        The speed index each row is normalised by: the round's (``speed_index_s``), the timings
        bracketing the measurement (``local_index_s``), every timing of the round
        (``round_mean_index_s``), its fastest timing (``round_min_index_s``) or the reference's fastest runs
        (``round_min_run_index_s``). ``reference_index_s`` is the median of it.

    Returns
    -------
    list of ConfigSummary
        Sorted by key.
    """
    keep = None if rounds is None else {int(r) for r in rounds}
    by_key: dict[str, list[tuple[float, float, float]]] = {}
    indices: list[float] = []
    for r in rows:
        rnd = int(r["round"])
        if keep is not None and rnd not in keep:
            continue
        med, idx = float(r["latency_s"]), float(r[index_column])
        low = float(r.get("latency_min_s") or med)
        by_key.setdefault(str(r["key"]), []).append((med, low, idx))
        indices.append(idx)
    if not indices:
        return []
    ref = statistics.median(indices)
    out = []
    for key in sorted(by_key):
        obs = by_key[key]
        meds = [m for m, _, _ in obs]
        out.append(ConfigSummary(
            key=key, rounds=len(obs), latency_median_s=statistics.median(meds), latency_min_s=min(lo for _, lo, _ in obs),
            latency_norm_median=statistics.median(normalise(m, i) for m, _, i in obs),
            latency_norm_min=min(normalise(lo, i) for _, lo, i in obs), round_spread=max(meds) / min(meds),
            reference_index_s=ref))
    return out


def timing_spread(rows: Iterable[Mapping[str, Any]]) -> float:
    """How reproducible a calibration run's timings are: the median over rows of p90 / p10 of the timed runs.

    ``rows`` are ``measurements.csv`` rows of the one-pass protocol or ``rounds.csv`` rows of this one (one per
    configuration and round), each with ``latency_p10_s`` and ``latency_p90_s`` (strings allowed); rows without
    them are skipped. 1.0 is perfectly steady; the 2-vCPU development hosts measured 1.06-1.11 with nothing else
    running and 1.48 under a load average of 3.6-4.6 (``calibration/``).

    Raises
    ------
    InputError
        No row has both figures.
    """
    ratios = [float(r["latency_p90_s"]) / float(r["latency_p10_s"]) for r in rows
              if r.get("latency_p10_s") and r.get("latency_p90_s") and float(r["latency_p10_s"]) > 0]
    if not ratios:
        raise InputError("no row with latency_p10_s and latency_p90_s: pass the measurements.csv or rounds.csv rows "
                         "of a calibration run")
    return statistics.median(ratios)


# --------------------------------------------------------------------------- test-retest


@dataclass(frozen=True)
class RetestStats:
    """Agreement of a retest figure ``b`` with a first figure ``a`` over the configurations both hold.

    Attributes
    ----------
    n : int
        Configurations compared.
    mape : float
        Mean of ``|b / a - 1|`` (a fraction: 0.03 is 3 %).
    median_ratio : float
        Median of ``b / a``.
    within : tuple of (float, float)
        ``(threshold, share of configurations with |b / a - 1| <= threshold)`` per :data:`WITHIN`.
    """

    n: int
    mape: float
    median_ratio: float
    within: tuple[tuple[float, float], ...] = field(default=())


def retest(a: Mapping[str, float], b: Mapping[str, float], thresholds: Sequence[float] = WITHIN) -> RetestStats:
    """Compare two figures per configuration (:class:`RetestStats`); keys in only one side are ignored.

    Raises
    ------
    ValueError
        No key is in both, or a figure of ``a`` is not positive.
    """
    keys = sorted(set(a) & set(b))
    if not keys:
        raise ValueError("no configuration is in both the test and the retest")
    if min(a[k] for k in keys) <= 0:
        raise ValueError("test figures must be positive")
    ratios = [b[k] / a[k] for k in keys]
    errs = [abs(r - 1.0) for r in ratios]
    # a small tolerance so that a ratio of exactly 1.03 counts as "within 3 %" despite rounding
    within = tuple((t, sum(e <= t + 1e-12 for e in errs) / len(errs)) for t in thresholds)
    return RetestStats(n=len(keys), mape=sum(errs) / len(errs), median_ratio=statistics.median(ratios), within=within)


def split_half_min(rows: Iterable[Mapping[str, Any]]) -> RetestStats | None:
    """The run's own test-retest: the fastest run over the second half of its rounds against the first half's.

    ``rows``: one per configuration with ``key``, ``latency_min_first_half_s`` and ``latency_min_second_half_s``
    (:func:`hybridperf.measure.calibrate.measure_rounds` with two rounds or more). None (unknown) when fewer than
    two configurations have both figures: one round has no halves.
    """
    first, second = {}, {}
    for r in rows:
        a, b = r.get("latency_min_first_half_s"), r.get("latency_min_second_half_s")
        if a not in (None, "") and b not in (None, ""):
            first[r["key"]], second[r["key"]] = float(a), float(b)
    return retest(first, second) if len(first) >= 2 else None


__all__ = [
    "CONV_SHAPE", "GEMM_SIZE", "REFERENCE_VERSION", "SPEED_FIELDS", "STREAM_ELEMENTS", "WITHIN", "ConfigSummary",
    "ReferenceWorkload", "RetestStats", "RoundResult", "SpeedSample", "geometric_mean", "normalise",
    "reference_models", "retest", "round_order", "round_rows", "round_speed_index", "run_round", "sample_rows", "speed_row",
    "split_half_min", "summarize", "timing_spread",
]
