"""Rendering of the device sheets for ``hybridperf devices``: the list and one sheet with its sources."""

from __future__ import annotations

from typing import Any

from hybridperf.precision import rate_unit
from hybridperf.report.format import format_si, table
from hybridperf.units import plural

#: the precisions shown as columns of the list view
LIST_PRECISIONS = ("fp32", "fp16", "int8")
#: a figure of a row whose figures are not known (``host`` before its probe): distinct from '-', not on the sheet
UNKNOWN = "unknown"


def list_table(rows: list[dict[str, Any]]) -> str:
    headers = ["ID", "NAME", "KIND", *(p.upper() for p in LIST_PRECISIONS), "DRAM BW", "DRAM"]
    body = []
    for r in rows:
        name = r["name"] if len(r["name"]) <= 48 else r["name"][:47] + "~"
        if not r.get("figures_known", True):  # `host` not probed yet: its figures are unknown, not "not listed"
            body.append([r["id"], name, r["kind"], *[UNKNOWN] * (len(headers) - 3)])
            continue
        peaks = [
            format_si(r["peak_flops_per_s"].get(p), rate_unit(p), 3)
            for p in LIST_PRECISIONS
        ]
        bw = r["dram_attainable_bandwidth_bytes_per_s"] or r["dram_bandwidth_bytes_per_s"]
        body.append([r["id"], name, r["kind"], *peaks, format_si(bw, "B/s", 4), format_si(r["dram_capacity_bytes"], "B", 3)])
    unknown = f"; '{UNKNOWN}': not measured yet" if any(not r.get("figures_known", True) for r in rows) else ""
    foot = (f"\n{plural(len(rows), 'device')}; peaks are dense ('-': not on the sheet, a peak falls back to another "
            f"precision{unknown}); `hybridperf devices show ID` for sources")
    return table(body, headers, rule=False) + foot


#: the flag of a figure that no prediction reads (``unused_figures`` of :func:`~hybridperf.commands.devices.show_device`)
UNUSED_FLAG = " [not used]"
#: the flag of a power or energy figure whose source marks it an estimate (:func:`~hybridperf.device.spec.is_estimate`,
#: the test :attr:`~hybridperf.device.spec.DeviceSpec.power_estimated` reads; until 2026-12-04 only the source said so)
ESTIMATE_FLAG = " [estimate]"
#: the figures :data:`ESTIMATE_FLAG` is given to: those energy is priced with (latency estimates have notes of their own)
_ESTIMATE_FLAGGED = ("power.", "energy.")


def cpu_identity_row(ident: dict[str, Any] | None) -> list[str]:
    """The ``cpu_identity`` row of a CPU sheet: vendor, family, model and stepping in the words every CPU check compares
    (:func:`~hybridperf.device.spec.cpu_words`), each part it lacks ``unknown``, and its source."""
    from hybridperf.device.spec import cpu_words

    if ident is None:
        return ["cpu_identity", UNKNOWN, "not on the sheet (vendor, family, model and stepping unknown)"]
    text = cpu_words(ident["vendor"], ident["family"], ident["model"], ident["stepping"])
    if ident["stepping"] is None:
        text += f" stepping {UNKNOWN}"
    return ["cpu_identity", text, ident["source"]]


