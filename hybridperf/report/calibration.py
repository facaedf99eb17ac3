"""Rendering of a calibration run (``hybridperf calibrate``) as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hybridperf.report.format import format_si, table


def calibration_text(model: Any, result: dict[str, Any], metrics: dict[str, Any], data: Path) -> str:
    """What was fitted and stored, the data it came from, then one line per scalar metric."""
    lines = [f"calibrated {result['device']}: {model.describe()}", f"stored     {result['stored']}",
             *([f"replaced   {result['replaced']}"] if result.get("replaced") else []),
             f"data       {result['rows']} model rows, {result['kernel_rows']} kernel rows from {data}"]
    for key, val in metrics.items():
        if isinstance(val, float):
            lines.append(f"{key:<28} {val:.2f}")
        elif not isinstance(val, dict):
            lines.append(f"{key:<28} {val}")
    if isinstance(metrics.get("cv_mape_pct_by_overhead"), dict) and metrics["cv_mape_pct_by_overhead"]:
        cv = metrics["cv_mape_pct_by_overhead"]
        lines.append(f"{'grouped-CV MAPE (best)':<28} {min(cv.values()):.2f} % at overhead {format_si(model.overhead_s_, 's', 6)}")
    return "\n".join(lines)


def _retest_line(r: dict[str, Any] | None) -> str:
    """The measurements' own test-retest beside the held-out error (unknown with one round)."""
    if not r or r.get("mape_pct") is None:
        why = ("fewer than 2 models measured in both halves of the rounds" if r and r["rounds"] >= 2 else
               f"{r['rounds'] if r else 'one'} round; --rounds 2 or more compares the halves")
        return f"measurement test-retest: unknown ({why}): differences between the errors above may be noise"
    (a, b), (c, d) = r["halves"]
    first = f"round {a}" if a == b else f"rounds {a}-{b}"
    second = f"round {c}" if c == d else f"rounds {c}-{d}"
    runs = [m for m in r.get("runs_mape_pct") or () if m is not None]
    which = ""
    if len(runs) > 1:  # --steady measured again: the run adapted to, and the others' figures
        others = ", ".join(f"{m:.1f}" for i, m in enumerate(runs, 1) if i != r["run_used"])
        which = f"; run {r['run_used']} of {len(runs)} (--steady {r['steady_pct']:g} %; the others {others} %)"
    return (f"measurement test-retest (fastest run, {second} against {first}, {r['models']} models{which}): "
            f"{r['mape_pct']:.1f} % MAPE, {r['within_10_pct']:.0f} % within +-10 %: differences between the errors "
            "above smaller than that are noise")


def _base_words(result: dict[str, Any]) -> str:
    """What the "zero-shot" figures are: the packaged cross-host model before calibrating, zero-shot, or (on a CPU it
    was trained on) with that training host's own offset, as `predict` said. Until 2026-12-04 "cross-host zero-shot"
    either way: on a training CPU `predict` said "not zero-shot" and calibrate "zero-shot" of the same figures."""
    host = result.get("base_offset_of")
    same = result.get("base_same_cpu")
    if not host and same:  # this CPU trained on with other threads: not zero-shot either (until 2026-12-04 evening)
        return (f"cross-host; this CPU was trained on with other threads ({', '.join(same)}), so not zero-shot; the "
                "'zero-shot' column")
    if not host:
        return "cross-host zero-shot"
    return (f"cross-host with training host {host}'s offset (this CPU was trained on, so not zero-shot; the "
            "'zero-shot' column)")


def _no_correction_lines(result: dict[str, Any]) -> list[str]:
    """Where the stored adaptation kept no correction: one line saying that ``predict`` prices as before calibrating
    and what the "adapted" figures are then. Until 2026-12-05 only the model's description said "no correction
    kept", beside an adapted held-out error other than the base's and a warning that "the adapted model" was worse,
    though the model stored prices every model as the base model does."""
    if result.get("correction_kept", True):
        return []
    per_fold = result.get("heldout_adapted_on")
    fold = f"adapting on {per_fold} models at a time" if per_fold else "the held-out adaptations"
    same = " (predict's figures stay as before calibrating)" if result.get("predict_uses_it", True) else ""
    return [f"the stored model keeps no correction: it prices {result['device']} as the base model does, the "
            f"'zero-shot' column{same}; the adapted column is what {fold} gave each model held out"]


