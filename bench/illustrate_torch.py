"""Reference side of `storybook-studio bench illustrate`: one VQGAN+CLIP step in PyTorch eager.

taming-transformers' own Encoder/Decoder/VectorQuantizer2 (PyPI `taming-transformers-rom1504`,
the public code) with the real ImageNet f16-16384 ddconfig, and transformers' CLIPModel with
ViT-B/32's shapes, both with random weights, frozen; only z requires grad. The step mirrors ours:
straight-through quantize, decode, clamp, `cutn` random cutouts resized to 224 with flips,
colour jitter and noise, CLIP image features, spherical distance, Adam. The backward pass is
split at the decoded image so each half can be timed. Prints the same JSON as the Rust side.
"""
import argparse
import contextlib
import json
import sys
import os
import resource
import time

import torch
import torch.nn.functional as F
from taming.modules.diffusionmodules.model import Decoder, Encoder
from taming.modules.vqvae.quantize import VectorQuantizer2
from transformers import CLIPConfig, CLIPModel

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


def cutouts(img, cutn, cut_pow=1.0, size=224, noise=0.1, jitter=0.05):
    _, _, h, w = img.shape
    max_size, min_size = min(w, h), min(w, h, size)
    out = []
    for _ in range(cutn):
        s = int(torch.rand([]) ** cut_pow * (max_size - min_size) + min_size)
        ox = torch.randint(0, w - s + 1, ())
        oy = torch.randint(0, h - s + 1, ())
        c = img[:, :, oy:oy + s, ox:ox + s]
        c = F.interpolate(c, (size, size), mode="bilinear", align_corners=False, antialias=True)
        if torch.rand([]) < 0.5:
            c = c.flip(3)
        out.append(c)
    x = torch.cat(out)
    grey = x.mean(1, keepdim=True)
    sat = 1 + jitter * (2 * torch.rand(cutn, 1, 1, 1) - 1)
    con = 1 + jitter * (2 * torch.rand(cutn, 1, 1, 1) - 1)
    bri = jitter * (2 * torch.rand(cutn, 1, 1, 1) - 1)
    x = ((x - grey) * sat + grey - 0.5) * con + 0.5 + bri
    return x + torch.rand(cutn, 1, 1, 1) * noise * torch.randn_like(x)


def spherical(x, y):
    return (x - y).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--cutn", type=int, default=32)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    dd = dict(double_z=False, z_channels=256, resolution=256, in_channels=3, out_ch=3, ch=128,
              ch_mult=[1, 1, 2, 2, 4], num_res_blocks=2, attn_resolutions=[16], dropout=0.0)
    # taming prints shapes while building; keep stdout for the JSON result.
    with contextlib.redirect_stdout(sys.stderr):
        encoder, decoder = Encoder(**dd), Decoder(**dd)
        quantize = VectorQuantizer2(16384, 256, beta=0.25)
    post_quant_conv = torch.nn.Conv2d(256, 256, 1)
    clip = CLIPModel(CLIPConfig())  # the defaults are ViT-B/32's shapes
    for m in (encoder, decoder, quantize, post_quant_conv, clip):
        m.eval().requires_grad_(False)

    g = args.size // 16
    codes = torch.randint(0, 16384, (g * g,))
    z = quantize.embedding.weight[codes].T.reshape(1, 256, g, g).clone().requires_grad_(True)
    z_min = quantize.embedding.weight.min(0).values.view(1, -1, 1, 1)
    z_max = quantize.embedding.weight.max(0).values.view(1, -1, 1, 1)
    target = F.normalize(torch.randn(1, 512), dim=-1)
    opt = torch.optim.Adam([z], lr=0.1)
    stages = dict.fromkeys(["decode_forward", "clip_forward", "clip_backward", "decoder_backward", "optimizer"], 0.0)

    def step(record):
        t = time.perf_counter()
        z_q, _, _ = quantize(z)
        img = decoder(post_quant_conv(z_q)).add(1).div(2)
        img = img + (img.clamp(0, 1) - img).detach()
        t1 = time.perf_counter()
        img_var = img.detach().requires_grad_(True)
        x = (cutouts(img_var, args.cutn).clamp(-1, 2) - MEAN) / STD
        emb = F.normalize(clip.visual_projection(clip.vision_model(pixel_values=x).pooler_output), dim=-1)
        loss = spherical(emb, target).mean()
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        img.backward(img_var.grad)
        t4 = time.perf_counter()
        opt.step()
        with torch.no_grad():
            z.copy_(torch.maximum(torch.minimum(z, z_max), z_min))
        t5 = time.perf_counter()
        if record:
            for k, v in zip(stages, [t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4]):
                stages[k] += v

    step(False)
    start = time.perf_counter()
    for _ in range(args.iterations):
        step(True)
    per = (time.perf_counter() - start) / args.iterations
    result = {
        "implementation": f"pytorch {torch.__version__} eager",
        "size": args.size,
        "cutn": args.cutn,
        "iterations": args.iterations,
        "seconds_per_iteration": per,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "stages": {k: v / args.iterations for k, v in stages.items()},
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
