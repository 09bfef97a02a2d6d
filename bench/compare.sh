#!/usr/bin/env bash
# Runs our benchmark and the PyTorch reference on the same machine, in one go, on the same
# weights, and prints the ratio. Usage: bench/compare.sh [story]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-story}"
threads="$(nproc)"

if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install -q -r bench/requirements.txt
cargo build --release -q

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

case "$what" in
  story)
    ./target/release/storybook-studio bench story --save-weights "$work/gpt2.safetensors" --json > "$work/candle.json"
    bench/.venv/bin/python bench/gpt2_torch.py --weights "$work/gpt2.safetensors" --threads "$threads" --json > "$work/torch.json"
    ;;
  *) echo "unknown benchmark: $what" >&2; exit 2 ;;
esac

python3 - "$work/candle.json" "$work/torch.json" <<'PY'
import json, sys
ours, ref = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{'':24}{'tokens/s':>10}{'seconds':>10}{'threads':>9}")
for r in (ours, ref):
    print(f"{r['implementation'][:24]:24}{r['tokens_per_second']:10.2f}{r['seconds']:10.2f}{r['threads']:9}")
print(f"ratio candle/pytorch: {ours['tokens_per_second'] / ref['tokens_per_second']:.2f}x (higher is better)")
PY
