import math

import numpy as np
import pytest

from xlmr.data.sampling import format_tsv, sampling_probs, sampling_table

COUNTS = np.array([300.8, 56.8, 66.6, 278.0, 46.9, 1.6, 5.7])  # XLM-7's CC-100 GiB


def fairseq_reference(counts, alpha):
    # fairseq MultilingualMaskedLMTask._get_sample_prob, written out independently
    prob = counts / counts.sum()
    smoothed = prob**alpha
    return smoothed / smoothed.sum()


@pytest.mark.parametrize("alpha", [0.01, 0.3, 0.5, 0.7, 1.0, 2.0])
def test_matches_fairseq_normalisation(alpha):
    np.testing.assert_allclose(sampling_probs(COUNTS, alpha), fairseq_reference(COUNTS, alpha), rtol=1e-12)


def test_alpha_one_is_proportional_and_zero_is_uniform():
    np.testing.assert_allclose(sampling_probs(COUNTS, 1.0), COUNTS / COUNTS.sum(), rtol=1e-12)
    np.testing.assert_allclose(sampling_probs(COUNTS, 0.0), np.full(7, 1 / 7), rtol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_sums_to_one(alpha):
    assert sampling_probs(COUNTS, alpha).sum() == pytest.approx(1.0, abs=1e-12)


def test_monotone_in_counts_and_smoothing_in_alpha():
    q = sampling_probs(COUNTS, 0.3)
    order = np.argsort(COUNTS)
    assert np.all(np.diff(q[order]) > 0)  # more data → sampled more
    # lowering alpha moves mass from the largest to the smallest language
    lows = [sampling_probs(COUNTS, a)[5] for a in (1.0, 0.7, 0.3, 0.01)]
    highs = [sampling_probs(COUNTS, a)[0] for a in (1.0, 0.7, 0.3, 0.01)]
    assert lows == sorted(lows) and highs == sorted(highs, reverse=True)


def test_tiny_probabilities_are_stable():
    q = sampling_probs(np.array([1e12, 1.0]), 0.01)
    assert np.isfinite(q).all() and q[1] > 0.3


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_bad_alpha_is_refused(bad):
    with pytest.raises(ValueError, match="alpha"):
        sampling_probs(COUNTS, bad)


def test_zero_count_is_refused():
    with pytest.raises(ValueError, match="positive"):
        sampling_probs(np.array([1.0, 0.0]), 0.3)


def test_table_expected_tokens_and_tsv():
    rows = sampling_table({"en": 900, "sw": 100}, 0.5, train_tokens=1000, shard_tokens={"en": 9000, "sw": 10})
    assert [r.lang for r in rows] == ["en", "sw"]
    assert sum(r.train_tokens_expected for r in rows) == pytest.approx(1000)
    assert rows[1].q == pytest.approx(1 / (1 + 3))  # sqrt(.9)/sqrt(.1) = 3
    assert rows[1].epochs_expected == pytest.approx(250 / 10)
    tsv = format_tsv(rows).splitlines()
    assert tsv[0].split("\t")[:4] == ["lang", "sentences", "p", "q"] and len(tsv) == 3


def test_shard_caps_are_the_budget_draw_times_the_factor_rounded_up_to_a_power_of_two():
    from xlmr.data.sampling import shard_caps

    # en draws 0.7 × 4.9M = 3.44M tokens, × 2 = 6.88M → 2^23 = 8.39M; sw 0.3 × 4.9M × 2 = 2.95M → 2^22 = 4.19M
    assert shard_caps({"en": 0.7, "sw": 0.3}, 4_915_200, 2.0) == {"en": 2**23, "sw": 2**22}
    assert shard_caps({"en": 0.7}, 4_915_200 * 3 // 2, 2.0) == {"en": 2**24}  # 10.3M → 2^24
    assert shard_caps({"en": 1e-9}, 100, 1.0) == {"en": 1}
    with pytest.raises(ValueError, match="factor"):
        shard_caps({"en": 1.0}, 100, 0.5)
