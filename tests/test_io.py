"""Atomic writers: nothing half-written under the final name, and compressed output that is reproducible."""

import pytest

from advcgcnn.io import atomic_open, write_csv


def test_gzip_output_is_byte_identical_across_writes(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"mask": ["000001", "000003"], "n_sub": [1, 2]})
    write_csv(tmp_path / "a.csv.gz", frame)
    first = (tmp_path / "a.csv.gz").read_bytes()
    write_csv(tmp_path / "a.csv.gz", frame)  # another temporary name, another second
    assert (tmp_path / "a.csv.gz").read_bytes() == first


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    with pytest.raises(RuntimeError), atomic_open(tmp_path / "out.txt") as fh:
        fh.write("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
