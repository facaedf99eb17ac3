"""The device ``host``: this machine, probed once and cached under the user data directory.

``--device host`` (the default of ``predict`` / ``check`` / ``report``) resolves to a spec sheet that
the full ``hybridperf probe --cpu-only`` wrote for this CPU on first use (about 8 s), kept in
``<user data dir>/hosts/<key>/host.yaml`` where ``key`` names the CPU identity (vendor, family, model,
stepping, key ISA flags) and the thread count, so a different machine or a different CPU slice sharing the
same home gets its own probe. Nothing is written inside the installed package. ``identity.json`` beside the sheet
records the probe's :data:`HOST_SHEET_FORMAT`; a cache of another format (written by an older probe) is probed
again on next use (:func:`host_spec_state`).

Predictions for ``host`` (``hybridperf.api``) use the model stored by ``hybridperf calibrate --device host``
in :func:`host_model_dir` when there is one, else the packaged cross-host CPU model zero-shot from the probed
sheet (:mod:`hybridperf.residual.cross_host`).

Imports: :mod:`hybridperf.data`, :mod:`hybridperf.device`, and :mod:`hybridperf.measure.probe` /
:mod:`hybridperf.measure.onnxruntime` (probing, CPU identity).
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from hybridperf.device.spec import HOST_ID  # the device id of this machine (reserved by the sheet loader)
from hybridperf.measure.contention import usable_cpus

SPEC_FILE = "host.yaml"
IDENTITY_FILE = "identity.json"
#: format of the cached sheet, kept as ``format`` in its identity.json (none there: format 1). A cache of another
#: format is probed again. 2: the notes name the ISA flags (AVX-512) the cross-host model reads (e54722d);
#: 3: peak GEMM and bandwidth figures are the best of interleaved trials, so a busy neighbour does not set them;
#: 4: fp32 / fp64 GEMMs run the OpenBLAS kernels picked for this CPU even where OPENBLAS_CORETYPE forces others
#: (timed in a child process without it; a Zen 5 core read ~110 instead of ~205 GFLOP/s fp32 with Haswell's);
#: 5: the probed figures of every term priced outside the learned model (``pricing.OUTSIDE_TERMS``: subnormal assists,
#: transposes, element-wise math, depthwise 1-D convolutions, gathers and broadcasts, all added to the probe after
#: format 4, 2026-12-06 / 07); a cache without them left such a model's latency a lower bound, which ``check`` does not
#: pass, until ``hybridperf probe --host``; 6: the ``elementwise_math`` figures of the activations onnxruntime runs
#: with kernels of their own (Softplus, Mish, Elu, Selu: plan (28), 2026-12-07); 7: those of GridSample by mode
#: (plan (29), 2026-12-07)
HOST_SHEET_FORMAT = 7


class CacheState(enum.Enum):
    """What the user data directory holds for this host (:func:`host_spec_state`)."""

    CURRENT = "current"
    MISSING = "missing"
    STALE = "stale"  # a sheet of another HOST_SHEET_FORMAT (an older probe), or without a readable identity.json


def host_threads() -> int:
    """Threads a prediction for ``host`` assumes: the CPUs this process may run on (:func:`usable_cpus`)."""
    return usable_cpus()


def host_identity() -> dict[str, Any]:
    """This CPU's identity (vendor, family, model, stepping, key ISA flags, model name) and thread count."""
    from hybridperf.measure.onnxruntime import cpu_identity

    ident = cpu_identity()
    return {"model_name": ident.model_name, "vendor": ident.vendor, "family": ident.family, "model": ident.model,
            "stepping": ident.stepping, "isa": list(ident.isa), "threads": host_threads()}


def host_cpu(identity: dict[str, Any] | None = None) -> str:
    """This machine's CPU in the words of the cross-host model's training hosts
    (:func:`hybridperf.residual.cross_host.cpu_label`); ``""`` where ``lscpu`` does not say."""
    from hybridperf.residual.cross_host import cpu_label

    i = identity or host_identity()
    return cpu_label(i.get("vendor"), i.get("family"), i.get("model"), i.get("stepping"))


def identity_elsewhere(spec: Any) -> tuple[str, str] | None:
    """``(the CPU a sheet's cpu_identity names, this machine's)`` in words where vendor, family or model differ; None
    where they are the same, or where the sheet gives no identity or this machine's is not known (not judged). The
    stepping is not compared. This machine is :func:`host_cpu`, the words every CPU check of
    ``measure -d`` / ``calibrate --measure`` compares."""
    theirs = getattr(spec, "cpu_identity", None)
    if theirs is None:
        return None
    here = host_cpu()
    m = re.fullmatch(r"(\S+) family (\d+) model (\d+) stepping \d+", here)  # cross_host.cpu_label's words
    if m is None or theirs.same_cpu(m[1], int(m[2]), int(m[3])):
        return None
    return theirs.label, here


