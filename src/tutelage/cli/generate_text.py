"""``tutelage generate-text MODEL --prompt ...``: sample text from a saved ``lm`` model (KV-cache decoding)."""
from __future__ import annotations

import argparse

from tutelage.errors import ModelFileError, SpecError

NAME = "generate-text"
HELP = "continue a prompt with a saved language model (lm): temperature, top-k, seed, several samples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a .safetensors file of model type lm")
    parser.add_argument("--prompt", required=True, help="text to continue (characters in the model's alphabet)")
    parser.add_argument("--max-tokens", type=int, default=200, help="tokens to generate (default 200)")
    parser.add_argument("--temperature", type=float, default=1.0, help="0 is greedy (default 1.0)")
    parser.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens; 0: all (default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sample (default 0)")
    parser.add_argument("--samples", type=int, default=1, help="samples, with seeds seed, seed+1, … (default 1)")


def run(args: argparse.Namespace) -> int:
    from tutelage import nn
    from tutelage.nn.language import LanguageModel

    for flag, value, low in (("--max-tokens", args.max_tokens, 1), ("--samples", args.samples, 1),
                             ("--top-k", args.top_k, 0)):
        if value < low:
            raise SpecError(f"{flag} {value}: must be at least {low}")
    if not args.temperature >= 0:
        raise SpecError(f"--temperature {args.temperature}: must be ≥ 0")
    model = nn.load(args.model)
    if not isinstance(model, LanguageModel):
        raise ModelFileError(f"{args.model}: field 'model_type' is {model.info.get('model_type')!r}, not 'lm'")
    for i in range(args.samples):
        text = model.generate(args.prompt, args.max_tokens, temperature=args.temperature, top_k=args.top_k,
                              seed=args.seed + i)
        if args.samples > 1:
            print(f"--- sample {i + 1} (seed {args.seed + i})")
        print(args.prompt + text)
    return 0
