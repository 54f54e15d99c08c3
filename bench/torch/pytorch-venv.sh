#!/usr/bin/env bash
# Makes bench/torch/.venv with CPU-only PyTorch for reference_train.py; exits nonzero when it cannot.
set -u
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv || exit 1
PIP=".venv/bin/python -m pip"
if .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "torch already installed: $(.venv/bin/python -c 'import torch; print(torch.__version__)')"; exit 0
fi
start=$(date +%s)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The CPU wheel is fetched alone, then installed as a file so its small dependencies come from PyPI:
# `--index-url .../whl/cpu` by itself fails on dependencies that index lacks, and plain PyPI's torch
# (the highest version wins) is the CUDA build, whose nvidia-* dependencies are several GB.
wheel=""
if timeout 300 $PIP download torch --no-deps -d "$tmp" -q --index-url https://download.pytorch.org/whl/cpu 2>/dev/null; then
    wheel=$(ls "$tmp"/torch-*.whl | head -1); echo "CPU wheel from the PyTorch CPU index (or pip's find-links)"
else
    echo "download.pytorch.org unreachable; looking for a CPU wheel in pip's find-links"
    links="${PIP_FIND_LINKS:-} $($PIP config get global.find-links 2>/dev/null)"
    for dir in $links; do
        w=$(ls "$dir"/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -1)
        [ -n "$w" ] && { wheel=$w; echo "CPU wheel from $dir"; break; }
    done
fi
if [ -z "$wheel" ]; then
    echo "no CPU wheel; checking the size of PyPI's torch wheel"
    if timeout 600 $PIP download torch --no-deps -d "$tmp" -q; then
        ls -l "$tmp"
        echo "PyPI torch wheel alone: $(du -sm "$tmp" | cut -f1) MB, plus several GB of nvidia-* dependencies"
        [ "${ALLOW_CUDA_WHEELS:-0}" = 1 ] || { echo "not installing it: set ALLOW_CUDA_WHEELS=1 to"; exit 2; }
        wheel=$(ls "$tmp"/torch-*.whl | head -1)
    else
        exit 1
    fi
fi
echo "wheel: $(basename "$wheel") ($(du -m "$wheel" | cut -f1) MB)"
timeout 900 $PIP install -q "$wheel" numpy || exit 1
echo "took $(( $(date +%s) - start )) s; venv size $(du -sh .venv | cut -f1)"
.venv/bin/python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