#: words of a CPU sheet's name or notes that name its vendor, by the vendor id ``lscpu`` reports
_VENDOR_WORDS = {"GenuineIntel": r"\b(intel|xeon|core i[3579])\b", "AuthenticAMD": r"\b(amd|epyc|ryzen|threadripper)\b"}


def named_cpu_elsewhere(spec: Any) -> tuple[str, str] | None:
    """``(the CPU a sheet's words name, this machine's)`` where a sheet without a ``cpu_identity`` names another
    instruction set (:func:`~hybridperf.device.spec.sheet_isa` of its name and notes: ``arm`` against an
    x86-64 machine) or another vendor (Intel / Xeon against an AMD machine) than this machine's; None where they
    agree, where the sheet names none or several, where it has a ``cpu_identity`` (judged by it) or this machine's
    is not known (:func:`host_cpu`'s words, vendor first). Until 2026-12-04 ``--device host-xeon-2c`` (a packaged Intel sheet without an identity, its
    training CPU not recorded) or ``raspberry-pi-4b`` was calibrated from an AMD machine's timings wherever it had
    the CPUs."""
    import platform

    from hybridperf.device.spec import sheet_isa

    if getattr(spec, "cpu_identity", None) is not None:
        return None
    text = " ".join([spec.name or "", spec.notes or ""])
    machine = platform.machine().lower()
    isa_here = ("x86-64" if machine in ("x86_64", "amd64", "i686", "i386") else
                "arm" if machine.startswith(("arm", "aarch")) else "")
    isa = sheet_isa(text)
    if isa and isa_here and isa != isa_here:
        return f"{isa}, as its name and notes say", f"{isa_here}, {machine}"
    vendors = [v for v, words in _VENDOR_WORDS.items() if re.search(words, text, re.I)]
    here = host_cpu()  # the words every CPU check compares (cross_host.cpu_label: the vendor first)
    vendor_here = here.split(" ")[0]
    if len(vendors) == 1 and vendor_here in _VENDOR_WORDS and vendors[0] != vendor_here:
        return f"{vendors[0]}, as its name and notes say", here
    return None


def cpu_elsewhere(spec: Any) -> tuple[str, str] | None:
    """``(the CPU a sheet names, this machine's)`` where a CPU sheet is of another CPU by what it says of its CPU: its
    ``cpu_identity`` (:func:`identity_elsewhere`), else, for a sheet without one, the vendor or instruction set of its
    name and notes (:func:`named_cpu_elsewhere`); None where they agree or cannot be compared. The one check of the
    sheet's CPU that ``measure -d`` and ``calibrate --measure`` apply (until 2026-12-04 measure applied the identity
    only: ``-d host-xeon-2c`` or ``-d raspberry-pi-4b`` on an AMD machine was recorded as that device's timing)."""
    return identity_elsewhere(spec) or named_cpu_elsewhere(spec)


def host_key(identity: dict[str, Any] | None = None) -> str:
    """A directory name for the identity, e.g. ``authenticamd-f25-m17-s1-avx2.avx512f-n1b2c3d4e-1t``: vendor, family,
    model, stepping, ISA flags, ``n`` and 8 hex digits of ``lscpu``'s model name (when known) and the threads.

    The model name is in it since 2026-12-03: two SKUs of one family, model and stepping (a Xeon Gold 6338 and a
    Platinum 8380, other clocks and caches) sharing one home (NFS) shared one probed sheet and one calibrated model
    before, each using the other's silently (:func:`host_dir` still finds a cache of the key without it)."""
    i = identity or host_identity()
    name = (i.get("model_name") or "").strip()
    return _key(i, "-n" + hashlib.sha1(name.encode()).hexdigest()[:8] if name else "")


def _key(i: dict[str, Any], name_part: str) -> str:
    vendor = re.sub(r"[^a-z0-9]+", "", (i.get("vendor") or i.get("model_name") or "cpu").lower())[:24] or "cpu"
    num = lambda k, p: f"{p}{i[k]}" if i.get(k) is not None else f"{p}x"  # noqa: E731
    isa = ".".join(i.get("isa") or ()) or "base"
    return (f"{vendor}-{num('family', 'f')}-{num('model', 'm')}-{num('stepping', 's')}-{isa}{name_part}-"
            f"{i.get('threads', 1)}t")


