#!/usr/bin/env bash
# Runs our benchmark and the PyTorch reference on the same machine, in one go, and prints the
# ratio. Usage: bench/compare.sh story
#               [ROUNDS=3] bench/compare.sh illustrate [SIZE] [CUTN] [ITERATIONS]
#               bench/compare.sh illustrate-sweep [ITERATIONS]   (256² cutn 8, then 128² cutn 32)
#               bench/compare.sh finetune [STEPS]
#               [ROUNDS=3] bench/compare.sh caption [NEW_TOKENS]   (BLIP large, random weights)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-story}"
threads="$(nproc)"

if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install -q -r bench/requirements.txt
# taming's package pins an old Lightning stack it does not need for its model modules.
bench/.venv/bin/pip install -q --no-deps taming-transformers-rom1504
cargo build --release -q

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

case "$what" in
  story)
    # f32, then the packed weights; PyTorch between them, so drift hits both sides alike.
    ./target/release/storybook-studio bench story --weights f32 --save-weights "$work/gpt2.safetensors" --json > "$work/candle-f32.json"
    bench/.venv/bin/python bench/gpt2_torch.py --weights "$work/gpt2.safetensors" --threads "$threads" --json > "$work/torch.json"
    for w in bf16 q8; do
      ./target/release/storybook-studio bench story --weights "$w" --json > "$work/candle-$w.json"
    done
    ./target/release/storybook-studio bench story-quality --json > "$work/quality.json"
    python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
ref = json.load(open(f"{work}/torch.json"))
ours = [json.load(open(f"{work}/candle-{w}.json")) for w in ("f32", "bf16", "q8")]
quality = {q["weights"]: q for q in json.load(open(f"{work}/quality.json"))["formats"]}
print(f"{'':26}{'tokens/s':>10}{'seconds':>10}{'threads':>9}")
for r in [ref] + ours:
    print(f"{r['implementation'][:26]:26}{r['tokens_per_second']:10.2f}{r['seconds']:10.2f}{r['threads']:9}")
print("quality against f32 on the oracle's prompts (tiny GPT-2, 40 greedy tokens each):")
for w, q in quality.items():
    print(f"  {w}: mean KL {q['mean_kl']:.2e}, max KL {q['max_kl']:.2e}, top-1 {q['top1_agree']}/{q['positions']}, "
          f"greedy {q['greedy_agree']}/{q['greedy_total']}, with penalty 1.3 {q['greedy_penalty_agree']}/{q['greedy_total']}")
f32 = ours[0]
fastest = max(ours[1:], key=lambda r: r["tokens_per_second"])
print(f"ratio candle/pytorch, f32 weights: {f32['tokens_per_second'] / ref['tokens_per_second']:.2f}x (higher is better)")
print(f"ratio candle/pytorch, fastest ({fastest['weights']} weights): "
      f"{fastest['tokens_per_second'] / ref['tokens_per_second']:.2f}x (higher is better)")
PY
    exit 0
    ;;
  finetune)
    steps="${2:-5}"
    ./target/release/storybook-studio bench finetune --steps "$steps" --save-weights "$work/gpt2.safetensors" --json > "$work/candle.json"
    bench/.venv/bin/python bench/finetune_torch.py --weights "$work/gpt2.safetensors" --steps "$steps" --threads "$threads" --json > "$work/torch.json"
    python3 - "$work/candle.json" "$work/torch.json" <<'PY'
import json, sys
ours, ref = (json.load(open(p)) for p in sys.argv[1:3])
print(f"GPT-2 124M fine-tuning, block {ours['block_size']}, batch {ours['batch_size']}, {ours['threads']} threads")
print(f"{'':24}{'tokens/s':>10}{'peak GiB':>10}")
for r in (ours, ref):
    print(f"{r['implementation'][:24]:24}{r['tokens_per_second']:10.1f}{r['peak_rss_bytes'] / 2**30:10.2f}")
print(f"ratio candle/pytorch: {ours['tokens_per_second'] / ref['tokens_per_second']:.2f}x (higher is better)")
PY
    exit 0
    ;;
  caption)
    new="${2:-20}" rounds="${ROUNDS:-3}"
    ./target/release/storybook-studio bench caption --new-tokens "$new" --save-dir "$work/blip" --json > "$work/candle-1.json"
    bench/.venv/bin/python bench/blip_torch.py --dir "$work/blip" --new-tokens "$new" --threads "$threads" --json > "$work/torch-1.json"
    # The machine's speed drifts; the two sides alternate and each keeps its fastest round.
    for r in $(seq 2 "$rounds"); do
      ./target/release/storybook-studio bench caption --new-tokens "$new" --save-dir "$work/blip" --json > "$work/candle-$r.json"
      bench/.venv/bin/python bench/blip_torch.py --dir "$work/blip" --new-tokens "$new" --threads "$threads" --json > "$work/torch-$r.json"
    done
    python3 - "$work" "$rounds" <<'PY'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
