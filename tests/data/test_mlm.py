import numpy as np
import pytest

from xlmr.data.mlm import FIRST_PIECE, IGNORE, MaskingConfig, eval_batches, mask_tokens, sample_train_batch
from xlmr.data.tokenizer import BOS, EOS, PAD

MASK_ID = 1001


def random_tokens(rng, B=256, T=128):
    tokens = rng.integers(FIRST_PIECE, MASK_ID, size=(B, T))
    tokens[:, 0], tokens[:, -1] = BOS, EOS
    cut = T * 3 // 4
    tokens[:8, cut:] = PAD  # some padded rows
    tokens[:8, cut - 1] = EOS
    return tokens


def test_masking_statistics_follow_fairseq():
    rng = np.random.default_rng(0)
    tokens = random_tokens(rng)
    inputs, targets = mask_tokens(tokens, rng, MaskingConfig(), MASK_ID)
    selected = targets != IGNORE
    maskable = (tokens >= FIRST_PIECE) & (tokens < MASK_ID)
    assert selected.sum() / maskable.sum() == pytest.approx(0.15, abs=0.005)
    n = selected.sum()
    as_mask = (inputs == MASK_ID) & selected
    unchanged = (inputs == tokens) & selected
    randomised = selected & ~as_mask & ~unchanged
    assert as_mask.sum() / n == pytest.approx(0.8, abs=0.02)
    # a random replacement can draw the original token (p = 1/1000): it then counts as unchanged
    assert unchanged.sum() / n == pytest.approx(0.1, abs=0.015)
    assert randomised.sum() / n == pytest.approx(0.1, abs=0.015)
    np.testing.assert_array_equal(targets[selected], tokens[selected])
    assert (inputs[~selected] == tokens[~selected]).all()  # nothing else changes


def test_special_tokens_are_never_masked_or_targets():
    rng = np.random.default_rng(1)
    tokens = random_tokens(rng)
    for _ in range(5):
        inputs, targets = mask_tokens(tokens, rng, MaskingConfig(mask_prob=0.9), MASK_ID)
        special = tokens < FIRST_PIECE
        assert (targets[special] == IGNORE).all()
        assert (inputs[special] == tokens[special]).all()
        assert (inputs[targets != IGNORE] >= FIRST_PIECE).all()  # random replacements are pieces too


def test_per_sequence_count_is_floor_of_expected_plus_uniform():
    rng = np.random.default_rng(2)
    tokens = random_tokens(rng, B=64, T=50)
    _, targets = mask_tokens(tokens, rng, MaskingConfig(), MASK_ID)
    n_maskable = ((tokens >= FIRST_PIECE) & (tokens < MASK_ID)).sum(1)
    n_masked = (targets != IGNORE).sum(1)
    assert ((n_masked == np.floor(0.15 * n_maskable)) | (n_masked == np.floor(0.15 * n_maskable) + 1)).all()


def streams():
    rng = np.random.default_rng(3)
    return [rng.integers(FIRST_PIECE, MASK_ID, size=n).astype(np.uint16) for n in (5000, 300, 20)]


def test_train_batch_is_a_pure_function_of_seed_rank_index():
    s, q = streams(), np.array([0.5, 0.3, 0.2])
    args = dict(batch_size=16, seq_len=64, masking=MaskingConfig(), mask_id=MASK_ID)
    a = sample_train_batch(s, q, seed=7, rank=0, index=41, **args)
    b = sample_train_batch(s, q, seed=7, rank=0, index=41, **args)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    for other in (dict(seed=8, rank=0, index=41), dict(seed=7, rank=1, index=41), dict(seed=7, rank=0, index=42)):
        c = sample_train_batch(s, q, **other, **args)
        assert not np.array_equal(a["input_ids"], c["input_ids"])


def test_train_batch_layout_and_language_mix():
    s, q = streams(), np.array([0.6, 0.3, 0.1])
    langs, shapes = [], set()
    for i in range(50):
        batch = sample_train_batch(s, q, 32, 64, MaskingConfig(), MASK_ID, seed=0, rank=0, index=i)
        shapes.add(batch["input_ids"].shape)
        assert (batch["input_ids"][:, 0] == BOS).all()
        short = batch["lang"] == 2  # a 20-token language: <s> 20 tokens </s> then padding
        assert (batch["input_ids"][short, 21] == EOS).all() and (batch["input_ids"][short, 22:] == PAD).all()
        langs.append(batch["lang"])
    assert shapes == {(32, 64)}
    freq = np.bincount(np.concatenate(langs), minlength=3) / (50 * 32)
    np.testing.assert_allclose(freq, q, atol=0.03)


def test_eval_batches_are_fixed_and_cover_the_stream():
    stream = streams()[0]
    a = eval_batches(stream, 2, batch_size=8, seq_len=66, max_sequences=20, masking=MaskingConfig(), mask_id=MASK_ID)
    b = eval_batches(stream, 2, batch_size=8, seq_len=66, max_sequences=20, masking=MaskingConfig(), mask_id=MASK_ID)
    assert [x["input_ids"].shape[0] for x in a] == [8, 8, 4]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["input_ids"], y["input_ids"])
    first = a[0]
    window = first["input_ids"][1].copy()
    window[first["targets"][1] != IGNORE] = first["targets"][1][first["targets"][1] != IGNORE]
    np.testing.assert_array_equal(window[1:65], stream[64:128])  # second window, unmasked, is stream[64:128]
    assert (a[0]["lang"] == 2).all()