def host_model_dirs_by_threads(identity: dict[str, Any] | None = None) -> list[tuple[int, Path]]:
    """Where ``calibrate --device host`` stores the model of this CPU run with another thread count: ``(threads,
    model folder)`` of each folder beside :func:`host_dir` whose key differs from it in the thread count alone
    (:func:`host_key`), sorted by folder; a model folder need not hold a model. ``host`` is this machine with the
    CPUs this process may use, so a calibration run under ``taskset -c 1`` is not the one a run without it finds."""
    from hybridperf.data import HOST_MODEL_DIR

    here = host_dir(identity)
    stem = re.sub(r"-\d+t$", "", here.name)  # the thread count: the end of the key (:func:`_key`)
    found = []
    for d in sorted(here.parent.glob(f"{stem}-*t")) if here.parent.is_dir() else ():
        m = re.fullmatch(re.escape(stem) + r"-(\d+)t", d.name)
        if m and d != here:
            found.append((int(m.group(1)), d / HOST_MODEL_DIR))
    return found


def host_dir(identity: dict[str, Any] | None = None) -> Path:
    """``<user data dir>/hosts/<key>/``: the cached sheet and the calibrated model of this host
    (:func:`host_key`). Where that folder is missing, one of the key without the CPU's model name (written before
    2026-12-03) is used when its ``identity.json`` records this model name: its sheet and model are of this CPU."""
    from hybridperf.data import HOSTS_DIR, user_data_dir

    i = identity or host_identity()
    hosts = user_data_dir() / HOSTS_DIR
    d = hosts / host_key(i)
    legacy = hosts / _key(i, "")
    if d != legacy and not d.exists() and legacy.is_dir():
        try:
            recorded = json.loads((legacy / IDENTITY_FILE).read_text()).get("model_name")
        except (OSError, ValueError, AttributeError):  # missing, not JSON, not a mapping: not known to be this CPU
            recorded = None
        if recorded is not None and recorded.strip() == (i.get("model_name") or "").strip():
            return legacy
    return d


def host_spec_path(identity: dict[str, Any] | None = None) -> Path:
    return host_dir(identity) / SPEC_FILE


def host_model_dir(identity: dict[str, Any] | None = None) -> Path:
    """Where ``hybridperf calibrate --device host`` stores this host's adapted model."""
    from hybridperf.data import HOST_MODEL_DIR

    return host_dir(identity) / HOST_MODEL_DIR


def host_spec_state(identity: dict[str, Any] | None = None) -> CacheState:
    """Whether this host's cached sheet is there and of the current :data:`HOST_SHEET_FORMAT`."""
    out = host_spec_path(identity)
    if not out.exists():
        return CacheState.MISSING
    try:
        fmt = json.loads((out.parent / IDENTITY_FILE).read_text()).get("format", 1)
    except (OSError, ValueError, AttributeError):  # missing, not JSON, not a mapping
        return CacheState.STALE
    return CacheState.CURRENT if fmt == HOST_SHEET_FORMAT else CacheState.STALE


def check_writable(directory: Path, what: str) -> None:
    """Refuse now (before a probe or a measurement) to go on when ``directory`` could not be created and written
    under the user data directory later: its nearest existing folder must be a directory this process may write in.

    Raises
    ------
    InputError
        Naming ``what`` would be stored, the folder in the way and the fix (``HYBRIDPERF_HOME``).
    """
    from hybridperf.data import HOME_ENV
    from hybridperf.errors import InputError
    from hybridperf.files import nearest_existing

    above = nearest_existing(directory)
    if above.is_dir() and os.access(above, os.W_OK | os.X_OK):
        return
    why = "is not a directory" if not above.is_dir() else "is not writable"
    raise InputError(f"cannot store {what} in {directory}: {above} {why}; set {HOME_ENV} to a writable directory")


def describe_host(identity: dict[str, Any], date: str) -> str:
    """``AMD EPYC family 25 model 17 (probed 2026-12-01T09:54Z)``: ``date`` is when (a probe's
    :attr:`~hybridperf.measure.probe.ProbeResult.moment`, or a date)."""
    name = identity.get("model_name") or identity.get("vendor") or "CPU"
    fam = f" family {identity['family']} model {identity['model']}" if identity.get("family") is not None else ""
    return f"{name}{fam} (probed {date})"


