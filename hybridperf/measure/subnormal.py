"""Subnormal activations: a hazard of timing a model with untrained weights.

A float32 below 2**-126 (about 1.18e-38) is *subnormal*. x86 cores handle a subnormal operand of
a multiply-add through a microcode assist unless flush-to-zero / denormals-are-zero are set (the
MXCSR FTZ and DAZ bits), and onnxruntime leaves them unset on the thread that calls ``run``. A
model exported with randomly initialised weights (from a config, not a checkpoint) can shrink its
activations layer by layer into that range; trained weights keep them near 1. Measured here:
MobileViT-small (``hf_mobilevit_small_b1_r256_legacy``, batch 1), one core of an Intel Xeon with
AMX, onnxruntime 1.32: 1,483-1,639 ms with the default MXCSR, 68-77 ms with FTZ and DAZ set, two
alternations each; 97-100 % of the values entering its last stages' convolutions and matrix
products are subnormal. Such a run times the assists, not the model as it would be deployed, and
no cost model of the model's shapes can see it.

:func:`scan` runs the model once with onnxruntime on the inputs a measurement uses and counts the
subnormal values among the activations entering its multiply-add nodes (:data:`MAC_OPS`);
:attr:`SubnormalScan.hazard` says whether the measurement is of the model or of collapsed activations
(:data:`MOSTLY`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ONNX ops whose time is multiply-adds over an activation input (the ops a subnormal operand slows)
MAC_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "FusedMatMul", "QLinearConv", "ConvInteger"})
#: a node whose activation inputs are more than this share subnormal has lost its scale (the tensor as a whole
#: sits below 1.2e-38, which trained weights do not produce); one such node makes the timing a :attr:`hazard`.
#: Subnormal *entries* of a tensor at a normal scale are the model's own and are timed as they run: Swin-T's
#: shifted-window attention adds a -100 mask before its softmax, and exp(-100) = 3.7e-44 is subnormal (a quarter
#: of one attention product's inputs; on the Intel core above it ran 14-27 % slower than with FTZ and DAZ set, whatever
#: its weights).
MOSTLY = 0.5


@dataclass(frozen=True)
class SubnormalScan:
    """Subnormal float32 values among the activations entering a model's multiply-add nodes.

    Attributes
    ----------
    nodes : int
        Multiply-add nodes with an activation input (a graph input or a computed tensor, not a weight); only their
        float32 values are counted.
    values : int
        Nonzero float32 values read.
    subnormal : int
        Of those, the subnormal ones.
    nodes_mostly_subnormal : int
        Nodes whose activation inputs are more than :data:`MOSTLY` subnormal (what :attr:`hazard` counts).
    worst_node : str
        The node with the largest subnormal share (``""`` when none has any).
    worst_node_share : float
        Its share, 0-1.
    mean_node_share : float
        Mean over the nodes read of their subnormal share, 0-1.
    """

    nodes: int
    values: int
    subnormal: int
    nodes_mostly_subnormal: int
    worst_node: str
    worst_node_share: float
    mean_node_share: float

    @property
    def share(self) -> float:
        """Subnormal share of the nonzero values read, 0-1 (0 when nothing was read)."""
        return self.subnormal / self.values if self.values else 0.0

    @property
    def hazard(self) -> bool:
        """True when some node's activation inputs are mostly subnormal (:data:`MOSTLY`): activations that
        collapsed below the normal range, so a CPU timing is of the assists, not of the model as trained."""
        return self.nodes_mostly_subnormal > 0

    def describe(self) -> str:
        """One line for a report."""
        if not self.subnormal:
            return f"no subnormal activations ({self.nodes} multiply-add nodes read)"
        return (f"subnormal activations: {self.mean_node_share * 100:.1f} % per multiply-add node on average "
                f"({self.nodes_mostly_subnormal} of {self.nodes} nodes mostly subnormal, worst {self.worst_node!r} "
                f"{self.worst_node_share * 100:.0f} %; {self.share * 100:.1f} % of all values)")


    def warning(self, subject: str, consequence: str) -> str:
        """The stderr line of a hazard: what was found in ``subject`` and ``consequence``."""
        return (f"hybridperf: warning: {subject}: {self.describe()}; x86 cores take a microcode assist on each such "
                f"operand, so its timing is of the assists, not of the model as trained weights would run "
                f"(random-initialised exports can shrink whole activations below 1.2e-38); {consequence}")

    def to_dict(self) -> dict[str, Any]:
        """JSON record (shares 0-1; ``worst_node`` null when no node read a subnormal value)."""
        return {"nodes": self.nodes, "values": self.values, "subnormal": self.subnormal,
                "mean_node_share": self.mean_node_share, "nodes_mostly_subnormal": self.nodes_mostly_subnormal,
                "worst_node": self.worst_node or None, "worst_node_share": self.worst_node_share, "hazard": self.hazard}


def _activation_inputs(model: Any) -> list[tuple[str, list[str]]]:
    """(node name, activation inputs: neither initializers nor constants) of every top-level :data:`MAC_OPS` node;
    their element types are read off the run (only float32 ones are counted)."""
    weights = {i.name for i in model.graph.initializer}
    weights |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    out = []
    for i, node in enumerate(model.graph.node):
        if node.op_type not in MAC_OPS:
            continue
        acts = [x for x in node.input[:2] if x and x not in weights]
        if acts:
            out.append((node.name or f"{node.op_type}_{i}", acts))
    return out


def scan(model_path: Path | str, feeds: Mapping[str, Any]) -> SubnormalScan:
    """Run ``model_path`` once on ``feeds`` (onnxruntime, CPU, one thread) and count subnormal activations.

    Parameters
    ----------
    model_path : path
        ONNX model (external data beside it is loaded).
    feeds : mapping
        Input name -> array, the inputs the measurement runs (``onnxruntime.model_inputs``).

    Returns
    -------
    SubnormalScan
        Over the float32 activation inputs of the graph's top-level :data:`MAC_OPS` nodes. Every
        such tensor is kept alive for the one run, so memory is that of the graph without reuse.
    """
    import numpy as np
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_path))
    nodes = _activation_inputs(model)
    wanted = sorted({x for _, acts in nodes for x in acts} - {o.name for o in model.graph.output}
                    - {i.name for i in model.graph.input})
    for name in wanted:  # untyped: onnxruntime infers each output's type from the node that computes it
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    data = model.SerializeToString()
    del model  # the weights once in memory (as bytes) while onnxruntime builds its session, not twice
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 4  # errors reach the user as one hybridperf line, not onnxruntime's log
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    del data
    names = [o.name for o in sess.get_outputs()]
    values = dict(zip(names, sess.run(None, dict(feeds)), strict=True))
    values.update({k: np.asarray(v) for k, v in feeds.items()})
    tiny = np.finfo(np.float32).tiny
    total = sub = mostly = 0
    worst, worst_share, share_sum = "", 0.0, 0.0
    for node, acts in nodes:
        n_nonzero = n_sub = 0
        for x in acts:
            a = values.get(x)
            if a is None or a.dtype != np.float32:
                continue
            mag = np.abs(a)
            n_nonzero += int(np.count_nonzero(mag))
            n_sub += int(np.count_nonzero((mag > 0) & (mag < tiny)))
        total += n_nonzero
        sub += n_sub
        share = n_sub / n_nonzero if n_nonzero else 0.0
        mostly += share > MOSTLY
        share_sum += share
        if share > worst_share:
            worst, worst_share = node, share
    return SubnormalScan(nodes=len(nodes), values=total, subnormal=sub, nodes_mostly_subnormal=mostly,
                         worst_node=worst, worst_node_share=worst_share,
                         mean_node_share=share_sum / len(nodes) if nodes else 0.0)


def scan_inputs(model_path: Path | str, shapes: Mapping[str, tuple[int, ...]] | None = None,
                batch: int | None = None) -> SubnormalScan:
    """:func:`scan` on the inputs :func:`hybridperf.measure.onnxruntime.measure` times (same shapes, same seed)."""
    from hybridperf.measure.onnxruntime import model_inputs

    return scan(model_path, model_inputs(Path(model_path), shapes, batch)[0])


__all__ = ["MAC_OPS", "MOSTLY", "SubnormalScan", "scan", "scan_inputs"]
