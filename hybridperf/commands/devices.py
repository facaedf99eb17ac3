"""``hybridperf devices``: list the device spec sheets, or show one with its sources.

::

    hybridperf devices [--format table|json] [--spec-dir DIR]
    hybridperf devices show ID [--format table|json] [--spec-dir DIR]

``ID`` may also be a path to a spec file (``devices show ./my-board.yaml``). The list starts with ``host``, this
machine (the commands' default device): its cached probe's figures, or ``not probed yet`` with no figures;
``devices show host`` probes it first when there is no cached sheet, as ``predict`` does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hybridperf.cli import ExitCode
from hybridperf.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "words",
        nargs="*",
        metavar="show ID",
        help="no argument (or `list`): list all devices; `show ID`: every figure of one device with its source",
    )
    from hybridperf.commands._common import StoreOnce

    parser.add_argument("--format", choices=("table", "json"), default="table", action=StoreOnce,
                        help="output format (default: table)")
    parser.add_argument(
        "--spec-dir", type=Path, default=None, action=StoreOnce,
        help="directory of spec files (default: the sheets shipped in the package, hybridperf/data/hw_specs/)",
    )


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.report.devices import list_table, show_table

    words = list(args.words)
    if words and words[0] == "list":
        words = words[1:]
        if words:
            raise InputError(f"`devices list` takes no argument (got {' '.join(words)!r}); use `devices show ID`")
    if not words:
        _emit(list_devices(args.spec_dir), args.format, list_table)
        return ExitCode.OK
    if words[0] == "show":
        words = words[1:]
    elif len(words) > 1:  # `devices shwo t4`: until 2026-12-04 only the usage line, no word of the typo
        from hybridperf.errors import did_you_mean

        hint = did_you_mean(words[0], ("show", "list"))
        if hint:
            raise InputError(f"unknown devices subcommand {words[0]!r}{hint}; use `hybridperf devices show ID` (or "
                             "`hybridperf devices` to list the ids)")
    if len(words) != 1:
        raise InputError("usage: hybridperf devices show ID (one device id or spec file; `hybridperf devices` lists the ids)")
    _emit(show_device(words[0], args.spec_dir), args.format, show_table)
    return ExitCode.OK


# --------------------------------------------------------------------------- data


def list_devices(spec_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per spec file, numbers in SI units; raises SpecError on an invalid file."""
    from hybridperf.device.spec import available_devices, default_spec_dir, load_spec

    d = spec_dir or default_spec_dir()
    _check_spec_dir(d)
    rows = [] if spec_dir is not None else [_host_row()]
    for dev_id in available_devices(d):
        rows.append(_row(load_spec(dev_id, d)))
    return rows


def _check_spec_dir(d: Path) -> None:
    """Refuse a ``--spec-dir`` that is not a directory (until 2026-12-03 a file was said not to exist, and ``devices
    show t4 --spec-dir MISSING`` said "unknown device 't4' ... (0 sheets ...)")."""
    if not d.is_dir():
        why = "is not a directory" if d.exists() else "does not exist"
        raise InputError(f"spec directory {str(d)!r} {why}; pass --spec-dir DIR, a directory of ID.yaml files")


def _row(spec) -> dict[str, Any]:
    from hybridperf.units import whole_bytes

    dram = spec.dram
    return {
        "id": spec.id,
        "name": spec.name,
        "kind": spec.kind,
        "peak_flops_per_s": {p: _finite(spec, f"peak_compute.{p}", v) for p, v in spec.peak_flops_per_s.items()},
        "dram_bandwidth_bytes_per_s": _finite(spec, "memory.dram.bandwidth", dram.bandwidth_bytes_per_s),
        "dram_attainable_bandwidth_bytes_per_s": _finite(spec, "memory.dram.attainable_bandwidth",
                                                         dram.attainable_bandwidth_bytes_per_s),
        # a whole number of bytes, as predict's device_capacity_bytes and check's device_capacity (until 2026-12-04
        # a probed sheet's 23.54 GiB read 25275882536.96 here, 25275882537 there)
        "dram_capacity_bytes": whole_bytes(_finite(spec, "memory.dram.capacity", dram.capacity_bytes)),
        "measured": bool(spec.measured),
        "figures_known": True,
    }


