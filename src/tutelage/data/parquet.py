"""Reading Parquet files without Arrow's background threads.

``pyarrow.parquet.read_table`` goes through Arrow's dataset scanner, whose worker threads can outlive
a short process and abort the interpreter at exit ("terminate called without an active exception",
apache/arrow#34314). tutelage's files are shards of a few megabytes: one file read on the calling
thread is as fast and leaves no thread behind.
"""

from __future__ import annotations

from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq


def read_table(source: Any, columns: Sequence[str] | None = None, *, verify_checksums: bool = False) -> pa.Table:
    """The table in ``source`` (a path or an open binary file), read on this thread."""
    file = pq.ParquetFile(source, pre_buffer=False, page_checksum_verification=verify_checksums)
    return file.read(columns=None if columns is None else list(columns), use_threads=False)
