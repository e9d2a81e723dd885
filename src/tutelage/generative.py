"""Generative models: the sampling protocol the collapse lab and plugin authors use, and their files.

A generative model type (``gmm``, ``vae``, ``mdn``) is a model-type plugin
whose ``build(input_shape, output_size, seed=..., **options)`` returns an
object following :class:`GenerativeModel`, and whose ``restore(config,
tensors)`` rebuilds one from a file. Unconditional models (``gmm``, ``vae``)
take ``output_size`` equal to the size of one data row; conditional ones
(``mdn``) map inputs of ``input_shape`` to targets of ``output_size``.

>>> import numpy as np
>>> from tutelage.plugins import registry
>>> gmm = registry("model_types").get("gmm").build((2,), 2, seed=0, components=1)
>>> gmm = gmm.fit(np.random.default_rng(0).normal(size=(500, 2)))
>>> gmm.sample(3, seed=1).shape
(3, 2)
>>> bool(np.all(gmm.sample(3, seed=1) == gmm.sample(3, seed=1)))
True
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

FORMAT = "tutelage-generative-1"


@runtime_checkable
class GenerativeModel(Protocol):
    """A density model that can be fitted, sampled from and scored.

    ``given`` holds the conditioning inputs of a conditional model (one row per
    sample; None otherwise). ``log_prob`` returns one value per row in nats;
    for a VAE it is the ELBO, a lower bound on the log-likelihood.
    ``sample(n, seed)`` with the same seed returns the same rows.
    """

    model_type: str
    conditional: bool

    def fit(self, data: np.ndarray, *, given: np.ndarray | None = None, seed: int = 0) -> GenerativeModel:
        """Fit to ``data`` (rows) in place; returns the model."""
        ...

    def sample(self, n: int, seed: int, *, given: np.ndarray | None = None) -> np.ndarray:
        """``n`` rows drawn from the model (``n == len(given)`` for a conditional one)."""
        ...

    def log_prob(self, data: np.ndarray, *, given: np.ndarray | None = None) -> np.ndarray:
        """Log-density of each row (float64), or its ELBO bound."""
        ...

    def config(self) -> dict[str, Any]:
        """JSON-safe settings that, with :meth:`tensors`, rebuild the model."""
        ...

    def tensors(self) -> dict[str, np.ndarray]:
        """The fitted parameters by name."""
        ...


def model_id(config: dict[str, Any], tensors: dict[str, np.ndarray]) -> str:
    """Content hash of a generative model's config and tensors (16 hex digits)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensors[name]).tobytes())
    return digest.hexdigest()[:16]


def save(model: GenerativeModel, path: str | os.PathLike, *, model_type: str | None = None,
         lineage: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> str:
    """Write ``model`` atomically as safetensors (read back by :func:`tutelage.nn.load`); returns its id."""
    from tutelage.nn.serialize import write_model_file

    config, tensors = model.config(), model.tensors()
    ident = model_id(config, tensors)
    info = write_model_file(path, tensors, fmt=FORMAT, ident=ident, spec=config,
                            model_type=model_type or model.model_type, lineage=lineage, metadata=metadata)
    model.info = info  # type: ignore[attr-defined]
    return ident


class SavesAsSafetensors:
    """Mixin: ``model.save(path, ...)`` through :func:`save` (what :func:`tutelage.methods.lineage.save_derived` calls)."""

    model_type: str

    def save(self, path: str | os.PathLike, *, model_type: str | None = None, lineage: dict[str, Any] | None = None,
             metadata: dict[str, Any] | None = None) -> str:
        return save(self, path, model_type=model_type, lineage=lineage, metadata=metadata)  # type: ignore[arg-type]


def from_safetensors(path: Path, header: dict[str, str], tensors: dict[str, np.ndarray]) -> GenerativeModel:
    """The :data:`tutelage.nn.serialize.FORMAT_READERS` entry: rebuild through the model type's ``restore``."""
    from tutelage.errors import ModelFileError, UserError
    from tutelage.nn.serialize import _json_field, info_from_header
    from tutelage.plugins import registry

    spec = _json_field(header, "spec", path)
    try:
        model_type = registry("model_types").get(header.get("model_type", ""), where=f"{path}: field 'model_type'")
        model = model_type.restore(spec, tensors)
    except UserError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: tensors or field 'spec' do not fit model type "
                             f"{header.get('model_type')!r} ({exc})") from None
    if header.get("id") != model_id(model.config(), model.tensors()):
        raise ModelFileError(f"{path}: content does not match its id {header.get('id')!r} (corrupted or edited)")
    model.info = info_from_header(header, path, spec)  # type: ignore[attr-defined]
    return model


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread while fitting small models: their products run fastest that way, and a
    loaded machine punishes threads badly. Needs threadpoolctl (scikit-learn brings it); a no-op without."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def row_size(input_shape: tuple[int, ...], output_size: int, where: str) -> int:
    """The row size of an unconditional model, which must generate rows of the size it reads."""
    from tutelage.errors import SpecError

    dim = int(np.prod(input_shape))
    if output_size != dim:
        raise SpecError(f"{where}: output_size must equal the row size {dim} (the model generates what it reads)")
    return dim


def dataset_rows(root: str | os.PathLike, columns: list[str]) -> np.ndarray:
    """Numeric columns of a tutelage dataset as float64 rows ``(frames, total width)``, side by side.

    A vector column (``observation.state``) contributes all its values; a missing or
    non-numeric column raises a :class:`~tutelage.errors.DataError` naming the dataset and the column.
    """
    from tutelage.data import Dataset
    from tutelage.errors import DataError

    if not columns:
        raise DataError(f"{root}: name at least one column")
    dataset = Dataset(root)
    missing = [c for c in columns if c not in dataset.columns]
    if missing:
        raise DataError(f"{root}: no column(s) {missing}; the dataset has {dataset.columns}")
    arrays = dataset.to_arrays(columns)
    parts = []
    for name in columns:
        values = arrays[name]
        if values.dtype.kind not in "fiub":
            raise DataError(f"{root}: column {name!r} is not numeric ({values.dtype})")
        parts.append(values.reshape(len(values), -1).astype(np.float64))
    return np.concatenate(parts, axis=1)


def mean_std(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation (1 where a column is constant), for standardizing."""
    mean = data.mean(axis=0)
    std = data.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def as_rows(data: Any, width: int, what: str) -> np.ndarray:
    """``data`` as a finite float64 ``(N, width)`` array, or a :class:`~tutelage.errors.DataError` naming ``what``."""
    from tutelage.errors import DataError

    rows = np.asarray(data, dtype=np.float64)
    rows = rows.reshape(rows.shape[0], -1) if rows.ndim > 1 else rows.reshape(-1, 1)
    if rows.shape[1] != width:
        raise DataError(f"{what}: expected rows of {width} values, got shape {list(np.shape(data))}")
    if not np.all(np.isfinite(rows)):
        raise DataError(f"{what}: data contains NaN or infinite values")
    return rows