def _finite(spec, key: str, value: float | None) -> float | None:
    """``value`` of the sheet's ``key``, refused when it is not a finite number (a figure beyond a float once in SI
    units, ``1e300 TFLOP/s``): JSON has no Infinity, and until 2026-12-04 ``devices --format json`` wrote one."""
    import math

    if value is not None and not math.isfinite(value):
        from hybridperf.errors import SpecError

        raise SpecError(f"{spec.path or spec.id}: key '{key}' is {value} in SI units, beyond any device; fix its value "
                        "and unit")
    return value


def _host_row() -> dict[str, Any]:
    """``host``: this machine's cached sheet, or a row with unknown (None) figures when it was not probed yet
    (listing never probes)."""
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.host import HOST_ID, CacheState, host_spec_path, host_spec_state

    if host_spec_state() is CacheState.CURRENT:
        return _row(load_spec(host_spec_path()))
    return {"id": HOST_ID, "name": "this machine, not probed yet (probe --host)",
            "kind": "cpu", "peak_flops_per_s": {}, "dram_bandwidth_bytes_per_s": None,
            "dram_attainable_bandwidth_bytes_per_s": None, "dram_capacity_bytes": None, "measured": False,
            # unknown, not "not on the sheet": the table shows `unknown` (until 2026-12-04 '-', which its footer
            # defines as a figure the sheet does not list)
            "figures_known": False}


