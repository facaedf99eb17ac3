"""A user's own device sheet, written from the README and the shipped sheets (audit of 2026-12-04): an id that would
name the wrong folder, units written per bit or per FLOP, a number where text belongs, a missing source; a sheet that
pickles (a process pool, ``copy.deepcopy``) and prices the same after; a hand copy of a shipped sheet whose figures
equal the shipped ones."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
import yaml

import hybridperf
from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import available_devices, default_spec_dir, latency_figures, load_spec
from hybridperf.errors import SpecError

from test_sheet_audit import error  # noqa: E402 - one reader of a sheet's one-line error
from test_sheet_audit import sheet as vendor_sheet  # noqa: E402

T4 = yaml.safe_load((default_spec_dir() / "t4.yaml").read_text(encoding="utf-8"))


def sheet(tmp_path: Path, edit=None, name: str = "mygpu", text: str | None = None) -> Path:
    """The shipped T4 sheet as the user's ``mygpu.yaml`` (``id: mygpu``), edited by ``edit(raw)``."""
    return vendor_sheet(tmp_path, edit, name, text, base=T4)


# --------------------------------------------------------------------------- pickling


@pytest.mark.parametrize("dev", available_devices(default_spec_dir()))
def test_every_shipped_sheet_pickles_and_stays_read_only(dev):
    """Before: ``pickle.dumps(load_spec('t4'))`` and ``copy.deepcopy`` raised "cannot pickle 'mappingproxy'
    object"."""
    spec = load_spec(dev)
    back = pickle.loads(pickle.dumps(spec))
    assert back == spec and back is not spec
    assert copy.deepcopy(spec) == spec and copy.copy(spec) == spec
    for name in ("peak_flops_per_s", "memory", "energy_pj_per_mac", "energy_pj_per_byte", "sparsity_speedup",
                 "sources", "field_notes"):
        with pytest.raises(TypeError):  # read-only after the trip as before it
            getattr(back, name)["x"] = 1
    assert latency_figures(back) == latency_figures(spec) and back.unused_figures == spec.unused_figures


def test_pickled_sheet_prices_identically(model_dir):
    """A shipped GPU sheet (cross-device model) and CPU sheet (its own residual), and a roofline-only sheet, each
    priced before and after the trip: every figure equal, not merely close."""
    analyzed = hybridperf.analyze(str(model_dir / "resnet_like.onnx"), batch=1)
    for dev in ("t4", "host-epyc-1c", "ethos-u55"):
        spec = load_spec(dev)
        back = pickle.loads(pickle.dumps(spec))
        precision = "int8" if dev == "ethos-u55" else None
        a = hybridperf.predict_on(analyzed, spec, precision=precision)
        b = hybridperf.predict_on(analyzed, back, precision=precision)
        assert (a.latency_s, a.energy_j, a.calibration) == (b.latency_s, b.energy_j, b.calibration), dev
        assert a.latency_s > 0


def test_plain_dict_fields_round_trip():
    """A DeviceSpec built in code with plain dicts comes back equal, its dicts still dicts."""
    spec = load_spec("t4")
    built = type(spec)(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__},
                          "peak_flops_per_s": dict(spec.peak_flops_per_s)})
    back = pickle.loads(pickle.dumps(built))
    assert back == built and type(back.peak_flops_per_s) is dict


# --------------------------------------------------------------------------- a hand copy of a shipped sheet


