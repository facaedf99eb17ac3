"""Budget limits, the [tool.hybridperf] schema and precedence (no model is analysed here)."""

from pathlib import Path

import pytest

from hybridperf.estimate.budget import (
    Budget,
    BudgetError,
    Metric,
    MetricCheck,
    load_config,
    parse_config,
    parse_limit,
    resolve_targets,
)
from hybridperf.errors import InputError


@pytest.mark.parametrize(
    "text, metric, expected",
    [
        ("20ms", "latency", 0.02),
        ("20 ms", "latency", 0.02),
        ("1.5s", "latency", 1.5),
        ("100us", "latency", 1e-4),
        ("250ns", "latency", 2.5e-7),
        ("1e-3s", "latency", 1e-3),
        ("512MiB", "memory", 512 * 2**20),
        ("512MB", "memory", 512 * 10**6),
        ("2GiB", "memory", 2 * 2**30),
        ("1.5KiB", "memory", 1536),
        ("4KB", "memory", 4000),
        ("1GB", "memory", 10**9),
        ("100B", "memory", 100),
        ("50mJ", "energy", 0.05),
        ("2J", "energy", 2.0),
        ("300uJ", "energy", 3e-4),
    ],
)
def test_parse_limit(text, metric, expected):
    assert parse_limit(text, metric) == pytest.approx(expected, rel=1e-15)


def test_parse_is_exact_decimal():
    assert parse_limit("100us", "latency") == 1e-4  # not 100 * 1e-6 = 9.999999999999999e-05
    assert parse_limit("0.1s", "latency") == 0.1


@pytest.mark.parametrize(
    "text, metric, fragment",
    [
        ("20 msec", "latency", "unknown unit 'msec' (did you mean 'ms'?)"),
        ("-5ms", "latency", "must be positive"),
        ("0ms", "latency", "must be positive"),
        ("512MB/s", "memory", "B, KB, MB, GB"),
        ("20", "latency", "s, ms, us, ns"),
        ("fast", "latency", "s, ms, us, ns"),
        ("512mib", "memory", "(did you mean 'MiB'? a lowercase b is a bit"),
        ("5ms", "memory", "unknown unit 'ms'"),
        ("50mW", "energy", "J, mJ, uJ"),
        ("", "energy", "J, mJ, uJ"),
    ],
)
def test_parse_limit_errors(text, metric, fragment):
    with pytest.raises(BudgetError) as exc:
        parse_limit(text, metric)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"--max-{metric} {text!r}")
    assert fragment in msg
    assert isinstance(exc.value, InputError)


def test_numbers_are_si_in_the_api_only():
    assert parse_limit(0.005, "latency") == 0.005
    assert parse_limit(256 * 2**20, Metric.MEMORY) == 256 * 2**20
    with pytest.raises(BudgetError, match="needs a unit"):
        parse_limit(5, "latency", allow_number=False)
    for bad in (-1, 0, float("nan"), float("inf"), True):
        with pytest.raises(BudgetError):
            parse_limit(bad, "latency")


def test_limit_met_at_equality():
    assert MetricCheck("m", "d", Metric.LATENCY, 0.02, 0.02).passed
    over = MetricCheck("m", "d", Metric.LATENCY, 0.025, 0.02)
    assert not over.passed and over.over_by == pytest.approx(0.25)
    assert MetricCheck("m", "d", Metric.ENERGY, 9.0, None).skipped


def test_budget_over():
    a = Budget(max_latency_s=1.0)
    b = Budget(max_latency_s=2.0, max_memory_bytes=3.0)
    assert a.over(b) == Budget(1.0, 3.0, None)
    assert Budget().empty and not a.empty


# --------------------------------------------------------------------------- config

FULL = """
[tool.hybridperf]
devices = ["t4"]
max-energy = "1J"

[tool.hybridperf.budgets."models/a.onnx"]
batch = 4
shapes = {x = "4x3x32x32"}
precision = "fp16"
max-latency = "20ms"
max-memory = "512MiB"

[tool.hybridperf.budgets."models/a.onnx".devices."a100-sxm-80gb"]
max-latency = "5ms"

[tool.hybridperf.budgets."models/a.onnx".devices."t4"]

[tool.hybridperf.budgets."models/b.onnx"]
devices = ["l4"]
max-memory = "1GB"
"""