def _write_identity(d: Path, identity: dict[str, Any], date: str, source: str, warning: str | None = None) -> None:
    from hybridperf.files import write_atomic
    from hybridperf.json_text import dumps

    record = {**identity, "probed": date, "source": source, "format": HOST_SHEET_FORMAT,
              **({"warning": warning} if warning else {})}
    write_atomic(d / IDENTITY_FILE, dumps(record, indent=1) + "\n")  # strict JSON (until 2026-12-04 NaN passed)


def host_probe_warning(identity: dict[str, Any] | None = None) -> str | None:
    """What the probe that wrote this host's cached sheet warned about (a busy CPU: its figures may be low), or
    None."""
    try:
        record = json.loads((host_spec_path(identity).parent / IDENTITY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record.get("warning") if isinstance(record, dict) else None


def probe_warning(spec: Any) -> str | None:
    """What the probe that wrote the loaded sheet ``spec`` warned about (a busy CPU: its figures may be low), or None:
    for ``host``, its cached probe's (:func:`host_probe_warning`); for a sheet ``hybridperf probe --out`` wrote, the
    warning its notes record (:func:`hybridperf.measure.probe.notes_probe_warning`); None for a packaged sheet and one
    no probe wrote. The one judgement behind every command's busy-sheet warning
    (:func:`hybridperf.commands._common.resolve_device`); until 2026-12-04 only ``host``'s was read."""
    if spec.id == HOST_ID:
        return host_probe_warning()
    if spec.packaged:
        return None
    from hybridperf.measure.probe import notes_probe_warning

    return notes_probe_warning(spec.notes)


def install_host_spec(sheet: str | Path, identity: dict[str, Any] | None = None) -> Path:
    """Use an existing CPU sheet as this host's (no probing): tests, or a sheet from a full ``hybridperf probe``.

    The sheet is copied with its id set to ``host``; returns the cached path.
    """
    import datetime as _dt

    import yaml

    from hybridperf.device.spec import load_spec, parse_spec
    from hybridperf.files import write_atomic

    identity = identity or host_identity()
    src = load_spec(sheet)  # validates the sheet (a missing file or bad key fails here, naming it)
    raw = yaml.safe_load(Path(sheet).read_text())
    raw["id"] = HOST_ID
    date = _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    raw["name"] = f"{describe_host(identity, date)}; figures of {src.id}"
    out = host_spec_path(identity)
    parse_spec(raw, str(out))  # validate before writing
    check_writable(out.parent, "this machine's sheet")
    with probe_lock(identity):  # not between a probe's sheet and its identity
        out.parent.mkdir(parents=True, exist_ok=True)
        (out.parent / IDENTITY_FILE).unlink(missing_ok=True)  # as in probe_host_spec: the identity comes last
        write_atomic(out, yaml.safe_dump(raw, sort_keys=False))
        _write_identity(out.parent, identity, date, f"sheet {sheet}")
    return out


def ensure_host_spec(progress: Callable[[str, int, int], None] | None = None,
                     on_wait: Callable[[int | None], None] | None = None) -> Path:
    """The cached sheet of this host, probing it first (the full CPU probe, about 8 s) when there is none or it is
    of an older :data:`HOST_SHEET_FORMAT` (:func:`host_spec_state`).

    One probe at a time per user data directory (:func:`probe_lock`): a process that finds another probing waits for
    it (``on_wait(pid)`` is told once) and uses the sheet it cached, rather than probing too. Until 2026-12-03 three
    ``predict`` started together on an empty home each probed, on the same CPU: each read about a third of the CPU
    (``preempted 88 times a second; it got 33% of its CPU time``), priced squeezenet at 22.8-23.7 ms instead of 8.0,
    and the last one's busy sheet was cached.

    The full probe, not the quick one (until 2026-12-03): every zero-shot prediction for ``host`` scales with the
    sheet's fp32 GEMM figure, and on a 2-thread Zen 4 slice 8 quick probes (best of 5-6 GEMMs, about 4 s) read
    157-199 GFLOP/s against 157-203 for 8 full ones interleaved with them (best of 16, about 8 s); the zero-shot
    error on 70 configurations measured there was a median 13.5 % from a quick sheet and 9.4 % from a full one
    (``benchmarks/results/probe_stability.md``); with one thread the two were alike (median 7.4 and 7.3 %,
    ``probe_stability_1t.md``). The training hosts' sheets are full probes too.
    """
    identity = host_identity()
    out = host_spec_path(identity)
    if host_spec_state(identity) is CacheState.CURRENT:
        return out
    check_writable(out.parent, "this machine's probed sheet")
    with probe_lock(identity, on_wait):
        if host_spec_state(identity) is CacheState.CURRENT:  # another process probed it while this one waited
            return out
        return _probe_and_store(False, progress, identity)[0]


#: how long a command waits for another process's probe of this machine (a full probe takes about 10 s)
PROBE_LOCK_TIMEOUT_S = 300.0
PROBE_LOCK_FILE = ".probe.lock"


@contextmanager
def probe_lock(identity: dict[str, Any] | None = None, on_wait: Callable[[int | None], None] | None = None):
    """Hold the probe lock of the user data directory (``hosts/.probe.lock``): one for every CPU slice, since probes
    of slices of one machine disturb each other's figures too.

    Raises
    ------
    InputError
        Another process held it more than :data:`PROBE_LOCK_TIMEOUT_S`, or it cannot be created.
    """
    from hybridperf.errors import InputError
    from hybridperf.files import LockTimeout, file_lock

    def busy(exc: LockTimeout) -> InputError:
        return InputError(f"{exc.who} has been probing this machine for more than {exc.timeout_s:g} s (lock "
                          f"{exc.path}); wait for it to finish, or end it and run again")

    hosts = host_dir(identity).parent
    with ExitStack() as held:
        try:
            hosts.mkdir(parents=True, exist_ok=True)
            held.enter_context(file_lock(hosts / PROBE_LOCK_FILE, timeout_s=PROBE_LOCK_TIMEOUT_S, on_wait=on_wait,
                                         on_timeout=busy))
        except OSError as exc:  # a read-only file system, a full disk
            raise InputError(f"cannot store this machine's probed sheet in {hosts}: {exc.strerror or exc}; set "
                             "HYBRIDPERF_HOME to a writable directory") from exc
        yield


def probe_host_spec(quick: bool = False, progress: Callable[[str, int, int], None] | None = None,
                    identity: dict[str, Any] | None = None,
                    on_wait: Callable[[int | None], None] | None = None):
    """Probe this machine now (CPU) and write its cached sheet, whatever the cache held (``hybridperf probe
    --host``: e.g. after a first probe while the machine was busy); ``(sheet path, ProbeResult)``. Waits for another
    process's probe first (:func:`probe_lock`), so the two do not time each other.

    ``quick``: ``hybridperf probe --quick`` (about 4 s, noisier); else the full probe of a first use
    (:func:`ensure_host_spec`, about 8 s). A model stored by ``hybridperf calibrate --device host``
    (:func:`host_model_dir`) is kept.
    """
    identity = identity or host_identity()
    check_writable(host_spec_path(identity).parent, "this machine's probed sheet")  # before the probe's seconds
    with probe_lock(identity, on_wait):
        return _probe_and_store(quick, progress, identity)


def _probe_and_store(quick: bool, progress: Callable[[str, int, int], None] | None, identity: dict[str, Any]):
    """:func:`probe_host_spec` under the probe lock."""
    from hybridperf.measure import probe

    from hybridperf.errors import InputError

    out = host_spec_path(identity)
    result = probe.probe(quick=quick, progress=progress, use_gpu=False)
    busy = result.contention is not None and result.contention.busy
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # the identity goes first, without the format: a sheet written after it is taken as current only once the
        # identity that matches it says so, so an interrupted probe is probed again rather than half trusted
        (out.parent / IDENTITY_FILE).unlink(missing_ok=True)
        probe.write_spec(result, out, device_id=HOST_ID, name=describe_host(identity, result.moment))
        _write_identity(out.parent, identity, result.moment, f"hybridperf probe{' --quick' if quick else ''} --cpu-only",
                        warning=result.contention.describe() if busy else None)
    except OSError as exc:  # a read-only file system, a full disk
        raise InputError(f"cannot store this machine's probed sheet in {out.parent}: {exc.strerror or exc}; set "
                         "HYBRIDPERF_HOME to a writable directory") from exc
    return out, result


def device_ref(device: Any, on_wait: Callable[[int | None], None] | None = None) -> Any:
    """``device`` as ``load_spec`` takes it: ``host`` becomes this machine's cached sheet (probed first, without
    output, when there is none or it is stale; ``on_wait``: see :func:`ensure_host_spec`); anything else is returned
    unchanged."""
    return ensure_host_spec(on_wait=on_wait) if str(device) == HOST_ID else device


__all__ = ["HOST_ID", "HOST_SHEET_FORMAT", "CacheState", "check_writable", "describe_host", "device_ref", "ensure_host_spec", "host_dir", "host_identity", "host_key", "host_model_dir", "host_model_dirs_by_threads",
           "host_spec_path", "host_spec_state", "host_threads", "install_host_spec", "probe_host_spec", "probe_lock", "probe_warning"]
