"""Reference side of `storybook-studio bench finetune`: GPT-2 124M training throughput in
PyTorch eager, on the same weights file, with the same block and batch sizes: forward, loss,
backward, gradient clipping and AdamW per step, after one untimed step. Prints the same JSON.
"""
import argparse
import json
import os
import resource
import time

import torch
from safetensors.torch import load_file
from transformers import GPT2Config, GPT2LMHeadModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(11)
    model = GPT2LMHeadModel(GPT2Config(attn_pdrop=0.0, embd_pdrop=0.0, resid_pdrop=0.0))
    state = {f"transformer.{k}": v for k, v in load_file(args.weights).items()}
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)

    def step():
        ids = torch.randint(0, 50257, (args.batch_size, args.block_size + 1))
        loss = model(input_ids=ids[:, :-1], labels=ids[:, :-1]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    result = {
        "implementation": f"pytorch {torch.__version__} eager",
        "block_size": args.block_size,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "tokens_per_second": args.steps * args.batch_size * args.block_size / seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