def write(tmp_path, text, name="pyproject.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_full_schema(tmp_path):
    cfg = load_config(write(tmp_path, FULL))
    assert cfg.devices == ("t4",)
    assert cfg.budget == Budget(max_energy_j=1.0)
    a, b = cfg.models
    assert a.path == (tmp_path / "models/a.onnx").resolve()
    assert a.devices == ("a100-sxm-80gb", "t4")
    assert a.device_budgets["a100-sxm-80gb"] == Budget(max_latency_s=0.005)
    assert a.device_budgets["t4"] == Budget()
    assert a.batch == 4 and a.shapes == {"x": (4, 3, 32, 32)} and a.precision == "fp16"
    assert b.devices == ("l4",) and b.budget == Budget(max_memory_bytes=1e9)


def test_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(tmp_path, FULL))
    a, b = resolve_targets([], cfg)
    assert a.model == str(Path("models/a.onnx")) and b.model == str(Path("models/b.onnx"))
    # per-device table > model table > [tool.hybridperf]
    assert a.budgets["a100-sxm-80gb"] == Budget(0.005, 512 * 2**20, 1.0)
    assert a.budgets["t4"] == Budget(0.02, 512 * 2**20, 1.0)
    assert a.batch == 4 and a.precision == "fp16"
    assert b.devices == ("l4",) and b.budgets["l4"] == Budget(None, 1e9, 1.0)
    # command line > everything
    (t,) = resolve_targets(
        ["models/a.onnx"], cfg, Budget(max_latency_s=0.001), ["a100-sxm-80gb", "h100-sxm"], 2, {"x": (2, 3, 8, 8)}, "bf16"
    )
    assert t.devices == ("a100-sxm-80gb", "h100-sxm")
    assert t.budgets["a100-sxm-80gb"] == Budget(0.001, 512 * 2**20, 1.0)
    assert t.budgets["h100-sxm"] == Budget(0.001, 512 * 2**20, 1.0)
    assert (t.batch, t.shapes, t.precision) == (2, {"x": (2, 3, 8, 8)}, "bf16")


def test_model_outside_config_gets_defaults(tmp_path):
    cfg = load_config(write(tmp_path, FULL))
    (t,) = resolve_targets(["other.onnx"], cfg)
    assert t.devices == ("t4",) and t.budgets["t4"] == Budget(max_energy_j=1.0)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('[tool.hybridperf]\nmax-latncy = "5ms"\n', "[tool.hybridperf] unknown key 'max-latncy' (did you mean 'max-latency'?)"),
        (
            '[tool.hybridperf.budgets."m.onnx"]\nmax-memroy = "5MB"\n',
            '[tool.hybridperf.budgets."m.onnx"] unknown key \'max-memroy\' (did you mean \'max-memory\'?)',
        ),
        (
            '[tool.hybridperf.budgets."m.onnx".devices."t4"]\nbatch = 2\n',
            '[tool.hybridperf.budgets."m.onnx".devices."t4"] unknown key \'batch\'',
        ),
        ('[tool.hybridperf.budgets."m.onnx"]\nmax-latency = "20 msec"\n', "key max-latency '20 msec': unknown unit 'msec'"),
        ('[tool.hybridperf.budgets."m.onnx"]\nmax-latency = 20\n', "key max-latency 20: a limit needs a unit"),
        ('[tool.hybridperf]\nbatch = 0\n', "key 'batch' must be a positive integer"),
        ('[tool.hybridperf]\ndevices = "t4"\n', "key 'devices' must be a non-empty list"),
        ('[tool.hybridperf]\nprecision = "fp12"\n', "key 'precision' is 'fp12'"),
        ('[tool.hybridperf.budgets."m.onnx"]\nshapes = {x = "1x3xN"}\n', "entry 'x' must be a string like"),
        ("[tool.hybridperf\n", "cannot parse TOML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, text, fragment):
    p = write(tmp_path, text)
    with pytest.raises(BudgetError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert msg.startswith(str(p)) and fragment in msg and "\n" not in msg


def test_no_section_and_missing_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config().models == ()  # no ./pyproject.toml: empty
    write(tmp_path, '[project]\nname = "x"\n')
    assert load_config().models == ()  # no [tool.hybridperf]: empty
    with pytest.raises(BudgetError, match="config file not found: nope.toml"):
        load_config("nope.toml")


def test_resolve_errors(tmp_path):
    empty = parse_config({}, tmp_path / "pyproject.toml")
    with pytest.raises(BudgetError, match="no model to check"):
        resolve_targets([], empty)
    with pytest.raises(BudgetError, match="no device for m.onnx: pass --device"):
        resolve_targets(["m.onnx"], empty, Budget(max_latency_s=1.0))
    with pytest.raises(BudgetError, match="no budget for m.onnx on t4"):
        resolve_targets(["m.onnx"], empty, cli_devices=["t4"])