def test_copy_of_t4_under_own_id_has_t4s_figures(tmp_path, capsys):
    mine = load_spec(sheet(tmp_path))
    t4 = load_spec("t4")
    assert latency_figures(mine) == latency_figures(t4)
    assert dict(mine.sources) == dict(t4.sources) and mine.energy_pj_per_mac == t4.energy_pj_per_mac
    assert (mine.idle_power_w, mine.max_power_w) == (t4.idle_power_w, t4.max_power_w)
    assert main(["devices", "show", str(tmp_path / "mygpu.yaml"), "--format", "json"]) == ExitCode.OK
    shown = json.loads(capsys.readouterr().out)
    assert main(["devices", "show", "t4", "--format", "json"]) == ExitCode.OK
    ref = json.loads(capsys.readouterr().out)
    for k in ("id", "path", "latency_model"):  # the dispatch floor measured on the T4's host stays the T4's
        shown.pop(k), ref.pop(k)
    assert shown == ref


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize("file_name, dev_id", [("...yaml", ".."), ("..yaml", "."), (".hidden.yaml", ".hidden")])
def test_id_that_is_not_a_folder_name_is_refused(tmp_path, file_name, dev_id):
    """Before: ``...yaml`` with ``id: '..'`` loaded, and ``calibrate`` would have stored its model in
    ``models/../``, the user data folder itself."""
    p = sheet(tmp_path, lambda r: r.update(id=dev_id))
    p = p.rename(tmp_path / file_name)
    assert error(p) == (f"key 'id' is {dev_id!r}; an id names folders, so it may not start with '.' or hold '/', '\\' "
                        "or control characters: use letters, digits and '-', e.g. id: my-gpu in my-gpu.yaml")


def test_shipped_id_in_other_case_is_refused(tmp_path):
    """Before: ``T4.yaml`` (``id: T4``) was an id of its own, though on macOS and Windows models/T4/ is models/t4/."""
    p = sheet(tmp_path, name="T4")
    assert error(p) == ("key 'id' is 'T4', the shipped sheet 't4' in other letter case (one folder on macOS and "
                        "Windows, where models are stored by id); write id: t4 for that device, or give yours its "
                        "own id, e.g. id: t4-custom in t4-custom.yaml")
    same = sheet(tmp_path, name="t4")  # the shipped id itself, figures unchanged: still accepted
    assert load_spec(same).id == "t4"


def test_number_where_text_belongs(tmp_path):
    """Before: ``id: 4090`` in ``4090.yaml`` said "must be a non-empty string"."""
    p = sheet(tmp_path, name="4090")
    raw = yaml.safe_load(p.read_text())
    raw["id"] = 4090
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert error(p) == "key 'id' is the number 4090; write it in quotes (id: \"4090\"), it must be text"
    assert error(sheet(tmp_path, lambda r: r.update(name=3090))) == (
        "key 'name' is the number 3090; write it in quotes (name: \"3090\"), it must be text")


# --------------------------------------------------------------------------- keys and sources


def test_missing_source_names_the_house_rule(tmp_path):
    """Before: "key 'power.max.source' is required but missing", without saying what a source is."""
    assert error(sheet(tmp_path, lambda r: r["power"]["max"].pop("source"))) == (
        "key 'power.max.source' is required but missing; name where power.max comes from (a datasheet, a measurement, "
        "`derived: <arithmetic>` or `estimate: <reasoning>`)")


def test_unknown_key_with_nothing_close_lists_the_keys(tmp_path):
    """Before: "key 'vendor' is not a known key", naming none."""
    assert error(sheet(tmp_path, lambda r: r.update(vendor="NVIDIA"))) == (
        "key 'vendor' is not a known key (the keys here: schema_version, id, name, kind, peak_compute, memory, "
        "launch_overhead, power, energy, sparsity, mig_profiles, compute_units, cpu_identity, family_probes, call_overhead, subnormal_assist, transpose, "
        "elementwise_math, depthwise_conv1d, gather, broadcast, notes; free text goes in notes)")
    assert error(sheet(tmp_path, lambda r: r["compute_units"].update(tensor_cores=r["compute_units"]["count"]))) == (
        "key 'compute_units.tensor_cores' is not a known key (the keys here: count, fp32_lanes_per_unit, boost_clock)")
    # a close spelling keeps its one guess
    assert error(sheet(tmp_path, lambda r: r.update(compute_unit=r.pop("compute_units")))) == (
        "key 'compute_unit' is not a known key (did you mean 'compute_units'?)")


# --------------------------------------------------------------------------- units written per action


def _per_byte(unit, value=3.9):
    return lambda r: r["energy"]["per_byte"]["dram"].update(value=value, unit=unit)


def _per_mac(unit, value=14.8):
    return lambda r: r["energy"]["per_mac"]["fp32"].update(value=value, unit=unit)


