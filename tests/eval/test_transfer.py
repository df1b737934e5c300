"""Zero-shot transfer (xlmr/eval/transfer.py) on the synthetic corpus' topic task (en, fr, sw), with a tiny
SentencePiece model trained here and a tiny randomly initialised encoder."""

import types

import numpy as np
import pytest
import torch

from xlmr.data.synthetic import SyntheticCorpusConfig, task_num_labels, write_language, write_task
from xlmr.data.tokenizer import Tokenizer, train_sentencepiece
from xlmr.eval.tasks import ClassificationTask, load_synthetic_task
from xlmr.eval.transfer import (
    BOS,
    EOS,
    PAD,
    SequenceClassifier,
    TransferConfig,
    autocast_for,
    bag_of_words_baseline,
    encode_pair,
    pad_batch,
    predict,
    translate_train,
    zero_shot_transfer,
)
from xlmr.model import EncoderDims, XLMRForMaskedLM

torch.set_num_threads(1)

LANGS = ["en", "fr", "sw"]
FAST = dict(steps=120, batch_size=16, lr=2e-3, max_train_examples=300, max_test_examples=100)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    cfg = SyntheticCorpusConfig(total_sentences=0, min_sentences=600, task_train_examples=300, task_test_examples=100)
    sentences = []
    for lang in LANGS:
        write_language(cfg, lang, root / f"{lang}.txt")
        write_task(cfg, lang, root / "task")
        sentences += [s for s in (root / f"{lang}.txt").read_text(encoding="utf-8").splitlines() if s]
    train_sentencepiece(iter(sentences), 400, root, num_threads=1, seed_sentencepiece_size=20000)
    tokenizer = Tokenizer.from_dir(root)
    task = load_synthetic_task(root / "task", LANGS, num_labels=task_num_labels(cfg))
    return tokenizer, task


def tiny_model(vocab_size, seed=0, max_positions=64):
    torch.manual_seed(seed)
    return XLMRForMaskedLM(EncoderDims(vocab_size=vocab_size, layers=2, hidden=64, ffn=128, heads=2,
                                       max_positions=max_positions))


@pytest.fixture(scope="module")
def first_run(setup):
    tokenizer, task = setup
    model = tiny_model(tokenizer.vocab_size).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng_before = torch.get_rng_state()
    results, meta = zero_shot_transfer(model, tokenizer, task, TransferConfig(**FAST), LANGS + ["de"])
    return model, before, rng_before, results, meta


def test_english_is_learned_and_every_language_scored(first_run):
    _, _, _, results, meta = first_run
    assert list(results) == LANGS  # de has no test data: left out, and said so
    assert meta["langs_without_test"] == ["de"]
    for lang, metrics in results.items():
        assert list(metrics) == ["transfer_acc"] and 0.0 <= metrics["transfer_acc"] <= 1.0
    assert meta["chance"] == pytest.approx(1 / 6)
    assert set(meta["bow_baseline_acc"]) == set(LANGS) and all(0 <= a <= 1 for a in meta["bow_baseline_acc"].values())
    assert meta["bow_baseline_acc"]["en"] > 0.6  # topic words: an in-language bag of words is near perfect
    assert results["en"]["transfer_acc"] > 0.6  # the fine-tuning language (≈ .95 here), chance is 1/6
    assert meta["train_loss_last"] < meta["train_loss_first"]
    assert meta["test_examples"] == {"en": 100, "fr": 100, "sw": 100}
    assert meta["train_examples"] == 300 and meta["steps"] == 120 and meta["batch_size"] == 16
    assert meta["epochs"] == pytest.approx(120 * 16 / 300, abs=0.01)
    assert meta["finetune_s"] > 0 and meta["seconds"] >= meta["finetune_s"] + meta["eval_s"] - 0.05


