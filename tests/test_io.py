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


def test_outputs_are_readable_as_the_umask_allows(tmp_path):
    import os

    from advcgcnn.io import atomic_path, write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"model")  # the way torch.save and h5py write
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o644
        os.umask(0o007)
        write_json(tmp_path / "c.json", {"x": 1})
        assert (tmp_path / "c.json").stat().st_mode & 0o777 == 0o660
    finally:
        os.umask(old)
