import json
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from xlmr.data.cache import MANIFEST, artifact_key, get_or_build, is_built


def test_key_is_stable_and_order_independent():
    assert artifact_key({"a": 1, "b": [1, 2]}) == artifact_key({"b": [1, 2], "a": 1})
    assert artifact_key({"a": 1}) != artifact_key({"a": 2})


def test_builds_once_then_reuses(tmp_path):
    calls = []

    def build(tmp: Path):
        calls.append(tmp)
        (tmp / "x.txt").write_text("hello")
        return {"n": 1}

    a = get_or_build(tmp_path, "stage", {"v": 1}, build)
    b = get_or_build(tmp_path, "stage", {"v": 1}, build)
    assert len(calls) == 1 and a.built_now and not b.built_now and a.path == b.path
    assert (a.path / "x.txt").read_text() == "hello"
    manifest = json.loads((a.path / MANIFEST).read_text())
    assert manifest["n"] == 1 and manifest["spec"] == {"v": 1} and manifest["files"]["x.txt"] == 5


def test_failed_build_leaves_nothing(tmp_path):
    def build(tmp: Path):
        (tmp / "half.bin").write_bytes(b"\0" * 10)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        get_or_build(tmp_path, "stage", {"v": 2}, build)
    assert not is_built(tmp_path, "stage", {"v": 2})
    assert [p.name for p in (tmp_path / "stage").iterdir() if not p.name.endswith(".lock")] == []


def _race(cache_dir: str, log_dir: str, i: int) -> str:
    def build(tmp: Path):
        (Path(log_dir) / f"built-{i}").write_text("")
        time.sleep(0.5)  # long enough for every racer to arrive while the first one builds
        (tmp / "data").write_text(str(i))
        return {}

    art = get_or_build(Path(cache_dir), "stage", {"shared": True}, build)
    return (art.path / "data").read_text()


def test_concurrent_processes_build_once(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    with mp.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_race, [(str(tmp_path / "cache"), str(logs), i) for i in range(4)])
    assert len(list(logs.iterdir())) == 1  # one builder
    assert len(set(results)) == 1  # everyone read the same artifact
