"""``tutelage quantize MODEL``: an int8 copy of a model, with its parent recorded."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tutelage.errors import ModelFileError, SpecError

NAME = "quantize"
HELP = "write an int8 copy of a model (per-output-channel weight scales) that records its parent"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tutelage.cli.models import add_registry_argument

    add_registry_argument(parser)
    parser.add_argument("model", help="a float32 model file (.safetensors)")
    parser.add_argument("--out", help="where to write the int8 model (default: MODEL with .int8.safetensors)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def default_out(model: Path) -> Path:
    stem = model.name[: -len(".safetensors")] if model.name.endswith(".safetensors") else model.stem
    return model.with_name(f"{stem}.int8.safetensors")


def run(args: argparse.Namespace) -> int:
    from tutelage.runs.registry import record_model_file

    from tutelage import nn
    from tutelage.methods.lineage import Derivation, save_derived
    from tutelage.nn.quantize import QuantizedModel, quantize

    source = Path(args.model)
    out = Path(args.out) if args.out else default_out(source)
    model = nn.load(source)  # missing, unreadable, edited or non-finite models stop here
    if os.path.realpath(out) == os.path.realpath(source):
        raise SpecError(f"--out {out}: would overwrite the model being quantized")
    if out.is_dir():
        raise SpecError(f"--out {out}: is a directory; give a .safetensors file path")
    if isinstance(model, QuantizedModel):
        raise ModelFileError(f"{source}: already an int8 model")
    lineage = model.info.get("lineage") or {}
    derivation = Derivation("int8", parent=model.info["id"], teacher=lineage.get("teacher"), dataset=lineage.get("dataset"))
    quantized = quantize(model)
    model_id = save_derived(quantized, out, derivation, model_type=model.info.get("model_type") or "mlp",
                            metadata={"command": "quantize", "source": source.name})
    record_model_file(out, args.registry)
    size, parent_size = out.stat().st_size, source.stat().st_size
    result = {"model": str(out), "model_id": model_id, "parent": model.info["id"], "n_params": int(model.n_params),
              "file_bytes": size, "parent_file_bytes": parent_size, "size_ratio": size / parent_size}
    print(json.dumps(result, indent=2) if args.json else
          f"saved {out} (id {model_id}, parent {model.info['id']}): {size:,} bytes, "
          f"{100 * size / parent_size:.1f} % of the float32 file")
    return 0
