"""Reference side of `storybook-studio bench story`: GPT-2 124M tokens per second in PyTorch eager.

Loads the very weights our benchmark wrote (hub key names) into transformers' GPT2LMHeadModel,
then times greedy generation of NEW tokens after a PROMPT-token random prompt with the KV cache,
and prints the same JSON fields as the Rust side.
"""
import argparse
import json
import os
import time

import torch
from safetensors.torch import load_file
from transformers import GPT2Config, GPT2LMHeadModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = GPT2LMHeadModel(GPT2Config()).eval()
    state = {f"transformer.{k}": v for k, v in load_file(args.weights).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # lm_head is tied to wte; the causal-mask buffers are not in our file.
    assert all(k == "lm_head.weight" or k.endswith(".attn.bias") for k in missing), missing
    assert not unexpected, unexpected

    gen = torch.Generator().manual_seed(7)
    prompt = torch.randint(0, 50257, (1, args.prompt_tokens), generator=gen)
    kwargs = dict(
        max_new_tokens=args.new_tokens,
        min_new_tokens=args.new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=50256,
    )
    with torch.inference_mode():
        model.generate(prompt, **{**kwargs, "max_new_tokens": 2, "min_new_tokens": 2})
        start = time.perf_counter()
        out = model.generate(prompt, **kwargs)
        seconds = time.perf_counter() - start
    new = out.shape[1] - args.prompt_tokens
    result = {
        "implementation": f"pytorch {torch.__version__} eager",
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": new,
        "seconds": seconds,
        "tokens_per_second": new / seconds,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