def show_device(device: str, spec_dir: Path | None = None) -> dict[str, Any]:
    """Every figure of one spec with unit (SI), source and measured flag."""
    from hybridperf.analysis.depthwise1d import DEPTHWISE_CONV1D_KEYS
    from hybridperf.analysis.elementwise_math import ELEMENTWISE_MATH_KEYS
    from hybridperf.device.spec import CALL_OVERHEAD_RUNTIMES, load_spec
    from hybridperf.precision import rate_unit

    if spec_dir is None:
        from hybridperf.commands._common import resolve_device

        device = resolve_device(device, warn_busy=False)  # a busy probe: the sheet's notes say so
    else:
        _check_spec_dir(spec_dir)  # host: this machine's cached sheet, probed first when there is none
        from hybridperf.device.spec import names_spec_file

        if names_spec_file(device):  # read as the file it names: until 2026-12-04 --spec-dir was then ignored, unsaid
            raise InputError(f"--spec-dir {spec_dir}: {device} is a spec file, read as it is, not a sheet of that "
                             "directory; drop --spec-dir, or pass the id of one of its sheets")
    spec = load_spec(device, spec_dir)

    def q(key: str, value: float | None, unit: str) -> dict[str, Any] | None:
        if _finite(spec, key, value) is None:
            return None
        out = {"value": value, "unit": unit, "source": spec.sources.get(key, ""), "measured": key in spec.measured}
        if key in spec.field_notes:
            out["note"] = spec.field_notes[key]
        return out

    memory = {}
    for level, m in spec.memory.items():
        entry = {
            "bandwidth": q(f"memory.{level}.bandwidth", m.bandwidth_bytes_per_s, "B/s"),
            "attainable_bandwidth": q(f"memory.{level}.attainable_bandwidth", m.attainable_bandwidth_bytes_per_s, "B/s"),
            "capacity": q(f"memory.{level}.capacity", m.capacity_bytes, "B"),
        }
        memory[level] = entry  # a figure the sheet does not give is null (until 2026-12-04 the key was left out)
    from hybridperf.api import latency_model

    return {
        "id": spec.id,
        "name": spec.name,
        "kind": spec.kind,
        "path": spec.path,
        "latency_model": latency_model(spec),
        "peak_compute": {
            p: q(f"peak_compute.{p}", v, rate_unit(p))
            for p, v in spec.peak_flops_per_s.items()
        },
        "sparsity": {
            name: {"speedup": s, "source": spec.sources.get(f"sparsity.{name}", "")}
            for name, s in spec.sparsity_speedup.items()
        },
        "memory": memory,
        "launch_overhead": q("launch_overhead", spec.launch_overhead_s, "s"),
        # one inference call of a runtime (what a model that launches no kernel is priced at), null where the sheet
        # does not give it (unknown); until 2026-12-05 not shown, though predictions priced it
        "call_overhead": {rt: q(f"call_overhead.{rt}", spec.call_overhead_s.get(rt), "s")
                          for rt in CALL_OVERHEAD_RUNTIMES},
        # onnxruntime's extra time per float32 subnormal (what the subnormals a model makes itself are priced at on a
        # CPU sheet), null where the sheet does not give it (unknown); since 2026-12-06
        "subnormal_assist": {"mac": q("subnormal_assist.mac", spec.subnormal_mac_s, "s"),
                             "softmax": q("subnormal_assist.softmax", spec.subnormal_softmax_s, "s")},
        # onnxruntime's extra time per element of a transpose that moves the innermost axis other than as a 2-D
        # transpose (seconds per element), null where the sheet does not give it (unknown); since 2026-12-06
        "transpose": {"innermost": q("transpose.innermost", spec.innermost_transpose_s_per_element, "s")},
        # onnxruntime's extra time per element of the element-wise math it evaluates one element at a time (seconds
        # per element, by function), null where the sheet does not give it (unknown); since 2026-12-07
        "elementwise_math": {k: q(f"elementwise_math.{k}", spec.elementwise_math_s_per_element.get(k), "s")
                             for k in ELEMENTWISE_MATH_KEYS},
        # onnxruntime's time per multiply-add and per output of a depthwise 1-D convolution of each class, null where
        # the sheet does not give it (unknown); since 2026-12-07
        "depthwise_conv1d": {k: q(f"depthwise_conv1d.{k}", spec.depthwise_conv1d_s_per_item.get(k), "s")
                             for k in DEPTHWISE_CONV1D_KEYS},
        # onnxruntime's extra time per block its Gather copies beyond a copy of the block's elements (seconds per
        # block), null where the sheet does not give it (unknown); since 2026-12-07
        "gather": {"block": q("gather.block", spec.gather_s_per_block, "s")},
        # onnxruntime's extra time per span its Add / Sub / Mul / Div broadcast over beyond their work (seconds per
        # span), null where the sheet does not give it (unknown); since 2026-12-07
        "broadcast": {"span": q("broadcast.span", spec.broadcast_s_per_span, "s")},
        "power": {"idle": q("power.idle", spec.idle_power_w, "W"), "max": q("power.max", spec.max_power_w, "W")},
        "energy": {
            "per_mac": {p: q(f"energy.per_mac.{p}", v, "pJ") for p, v in spec.energy_pj_per_mac.items()},
            "per_byte": {lv: q(f"energy.per_byte.{lv}", v, "pJ") for lv, v in spec.energy_pj_per_byte.items()},
        },
        # null where the sheet does not give it (until 2026-12-04 the key was left out)
        "compute_units": {
            "count": q("compute_units.count", spec.compute_unit_count, "units"),
            "fp32_lanes_per_unit": q("compute_units.fp32_lanes_per_unit", spec.fp32_lanes_per_unit, "lanes"),
            "boost_clock": q("compute_units.boost_clock", spec.boost_clock_hz, "Hz"),
        },
        # the CPU a CPU sheet describes, as measure -d / calibrate judge it (null: not on the sheet, unknown; until
        # 2026-12-04 not shown, nor its source)
        "cpu_identity": _cpu_identity(spec.cpu_identity),
        "mig_profiles": [
            {
                "name": m.name,
                "compute_slices": m.compute_slices,
                "total_slices": m.total_slices,
                # the SMs `mig` prices the profile on (null: unknown, priced at its compute slices' share; until
                # 2026-12-04 not shown), and where that count comes from (null with it; until 2026-12-04 dropped)
                "sm_count": m.sm_count,
                "sm_count_source": spec.sources.get(f"mig_profiles[{i}].sm_count") if m.sm_count is not None else None,
                "memory": q(f"mig_profiles[{i}].memory", m.memory_bytes, "B"),
            }
            for i, m in enumerate(spec.mig_profiles)
        ],
        "notes": spec.notes or None,  # null: none (until 2026-12-04 "")
        # figures on the sheet that no prediction reads (sparsity, non-DRAM bandwidths, ...): shown, flagged
        "unused_figures": list(spec.unused_figures),
    }


def _cpu_identity(ident) -> dict[str, Any] | None:
    """A sheet's :class:`~hybridperf.device.spec.SheetCpu` as JSON (stepping null where the sheet does not give it),
    None where the sheet gives none."""
    if ident is None:
        return None
    return {"vendor": ident.vendor, "family": ident.family, "model": ident.model, "stepping": ident.stepping,
            "source": ident.source}


def _emit(data: Any, fmt: str, table) -> None:
    if fmt == "json":
        from hybridperf.json_text import dumps

        sys.stdout.write(dumps(data) + "\n")  # unknown is null; a NaN raises: JSON has none
    else:
        sys.stdout.write(table(data) + "\n")
