"""``--show-meta`` prints the same bytes on every load: a weight left on disk is imported as zeros, not as
whatever memory the allocator handed back.

Until 2026-12-05 :func:`hybridperf.ir.tvm_compat.empty_tensor` (the placeholder of an ONNX weight over
``INLINE_EXTERNAL_BYTES``) was ``tvm.runtime.empty``: reused heap below glibc's mmap threshold. SqueezeNet
1.1 loaded twice in one process printed different ``script(show_meta=True)`` text: its 10 weights over 64 KiB
(of 34 printed tensors; the 128x32x3x3 ``features.6.expand3x3.weight`` first, about line 1037, the 1000x512x1x1
classifier weight last) held leftover process memory, fragments of ONNX node names among it. The figures did not
move (nothing reads a placeholder's values: costs, kernels and memory use types only).
"""

import gc
from pathlib import Path

import numpy as np
import pytest

import hybridperf
from hybridperf.cli import ExitCode, main
from hybridperf.frontends.onnx_import import INLINE_EXTERNAL_BYTES
from hybridperf.ir import tvm_compat

#: the base64 of a saved tensor's magic number (0xDD5E40F096B4A13F): one per constant in the printed metadata
_TENSOR_MAGIC = "P6G0lvBAXt0"
SQUEEZENET = Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx"


def _dirty_heap(nbytes: int) -> None:
    """Leave ``nbytes`` of non-zero bytes freed on the heap, where the next allocation of that size may land."""
    junk = [np.full(nbytes, 0xA5, dtype=np.uint8) for _ in range(8)]
    del junk
    gc.collect()


@pytest.mark.parametrize(("shape", "dtype", "nbytes"), [
    ((128, 32, 3, 3), "float32", 128 * 32 * 3 * 3 * 4),  # squeezenet's features.6.expand3x3.weight
    ((48, 384, 1, 1), "float32", 48 * 384 * 4),  # features.10.squeeze.weight, just over 64 KiB
    ((3, 5), "bfloat16", 3 * 5 * 2),
    ((7,), "int4", 4),  # 7 * 4 bits, packed: (28 + 7) // 8
    ((0, 4), "float32", 0),
    ((), "int64", 8),
])
def test_placeholder_is_zeros_of_its_type(shape, dtype, nbytes):
    _dirty_heap(max(nbytes, 1))
    t = tvm_compat.empty_tensor(shape, dtype)
    gc.collect()  # the tensor alone keeps its bytes alive
    assert tuple(t.shape) == shape
    assert str(t.dtype) == dtype
    raw = t._create_view((nbytes,), "uint8").numpy() if nbytes else np.zeros(0, np.uint8)  # noqa: SLF001
    assert raw.size == nbytes
    assert not raw.any()


def test_squeezenet_weights_left_on_disk_are_zeros(home):
    mod = hybridperf.annotate_module(SQUEEZENET, "t4", residual=None)
    big = []

    def visit(expr):
        if tvm_compat.is_constant(expr):
            arr = expr.value.numpy()
            if arr.nbytes > INLINE_EXTERNAL_BYTES:
                big.append(arr)

    import tvm  # noqa: PLC0415

    tvm.relax.analysis.post_order_visit(mod["main"], visit)
    # the weights over 64 KiB: features.6/7 expand3x3 (128x32x3x3), 9/10 expand3x3 (192x48x3x3),
    # 10/11 squeeze (48x384, 64x384), 11/12 expand3x3 (256x64x3x3), 12 squeeze (64x512), classifier (1000x512)
    assert len(big) == 2 + 2 + 2 + 2 + 1 + 1
    assert all(not a.any() for a in big)


def test_two_loads_give_the_same_show_meta_text(home):
    texts = []
    for _ in range(2):
        texts.append(hybridperf.annotate_module(SQUEEZENET, "t4", residual=None).script(show_meta=True))
        _dirty_heap(128 * 32 * 3 * 3 * 4)
    assert texts[0] == texts[1]
    # every constant printed once: 26 conv weights + 8 biases (18 Identity nodes share them), the 34 initializers
    assert texts[0].count(_TENSOR_MAGIC) == 26 + 8


def test_cli_show_meta_twice_is_identical(home, capsys):
    outs = []
    for _ in range(2):
        assert main(["annotate", str(SQUEEZENET), "-d", "t4", "--show-meta"]) == ExitCode.OK
        outs.append(capsys.readouterr().out)
        _dirty_heap(2 * 1000 * 512 * 4)
    assert _TENSOR_MAGIC in outs[0]
    assert outs[0] == outs[1]
