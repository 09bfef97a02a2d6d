#!/usr/bin/env bash
# What the studio window costs the engine: one page with the Draft preset (128², 8 cutouts,
# 50 steps) illustrated in the real window under Xvfb (software rendering, as on a machine
# without a GPU), and the same page from the CLI (`illustrate --draft`). The two alternate for
# ROUNDS rounds on the release build; it prints each side's median seconds per step (as the
# engine measures its optimisation loop) and their ratio. The goal is a ratio under 1.10.
#
# Usage: [ROUNDS=3] [MODELS=DIR] bench/studio_vs_cli.sh ["TEXT"]
#   MODELS: a folder with clip/ and vqgan/ (default: the tiny test models in tests/fixtures).
# Needs xvfb-run and Mesa (see .ci/run); run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
text="${1:-a fox reading by lantern light}"
rounds="${ROUNDS:-3}"
cargo build --release -q
bin="$PWD/target/release/storybook-studio"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
models="${MODELS:-}"
if [ -z "$models" ]; then
  models="$work/models"
  mkdir -p "$models"
  for m in gpt2 clip vqgan; do ln -s "$PWD/tests/fixtures/$m-tiny" "$models/$m"; done
fi
export LIBGL_ALWAYS_SOFTWARE=1
for r in $(seq 1 "$rounds"); do
  "$bin" illustrate "$text" --draft --seed 0 --offline --models "$models" \
    --library "$work/cli.sqlite" --out "$work/cli-$r.png" --json > "$work/cli-$r.json"
  XDG_DATA_HOME="$work/data-$r" XDG_CACHE_HOME="$work/cache" \
    xvfb-run -a -s "-screen 0 1280x1024x24" \
    "$bin" gui --fresh --offline --models "$models" --library "$work/gui-$r.sqlite" \
    --bench-draft "$text" 2> "$work/gui-$r.log" | tail -n 1 > "$work/gui-$r.json"
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
cli = [json.load(open(f"{work}/cli-{r}.json")) for r in range(1, rounds + 1)]
gui = [json.load(open(f"{work}/gui-{r}.json")) for r in range(1, rounds + 1)]
for g in gui:
    if "error" in g:
        sys.exit(f"the window's run failed: {g['error']}")
c = [x["seconds_per_iteration"] for x in cli]
g = [x["seconds_per_step"] for x in gui]
print("Draft preset (128², 8 cutouts, 50 steps), seconds per step")
print(f"{'round':>6}{'CLI':>10}{'window':>10}{'frames':>8}")
for r in range(rounds):
    print(f"{r + 1:>6}{c[r]:>10.4f}{g[r]:>10.4f}{gui[r]['frames']:>8}")
ratio = statistics.median(g) / statistics.median(c)
print(f"median: CLI {statistics.median(c):.4f} s/step, window {statistics.median(g):.4f} s/step, "
      f"ratio {ratio:.3f} (goal < 1.10)")
PY
