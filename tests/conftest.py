"""Suite-wide: where PyBullet is not installed, every test that needs it is skipped, with the reason.

PyBullet ships wheels for few platforms (see docs/wheels.md); tutelage imports it
only when a world is made, so the rest of the suite runs without it. A test
module or test that imports ``pybullet`` is skipped at that import; a test whose
subprocess failed for want of it is reported as skipped too.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

import pytest

PYBULLET_MISSING = importlib.util.find_spec("pybullet") is None
REASON = (f"pybullet is not installed for Python {sys.version_info.major}.{sys.version_info.minor} on {sys.platform} "
          "(no wheel here and no source build); tests that need a PyBullet world are skipped")


class SkipPybulletImport(importlib.abc.MetaPathFinder):
    """Turns ``import pybullet`` into a skip of the importing test (or test module)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "pybullet" or fullname.startswith("pybullet."):
            raise pytest.skip.Exception(REASON, allow_module_level=True)
        return None


if PYBULLET_MISSING:
    sys.meta_path.insert(0, SkipPybulletImport())


def pytest_report_header(config):
    import tutelage._core

    return [f"tutelage: {Path(tutelage._core.__file__).parents[1]} (SIMD path: {tutelage._core.simd_path()})",
            f"pybullet: {'MISSING: ' + REASON if PYBULLET_MISSING else 'installed'}"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failure whose report shows a subprocess missing pybullet becomes a skip (only where it is missing)."""
    outcome = yield
    report = outcome.get_result()
    if PYBULLET_MISSING and report.failed and "No module named 'pybullet'" in str(report.longrepr):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {REASON}")
