"""Content-addressed artifacts for the data stages ①–④ (corpus, tokenizer, shards).

An artifact lives in `<cache>/<kind>/<key>/` where key = sha256(stage spec + upstream keys + stage version).
It is built once: under an exclusive file lock (`<kind>/<key>.lock`, flock via filelock, so concurrent processes and
Slurm jobs on a shared filesystem wait for each other), into a temp dir, then renamed into place, with a
`manifest.json` written last inside the temp dir. A directory without the manifest never exists at the
final path, so no reader ever sees a half-written artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from xlmr.fields import ConfigError

MANIFEST = "manifest.json"
FAILED_SUFFIX = ".failed.json"  # beside an artifact that could not be built from bad input: the error


def artifact_key(spec: dict[str, Any]) -> str:
    """A stable 16-hex-digit key of a JSON-serialisable spec (keys sorted)."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Artifact:
    kind: str
    key: str
    path: Path
    manifest: dict[str, Any]
    built_now: bool  # False when it was found in the cache


@contextmanager
def file_lock(path: Path):
    """An exclusive lock across processes (flock: released if the holder dies), waited for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path):
        yield


def artifact_path(cache_dir: Path, kind: str, spec: dict[str, Any]) -> Path:
    return Path(cache_dir) / kind / artifact_key(spec)


def is_built(cache_dir: Path, kind: str, spec: dict[str, Any]) -> bool:
    return (artifact_path(cache_dir, kind, spec) / MANIFEST).is_file()


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads((Path(path) / MANIFEST).read_text())


def get_or_build(
    cache_dir: Path, kind: str, spec: dict[str, Any], build: Callable[[Path], dict[str, Any]],
    remember_failure: bool = False,
) -> Artifact:
    """Return the artifact for `spec`, building it with `build(tmp_dir) -> info` if absent.

    `build` writes its files into tmp_dir and returns a JSON-able dict that goes into the manifest.
    `remember_failure`: a ConfigError from `build` is recorded beside the artifact and raised again at once by
    later calls (and `failed_before`); only for builds whose failure is a pure function of the spec (a
    tokenizer's vocab too large), never for those that read the network or mutable files.
    """
    key = artifact_key(spec)
    final = Path(cache_dir) / kind / key
    if (final / MANIFEST).is_file():
        return Artifact(kind, key, final, read_manifest(final), built_now=False)
    with file_lock(final.with_name(key + ".lock")):
        if (final / MANIFEST).is_file():  # built by another process while we waited
            return Artifact(kind, key, final, read_manifest(final), built_now=False)
        if remember_failure and (failure := failed_before(cache_dir, kind, spec)) is not None:
            raise failure  # bad input is deterministic: the next seed of a sweep fails at once, not after a rebuild
        tmp = final.with_name(f".{key}.tmp-{socket.gethostname()}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        start = time.time()
        try:
            info = build(tmp)
            manifest = {"kind": kind, "key": key, "spec": spec, "build_seconds": round(time.time() - start, 3),
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname(),
                        "files": {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()},
                        **info}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
            if final.exists():  # a stale directory without manifest (killed build from an older layout)
                shutil.rmtree(final)
            os.rename(tmp, final)
        except ConfigError as err:  # remembered: `failed_before` tells the next run and the sweep plan
            shutil.rmtree(tmp, ignore_errors=True)
            if not remember_failure:
                raise
            record = final.with_name(f"{key}{FAILED_SUFFIX}")
            record.with_suffix(".tmp").write_text(json.dumps({"key": err.key, "value": err.value, "valid": err.valid},
                                                             default=str))
            os.replace(record.with_suffix(".tmp"), record)
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return Artifact(kind, key, final, manifest, built_now=True)


def failed_before(cache_dir: Path, kind: str, spec: dict[str, Any]) -> ConfigError | None:
    """The bad-input error an earlier build of this artifact stopped with, if any (cheap: one stat)."""
    record = Path(cache_dir) / kind / f"{artifact_key(spec)}{FAILED_SUFFIX}"
    try:
        failure = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return ConfigError(failure["key"], failure["value"], f"{failure['valid']} (found by an earlier build: {record})")
