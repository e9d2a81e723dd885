"""Built-in stage types of run specs (generate, distill, evaluate, quantize)."""
from __future__ import annotations

from tutelage import hookimpl


@hookimpl
def tutelage_stage_types() -> dict:
    return {}