runs = {s: [json.load(open(f"{work}/{s}-{r}.json")) for r in range(1, rounds + 1)] for s in ("candle", "torch")}
print(f"BLIP large caption, {runs['candle'][0]['new_tokens']} greedy tokens, {runs['candle'][0]['threads']} threads, best of {rounds} alternating rounds")
print(f"{'':24}{'seconds':>9}{'vision':>9}{'decode':>9}{'peak GiB':>10}")
best = {}
for side, rs in runs.items():
    b = min(rs, key=lambda r: r["seconds"])
    best[side] = b
    peak = max(r["peak_rss_bytes"] for r in rs)
    print(f"{b['implementation'][:24]:24}{b['seconds']:9.2f}{b['vision_seconds']:9.2f}{b['decode_seconds']:9.2f}{peak / 2**30:10.2f}")
    print(f"{'  every round':24}" + " ".join(f"{r['seconds']:.2f}" for r in rs))
c, t = best["candle"], best["torch"]
print(f"ratio candle/pytorch time: {c['seconds'] / t['seconds']:.2f}x (vision {c['vision_seconds'] / t['vision_seconds']:.2f}x, "
      f"decode {c['decode_seconds'] / t['decode_seconds']:.2f}x; lower is better)")
PY
    exit 0
    ;;
  illustrate-sweep)
    iters="${2:-3}"
    "$0" illustrate 256 8 "$iters"
    "$0" illustrate 128 32 "$iters"
    exit 0
    ;;
  illustrate)
    size="${2:-256}" cutn="${3:-32}" iters="${4:-3}"
    # This shared 2-vCPU machine's speed drifts by up to 2x within minutes, so the two sides
    # alternate for ROUNDS rounds and each is summarised by its fastest and its median round.
    rounds="${ROUNDS:-3}"
    for r in $(seq 1 "$rounds"); do
      ./target/release/storybook-studio bench illustrate --size "$size" --cutn "$cutn" --iterations "$iters" --precision "${PRECISION:-f32}" --json > "$work/candle-$r.json"
      bench/.venv/bin/python bench/illustrate_torch.py --size "$size" --cutn "$cutn" --iterations "$iters" --threads "$threads" --json > "$work/torch-$r.json"
    done
    python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
runs = {side: [json.load(open(f"{work}/{side}-{r}.json")) for r in range(1, rounds + 1)]
        for side in ("candle", "torch")}
first = runs["candle"][0]
print(f"VQGAN+CLIP step, {first['size']}x{first['size']}, cutn {first['cutn']}, "
      f"{first['threads']} threads, {rounds} alternating rounds of {first['iterations']} iterations")
stages = list(first["stages"])
print(f"{'':24}{'best s/it':>10}{'median':>8}{'peak GiB':>10}" + "".join(f"{k[:14]:>16}" for k in stages))
summary = {}
for side, rs in runs.items():
    best = min(rs, key=lambda r: r["seconds_per_iteration"])
    times = [r["seconds_per_iteration"] for r in rs]
    peak = max(r["peak_rss_bytes"] for r in rs)
    summary[side] = (min(times), statistics.median(times))
    print(f"{best['implementation'][:24]:24}{min(times):10.2f}{statistics.median(times):8.2f}{peak / 2**30:10.2f}"
          + "".join(f"{best['stages'][k]:16.3f}" for k in stages))
    print(f"{'  every round':24}" + " ".join(f"{t:.2f}" for t in times))
(cb, cm), (tb, tm) = summary["candle"], summary["torch"]
print(f"ratio candle/pytorch time: best {cb / tb:.2f}x, median {cm / tm:.2f}x (lower is better)")
# Each candle round ran right before its PyTorch round, so their ratio cancels the slow drift.
paired = [c["seconds_per_iteration"] / t["seconds_per_iteration"]
          for c, t in zip(runs["candle"], runs["torch"])]
print("paired rounds: " + " ".join(f"{r:.2f}x" for r in paired)
      + f", median {statistics.median(paired):.2f}x")
PY
    exit 0
    ;;
  *) echo "unknown benchmark: $what" >&2; exit 2 ;;
esac

