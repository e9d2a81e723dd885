"""The text corpus: pydoc topics split by topic into Parquet with provenance; user text files and Parquet columns."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tutelage.data import text
from tutelage.errors import DatasetError


def test_pydoc_corpus_is_split_by_topic_with_provenance(tmp_path):
    info = text.write_pydoc_corpus(tmp_path / "c.parquet", seed=0)
    corpus = text.read_corpus(tmp_path / "c.parquet")
    documents, source = text.pydoc_topics()
    assert corpus.provenance == info and info["source"] == source
    assert sum(info["documents"].values()) == len(documents) and min(info["documents"].values()) >= 1
    table = pq.read_table(tmp_path / "c.parquet")
    by_split = {}
    for split, name in zip(table.column("split").to_pylist(), table.column("name").to_pylist()):
        by_split.setdefault(name, set()).add(split)
    assert all(len(s) == 1 for s in by_split.values())  # no topic in two splits
    assert len(corpus.splits["train"]) == info["characters"]["train"] + 2 * (info["documents"]["train"] - 1)
    assert text.split_documents(list(documents), 0) == text.split_documents(list(documents)[::-1], 0)
    assert text.split_documents(list(documents), 0) != text.split_documents(list(documents), 1)


def test_user_text_and_parquet_columns(tmp_path):
    (tmp_path / "a.txt").write_text("hello\nworld", encoding="utf-8")
    assert text.read_text(tmp_path / "a.txt") == "hello\nworld"
    pq.write_table(pa.table({"body": ["one", "two"], "n": [1, 2]}), tmp_path / "t.parquet")
    assert text.read_text(tmp_path / "t.parquet", column="body") == "one\n\ntwo"
    with pytest.raises(DatasetError, match="no column 'text'"):
        text.read_text(tmp_path / "t.parquet", column="text")
    with pytest.raises(DatasetError, match="'n' holds int64"):
        text.read_text(tmp_path / "t.parquet", column="n")
    with pytest.raises(DatasetError, match="name the text column"):
        text.read_text(tmp_path / "t.parquet")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(DatasetError, match="not UTF-8"):
        text.read_text(tmp_path / "b.txt")
    with pytest.raises(DatasetError, match="no tutelage provenance"):
        text.read_corpus(tmp_path / "t.parquet")
    with pytest.raises(DatasetError, match="at least 3 documents"):
        text.write_corpus(tmp_path / "x.parquet", {"a": "x"})
    assert not (tmp_path / "x.parquet").exists()
