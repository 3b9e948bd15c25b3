"""Dataset loaders on files written in the real formats, and the tensor-batching design."""
from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
import torch
from conftest import make_cifar, make_idx_dataset, write_cifar_batch, write_idx

from nnintro.config import load_config
from nnintro.datasets import load_dataset
from nnintro.datasets.batches import train_batches
from nnintro.datasets.images import read_idx
from nnintro.errors import DataError


def data_config(dataset, root, **extra):
    extra.setdefault("download", "false")  # these tests read files they wrote; the download tests say so
    return load_config(None, [f"data.dataset={dataset}", f"data.root={root}",
                              *(f"data.{k}={v}" for k, v in extra.items())]).data


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dataset, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_idx_datasets_load_plain_and_gzipped(tmp_path, dataset, folder, compress):
    make_idx_dataset(tmp_path, folder, n_train=100, n_test=40, compress=compress)
    bundle = load_dataset(data_config(dataset, tmp_path, val_size=20), seed=0)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (80, 20, 40)
    assert bundle.train.x.dtype == torch.uint8 and bundle.input_shape == [1, 28, 28]
    assert len(bundle.task.classes) == 10 and (dataset != "fashion_mnist" or bundle.task.classes[-1] == "Ankle boot")
    assert 0 < bundle.normalization["mean"][0] < 1 and bundle.normalization["scale"] == pytest.approx(1 / 255)


def test_validation_is_carved_by_seed_and_disjoint(mnist_root):
    a = load_dataset(data_config("mnist", mnist_root), seed=1)
    b = load_dataset(data_config("mnist", mnist_root), seed=1)
    c = load_dataset(data_config("mnist", mnist_root), seed=2)
    assert torch.equal(a.val.x, b.val.x) and not torch.equal(a.val.x, c.val.x)
    assert len(a.train) + len(a.val) == 600 and len(a.val) == 60


def test_normalization_matches_a_direct_computation(mnist_root):
    bundle = load_dataset(data_config("mnist", mnist_root), seed=0)
    pixels = bundle.train.x.double() / 255
    assert bundle.normalization["mean"][0] == pytest.approx(float(pixels.mean()), rel=1e-9)
    assert bundle.normalization["std"][0] == pytest.approx(float(pixels.std(unbiased=False)), rel=1e-6)


def test_missing_files_say_where_and_how(tmp_path):
    with pytest.raises(DataError) as caught:
        load_dataset(data_config("mnist", tmp_path), seed=0)
    message = str(caught.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "train-images-idx3-ubyte" in message
    assert "data.download: true" in message


def test_wrong_magic_is_named(tmp_path):
    raw = make_idx_dataset(tmp_path, n_train=50, n_test=20)
    with gzip.open(raw / "t10k-labels-idx1-ubyte.gz", "wb") as handle:
        handle.write(bytes([0, 0, 0x08, 3]) + b"\0" * 20)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: wrong IDX magic"):
        load_dataset(data_config("mnist", tmp_path), seed=0)


def test_truncated_files_are_named(tmp_path):
    raw = make_idx_dataset(tmp_path, n_train=50, n_test=20, compress=False)
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: truncated"):
        load_dataset(data_config("mnist", tmp_path), seed=0)
    gz = write_idx(tmp_path / "x", np.zeros((3, 4, 4), np.uint8))
    gz.write_bytes(gz.read_bytes()[:15])
    with pytest.raises(DataError, match="cannot read"):
        read_idx(gz, 3)


def test_label_count_mismatch_is_named(tmp_path):
    raw = make_idx_dataset(tmp_path, n_train=50, n_test=20)
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(49, np.uint8))
    with pytest.raises(DataError, match="49 labels for 50 images"):
        load_dataset(data_config("mnist", tmp_path), seed=0)


def test_cifar_batches_load_as_channels_first(tmp_path):
    make_cifar(tmp_path, per_batch=30, n_test=20)
    bundle = load_dataset(data_config("cifar10", tmp_path, val_size=0.2), seed=0)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (120, 30, 20)
    assert bundle.input_shape == [3, 32, 32] and len(bundle.normalization["mean"]) == 3
    assert bundle.task.classes[0] == "airplane" and bundle.task.classes[-1] == "truck"


def test_bad_cifar_pickles_are_named(tmp_path):
    folder = make_cifar(tmp_path, per_batch=10, n_test=10)
    (folder / "data_batch_3").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DataError, match="data_batch_3: not a readable CIFAR-10 batch"):
        load_dataset(data_config("cifar10", tmp_path), seed=0)
    write_cifar_batch(folder / "data_batch_3", np.zeros((5, 3072), np.uint8), np.zeros(4))
    with pytest.raises(DataError, match="data_batch_3: 4 labels for 5 images"):
        load_dataset(data_config("cifar10", tmp_path), seed=0)


