"""Model zoo: real architectures with random weights, exported to ONNX.

Every entry builds a PyTorch module from torchvision or Hugging Face
``transformers`` *configs* (no hub downloads: weights stay random, seeded with
``torch.manual_seed(0)``) and knows its input. The ONNX files are cached under
``.zoo/`` and feed the hybridperf benchmarks; the same builders are used on the
GPU machine (``benchmarks/gpu_measure.py``) so that a measured row and an
exported ONNX graph describe the same architecture at the same shapes.

Torch, torchvision and transformers are optional: they are imported only when a
model is built, so listing the registry costs nothing.

Examples
--------
>>> from benchmarks.zoo import list_models, export
>>> [e.name for e in list_models()][:2]
['resnet18', 'resnet50']
>>> export("resnet18", batch=1)          # doctest: +SKIP
PosixPath('.zoo/resnet18_b1_r224_legacy.onnx')

Command line::

    python -m benchmarks.zoo --list
    python -m benchmarks.zoo --export resnet18 --batch 8
    python -m benchmarks.zoo --export-all --exporter dynamo
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SEED = 0
DEFAULT_OPSET = 17
DEFAULT_OUT_DIR = Path(".zoo")
#: Attention kernel used by every transformers model here: the explicit
#: matmul-softmax-matmul graph, identical in eager PyTorch and in the ONNX export.
HF_ATTENTION = "eager"


class InputKind(str, enum.Enum):
    """What a model eats."""

    IMAGE = "image"  # float (batch, channels, resolution, resolution)
    TOKENS = "tokens"  # int64 (batch, seq_len) token ids
    AUDIO_FEATURES = "audio_features"  # float (batch, channels=n_mels, seq_len) log-mel frames
    AUDIO_WAVE = "audio_wave"  # float (batch, seq_len) raw samples


class Exporter(str, enum.Enum):
    LEGACY = "legacy"  # torch.onnx.export(..., dynamo=False), TorchScript based
    DYNAMO = "dynamo"  # torch.onnx.export(..., dynamo=True), torch.export based


@dataclass(frozen=True)
class InputSpec:
    """Default input of a model; ``resolution`` for images, ``seq_len`` otherwise.

    ``fixed_length`` means the architecture only accepts this ``seq_len``
    (Whisper's encoder has learned positions for exactly 3000 mel frames).
    """

    kind: InputKind
    resolution: int | None = None
    seq_len: int | None = None
    channels: int = 3
    vocab_size: int | None = None
    name: str = "x"  # ONNX input name
    fixed_length: bool = False


@dataclass(frozen=True)
class ZooEntry:
    """One architecture of the zoo.

    Attributes
    ----------
    name : str
        Unique id, used on the command line and in file names.
    family : str
        Coarse architecture family (``resnet``, ``bert``...) for held-out evaluation.
    source : str
        ``torchvision`` or ``transformers``.
    task : str
        ``classification``, ``segmentation``, ``detection``, ``encoder`` or ``decoder``.
    builder : Callable[[], torch.nn.Module]
        Builds the module (random weights, not yet in eval mode); takes no
        argument. Call :func:`build` instead, which seeds and sets eval mode.
    input : InputSpec
        Default input shape.
    batches : tuple[int, ...]
        Batch sizes worth measuring (fewer for the largest models).
    """

    name: str
    family: str
    source: str
    task: str
    builder: Callable[[], Any] = field(repr=False, compare=False)
    input: InputSpec
    batches: tuple[int, ...] = (1, 8, 32)


class ZooError(Exception):
    """Unknown model name or an export that failed; the message says which and why."""


# --------------------------------------------------------------------------- wrappers
# Wrappers give every model one tensor in and tensors out, which both ONNX
# exporters and the timing loop need. They are created lazily (torch optional).


def _wrappers():
    import torch

    class DictOut(torch.nn.Module):
        """torchvision segmentation models return {"out": ..., "aux": ...}."""

        def __init__(self, model, key="out"):
            super().__init__()
            self.model = model
            self.key = key

        def forward(self, x):
            return self.model(x)[self.key]

    class Detection(torch.nn.Module):
        """torchvision detectors take a list of images and return a list of dicts."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            out = self.model(list(x.unbind(0)))
            return tuple(t for d in out for t in (d["boxes"], d["scores"], d["labels"]))

    class HFOut(torch.nn.Module):
        """Hugging Face models take keyword inputs and return a ModelOutput."""

        def __init__(self, model, input_name, output="last_hidden_state"):
            super().__init__()
            self.model = model
            self.input_name = input_name
            self.output = output
            #: pass an all-ones attention mask (set by :func:`export` for legacy decoder exports)
            self.full_attention_mask = False

        def forward(self, x):
            kwargs = {self.input_name: x}
            if self.full_attention_mask:
                kwargs["attention_mask"] = torch.ones_like(x)
            out = self.model(**kwargs)
            return getattr(out, self.output)

    return DictOut, Detection, HFOut


# --------------------------------------------------------------------------- builders


def _tv(fn: str, **kwargs) -> Callable[[], Any]:
    def build():
        import torchvision.models as tvm

        return getattr(tvm, fn)(weights=None, **kwargs)

    return build


def _tv_seg(fn: str, **kwargs) -> Callable[[], Any]:
    def build():
        import torchvision.models.segmentation as seg

        DictOut, _, _ = _wrappers()
        model = getattr(seg, fn)(weights=None, weights_backbone=None, aux_loss=False, **kwargs)
        return DictOut(model)

    return build


def _tv_det(fn: str, **kwargs) -> Callable[[], Any]:
    def build():
        import torchvision.models.detection as det

        _, Detection, _ = _wrappers()
        return Detection(getattr(det, fn)(weights=None, weights_backbone=None, **kwargs))

    return build


def _hf(model_cls: str, config_cls: str, input_name: str = "input_ids", output: str = "last_hidden_state", **cfg) -> Callable[[], Any]:
    def build():
        import transformers

        config = getattr(transformers, config_cls)(**cfg)
        config._attn_implementation = HF_ATTENTION
        if hasattr(config, "use_cache"):
            config.use_cache = False
        if "." in model_cls:  # a class not exported at top level, e.g. WhisperEncoder
            import importlib

            mod, _, cls_name = model_cls.rpartition(".")
            model = getattr(importlib.import_module(f"transformers.{mod}"), cls_name)(config)
        else:
            model = getattr(transformers, model_cls)(config)
        _, _, HFOut = _wrappers()
        return HFOut(model, input_name, output)

    return build


def _img(res: int = 224, channels: int = 3) -> InputSpec:
    return InputSpec(InputKind.IMAGE, resolution=res, channels=channels, name="pixel_values")


def _tok(seq: int, vocab: int) -> InputSpec:
    return InputSpec(InputKind.TOKENS, seq_len=seq, vocab_size=vocab, name="input_ids")


_BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)


