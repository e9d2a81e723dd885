"""Errors that reach users: each names the file and the field at fault.

The CLI turns any :class:`UserError` into one line on stderr and exit code 2.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from a user: a file, a spec, a name. Exit code 2 in the CLI."""

    exit_code = 2


class SpecError(UserError, ValueError):
    """A model, run or scenario spec is malformed."""


class ModelFileError(UserError, ValueError):
    """A model file is missing, truncated, corrupted or does not match."""


class DataError(UserError, ValueError):
    """A dataset file is missing fields or has the wrong shapes."""


class DatasetError(DataError):
    """A dataset directory is incomplete, unreadable or does not match its ``meta/info.json``."""


class UnknownNameError(UserError, LookupError):
    """A lookup by name failed; the message lists what exists and the closest match."""

    def __init__(self, kind: str, name: str, available: Iterable[str], where: str = ""):
        self.kind, self.name = kind, name
        self.available = sorted(available)
        super().__init__(unknown_name_message(kind, name, self.available, where))


class NumericalError(UserError, RuntimeError):
    """Training produced a NaN or infinite loss, gradient, parameter or validation loss.

    ``theta`` holds a copy of the last θ whose values and results were finite
    and ``model`` the model it belongs to (None when not from training);
    callers write it beside the file they meant to write
    (:func:`tutelage.train.save_last_good`).
    """

    def __init__(self, message: str, theta: object = None, model: object = None):
        super().__init__(message)
        self.theta, self.model = theta, model


def os_reason(exc: OSError) -> str:
    """What went wrong with a path, in a few words (``permission denied``, ``is a directory``...)."""
    return exc.strerror.lower() if exc.strerror else str(exc) or type(exc).__name__


def closest(name: str, options: Iterable[str]) -> str | None:
    """The option closest to ``name``, or None when nothing is close."""
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return match[0] if match else None


def unknown_name_message(kind: str, name: str, available: list[str], where: str = "") -> str:
    """``unknown world 'Drivng-v0'; did you mean 'Driving-v0'? (available: ...)``"""
    prefix = f"{where}: " if where else ""
    message = f"{prefix}unknown {kind} {name!r}"
    suggestion = closest(name, available)
    if suggestion:
        message += f"; did you mean {suggestion!r}?"
    listing = ", ".join(available) if available else "none registered"
    return f"{message} (available: {listing})"
