#!/usr/bin/env bash
# One device call on a lent H100 (run from the repository root; OUT = folder whose files come back):
#   1. `hybridperf probe` -> OUT/h100-sxm-measured.yaml (+ the raw result as JSON)
#   2. the zoo in CUDA-graph mode (GPU time without Python dispatch gaps), fp32 (TF32 off) and fp16,
#      latency + peak memory + NVML energy, time-boxed; models interleaved torchvision / transformers
#      so a cut-off still covers both sources. Resumes once if a model loses the CUDA context.
set -u
OUT=${OUT:?set OUT}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm,clocks.max.mem --format=csv > "$OUT/nvidia-smi.csv" 2>&1
python3 -m hybridperf probe --out "$OUT/h100-sxm-measured.yaml" --name "NVIDIA H100 80GB HBM3 (SXM5, probed)" \
  --format json > "$OUT/probe-result.json" 2> "$OUT/probe.log"
echo "probe rc=$?"
MODELS=resnet18,bert_tiny,resnet50,bert_small,resnet101,bert_base,resnext50_32x4d,bert_large,wide_resnet50_2,distilbert_base,mobilenet_v2,roberta_base,mobilenet_v3_small,albert_base,mobilenet_v3_large,electra_small,mnasnet1_0,t5_small_encoder,efficientnet_b0,gpt2,efficientnet_b3,gpt2_medium,efficientnet_v2_s,opt_125m,regnet_y_400mf,llama_tiny,regnet_x_1_6gf,qwen2_tiny,densenet121,hf_vit_base,squeezenet1_0,hf_deit_small,squeezenet1_1,hf_swin_tiny,shufflenet_v2_x1_0,hf_convnext_tiny,vgg11,hf_mobilevit_small,vgg16,hf_segformer_b0,alexnet,hf_resnet50,googlenet,whisper_tiny_encoder,inception_v3,wav2vec2_base,convnext_tiny,vit_b_16,swin_t,maxvit_t,fcn_resnet50,deeplabv3_resnet50,deeplabv3_mobilenet_v3_large,lraspp_mobilenet_v3_large,ssdlite320_mobilenet_v3_large
stop=$(( $(date +%s) + ${GRAPH_BUDGET_S:-330} ))
for attempt in 1 2 3; do
  extra=""; [ "$attempt" -gt 1 ] && extra="--resume"
  python3 -m benchmarks.gpu_measure --out "$OUT/graph" --mode graph --no-probe --models "$MODELS" \
    --stop-at-epoch "$stop" --time-budget-s 0.25 --energy-min-s 0.3 $extra >> "$OUT/gpu_measure-graph.log" 2>&1
  rc=$?; echo "gpu_measure attempt $attempt rc=$rc"
  [ "$rc" -ne 3 ] && break
done