def show_table(d: dict[str, Any]) -> str:
    from hybridperf.analysis.depthwise1d import DEPTHWISE_CONV1D_KEYS
    from hybridperf.analysis.elementwise_math import ELEMENTWISE_MATH_KEYS
    from hybridperf.analysis.broadcast import BROADCAST_KEYS
    from hybridperf.analysis.gather import GATHER_KEYS
    from hybridperf.device.spec import CALL_OVERHEAD_RUNTIMES, SUBNORMAL_ASSIST_KEYS, TRANSPOSE_KEYS, is_estimate

    rows: list[list[str]] = []
    unused = set(d.get("unused_figures", ()))

    def flag(key: str, q: dict[str, Any]) -> str:
        estimate = key.startswith(_ESTIMATE_FLAGGED) and not q.get("measured") and is_estimate(q.get("source", ""))
        return ((" [measured]" if q.get("measured") else "") + (ESTIMATE_FLAG if estimate else "")
                + (UNUSED_FLAG if key in unused else ""))

    def add(key: str, q: dict[str, Any] | None, unit: str) -> None:
        if q is None:
            return
        src = q["source"] + (f" (note: {q['note']})" if q.get("note") else "")
        rows.append([key, format_si(q["value"], unit) + flag(key, q), src])

    for p, q in d["peak_compute"].items():
        add(f"peak_compute.{p}", q, q["unit"])
    for name, s in d["sparsity"].items():
        rows.append([f"sparsity.{name}", f"x{s['speedup']:g} (not in peaks){flag(f'sparsity.{name}', s)}", s["source"]])
    for level, m in d["memory"].items():
        for k in ("bandwidth", "attainable_bandwidth", "capacity"):
            if m.get(k):  # null: not on the sheet
                add(f"memory.{level}.{k}", m[k], m[k]["unit"])
    if d["kind"] == "cpu" and not (d["memory"].get("llc") or {}).get("bandwidth"):
        # the rate recurrent layers re-read their weights at from the LLC: priced from DRAM without it
        rows.append(["memory.llc.bandwidth", UNKNOWN, "not on the sheet (a recurrent layer's re-read weights are "
                                                      "priced from DRAM and its latency unverified; `hybridperf "
                                                      "probe` measures it)"])
    add("launch_overhead", d["launch_overhead"], "s")
    # a CPU sheet's runtime call, `unknown` where the sheet does not give it (until 2026-12-05 no row, though
    # predictions priced it): a model that launches no kernel then reads latency unknown there
    if d["kind"] == "cpu":
        # each of a CPU-only section's figures in seconds, `unknown` (and why) where the sheet does not give it
        for name, keys, why in (("call_overhead", CALL_OVERHEAD_RUNTIMES, "a model that launches no kernel has no "
                                                                           "latency here"),
                                ("subnormal_assist", SUBNORMAL_ASSIST_KEYS, "subnormals a model makes itself are not "
                                                                            "priced here"),
                                ("transpose", TRANSPOSE_KEYS, "transposes that move the innermost axis are not "
                                                              "priced here"),
                                ("elementwise_math", ELEMENTWISE_MATH_KEYS, "this function's time per element beyond "
                                                                            "a copy is not priced here"),
                                ("depthwise_conv1d", DEPTHWISE_CONV1D_KEYS, "these convolutions are priced at their "
                                                                            "roofline here"),
                                ("gather", GATHER_KEYS, "gathers of many short blocks are not priced here"),
                                ("broadcast", BROADCAST_KEYS, "broadcasts over many short spans are not priced here")):
            section = d.get(name) or {}
            for k in keys:
                if section.get(k) is None:
                    rows.append([f"{name}.{k}", UNKNOWN, f"not on the sheet ({why})"])
                add(f"{name}.{k}", section.get(k), "s")
    add("power.idle", d["power"]["idle"], "W")
    add("power.max", d["power"]["max"], "W")
    for p, q in d["energy"]["per_mac"].items():
        add(f"energy.per_mac.{p}", q, "pJ")
    for lv, q in d["energy"]["per_byte"].items():
        add(f"energy.per_byte.{lv}", q, "pJ")
    for k, q in d.get("compute_units", {}).items():
        if q is None:  # not on the sheet
            continue
        if k == "boost_clock":
            add(f"compute_units.{k}", q, "Hz")
        else:
            rows.append([f"compute_units.{k}", f"{int(q['value'])}{flag(f'compute_units.{k}', q)}", q["source"]])
    if d["kind"] == "cpu":  # the CPU it describes; `unknown` where the sheet does not say (until 2026-12-04 no row)
        rows.append(cpu_identity_row(d.get("cpu_identity")))
    for m in d["mig_profiles"]:
        # the SM count's own source beside the memory's, and the memory's note, as every other figure's (until
        # 2026-12-04 both were left out); a count the sheet does not give reads "SMs unknown" (the profile is priced
        # at its compute slices' share)
        sms = m.get("sm_count")
        src = m["memory"]["source"] + (f" (note: {m['memory']['note']})" if m["memory"].get("note") else "")
        if sms is not None and m.get("sm_count_source") and m["sm_count_source"] != m["memory"]["source"]:
            src += f"; SMs: {m['sm_count_source']}"
        rows.append(
            [f"mig.{m['name']}", f"{m['compute_slices']}/{m['total_slices']} compute"
             + (f" ({sms} SMs)" if sms is not None else " (SMs unknown)")
             + f", {format_si(m['memory']['value'], 'B', 3)}", src]
        )
    head = f"{d['id']}: {d['name']} ({d['kind']})\nfile: {d['path']}\nlatency: {d['latency_model']}\n"
    tail = f"\nnotes: {d['notes']}" if d["notes"] else ""
    if any(ESTIMATE_FLAG in r[1] for r in rows):
        tail += f"\n{ESTIMATE_FLAG.strip()}: its source says so; energy priced on it is an estimate too"
    if unused:
        tail += f"\n{UNUSED_FLAG.strip()}: on the sheet, but no prediction reads it"
    return head + table(rows, ["KEY", "VALUE", "SOURCE"], rule=False) + tail
