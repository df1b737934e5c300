"""The local task runner: results in task order, a task's error raised in the caller, ConfigError whole."""

import pickle

import pytest

from xlmr.data.fanout import process_pool
from xlmr.fields import ConfigError


def test_a_process_pool_returns_results_in_task_order_and_raises_a_task_error():
    run = process_pool(2)
    assert run(abs, [-3, 2, -1, 0, -7]) == [3, 2, 1, 0, 7]
    assert run(abs, []) == []
    with pytest.raises(ValueError):
        run(int, ["1", "not a number", "3"])


def test_a_config_error_crosses_process_boundaries_whole():
    err = pickle.loads(pickle.dumps(ConfigError("vocab_size", 20000, "too large")))
    assert isinstance(err, ConfigError) and (err.key, err.value, err.valid) == ("vocab_size", 20000, "too large")
    assert str(err) == "vocab_size=20000: too large"


POOL_AFTER_TRAINING = """
import random
import sys
from pathlib import Path

from xlmr.data.fanout import process_pool
from xlmr.data.tokenizer import train_sentencepiece


def train(seed: int) -> int:
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 8))) for _ in range(500)]
    lines = (" ".join(rng.choice(words) for _ in range(12)) for _ in range(3000))
    out = Path(sys.argv[1]) / str(seed)
    out.mkdir()
    train_sentencepiece(lines, 300, out, num_threads=2)
    return seed


if __name__ == "__main__":
    train(0)  # this process has trained SentencePiece once (as a test or a notebook may have)
    print(process_pool(2)(train, [1, 2]), flush=True)
"""


def test_tokenizer_tasks_return_in_a_pool_started_after_this_process_trained_sentencepiece(tmp_path):
    """Children forked from a process that has trained SentencePiece hang in their own trainer (measured:
    every try, SentencePiece 0.2.3). The pool's workers come from a fork server, so the tasks return. Run in a
    child process of its own, so that a regression fails here (timeout) instead of hanging the suite."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "pool_after_training.py"
    script.write_text(POOL_AFTER_TRAINING)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the script and its pool's workers
        proc.communicate()
        pytest.fail("tokenizer tasks in a pool started after this process trained SentencePiece did not return "
                    "in 120 s")
    assert proc.returncode == 0, err
    assert out.strip() == "[1, 2]"
