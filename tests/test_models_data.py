"""Datasets: the embedded digits, and the IDX reader on tiny files written here."""

import gzip
import struct

import numpy as np
import pytest
import torch

from models.data import DataError, load_dataset, read_idx


def idx_bytes(a: np.ndarray, type_code: int = 0x08) -> bytes:
    """IDX: 00 00 <type> <ndim>, big-endian uint32 sizes, big-endian data."""
    dt = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[type_code]
    head = struct.pack(">BBBB", 0, 0, type_code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    return head + a.astype(dt).tobytes()


IMAGES = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)


def test_digits_is_embedded_split_and_scaled():
    ds = load_dataset("digits")
    assert ds.train.shape == (1437, 64) and ds.test.shape == (360, 64)
    assert ds.train.dtype == torch.float32 and ds.image_shape == (8, 8) and ds.levels == 17
    assert float(ds.train.min()) == 0.0 and float(ds.train.max()) == 1.0
    assert torch.equal(torch.round(ds.train * 16), ds.train * 16)  # on the grid k/16
    assert ds.test_labels.shape == (360,) and set(ds.test_labels.tolist()) == set(range(10))
    again = load_dataset("digits")
    assert torch.equal(ds.test, again.test)  # the split is fixed


def test_binarised_digits():
    ds = load_dataset("digits-binarised")
    assert ds.levels == 2 and ds.name == "digits-binarised"
    assert set(torch.unique(ds.train).tolist()) == {0.0, 1.0}


def test_unknown_dataset_lists_names():
    with pytest.raises(DataError, match="choose one of: digits, digits-binarised, mnist"):
        load_dataset("cifar")


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_plain_and_gzipped(tmp_path, compress):
    raw = idx_bytes(IMAGES)
    p = tmp_path / "x.idx"
    p.write_bytes(gzip.compress(raw) if compress else raw)
    a = read_idx(p)
    assert a.dtype == np.uint8 and np.array_equal(a, IMAGES)


def test_read_idx_other_types(tmp_path):
    a = np.array([[1.5, -2.0], [3.25, 0.0]], dtype=np.float32)
    (tmp_path / "f").write_bytes(idx_bytes(a, 0x0D))
    np.testing.assert_array_equal(read_idx(tmp_path / "f"), a)
    b = np.array([-300, 7, 1000], dtype=np.int16)
    (tmp_path / "s").write_bytes(idx_bytes(b, 0x0B))
    np.testing.assert_array_equal(read_idx(tmp_path / "s"), b)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: idx_bytes(IMAGES)[:-7],
            r"truncated: shape \(3, 4, 5\) needs 60 bytes of data, found 53",
        ),
        (lambda: idx_bytes(IMAGES)[:10], "truncated header"),
        (lambda: gzip.compress(idx_bytes(IMAGES))[:-12], "corrupt or truncated gzip"),
        (lambda: b"\x12\x34" + idx_bytes(IMAGES)[2:], "bad magic number 0x12340803"),
        (lambda: b"\x00\x00\x07\x03" + idx_bytes(IMAGES)[4:], "bad magic number"),
        (lambda: idx_bytes(IMAGES) + b"\x00\x00", "2 bytes after the 60"),
        (lambda: b"\x00\x00", "too short for an IDX header"),
        (lambda: b"\x00\x00\x08\x00", "0 dimensions"),
    ],
)
def test_read_idx_errors_name_the_file_and_the_problem(tmp_path, make, message):
    p = tmp_path / "broken-file.idx"
    p.write_bytes(make())
    with pytest.raises(DataError, match=message) as e:
        read_idx(p)
    assert str(e.value).startswith(str(p))
    assert isinstance(e.value, ValueError)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.idx: cannot read"):
        read_idx(tmp_path / "nope.idx")


def write_mnist(folder, n_train=6, n_test=4, gz=False, train_labels=None, test_images=None):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (
            train_labels if train_labels is not None else np.arange(n_train, dtype=np.uint8) % 10
        ),
        "t10k-images-idx3-ubyte": (
            test_images
            if test_images is not None
            else rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
        ),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    for name, a in files.items():
        raw = idx_bytes(a)
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return files


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_mnist_from_a_folder(tmp_path, gz, name):
    files = write_mnist(tmp_path, gz=gz)
    ds = load_dataset(name, folder=tmp_path)
    assert ds.name == name and ds.levels == 256 and ds.image_shape == (28, 28)
    assert ds.train.shape == (6, 784) and ds.test.shape == (4, 784)
    want = files["train-images-idx3-ubyte"].reshape(6, -1) / 255.0
    np.testing.assert_allclose(ds.train.numpy(), want, rtol=1e-6)
    assert ds.train_labels.tolist() == [0, 1, 2, 3, 4, 5]


def test_mnist_folder_problems(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_dataset("mnist", folder=tmp_path / "missing")
    with pytest.raises(DataError, match="needs a folder"):
        load_dataset("mnist")
    with pytest.raises(
        DataError, match=r"no train-images-idx3-ubyte or train-images-idx3-ubyte\.gz"
    ):
        load_dataset("mnist", folder=tmp_path)


def test_mnist_wrong_dims_and_counts_name_the_file(tmp_path):
    write_mnist(tmp_path, train_labels=np.zeros((6, 2), dtype=np.uint8))
    with pytest.raises(
        DataError, match=r"train-labels-idx1-ubyte: expected labels of shape \(N,\)"
    ):
        load_dataset("mnist", folder=tmp_path)
    write_mnist(tmp_path, train_labels=np.zeros(5, dtype=np.uint8))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte: 5 labels for 6 images"):
        load_dataset("mnist", folder=tmp_path)
    write_mnist(tmp_path, test_images=np.zeros((4, 784), dtype=np.uint8))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: expected images of shape"):
        load_dataset("mnist", folder=tmp_path)