def _cpu_words(m: dict[str, Any]) -> str:
    """The CPU the models were measured on: ``lscpu``'s model name and, where known, vendor, family, model and
    stepping (until 2026-12-05 the name alone, "AMD EPYC" for Zen 3, 4 and 5 alike)."""
    from hybridperf.device.spec import cpu_words

    name = m.get("cpu_model") or "an unknown CPU"
    # a part measurements.csv left empty ("") is unknown, as None is
    vals = [None if m.get(k) in (None, "") else m.get(k) for k in ("cpu_vendor", "cpu_family", "cpu_model_id",
                                                                     "cpu_stepping")]
    return f"{name} ({cpu_words(*vals)})" if any(v is not None for v in vals) else name


def measure_calibration_text(result: dict[str, Any]) -> str:
    """The summary of ``hybridperf calibrate --measure``: held-out error per predictor and per model."""
    h = result["heldout_mape_pct"]
    rows = [[r["key"], format_si(r["measured_s"], "s"), format_si(r["roofline_s"], "s"), format_si(r["zero_shot_s"], "s"),
             "unknown" if r["adapted_s"] is None else format_si(r["adapted_s"], "s")] for r in result["per_model"]]
    adapted = (f", adapted {h['adapted']:.1f} % MAPE" if h["adapted"] is not None else
               f" MAPE, adapted unknown ({result.get('heldout_unknown_reason') or 'not tested'})")
    lines = [
        f"calibrated {result['device']} on {result['models']} measured models ({result['threads']} thread(s)); "
        f"stored in {result['stored']}",
        f"held-out error ({result['heldout']}): roofline {h['roofline']:.1f} %, {_base_words(result)} "
        f"{h['zero_shot']:.1f} %{adapted}",
        _retest_line(result.get("measurement_retest")),
        "",
        # "fastest": the figure every CPU model predicts; `hybridperf measure` prints it beside the median (the
        # column said "measured" alone until 2026-12-03, read against measure's median)
        table(rows, ["model", "measured fastest", "roofline", "zero-shot", "adapted (held out)"], "lrrrr"),
        "",
        f"model: {result['calibration']}",
        *_no_correction_lines(result),
        f"measurements and training tables: {result['data']}",
    ]
    m = result.get("measured") or {}
    if m.get("runtime"):  # what a `hybridperf measure` to compare with must match
        lines.append(f"measured with {m['runtime']} {m.get('runtime_version') or '(version unknown)'} on "
                     f"{_cpu_words(m)}, {result['threads']} thread(s), "
                     f"{m.get('first_utc') or 'unknown'} to {m.get('last_utc') or 'unknown'}")
    if result.get("replaced"):
        lines.append(f"replaced the model stored there before: {result['replaced']}")
    if result.get("replaced_measurements"):
        lines.append(f"replaced the measurements stored in {result['replaced_measurements']} before")
    if result.get("reset_command"):
        undo = "to go back to the packaged model" if result.get("predict_uses_it", True) else "to remove it"
        lines.append(f"{undo}: {result['reset_command']}")
    for r in result.get("not_calibrated_on") or ():
        lines.append(f"left out: {r['key']}: {r['why']}")
    if result.get("duplicates_left_out"):
        lines.append("measured once (named twice, or the same bytes): "
                     + ", ".join(f"{a} = {b}" for a, b in result["duplicates_left_out"]))
    if result.get("left_out_subnormal"):
        lines.append("left out (collapsed, subnormal activations: their timing is of microcode assists): "
                     + ", ".join(result["left_out_subnormal"]))
    for r in result.get("left_out_unpriced") or ():  # a roofline of 0: nothing to learn a ratio to
        lines.append(f"left out: {r['model']}: {r['why']}")
    return "\n".join(lines)


def reset_text(result: dict[str, Any]) -> str:
    """What ``hybridperf calibrate --device ID --reset`` removed (or that nothing was stored)."""
    if result["removed"] is None:
        line = f"no calibrated model stored for {result['device']} in {result['model_dir']}: nothing removed"
    else:
        line = f"removed the model calibrated for {result['device']} from {result['model_dir']} ({result['removed']})"
        if result.get("predict_used_it", True):
            line += f"; predictions for {result['device']} use the packaged model again"
    if result.get("measurements_removed"):
        line += f"\nremoved its measurements {result['measurements_removed']}"
    return line
