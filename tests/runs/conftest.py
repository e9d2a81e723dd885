"""Fixtures for the runner's tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from runs_helpers import TINY


@pytest.fixture
def tiny_spec(tmp_path):
    """Write a variant of the tiny spec: ``tiny_spec(text_replacements...)`` returns its path."""
    def make(*replacements: tuple[str, str], name: str = "tiny.toml") -> Path:
        text = TINY.read_text()
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / name
        path.write_text(text)
        return path
    return make
