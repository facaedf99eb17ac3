"""NeuSight GPU operator measurements priced with this project's cost rules and roofline.

The NeuSight data set (sitar-lab/NeuSight, MIT licence; Lee et al., "Forecasting GPU
Performance for Deep Learning Training and Inference", ASPLOS 2025) holds about 250,000
measured fp32 PyTorch 2.1 operator latencies on five NVIDIA GPUs, laid out as
``ops/<op>/<device>.csv.gz`` with ``Latency`` in milliseconds (one call) and the operator's
dimensions as columns.

Each row becomes a *priced row*: the op is described as the Relax op (or fused op group)
that PyTorch's kernel computes, its FLOPs and bytes come from the registered cost rules
(:func:`hybridperf.costs.op_cost`, the same code path the model analysis uses), the roofline
time from :func:`hybridperf.estimate.roofline.roofline` on the matching device sheet
(:attr:`PricedOps.target` is ``log(measured / roofline)``; the cross-device model normalises by
its own baseline, see :func:`hybridperf.residual.cross_device.baseline`). Only shapes and the
device sheet enter the features; the kernel names, grids and occupancies NeuSight recorded are
measurements of the device and are not used (they were read once to check which algorithms ran:
the A100 conv rows use FP32 kernels, not TF32).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from hybridperf.costs import CostRegistry, OpContext, OpCost, default_registry, op_cost
from hybridperf.device.spec import DeviceSpec, load_spec
from hybridperf.errors import InputError
from hybridperf.estimate.roofline import roofline
from hybridperf.ir.tvm_compat import TensorInfo

#: NeuSight device file stem -> hybridperf device sheet id
DEVICE_IDS: Mapping[str, str] = MappingProxyType({
    "NVIDIA_A100-PCIE-40GB": "a100-pcie-40gb",
    "NVIDIA_A100_80GB_PCIe": "a100-pcie-80gb",
    "Tesla_P100-PCIE-16GB": "p100-pcie-16gb",
    "Tesla_P4": "p4",
    "Tesla_T4": "t4",
    "Tesla_V100-PCIE-32GB": "v100-pcie-32gb",
})

#: the five measured GPUs; NeuSight measured conv on an A100 80GB PCIe and every other op on an A100 40GB PCIe,
#: so "the A100" is both sheets (held out together)
GPUS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "p4": ("p4",),
    "p100": ("p100-pcie-16gb",),
    "t4": ("t4",),
    "v100": ("v100-pcie-32gb",),
    "a100": ("a100-pcie-40gb", "a100-pcie-80gb"),
})

#: NeuSight op -> (Relax op(s) the PyTorch kernel computes, reporting family)
OPS: Mapping[str, tuple[tuple[str, ...], str]] = MappingProxyType({
    "bmm": (("relax.matmul",), "bmm"),
    "linear": (("relax.matmul", "relax.add"), "linear"),  # addmm: x @ W^T + bias in one kernel
    "conv": (("relax.nn.conv2d",), "conv"),
    "ln": (("relax.nn.layer_norm",), "layer_norm"),
    "softmax": (("relax.nn.softmax",), "softmax"),
    "add": (("relax.add",), "elementwise"),
    "mul": (("relax.multiply",), "elementwise"),
    "div": (("relax.divide",), "elementwise"),
    "pow": (("relax.power",), "elementwise"),
    "addu": (("relax.add",), "elementwise"),
    "mulu": (("relax.multiply",), "elementwise"),
    "divu": (("relax.divide",), "elementwise"),
    "powu": (("relax.power",), "elementwise"),
    "relu": (("relax.nn.relu",), "elementwise"),
    "gelu": (("relax.nn.gelu",), "elementwise"),
    "tanh": (("relax.tanh",), "elementwise"),
})
OP_NAMES: tuple[str, ...] = tuple(OPS)
FAMILIES: tuple[str, ...] = ("bmm", "linear", "conv", "layer_norm", "softmax", "elementwise")

#: shape columns of a priced row (0 where they do not apply)
SHAPE_COLUMNS: tuple[str, ...] = (
    "batch", "gemm_m", "gemm_n", "gemm_k", "elems", "row", "conv_kernel", "conv_stride", "conv_in_size",
    "conv_out_size", "conv_in_channels", "conv_out_channels",
)

_F32 = "float32"


@dataclass(frozen=True)
class PricedOps:
    """Priced operator rows, one array entry per measurement.

    Attributes
    ----------
    op, family, device : arrays of str
        NeuSight op name, reporting family (:data:`FAMILIES`) and hybridperf device id.
    measured_s : array
        Measured latency in seconds.
    flops, bytes_total : arrays
        From the registered cost rules.
    roofline_s, compute_s, memory_s : arrays
        The roofline on the device's sheet (fp32).
    shapes : mapping of :data:`SHAPE_COLUMNS` to arrays
    """

    op: np.ndarray
    family: np.ndarray
    device: np.ndarray
    measured_s: np.ndarray
    flops: np.ndarray
    bytes_total: np.ndarray
    roofline_s: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    shapes: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.op)

    @property
    def target(self) -> np.ndarray:
        """``log(measured / roofline)``."""
        return np.log(self.measured_s / self.roofline_s)

    def shape_matrix(self) -> np.ndarray:
        """``(rows, len(SHAPE_COLUMNS))``: the shape columns side by side, in :data:`SHAPE_COLUMNS` order (one row per
        measurement; the same shape on two devices gives the same row)."""
        return np.stack([self.shapes[c] for c in SHAPE_COLUMNS], 1)

    def take(self, index) -> PricedOps:
        """The rows at ``index`` (a boolean mask or integer positions)."""
        return PricedOps(
            self.op[index], self.family[index], self.device[index], self.measured_s[index], self.flops[index],
            self.bytes_total[index], self.roofline_s[index], self.compute_s[index], self.memory_s[index],
            MappingProxyType({k: v[index] for k, v in self.shapes.items()}),
        )


def conv_out_size(in_size: int, kernel: int, stride: int, padding: int) -> int:
    """Output side of a square 2-D convolution (dilation 1)."""
    return (in_size + 2 * padding - kernel) // stride + 1


def _t(*shape: int) -> TensorInfo:
    return TensorInfo(tuple(int(d) for d in shape), _F32)


def op_context(op: str, dims: Mapping[str, int]) -> tuple[OpContext, ...]:
    """The Relax op contexts of one NeuSight row, in :data:`OPS` order (shapes only, fp32).

    The first context carries the kernel's external inputs and outputs (its bytes); later ones
    add the FLOPs of ops fused into the same kernel (the bias add of ``linear``).
    """
    if op == "bmm":
        b, m, n, k = dims["B"], dims["M"], dims["N"], dims["K"]
        return (OpContext("relax.matmul", (_t(b, m, k), _t(b, k, n)), (_t(b, m, n),)),)
    if op == "linear":
        b, m, n, k = dims["B"], dims["M"], dims["N"], dims["K"]
        out = _t(b, m, n)
        mm = OpContext("relax.matmul", (_t(b, m, k), _t(k, n), _t(n)), (out,), (False, True, True))
        return (mm, OpContext("relax.add", (out, _t(n)), (out,), (False, True)))
    if op == "conv":
        b, ci, co, k = dims["B"], dims["Input_Channel"], dims["Output_Channel"], dims["Kernel_Szie"]
        s, st, p = dims["Input_Size"], dims["Stride"], dims["Padding"]
        o = conv_out_size(s, k, st, p)
        return (OpContext("relax.nn.conv2d", (_t(b, ci, s, s), _t(co, ci, k, k)), (_t(b, co, o, o),), (False, True),
                          {"strides": [st, st], "padding": [p, p, p, p], "kernel_layout": "OIHW"}),)
    b, h = dims["B"], dims["H"]
    x = _t(b, h)
    relax_op = OPS[op][0][0]
    if op == "ln":
        return (OpContext(relax_op, (x, _t(h), _t(h)), (x,), (False, True, True)),)
    if op in ("add", "mul", "div", "pow"):
        return (OpContext(relax_op, (x, x), (x,)),)
    if op in ("addu", "mulu", "divu", "powu"):
        return (OpContext(relax_op, (x, _t()), (x,), (False, True)),)
    return (OpContext(relax_op, (x,), (x,)),)


def price_op(op: str, dims: Mapping[str, int], registry: CostRegistry | None = None) -> OpCost:
    """The cost of one NeuSight row's kernel from the registered rules (FLOPs summed over fused ops,
    bytes of the kernel's external tensors)."""
    reg = registry or default_registry()
    ctxs = op_context(op, dims)
    flops = 0
    for ctx in ctxs:
        found = reg.rule(ctx.op)
        if found is None:
            raise InputError(f"no cost rule for {ctx.op} (NeuSight op {op!r})")
        flops += found(ctx).flops
    first = ctxs[0]
    base = op_cost(first, reg.rule(first.op)(first))
    return OpCost(flops, base.bytes_read, base.bytes_written, base.weight_bytes)


