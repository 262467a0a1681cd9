"""IDX reading refuses what would hurt the server: gzip bombs, oversized and empty files."""

from __future__ import annotations

import gzip

import pytest

from models import data
from models.data import DataError, read_idx


def idx_header(dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_FILE_BYTES", 1 << 20)  # 1 MB for the test
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(idx_header((64, 256, 256)) + bytes(64 * 256 * 256)))
    assert bomb.stat().st_size < 50_000  # small on disk, 4 MB inflated
    with pytest.raises(DataError, match="decompresses to more than 1 MB"):
        read_idx(bomb)


def test_a_truncated_gzip_stream_names_the_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header((2, 4, 4)) + bytes(32))[:-12])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: corrupt or truncated"):
        read_idx(path)


def test_an_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_header((2, 28, 28)) + bytes(2 * 784))
    with pytest.raises(DataError, match="larger than"):
        read_idx(path)


def test_an_idx_folder_with_no_images_is_refused(tmp_path):
    for split in ("train", "t10k"):
        (tmp_path / f"{split}-images-idx3-ubyte").write_bytes(idx_header((0, 28, 28)))
        (tmp_path / f"{split}-labels-idx1-ubyte").write_bytes(idx_header((0,)))
    with pytest.raises(DataError, match="holds no images"):
        data.load_dataset("mnist", tmp_path)
