"""Reference side of `storybook-studio bench caption`: one BLIP large caption in PyTorch eager.

Loads the very config and random weights our benchmark wrote into transformers'
BlipForConditionalGeneration, then times one caption of the same seeded 640x480 picture:
BlipImageProcessor (PIL bicubic to 384, CLIP mean/std), the vision tower, and NEW greedy tokens
(`min_new_tokens` = `max_new_tokens`, so both sides decode the same count). One untimed warm-up
caption first. Prints the same JSON fields as the Rust side.
"""
import argparse
import json
import os
import resource
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor


def picture():
    x = np.arange(640)[None, :].repeat(480, 0)
    y = np.arange(480)[:, None].repeat(640, 1)
    rgb = np.stack([x % 256, y % 256, (x * y) % 251], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--new-tokens", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    cfg = BlipConfig.from_json_file(os.path.join(args.dir, "config.json"))
    model = BlipForConditionalGeneration(cfg).eval()
    state = load_file(os.path.join(args.dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # The head's matrix is tied to the word embeddings and not in our file.
    assert all("cls.predictions.decoder" in k for k in missing), missing
    assert not unexpected, unexpected
    model.tie_weights()
    processor = BlipImageProcessor()
    image = picture()
    kwargs = dict(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                  do_sample=False, num_beams=1)

    def run():
        t0 = time.perf_counter()
        pixels = processor(image, return_tensors="pt")["pixel_values"]
        t1 = time.perf_counter()
        model.vision_model(pixel_values=pixels)
        vision = time.perf_counter() - t1 + (t1 - t0)
        t2 = time.perf_counter()
        out = model.generate(pixel_values=pixels, **kwargs)
        whole = time.perf_counter() - t2 + (t1 - t0)
        return whole, vision, whole - vision, out.shape[1] - 1

    with torch.inference_mode():
        run()
        seconds, vision, decode, new = run()
    result = {
        "implementation": f"pytorch {torch.__version__} eager",
        "new_tokens": int(new),
        "seconds": seconds,
        "vision_seconds": vision,
        "decode_seconds": decode,
        "threads": torch.get_num_threads(),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