def test_energy_per_bit_names_the_factor_8(tmp_path):
    """Before: "unknown unit 'pJ/bit'" with no hint, and a writer who then dropped the /bit (``value: 3.9, unit: pJ``)
    priced DRAM traffic 8x too cheap."""
    for unit in ("pJ/bit", "pJ/b"):
        assert error(sheet(tmp_path, _per_byte(unit))) == (
            f"key 'energy.per_byte.dram.unit' {unit!r} is per bit, but energy.per_byte.dram is per byte (8 bits): "
            f"write 8x the figure (value: {3.9 * 8:g}, unit: pJ)")
    for unit in ("pJ/B", "pJ/byte"):
        assert error(sheet(tmp_path, _per_byte(unit))) == (
            f"key 'energy.per_byte.dram.unit' {unit!r}: write unit: pJ (energy.per_byte.dram is per byte already)")


def test_energy_per_flop_names_the_factor_2(tmp_path):
    assert error(sheet(tmp_path, _per_mac("pJ/FLOP", 7.4))) == (
        "key 'energy.per_mac.fp32.unit' 'pJ/FLOP' is per FLOP, but energy.per_mac.fp32 is per MAC (2 FLOP): write 2x "
        f"the figure (value: {7.4 * 2:g}, unit: pJ)")
    assert error(sheet(tmp_path, _per_mac("pJ/MAC"))) == (
        "key 'energy.per_mac.fp32.unit' 'pJ/MAC': write unit: pJ (energy.per_mac.fp32 is per MAC already)")
    # a per-action unit under the other key gets the plain list
    assert error(sheet(tmp_path, _per_byte("pJ/MAC"))).startswith(
        "key 'energy.per_byte.dram.unit' unknown unit 'pJ/MAC'; use one of ")


def test_transfer_rate_is_not_a_bandwidth(tmp_path):
    msg = error(sheet(tmp_path, lambda r: r["memory"]["dram"]["bandwidth"].update(value=5000, unit="MT/s")))
    assert msg.startswith("key 'memory.dram.bandwidth.unit' 'MT/s' is a transfer rate, not bytes per second: write "
                          "the bandwidth, transfers x bus width in bytes x channels, in GB/s")


# --------------------------------------------------------------------------- a folder of one's own sheets


def test_spec_dir_of_ones_own(tmp_path, capsys):
    """Before: a folder named ``x.yaml`` in it stopped the listing ("is a directory"), and an unknown id there said
    "run `hybridperf devices` ... (1 sheets, and host: this machine)": the shipped list, and a host not looked up."""
    sheet(tmp_path)
    (tmp_path / "old.yaml").mkdir()
    assert main(["devices", "--spec-dir", str(tmp_path), "--format", "json"]) == ExitCode.OK
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["mygpu"]
    assert main(["devices", "show", "t4", "--spec-dir", str(tmp_path)]) == ExitCode.INPUT_ERROR
    assert capsys.readouterr().err == (
        f"hybridperf: error: unknown device 't4': {tmp_path} has 1 sheet(s) (`hybridperf devices --spec-dir "
        f"{tmp_path}` lists them); pass one of their ids, or a spec file path\n")
    with pytest.raises(SpecError) as info:  # the shipped folder named explicitly keeps the shipped wording
        load_spec("t5", default_spec_dir())
    assert "run `hybridperf devices` to list the known ids" in str(info.value)


def test_gpu_sheet_without_unit_figures_says_so(tmp_path):
    """Where the cross-device model lacks the SM count, lanes and L2 it says so, in `devices show` and predict's
    calibration line (the wording the audit found honest, pinned)."""
    p = sheet(tmp_path, lambda r: (r.pop("compute_units"), r["memory"].pop("l2")))
    words = hybridperf.latency_model(str(p))
    assert words.startswith("zero-shot from spec (cross-device model")
    assert ("its sheet gives no compute_units.count (1 SM assumed) and no compute_units.fp32_lanes_per_unit "
            "(64 lanes assumed) and no memory.l2.capacity (0 B assumed)") in words


# --------------------------------------------------------------------------- compute units