def _registry() -> list[ZooEntry]:
    tv, seg, det, hf = "torchvision", "segmentation", "detection", "transformers"
    cls, enc, dec = "classification", "encoder", "decoder"
    e = ZooEntry
    return [
        # torchvision classification
        e("resnet18", "resnet", tv, cls, _tv("resnet18"), _img()),
        e("resnet50", "resnet", tv, cls, _tv("resnet50"), _img()),
        e("resnet101", "resnet", tv, cls, _tv("resnet101"), _img()),
        e("resnext50_32x4d", "resnet", tv, cls, _tv("resnext50_32x4d"), _img()),
        e("wide_resnet50_2", "resnet", tv, cls, _tv("wide_resnet50_2"), _img()),
        e("mobilenet_v2", "mobilenet", tv, cls, _tv("mobilenet_v2"), _img()),
        e("mobilenet_v3_small", "mobilenet", tv, cls, _tv("mobilenet_v3_small"), _img()),
        e("mobilenet_v3_large", "mobilenet", tv, cls, _tv("mobilenet_v3_large"), _img()),
        e("mnasnet1_0", "mnasnet", tv, cls, _tv("mnasnet1_0"), _img()),
        e("efficientnet_b0", "efficientnet", tv, cls, _tv("efficientnet_b0"), _img()),
        e("efficientnet_b3", "efficientnet", tv, cls, _tv("efficientnet_b3"), _img(300)),
        e("efficientnet_v2_s", "efficientnet", tv, cls, _tv("efficientnet_v2_s"), _img(384)),
        e("regnet_y_400mf", "regnet", tv, cls, _tv("regnet_y_400mf"), _img()),
        e("regnet_x_1_6gf", "regnet", tv, cls, _tv("regnet_x_1_6gf"), _img()),
        e("densenet121", "densenet", tv, cls, _tv("densenet121"), _img()),
        e("squeezenet1_0", "squeezenet", tv, cls, _tv("squeezenet1_0"), _img()),
        e("squeezenet1_1", "squeezenet", tv, cls, _tv("squeezenet1_1"), _img()),
        e("shufflenet_v2_x1_0", "shufflenet", tv, cls, _tv("shufflenet_v2_x1_0"), _img()),
        e("vgg11", "vgg", tv, cls, _tv("vgg11"), _img()),
        e("vgg16", "vgg", tv, cls, _tv("vgg16"), _img()),
        e("alexnet", "alexnet", tv, cls, _tv("alexnet"), _img()),
        e("googlenet", "inception", tv, cls, _tv("googlenet", aux_logits=False, init_weights=True), _img()),
        e("inception_v3", "inception", tv, cls, _tv("inception_v3", aux_logits=False, init_weights=True), _img(299)),
        e("convnext_tiny", "convnext", tv, cls, _tv("convnext_tiny"), _img()),
        e("vit_b_16", "vit", tv, cls, _tv("vit_b_16"), _img()),
        e("swin_t", "swin", tv, cls, _tv("swin_t"), _img()),
        e("maxvit_t", "maxvit", tv, cls, _tv("maxvit_t"), _img()),
        # torchvision segmentation / detection
        e("fcn_resnet50", "fcn", tv, seg, _tv_seg("fcn_resnet50"), _img(512), (1, 8)),
        e("deeplabv3_resnet50", "deeplab", tv, seg, _tv_seg("deeplabv3_resnet50"), _img(512), (1, 8)),
        e("deeplabv3_mobilenet_v3_large", "deeplab", tv, seg, _tv_seg("deeplabv3_mobilenet_v3_large"), _img(512)),
        e("lraspp_mobilenet_v3_large", "lraspp", tv, seg, _tv_seg("lraspp_mobilenet_v3_large"), _img(512)),
        e("ssdlite320_mobilenet_v3_large", "ssd", tv, det, _tv_det("ssdlite320_mobilenet_v3_large"), _img(320), (1,)),
        # transformers encoders (text)
        e("bert_tiny", "bert", hf, enc,
          _hf("BertModel", "BertConfig", hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512),
          _tok(128, 30522)),
        e("bert_small", "bert", hf, enc,
          _hf("BertModel", "BertConfig", hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=2048),
          _tok(128, 30522)),
        e("bert_base", "bert", hf, enc, _hf("BertModel", "BertConfig", **_BERT_BASE), _tok(128, 30522)),
        e("bert_large", "bert", hf, enc,
          _hf("BertModel", "BertConfig", hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
          _tok(128, 30522)),
        e("distilbert_base", "distilbert", hf, enc, _hf("DistilBertModel", "DistilBertConfig"), _tok(128, 30522)),
        e("roberta_base", "roberta", hf, enc, _hf("RobertaModel", "RobertaConfig", vocab_size=50265, max_position_embeddings=514, **_BERT_BASE), _tok(128, 50265)),
        e("albert_base", "albert", hf, enc, _hf("AlbertModel", "AlbertConfig", hidden_size=768, num_attention_heads=12, intermediate_size=3072), _tok(128, 30000)),
        e("electra_small", "electra", hf, enc, _hf("ElectraModel", "ElectraConfig"), _tok(128, 30522)),
        e("t5_small_encoder", "t5", hf, enc, _hf("T5EncoderModel", "T5Config", d_model=512, d_ff=2048, num_layers=6, num_heads=8), _tok(128, 32128)),
        # transformers decoders (text, no KV cache: one prefill step)
        e("gpt2", "gpt2", hf, dec, _hf("GPT2Model", "GPT2Config"), _tok(128, 50257)),
        e("gpt2_medium", "gpt2", hf, dec, _hf("GPT2Model", "GPT2Config", n_embd=1024, n_layer=24, n_head=16), _tok(128, 50257)),
        e("opt_125m", "opt", hf, dec,
          _hf("OPTModel", "OPTConfig", hidden_size=768, num_hidden_layers=12, num_attention_heads=12, ffn_dim=3072, word_embed_proj_dim=768),
          _tok(128, 50272)),
        e("llama_tiny", "llama", hf, dec,
          _hf("LlamaModel", "LlamaConfig", vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
              num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=2048),
          _tok(128, 32000)),
        e("qwen2_tiny", "qwen2", hf, dec,
          _hf("Qwen2Model", "Qwen2Config", vocab_size=32000, hidden_size=896, intermediate_size=4864, num_hidden_layers=6,
              num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=2048),
          _tok(128, 32000)),
        # transformers vision
        e("hf_vit_base", "vit", hf, enc, _hf("ViTModel", "ViTConfig", input_name="pixel_values"), _img()),
        e("hf_deit_small", "vit", hf, enc,
          _hf("DeiTModel", "DeiTConfig", input_name="pixel_values", hidden_size=384, num_attention_heads=6, intermediate_size=1536),
          _img()),
        e("hf_swin_tiny", "swin", hf, enc, _hf("SwinModel", "SwinConfig", input_name="pixel_values"), _img()),
        e("hf_convnext_tiny", "convnext", hf, enc, _hf("ConvNextModel", "ConvNextConfig", input_name="pixel_values"), _img()),
        e("hf_mobilevit_small", "mobilevit", hf, enc, _hf("MobileViTModel", "MobileViTConfig", input_name="pixel_values"), _img(256)),
        e("hf_segformer_b0", "segformer", hf, seg,
          _hf("SegformerForSemanticSegmentation", "SegformerConfig", input_name="pixel_values", output="logits"), _img(512)),
        e("hf_resnet50", "resnet", hf, enc, _hf("ResNetModel", "ResNetConfig", input_name="pixel_values"), _img()),
        # transformers audio
        e("whisper_tiny_encoder", "whisper", hf, enc,
          _hf("models.whisper.modeling_whisper.WhisperEncoder", "WhisperConfig", input_name="input_features", d_model=384, encoder_layers=4,
              encoder_attention_heads=6, encoder_ffn_dim=1536, num_mel_bins=80),
          InputSpec(InputKind.AUDIO_FEATURES, seq_len=3000, channels=80, name="input_features", fixed_length=True), (1, 8)),
        e("wav2vec2_base", "wav2vec2", hf, enc, _hf("Wav2Vec2Model", "Wav2Vec2Config", input_name="input_values"),
          InputSpec(InputKind.AUDIO_WAVE, seq_len=16000, channels=1, name="input_values"), (1, 8)),
    ]


_REGISTRY: list[ZooEntry] | None = None


def list_models() -> list[ZooEntry]:
    """Every architecture of the zoo, in a fixed order (no torch needed)."""
    global _REGISTRY  # a cache of an immutable, deterministic list
    if _REGISTRY is None:
        _REGISTRY = _registry()
    return list(_REGISTRY)


def get(name: str) -> ZooEntry:
    """The entry called ``name``; raises :class:`ZooError` with a suggestion if unknown."""
    for entry in list_models():
        if entry.name == name:
            return entry
    from hybridperf.errors import did_you_mean

    hint = did_you_mean(name, [e.name for e in list_models()])
    raise ZooError(f"unknown zoo model {name!r}{hint}; python -m benchmarks.zoo --list lists them")


# --------------------------------------------------------------------------- build / inputs


def build(name: str, device: str = "cpu"):
    """Build model ``name`` with seeded random weights, in eval mode, on ``device``.

    Parameters are initialised directly on ``device`` (much faster on a GPU).
    """
    import torch

    entry = get(name)
    torch.manual_seed(SEED)
    with torch.device(device):
        model = entry.builder()
    return model.eval()


def resolve_shape(name: str, resolution: int | None = None, seq_len: int | None = None) -> dict[str, int | None]:
    """The effective ``resolution`` / ``seq_len`` for ``name`` (defaults filled in)."""
    spec = get(name).input
    if spec.kind is InputKind.IMAGE:
        if seq_len is not None:
            raise ZooError(f"{name} takes images: give resolution, not seq_len")
        return {"resolution": resolution or spec.resolution, "seq_len": None}
    if resolution is not None:
        raise ZooError(f"{name} takes a sequence: give seq_len, not resolution")
    if spec.fixed_length and seq_len not in (None, spec.seq_len):
        raise ZooError(f"{name} only accepts seq_len={spec.seq_len}")
    return {"resolution": None, "seq_len": seq_len or spec.seq_len}


def example_inputs(name: str, batch: int = 1, resolution: int | None = None, seq_len: int | None = None,
                   device: str = "cpu", dtype=None) -> tuple:
    """A tuple with one random input tensor for ``name`` (seeded, on ``device``).

    ``dtype`` applies to float inputs only; token ids stay int64.
    """
    import torch

    spec = get(name).input
    shape = resolve_shape(name, resolution, seq_len)
    gen = torch.Generator().manual_seed(SEED)
    if spec.kind is InputKind.TOKENS:
        x = torch.randint(0, spec.vocab_size, (batch, shape["seq_len"]), generator=gen)
    elif spec.kind is InputKind.IMAGE:
        r = shape["resolution"]
        x = torch.randn(batch, spec.channels, r, r, generator=gen)
    elif spec.kind is InputKind.AUDIO_FEATURES:
        x = torch.randn(batch, spec.channels, shape["seq_len"], generator=gen)
    else:
        x = torch.randn(batch, shape["seq_len"], generator=gen)
    if dtype is not None and x.is_floating_point():
        x = x.to(dtype)
    return (x.to(device),)


def onnx_path(name: str, batch: int = 1, resolution: int | None = None, seq_len: int | None = None,
              exporter: str = "legacy", out_dir: Path = DEFAULT_OUT_DIR) -> Path:
    """Where :func:`export` caches this configuration."""
    shape = resolve_shape(name, resolution, seq_len)
    tag = f"r{shape['resolution']}" if shape["resolution"] is not None else f"s{shape['seq_len']}"
    return Path(out_dir) / f"{name}_b{batch}_{tag}_{Exporter(exporter).value}.onnx"


def export(name: str, batch: int = 1, resolution: int | None = None, seq_len: int | None = None,
           exporter: str = "legacy", out_dir: Path = DEFAULT_OUT_DIR, opset: int = DEFAULT_OPSET,
           overwrite: bool = False) -> Path:
    """Export ``name`` to ONNX with static shapes and return the file's path (cached).

    Parameters
    ----------
    exporter : {"legacy", "dynamo"}
        ``legacy`` uses ``torch.onnx.export(dynamo=False)`` at ``opset``;
        ``dynamo`` uses ``torch.onnx.export(dynamo=True)`` (onnxscript needed).

    Raises
    ------
    ZooError
        Unknown model, or the exporter failed (the message carries the first
        line of the exporter's error; nothing half-written is left behind).
    """
    import torch

    exp = Exporter(exporter)
    path = onnx_path(name, batch, resolution, seq_len, exp.value, out_dir)
    if path.exists() and not overwrite:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build(name)
    inputs = example_inputs(name, batch, resolution, seq_len)
    in_name = get(name).input.name
    tmp = path.with_suffix(".tmp.onnx")
    fastpath = torch.backends.mha.get_fastpath_enabled()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            if exp is Exporter.LEGACY:
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                # Known-good workarounds for the TorchScript exporter, as a user would apply them:
                # nn.MultiheadAttention's fused eval fast path (aten::_native_multi_head_attention,
                # vit_b_16) has no ONNX symbolic: export the unfused math instead; and transformers
                # decoders given no attention mask probe position_ids for packed sequences with
                # aten::diff (no symbolic either): give them the all-ones mask of a plain prompt.
                torch.backends.mha.set_fastpath_enabled(False)
                if get(name).task == "decoder" and hasattr(model, "full_attention_mask"):
                    model.full_attention_mask = True
                torch.onnx.export(model, inputs, str(tmp), dynamo=False, opset_version=opset,
                                  input_names=[in_name], do_constant_folding=True)
            else:
                prog = torch.onnx.export(model, inputs, dynamo=True, input_names=[in_name],
                                         external_data=False, verbose=False)
                prog.save(str(tmp))
    except Exception as exc:  # noqa: BLE001 - any exporter failure is reported, not raised raw
        for p in tmp.parent.glob(tmp.name + "*"):
            p.unlink()
        first = f"{type(exc).__name__}: {_first_line(exc)}"
        cause = exc.__cause__
        if cause is not None:  # the dynamo exporter wraps the real error ("... step 1/3 of exporting ...")
            first = f"{type(cause).__name__}: {_first_line(cause)} (in {type(exc).__name__})"
        raise ZooError(f"{exp.value} export of {name} failed: {first[:300]}") from exc
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    tmp.replace(path)
    return path


def _first_line(exc: BaseException) -> str:
    """First non-empty line of an exception message, without terminal colour codes."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)[:200]


def export_many(names: list[str] | None = None, batch: int = 1, exporter: str = "legacy",
                out_dir: Path = DEFAULT_OUT_DIR, overwrite: bool = False) -> list[dict]:
    """Export several models, recording failures instead of stopping.

    Returns one record per model (``name``, ``ok``, ``path`` or ``error``,
    ``seconds``) and writes them to ``out_dir/export_report_<exporter>_b<batch>.json``.
    """
    records = []
    for name in names or [e.name for e in list_models()]:
        t0 = time.perf_counter()
        try:
            p = export(name, batch=batch, exporter=exporter, out_dir=out_dir, overwrite=overwrite)
            rec = {"name": name, "ok": True, "path": str(p)}
        except ZooError as exc:
            rec = {"name": name, "ok": False, "error": str(exc)}
        rec["seconds"] = round(time.perf_counter() - t0, 2)
        records.append(rec)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"export_report_{Exporter(exporter).value}_b{batch}.json").write_text(json.dumps(records, indent=1))
    return records


def entry_record(entry: ZooEntry) -> dict:
    """A JSON-friendly view of an entry (no builder)."""
    d = asdict(entry)
    d.pop("builder", None)
    d["input"]["kind"] = entry.input.kind.value
    d["batches"] = list(entry.batches)
    return d


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.zoo", description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--list", action="store_true", help="list the models (name, family, task, input)")
    g.add_argument("--export", metavar="NAME", help="export one model to ONNX")
    g.add_argument("--export-all", action="store_true", help="export every model, recording failures")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--resolution", type=int)
    ap.add_argument("--seq-len", type=int)
    ap.add_argument("--exporter", choices=[x.value for x in Exporter], default="legacy")
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--format", choices=["table", "json"], default="table")
    args = ap.parse_args(argv)

    try:
        if args.list:
            entries = list_models()
            if args.format == "json":
                print(json.dumps([entry_record(e) for e in entries], indent=1))
            else:
                for e in entries:
                    shape = f"{e.input.resolution}px" if e.input.resolution else f"seq {e.input.seq_len}"
                    print(f"{e.name:30s} {e.family:12s} {e.source:12s} {e.task:14s} {e.input.kind.value:14s} {shape}")
            return 0
        if args.export:
            path = export(args.export, batch=args.batch, resolution=args.resolution, seq_len=args.seq_len,
                          exporter=args.exporter, out_dir=args.out_dir, overwrite=args.overwrite)
            print(path)
            return 0
        records = export_many(batch=args.batch, exporter=args.exporter, out_dir=args.out_dir, overwrite=args.overwrite)
        failed = [r for r in records if not r["ok"]]
        for r in records:
            print(f"{r['name']:30s} {'ok' if r['ok'] else 'FAILED':6s} {r.get('path') or r['error']}")
        print(f"{len(records) - len(failed)}/{len(records)} exported with {args.exporter}")
        return 1 if failed else 0
    except ZooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