def test_callers_model_and_rng_untouched(first_run):
    model, before, rng_before, _, _ = first_run
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training  # its mode is left as it was
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_deterministic_for_a_seed(setup, first_run):
    tokenizer, task = setup
    results, meta = zero_shot_transfer(tiny_model(tokenizer.vocab_size), tokenizer, task, TransferConfig(**FAST), LANGS)
    assert results == first_run[3]
    assert meta["train_loss_last"] == first_run[4]["train_loss_last"]
    short = dict(FAST, steps=5)
    a = zero_shot_transfer(tiny_model(tokenizer.vocab_size), tokenizer, task, TransferConfig(**short, seed=1), ["en"])[1]
    b = zero_shot_transfer(tiny_model(tokenizer.vocab_size), tokenizer, task, TransferConfig(**short, seed=2), ["en"])[1]
    assert a["train_loss_first"] != b["train_loss_first"]  # the seed drives head init, dropout and batches


def test_bf16_autocast_fine_tune_learns_as_fp32_does(setup, first_run, monkeypatch):
    """A bf16-mixed run's fine-tune: each forward pass under its own bf16 autocast region, weights and the
    AdamW update in fp32. (One region around the whole loop trains nothing: autocast caches its bf16 copies
    of the weights until the region exits, so every forward would see the first step's weights; the English
    training loss then stays at ln 6 ≈ 1.79.)"""
    tokenizer, task = setup
    seen = []
    forward = SequenceClassifier.forward

    def recording_forward(self, input_ids):
        logits = forward(self, input_ids)
        seen.append((logits.dtype, torch.is_autocast_enabled("cpu"), next(self.parameters()).dtype))
        return logits

    monkeypatch.setattr(SequenceClassifier, "forward", recording_forward)
    results, meta = zero_shot_transfer(tiny_model(tokenizer.vocab_size), tokenizer, task, TransferConfig(**FAST),
                                       LANGS, autocast=torch.bfloat16)
    assert seen and set(seen) == {(torch.bfloat16, True, torch.float32)}  # every forward, training and test
    assert not torch.is_autocast_enabled("cpu")  # left as it was
    assert meta["precision"] == "bf16-mixed" and first_run[4]["precision"] == "fp32"
    fp32 = first_run[4]
    assert meta["train_loss_last"] == pytest.approx(fp32["train_loss_last"], abs=0.1)
    assert meta["train_loss_last"] < 0.5 * meta["train_loss_first"]
    assert results["en"]["transfer_acc"] == pytest.approx(first_run[3]["en"]["transfer_acc"], abs=0.05)


def test_fine_tune_precision_follows_the_runs():
    assert [autocast_for(p) for p in ("bf16-mixed", "bf16-true", "32-true", "16-mixed")] == [
        torch.bfloat16, torch.bfloat16, None, None]  # fp16: no loss scaler in the fine-tune, so fp32


def test_translate_train_fine_tunes_each_language_on_its_own_examples(setup, first_run):
    """The control zero-shot is read against. On this untrained encoder zero-shot is near chance for fr
    and sw (nothing is aligned), while each language's own parallel examples teach its topics."""
    tokenizer, task = setup
    model, _, _, zero_shot, _ = first_run
    results, meta = translate_train(model, tokenizer, task, TransferConfig(**FAST), LANGS + ["de"])
    assert list(results) == LANGS and meta["langs_without_data"] == ["de"]
    assert results["en"]["translate_train_acc"] == zero_shot["en"]["transfer_acc"]  # the same fine-tuning, exactly
    for lang in ("fr", "sw"):
        assert results[lang]["translate_train_acc"] > zero_shot[lang]["transfer_acc"] + 0.3, (results, zero_shot)
    assert set(meta["train_acc_last"]) == set(LANGS) and meta["seconds"] > 0


