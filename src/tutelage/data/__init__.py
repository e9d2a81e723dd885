"""Datasets: Parquet shards plus ``meta/info.json`` with provenance (layout in :mod:`tutelage.data.layout`)."""
from tutelage.data.provenance import DatasetInfo, read_info, row_provenance
from tutelage.data.reader import Dataset, concat, decode_png, read_episodes_meta

__all__ = ["Dataset", "DatasetInfo", "concat", "decode_png", "read_episodes_meta", "read_info", "row_provenance"]