def shape_row(op: str, dims: Mapping[str, int]) -> tuple[float, ...]:
    """The :data:`SHAPE_COLUMNS` of one row: the GEMM view (conv as implicit GEMM), elements, row length, conv."""
    z = dict.fromkeys(SHAPE_COLUMNS, 0.0)
    if op in ("bmm", "linear"):
        b = dims["B"]
        z.update(batch=b, gemm_m=dims["M"], gemm_n=dims["N"], gemm_k=dims["K"], elems=b * dims["M"] * dims["N"],
                 row=dims["N"])
        if op == "linear":  # a linear's rows are one GEMM
            z.update(batch=1, gemm_m=b * dims["M"])
    elif op == "conv":
        b, ci, co, k = dims["B"], dims["Input_Channel"], dims["Output_Channel"], dims["Kernel_Szie"]
        o = conv_out_size(dims["Input_Size"], k, dims["Stride"], dims["Padding"])
        z.update(batch=1, gemm_m=b * o * o, gemm_n=co, gemm_k=ci * k * k, elems=b * co * o * o, row=o * o,
                 conv_kernel=k, conv_stride=dims["Stride"], conv_in_size=dims["Input_Size"], conv_out_size=o,
                 conv_in_channels=ci, conv_out_channels=co)
    else:
        z.update(batch=dims["B"], elems=dims["B"] * dims["H"], row=dims["H"])
    return tuple(float(z[c]) for c in SHAPE_COLUMNS)


