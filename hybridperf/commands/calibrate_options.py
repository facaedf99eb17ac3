"""Which options each flow of ``hybridperf calibrate`` reads, the refusal of one it would ignore, and where a
calibration stores (``--out``, else the user data directory).

Shared by :mod:`hybridperf.commands.calibrate` (CPU flows, ``--reset``) and
:mod:`hybridperf.commands.calibrate_gpu` (GPU flows), so that neither imports the other's module for it.
"""

from __future__ import annotations

import argparse
from pathlib import Path


class ParserDefault(int):
    """A parser default that a flow can tell from the same number typed (``--rounds 4``: a plain ``int``): the
    default is the number itself, so the help and every reader see it, and :func:`typed` says whether the user gave
    it. A flow that cannot apply an option refuses it only where it was typed (until 2026-12-04 a GPU calibration
    and ``--reset`` took ``--rounds`` and ``--seed`` and ignored them)."""


#: the options each flow of ``calibrate`` reads, besides ``--device``, its source, ``--out`` and ``--format``; one of
#: the others given is refused, naming the flow it goes with (:func:`refuse_unread`)
READS: dict[str, frozenset[str]] = {
    "cpu-measure": frozenset({"shots", "batch", "rounds", "threads", "seed", "steady"}),
    "cpu-data": frozenset({"few_shot", "base_device", "seed", "target"}),
    "gpu-measure": frozenset({"runtime", "dtype"}),
    "gpu-data": frozenset({"runtime", "models"}),
    "reset": frozenset(),
}

#: where each option of one flow goes (for the refusal's words)
_GOES_WITH = {
    "shots": "a CPU --measure", "batch": "a CPU --measure", "threads": "a CPU --measure",
    "rounds": "a CPU --measure (onnxruntime's interleaved rounds)",
    "steady": "a CPU --measure (its runs' own test-retest)",
    "seed": "a CPU calibration (LightGBM, the --shots / --few-shot sample, the --measure round order)",
    "few_shot": "a CPU --data (with --base-device)", "base_device": "--few-shot on a CPU --data",
    "target": "a CPU --data", "runtime": "a GPU calibration",
    "models": "a GPU --data (the folder of the rows' onnx_file)", "dtype": "a GPU --measure",
}

#: refusals in words of their own (the fix for that flow), checked before the others in this order: flow -> option ->
#: the whole line
_GPU_CPU_ONLY = {
    **{d: f"--{d.replace('_', '-')} is for CPU calibration; a GPU calibration adapts on every measured model and "
          "reports leave-one-out error" for d in ("few_shot", "base_device", "shots")},
    "batch": "--batch is for CPU calibration: the rows carry their own batch (column batch)",
    "target": "--target is for CPU calibration: a GPU calibration is labelled by latency_median_s",
    "threads": "--threads is for CPU calibration: GPU runtimes are not timed by thread count",
}
_OWN_WORDS: dict[str, dict[str, str]] = {
    "cpu-measure": {"target": "--target goes with --data; --measure adapts to the fastest run (latency_min_s)",
                    **{d: "--few-shot/--base-device go with --data; with --measure use --shots K"
                       for d in ("few_shot", "base_device")}},
    "cpu-data": {"batch": "--batch goes with --measure (the rows of --data carry their own shapes)",
                 "shots": "--shots goes with --measure; a CPU --data adapts on K of its rows with --few-shot K "
                          "--base-device ID"},  # until 2026-12-04 ignored
    "gpu-measure": {**_GPU_CPU_ONLY, "models": "--models goes with --data (where the rows' onnx_file are); --measure "
                                               "names its .pt2 files"},
    "gpu-data": {**_GPU_CPU_ONLY, "dtype": "--dtype goes with --measure: the rows of --data carry their own precision "
                                           "(column dtype)"},
}

_FLOW_WORDS = {"cpu-measure": "a CPU --measure", "cpu-data": "a CPU --data (tables already measured)",
               "gpu-measure": "a GPU --measure", "gpu-data": "a GPU --data (rows already measured)",
               "reset": "--reset"}


def typed(args: argparse.Namespace, dest: str) -> bool:
    """True when the option ``dest`` was given on the command line (not left at its default)."""
    value = getattr(args, dest, None)
    return value is not None and not isinstance(value, ParserDefault)


def unread(args: argparse.Namespace, flow: str) -> list[str]:
    """The options given (``--rounds``, ...) that ``flow`` (a key of :data:`READS`) does not read."""
    return [f"--{d.replace('_', '-')}" for d in _GOES_WITH if d not in READS[flow] and typed(args, d)]


def refuse_unread(args: argparse.Namespace, flow: str) -> None:
    """Refuse the first option given that ``flow`` would ignore: one line, in the flow's own words where it has them
    (:data:`_OWN_WORDS`, those first), else naming the flow the option goes with.

    Raises
    ------
    InputError
        An option ``flow`` does not read was given.
    """
    from hybridperf.errors import InputError

    own = _OWN_WORDS.get(flow, {})
    for dest, line in own.items():
        if typed(args, dest):
            raise InputError(line)
    given = unread(args, flow)
    if given:
        flag = given[0]
        raise InputError(f"{flag} goes with {_GOES_WITH[flag[2:].replace('-', '_')]}; {_FLOW_WORDS[flow]} does not "
                         f"read it: drop {flag}")


#: the folder ``calibrate --measure`` stores its measurements in: ``DIR/calibration`` with ``--out DIR`` (as the data
#: home's ``hosts/<key>/calibration``; ``--reset --out DIR`` removes it with the model), ``calibration/ID/`` of the data
#: home for a named sheet
MEASUREMENTS_DIR = "calibration"


def stored_in(device: str, out: str | None) -> tuple[Path, Path]:
    """Where a calibration of ``device`` stores: ``(model folder, measurements folder)``. With ``out`` (``--out``):
    ``out`` and ``out/calibration`` (:data:`MEASUREMENTS_DIR`); ``host``: this machine's host folder's ``model/`` and
    ``calibration/``; another device: ``models/ID/`` and ``calibration/ID/`` of the user data directory (a GPU's
    adaptation and a CPU ``--data`` model go in the model folder; only ``--measure`` stores measurements)."""
    if out:
        return Path(out), Path(out) / MEASUREMENTS_DIR
    from hybridperf.measure.host import HOST_ID, host_dir, host_model_dir

    if device == HOST_ID:
        return host_model_dir(), host_dir() / MEASUREMENTS_DIR
    from hybridperf.data import user_data_dir
    from hybridperf.residual.model import user_model_dir

    return user_model_dir() / device, user_data_dir() / MEASUREMENTS_DIR / device
