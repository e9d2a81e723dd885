"""Broken: a lifecycle hook that raises (it must never stop a run)."""
from tutelage import hookimpl


@hookimpl
def tutelage_run_start(run_dir, spec):
    raise RuntimeError("corpus: tracker offline")
