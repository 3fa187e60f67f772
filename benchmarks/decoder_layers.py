"""Where one decode's time goes, block by block: what a slider update costs inside the decoder.

For one latent code (batch 1, as a slider decodes), each block of the decoder in the order it runs: its output
shape, its arithmetic (GFLOP, counted by ``torch.utils.flop_counter``), its median time and the GFLOP/s it
reaches, in the memory layout the project decodes in (channels_last_3d, as :func:`AttriVAELib.load_model` gives),
float32. Beside them the CPU's float32 matrix-product rate, the most a convolution can hope for here.

    python benchmarks/decoder_layers.py --json decoder_layers.json               # the paper's network at 80³
    python benchmarks/decoder_layers.py --model AttriVAE/Resources/Models/attrivae-shipped.safetensors

The model is untrained (``--cube-size``) or a trained bundle (``--model``): the time does not depend on the weights.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from AttriVAELib import AttriVAE, ModelConfig, load_model
from AttriVAELib.apps.benchmark import instruction_set, matmul_gflops, median_seconds
from AttriVAELib.modelfile.provenance import machine


def decoder_blocks(model: AttriVAE) -> list[tuple[str, torch.nn.Module]]:
    """The decoder's blocks in the order its forward pass runs them (the reshape after ``fc`` is no block)."""
    decoder = model.decoder
    ups = [(f"up.{index}", block) for index, block in enumerate(decoder.up)]
    return [("fc", decoder.fc), ("conv_in", decoder.conv_in), *ups, ("conv_out", decoder.conv_out),
            ("head", decoder.head), ("sigmoid", torch.nn.Sigmoid())]


def measure_blocks(model: AttriVAE, repeats: int) -> list[dict[str, object]]:
    """Per block: name, output shape, GFLOP, median milliseconds and GFLOP/s, for one latent code."""
    x = torch.zeros(1, model.config.latent_size)
    rows = []
    with torch.inference_mode():
        for name, block in decoder_blocks(model):
            if name == "conv_in":  # the fc output as the decoder's forward reshapes it
                x = x.view(1, *model.decoder.bottleneck_shape).contiguous(memory_format=torch.channels_last_3d)
            counter = FlopCounterMode(display=False)
            with counter, torch.backends.mkldnn.flags(enabled=False):  # the counter has no rule for the fused
                output = block(x)  # oneDNN calls one volume takes (model._ConvBlock): count the same arithmetic
            seconds = median_seconds(functools.partial(block, x), repeats)
            gflop = counter.get_total_flops() / 1e9
            rows.append({"block": name, "output": list(output.shape[1:]), "gflop": gflop, "ms": seconds * 1000,
                         "gflop_per_s": gflop / seconds if gflop else None})
            x = output
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cube-size", type=int, default=80, help="network cube edge in voxels (untrained model)")
    parser.add_argument("--model", type=Path, help="a trained model bundle instead of the untrained --cube-size model")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    if args.model:
        model = load_model(args.model).model
    else:
        model = AttriVAE(ModelConfig(input_size=args.cube_size)).to(memory_format=torch.channels_last_3d).eval()
    rows = measure_blocks(model, args.repeats)
    with torch.inference_mode():
        z = torch.zeros(1, model.config.latent_size)
        whole_ms = median_seconds(lambda: model.decode(z), args.repeats) * 1000
    peak = matmul_gflops(torch.float32)
    isa = instruction_set()
    print(f"decoder of a {model.config.input_size}³ network ({args.model or 'untrained'}), float32, "
          f"channels_last_3d, batch 1; torch {torch.__version__}, {torch.get_num_threads()} threads, {isa['aten']}")
    print(f"{'block':10s} {'output':>22s} {'GFLOP':>8s} {'ms':>8s} {'GFLOP/s':>8s}")
    for row in rows:
        rate = f"{row['gflop_per_s']:8.1f}" if row["gflop_per_s"] else f"{'–':>8s}"
        print(f"{row['block']:10s} {str(tuple(row['output'])):>22s} {row['gflop']:8.3f} {row['ms']:8.2f} {rate}")
    print(f"whole decode {whole_ms:.1f} ms (sum of blocks {sum(row['ms'] for row in rows):.1f} ms); "
          f"float32 matrix product {peak:.0f} GFLOP/s")
    if args.json:
        args.json.write_text(json.dumps({"machine": {**machine(), "instruction_set": isa},
                                         "size": model.config.input_size, "model": str(args.model or "untrained"),
                                         "blocks": rows, "decode_ms": whole_ms, "matmul_gflop_per_s": peak},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
