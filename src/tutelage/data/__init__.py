"""Datasets: Parquet shards plus ``meta/info.json`` with provenance (layout in :mod:`tutelage.data.layout`)."""
from tutelage.data.provenance import DatasetInfo, read_info
from tutelage.data.reader import Dataset, decode_png, read_episodes_meta

__all__ = ["Dataset", "DatasetInfo", "decode_png", "read_episodes_meta", "read_info"]