def test_cuda_cores_are_not_sms(tmp_path):
    """Before: any count unit was taken for either figure, so the datasheet's "2560 CUDA cores" written as
    ``count: {value: 2560, unit: lanes}`` or ``unit: core`` priced the T4 as 2560 SMs."""
    def count(unit, value=2560):
        return lambda r: r["compute_units"]["count"].update(value=value, unit=unit)

    assert error(sheet(tmp_path, count("lanes"))) == (
        "key 'compute_units.count.unit' is 'lanes'; count is the number of SMs, CUs or cores (unit SM, CU or core), "
        "lanes per unit go in fp32_lanes_per_unit (a GPU's CUDA cores / SMs, e.g. 2560 / 40 = 64)")
    assert error(sheet(tmp_path, count("core"))) == (
        "key 'compute_units.count.unit' is 'core' on a GPU sheet, where a datasheet's cores (CUDA cores, stream "
        "processors) are lanes: give the SM count (unit SM; AMD: CU) and fp32_lanes_per_unit (cores / SMs)")
    assert error(sheet(tmp_path, lambda r: r["compute_units"]["fp32_lanes_per_unit"].update(unit="SM"))) == (
        "key 'compute_units.fp32_lanes_per_unit.unit' is 'SM'; fp32_lanes_per_unit counts the FP32 lanes in one unit "
        "(unit: lanes; a GPU's CUDA cores per SM, e.g. 64 or 128)")
    assert load_spec(sheet(tmp_path, count("CU", 40))).compute_unit_count == 40  # AMD's compute units
    cpu = load_spec("ryzen-9-7950x")  # a CPU's cores keep unit core
    assert cpu.compute_unit_count == 16


# --------------------------------------------------------------------------- figures written bare


def test_bare_figure_names_the_mapping_to_write(tmp_path):
    """Before: ``launch_overhead: 5 us`` (or ``5``) said only "must be a mapping {value, unit, source}"."""
    assert error(sheet(tmp_path, lambda r: r.update(launch_overhead="5 us"))) == (
        "key 'launch_overhead' must be a mapping {value, unit, source}; write {value: 5, unit: us, source: \"<where it "
        "comes from>\"}")
    assert error(sheet(tmp_path, lambda r: r.update(launch_overhead=5))) == (
        "key 'launch_overhead' must be a mapping {value, unit, source}; write {value: 5, unit: s | ms | us | ns, "
        "source: \"<where it comes from>\"}")
    assert error(sheet(tmp_path, lambda r: r.update(launch_overhead=["5 us"]))) == (
        "key 'launch_overhead' must be a mapping {value, unit, source}")


def test_sparsity_speedup_as_text(tmp_path):
    """Before: ``speedup: 2x`` was told "write the number in value and the unit in unit (value: 2, unit: x)", a key
    and a unit a speed-up has not; and a missing source said only "is required but missing"."""
    def sparse(entry):
        return lambda r: r.update(sparsity={"structured_2_4": entry})

    assert error(sheet(tmp_path, sparse({"speedup": "2x", "source": "NVIDIA Ampere whitepaper"}))) == (
        "key 'sparsity.structured_2_4.speedup' is the text '2x'; write the speed-up as a bare number, sparse rate / "
        "dense rate (speedup: 2.0 for 2:4)")
    assert error(sheet(tmp_path, sparse({"speedup": 2.0}))) == (
        "key 'sparsity.structured_2_4.source' is required but missing; name where sparsity.structured_2_4 comes from "
        "(a datasheet, a measurement, `derived: <arithmetic>` or `estimate: <reasoning>`)")
    assert load_spec(sheet(tmp_path, sparse({"speedup": 2, "source": "x"}))).sparsity_speedup == {"structured_2_4": 2.0}


@pytest.mark.parametrize("drop, fix", [
    (lambda r: r.pop("id"), "key 'id' is required but missing; write id: ID, the file's name without .yaml"),
    (lambda r: r.pop("kind"), "key 'kind' is required but missing; write kind: gpu, cpu or npu"),
    (lambda r: r.pop("schema_version"), "key 'schema_version' is required but missing; write schema_version: 1 as the "
                                        "first line"),
    (lambda r: r["energy"].pop("per_byte"), "key 'energy.per_byte' is required but missing; give "
                                            "energy.per_byte.dram, the pJ per byte of DRAM traffic"),
])
def test_missing_required_key_names_what_to_write(tmp_path, drop, fix):
    """Before: these four said only "is required but missing"."""
    assert error(sheet(tmp_path, drop)) == fix
