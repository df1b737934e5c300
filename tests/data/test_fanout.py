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
