"""graphsurgeon's cache folder (graphsurgeon.cache), decided once for the shape cache and MNIST."""
from __future__ import annotations

from graphsurgeon.analysis import shape_cache
from graphsurgeon.cache import cache_root
from graphsurgeon.training.mnist import mnist_dirs


def test_one_cache_folder_for_the_shapes_and_mnist(tmp_path, monkeypatch):
    """GS_CACHE_DIR, else $XDG_CACHE_HOME/graphsurgeon, else ~/.cache/graphsurgeon; empty: no cache.

    The shape cache and the MNIST look-up (where the trainer downloads) agree on it.
    """
    def both():
        return shape_cache.directory(), mnist_dirs(tmp_path / "given")

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("GS_MNIST_DIR", raising=False)
    monkeypatch.delenv("GS_CACHE_DIR", raising=False)
    home = tmp_path / "home" / ".cache" / "graphsurgeon"
    assert cache_root() == home
    assert both() == (home / "shapes", [tmp_path / "given", home / "mnist"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert both() == (tmp_path / "xdg" / "graphsurgeon" / "shapes",
                      [tmp_path / "given", tmp_path / "xdg" / "graphsurgeon" / "mnist"])
    monkeypatch.setenv("GS_CACHE_DIR", str(tmp_path / "mine"))
    assert both() == (tmp_path / "mine" / "shapes", [tmp_path / "given", tmp_path / "mine" / "mnist"])
    monkeypatch.setenv("GS_CACHE_DIR", "")
    assert cache_root() is None and both() == (None, [tmp_path / "given"])


def test_the_trainer_downloads_mnist_where_verify_looks(tmp_path, monkeypatch):
    import pytest

    from fixtures.mnist import MnistError, cache_dir

    monkeypatch.delenv("GS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "graphsurgeon" / "mnist" == mnist_dirs()[-1]
    monkeypatch.setenv("GS_CACHE_DIR", "")
    with pytest.raises(MnistError, match="GS_CACHE_DIR is set empty"):
        cache_dir()