def test_cifar_pickles_cannot_run_code(tmp_path):
    folder = make_cifar(tmp_path, per_batch=10, n_test=10)

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(DataError, match="refusing to load .*print"):
        load_dataset(data_config("cifar10", tmp_path), seed=0)


def test_digits_is_the_offline_default():
    bundle = load_dataset(load_config(None).data, seed=0)
    assert bundle.input_shape == [1, 8, 8] and len(bundle.test) == 360
    assert len(bundle.train) + len(bundle.val) + len(bundle.test) == 1797


@pytest.mark.parametrize("name", ["xor", "circles", "gaussians", "spiral"])
def test_playground_sets_are_two_balanced_classes(name):
    bundle = load_dataset(data_config(name, "unused", n_samples=400), seed=3)
    assert bundle.input_shape == [2] and len(bundle.test) == 400
    assert bundle.train.x.abs().max() < 7
    share = float(torch.cat([bundle.train.y, bundle.val.y]).float().mean())
    assert 0.35 < share < 0.65
    again = load_dataset(data_config(name, "unused", n_samples=400), seed=3)
    assert torch.equal(bundle.test.x, again.test.x)


def test_xor_labels_follow_the_quadrants():
    bundle = load_dataset(data_config("xor", "unused"), seed=0)
    x, y = bundle.train.x, bundle.train.y
    assert torch.equal(y, (x[:, 0] * x[:, 1] > 0).long())


def test_batches_cover_every_sample_once_in_a_seeded_order(mnist_root):
    split = load_dataset(data_config("mnist", mnist_root), seed=0).train
    batches = list(train_batches(split, 64, seed=0, epoch=1))
    assert [len(y) for _, y, _ in batches] == [64] * 8 + [28]
    seen = torch.cat([x.reshape(len(x), -1) for x, _, _ in batches]).sum(1, dtype=torch.int64)
    assert torch.equal(seen.sort().values, split.x.reshape(len(split), -1).sum(1, dtype=torch.int64).sort().values)
    again = list(train_batches(split, 64, seed=0, epoch=1))
    other = list(train_batches(split, 64, seed=0, epoch=2))
    assert torch.equal(batches[0][1], again[0][1]) and not torch.equal(batches[0][0], other[0][0])


def test_ranks_split_each_global_batch(mnist_root):
    split = load_dataset(data_config("mnist", mnist_root), seed=0).train
    whole = [y for _, y, _ in train_batches(split, 64, seed=0, epoch=1)]
    parts = [[y for _, y, _ in train_batches(split, 64, seed=0, epoch=1, rank=r, world_size=2)] for r in (0, 1)]
    for index, batch in enumerate(whole):
        assert torch.equal(torch.cat([parts[0][index], parts[1][index]]), batch)


def test_download_fetches_through_torchvision_then_reads_its_files(tmp_path, monkeypatch):
    import torchvision.datasets

    calls = []

    class FakeMNIST:  # stands in for the network: writes the files where torchvision would
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            make_idx_dataset(tmp_path / "fetched", n_train=60, n_test=20)
            import shutil

            shutil.copytree(tmp_path / "fetched" / "MNIST", tmp_path / "root" / "MNIST", dirs_exist_ok=True)

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    bundle = load_dataset(data_config("mnist", tmp_path / "root", download="true", val_size=10), seed=0)
    assert calls and all(download for _, _, download in calls) and calls[0][0] == str(tmp_path / "root")
    assert len(bundle.train) == 50 and len(bundle.test) == 20
    calls.clear()
    load_dataset(data_config("mnist", tmp_path / "root", download="true"), seed=0)
    assert not calls  # files present: nothing is fetched again


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match="downloading CIFAR10 into .* failed .*network is unreachable"):
        load_dataset(data_config("cifar10", tmp_path, download="true"), seed=0)


def test_cifar_batches_resaved_by_python3_with_str_keys_load(tmp_path):
    import pickle

    import numpy as np
    from conftest import learnable_images, make_cifar

    from nnintro.datasets.images import read_cifar_batch

    folder = make_cifar(tmp_path)
    images, labels = learnable_images(20, (3, 32, 32), 3)
    resaved = folder / "data_batch_1"
    resaved.write_bytes(pickle.dumps({"data": images.reshape(20, -1), "labels": [int(v) for v in labels],
                                      "batch_label": "re-saved"}))
    split = read_cifar_batch(resaved)
    assert len(split) == 20 and split.y.tolist() == [int(v) for v in labels]
    assert np.array_equal(split.x.numpy(), images)