def _read(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


_DIM_KEYS = ("B", "M", "N", "K", "H", "Input_Channel", "Output_Channel", "Kernel_Szie", "Input_Size", "Stride", "Padding")


def _row_dims(r: Mapping[str, str]) -> dict[str, int]:
    """The operator dims of one NeuSight CSV row (the :data:`_DIM_KEYS` it fills)."""
    return {k: int(r[k]) for k in _DIM_KEYS if r.get(k)}


def op_dims(data_dir: str | Path, op: str) -> dict[tuple[float, ...], dict[str, int]]:
    """Every distinct shape NeuSight measured of ``op`` (on any device): :func:`shape_row` -> its dims (the
    first row met of each shape, files in name order). A reader of NeuSight's own columns for what the priced
    rows (:func:`load_ops`) no longer hold, e.g. to time a chosen row's shape again."""
    if op not in OPS:
        raise InputError(f"unknown NeuSight op {op!r}; known: {', '.join(OP_NAMES)}")
    out: dict[tuple[float, ...], dict[str, int]] = {}
    for path in sorted((Path(data_dir) / "ops" / op).glob("*.csv.gz")):
        for r in _read(path):
            dims = _row_dims(r)
            out.setdefault(shape_row(op, dims), dims)
    return out


def load_ops(data_dir: str | Path, ops: Iterable[str] | None = None, devices: Iterable[str] | None = None,
             specs: Mapping[str, DeviceSpec] | None = None, registry: CostRegistry | None = None) -> PricedOps:
    """Read and price NeuSight operator rows.

    Parameters
    ----------
    data_dir : path
        The NeuSight directory (holding ``ops/``).
    ops : op names, optional
        Subset of :data:`OP_NAMES` (default all).
    devices : hybridperf device ids, optional
        Subset of :data:`DEVICE_IDS` values (default all).
    specs : mapping id -> DeviceSpec, optional
        Sheets to price on (default :func:`hybridperf.device.spec.load_spec` of each id).
    registry : CostRegistry, optional
        Cost rules (default :func:`hybridperf.costs.default_registry`).

    Raises
    ------
    InputError
        ``data_dir`` has no ``ops/`` folder, or an op has no cost rule.
    """
    root = Path(data_dir) / "ops"
    if not root.is_dir():
        raise InputError(f"{root} not found; point --data at the NeuSight directory (it holds ops/<op>/<device>.csv.gz)")
    want_ops = list(ops) if ops is not None else list(OP_NAMES)
    want_dev = set(devices) if devices is not None else set(DEVICE_IDS.values())
    reg = registry or default_registry()
    cost_cache: dict[tuple, tuple[OpCost, tuple[float, ...]]] = {}
    spec_cache: dict[str, DeviceSpec] = dict(specs or {})
    cols: dict[str, list] = {k: [] for k in ("op", "family", "device", "measured_s", "flops", "bytes_total", "roofline_s",
                                            "compute_s", "memory_s", "shape")}
    for op in want_ops:
        if op not in OPS:
            raise InputError(f"unknown NeuSight op {op!r}; known: {', '.join(OP_NAMES)}")
        for path in sorted((root / op).glob("*.csv.gz")):
            dev = DEVICE_IDS.get(path.name[: -len(".csv.gz")])
            if dev is None or dev not in want_dev:
                continue
            spec = spec_cache.get(dev) or spec_cache.setdefault(dev, load_spec(dev))
            for r in _read(path):
                dims = _row_dims(r)
                key = (op, tuple(sorted(dims.items())))
                hit = cost_cache.get(key)
                if hit is None:
                    hit = cost_cache[key] = (price_op(op, dims, reg), shape_row(op, dims))
                cost, shape = hit
                est = roofline(cost, spec, "fp32")
                cols["op"].append(op)
                cols["family"].append(OPS[op][1])
                cols["device"].append(dev)
                cols["measured_s"].append(float(r["Latency"]) * 1e-3)
                cols["flops"].append(cost.flops)
                cols["bytes_total"].append(cost.bytes_total)
                cols["roofline_s"].append(est.latency_s)
                cols["compute_s"].append(est.compute_s)
                cols["memory_s"].append(est.memory_s)
                cols["shape"].append(shape)
    shape = np.array(cols.pop("shape"), float).reshape(-1, len(SHAPE_COLUMNS))
    return PricedOps(
        op=np.array(cols["op"]), family=np.array(cols["family"]), device=np.array(cols["device"]),
        measured_s=np.array(cols["measured_s"]), flops=np.array(cols["flops"], float),
        bytes_total=np.array(cols["bytes_total"], float), roofline_s=np.array(cols["roofline_s"]),
        compute_s=np.array(cols["compute_s"]), memory_s=np.array(cols["memory_s"]),
        shapes=MappingProxyType({c: shape[:, i] for i, c in enumerate(SHAPE_COLUMNS)}),
    )


def concat(parts: Sequence[PricedOps]) -> PricedOps:
    """Rows of several :class:`PricedOps` in order."""
    cat = np.concatenate
    return PricedOps(
        *(cat([getattr(p, f) for p in parts]) for f in ("op", "family", "device", "measured_s", "flops", "bytes_total",
                                                        "roofline_s", "compute_s", "memory_s")),
        shapes=MappingProxyType({c: cat([p.shapes[c] for p in parts]) for c in SHAPE_COLUMNS}),
    )


__all__ = ["DEVICE_IDS", "FAMILIES", "GPUS", "OPS", "OP_NAMES", "PricedOps", "SHAPE_COLUMNS", "concat", "conv_out_size",
           "load_ops", "op_context", "op_dims", "price_op", "shape_row"]