def test_pair_encoding_layout():
    assert encode_pair([10, 11], None, 64) == [BOS, 10, 11, EOS]
    assert encode_pair(np.array([10, 11]), np.array([20]), 64) == [BOS, 10, 11, EOS, EOS, 20, EOS]
    assert encode_pair(list(range(10, 20)), None, 5) == [BOS, 10, 11, 12, EOS]
    # longest first: the longer side is cut until the pair fits (max_len - 4 content tokens)
    assert encode_pair([10] * 10, [20] * 2, 10) == [BOS, 10, 10, 10, 10, EOS, EOS, 20, 20, EOS]
    assert encode_pair([10] * 2, [20] * 10, 10) == [BOS, 10, 10, EOS, EOS, 20, 20, 20, 20, EOS]
    assert encode_pair([10] * 9, [20] * 9, 11) == [BOS, 10, 10, 10, 10, EOS, EOS, 20, 20, 20, EOS]
    for la, lb in [(0, 30), (7, 8), (30, 1), (3, 3)]:
        ids = encode_pair([10] * la, [20] * lb, 12)
        assert len(ids) == min(12, la + lb + 4) and ids[0] == BOS and ids[-1] == EOS
    with pytest.raises(ValueError, match="max_len=5"):
        encode_pair([1], [2], 5)
    batch = pad_batch([[BOS, 5, EOS], [BOS, EOS]])
    assert batch.tolist() == [[BOS, 5, EOS], [BOS, EOS, PAD]]


def test_padding_does_not_change_predictions():
    torch.manual_seed(0)
    clf = SequenceClassifier(tiny_model(64).encoder, 3).eval()
    seqs = [[BOS] + list(range(4, 4 + n)) + [EOS] for n in (2, 9, 5, 14)]
    with torch.no_grad():
        alone = torch.cat([clf(pad_batch([s])) for s in seqs])
        padded = clf(pad_batch(seqs))
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-4)
    assert predict(clf, seqs, 3, "cpu").tolist() == alone.argmax(-1).tolist()  # batched by length, input order


def test_bag_of_words_baseline():
    train = [[BOS, 10, 11, EOS], [BOS, 20, 21, EOS], [BOS, 10, 12, EOS], [BOS, 20, 22, EOS]]
    test = [[BOS, 11, 99, EOS], [BOS, 98, 21, EOS], [BOS, 97, EOS]]  # 97-99: never seen, ignored
    assert bag_of_words_baseline(train, [0, 1, 0, 1], test, 2).tolist() == [0, 1, 0]  # unseen only: the prior (tie → 0)


class CharTokenizer:
    vocab_size = 64

    def encode(self, texts):
        return [np.array([4 + ord(c) % 60 for c in t], dtype=np.int64) for t in texts]


def test_pair_task_runs_and_max_len_is_capped():
    rng = np.random.default_rng(0)
    words = ["open", "shut", "red", "blue", "cat", "dog"]
    rows = [(" ".join(rng.choice(words, 30)), str(rng.choice(words)), int(rng.integers(3))) for _ in range(40)]
    task = ClassificationTask("pairs", ["a", "b", "c"], train={"en": rows}, test={"en": rows[:10], "fr": rows[10:20]})
    cfg = TransferConfig(steps=3, batch_size=8, max_len=512)
    results, meta = zero_shot_transfer(tiny_model(64, max_positions=32), CharTokenizer(), task, cfg, ["en", "fr"])
    assert set(results) == {"en", "fr"}
    assert meta["max_len"] == 32 and meta["truncated"]["train"] == 40  # every 30-word premise is cut


def test_errors(setup):
    tokenizer, task = setup
    model = tiny_model(tokenizer.vocab_size)
    with pytest.raises(ValueError, match=r"no training examples for train_lang 'de' \(languages with training data: en, fr, sw\)"):
        zero_shot_transfer(model, tokenizer, task, TransferConfig(train_lang="de"), LANGS)
    with pytest.raises(ValueError, match=r"eval\.transfer\.steps=0: must be >= 1"):
        zero_shot_transfer(model, tokenizer, task, TransferConfig(steps=0), LANGS)
    bad = types.SimpleNamespace(**{**TransferConfig().__dict__, "lr": 0.0})  # any object with the fields
    with pytest.raises(ValueError, match=r"transfer\.lr=0\.0"):
        zero_shot_transfer(model, tokenizer, task, bad, LANGS)
