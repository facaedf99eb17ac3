"""Which options each flow of ``hybridperf calibrate`` reads, and the refusal of one it would ignore.

Shared by :mod:`hybridperf.commands.calibrate` (CPU flows, ``--reset``) and
:mod:`hybridperf.commands.calibrate_gpu` (GPU flows), so that neither imports the other's module for it.
"""

from __future__ import annotations

import argparse


class ParserDefault(int):
    """A parser default that a flow can tell from the same number typed (``--rounds 4``: a plain ``int``): the
    default is the number itself, so the help and every reader see it, and :func:`typed` says whether the user gave
    it. A flow that cannot apply an option refuses it only where it was typed (until 2026-12-04 a GPU calibration
    and ``--reset`` took ``--rounds`` and ``--seed`` and ignored them)."""


#: the options each flow of ``calibrate`` reads, besides ``--device``, its source, ``--out`` and ``--format``; one of
#: the others given is refused, naming the flow it goes with (:func:`refuse_unread`)
READS: dict[str, frozenset[str]] = {
    "cpu-measure": frozenset({"shots", "batch", "rounds", "threads", "seed"}),
    "cpu-data": frozenset({"few_shot", "base_device", "seed", "target"}),
    "gpu-measure": frozenset({"runtime", "dtype"}),
    "gpu-data": frozenset({"runtime", "models"}),
    "reset": frozenset(),
}

#: where each option of one flow goes (for the refusal's words)
_GOES_WITH = {
    "shots": "a CPU --measure", "batch": "a CPU --measure", "threads": "a CPU --measure",
    "rounds": "a CPU --measure (onnxruntime's interleaved rounds)",
    "seed": "a CPU calibration (LightGBM, the --shots / --few-shot sample, the --measure round order)",
    "few_shot": "a CPU --data (with --base-device)", "base_device": "--few-shot on a CPU --data",
    "target": "a CPU --data", "runtime": "a GPU calibration",
    "models": "a GPU --data (the folder of the rows' onnx_file)", "dtype": "a GPU --measure",
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
    """Refuse the first option given that ``flow`` would ignore: one line naming the flow it goes with.

    Raises
    ------
    InputError
        An option ``flow`` does not read was given.
    """
    from hybridperf.errors import InputError

    given = unread(args, flow)
    if given:
        flag = given[0]
        raise InputError(f"{flag} goes with {_GOES_WITH[flag[2:].replace('-', '_')]}; {_FLOW_WORDS[flow]} does not "
                         f"read it: drop {flag}")
