"""English↔X sentence retrieval (xlmr/eval/retrieval.py) on tiny pairs made here; a tiny random model."""

import math
import random

import numpy as np
import pytest
import torch

from xlmr.eval.retrieval import (
    RetrievalConfig,
    embed,
    evaluate_retrieval,
    has_ascii_alnum,
    is_latin_script,
    retrieval_accuracy,
    sample_pairs,
    split_pairs,
    top1_accuracy,
    trigram_baseline,
    unique_pairs,
)
from xlmr.model import EncoderDims, XLMRForMaskedLM

torch.set_num_threads(1)

WORDS = ("open close file window print save folder network device user error update install remove "
         "server archive message session password account backup display keyboard printer").split()


def sentences(n, seed=0):
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add(" ".join(rng.sample(WORDS, 4)))
    return sorted(out)


class CharTokenizer:
    """Stands in for xlmr.data.tokenizer.Tokenizer: one id per character, no specials."""

    vocab_size = 64

    def encode(self, texts):
        return [np.array([4 + ord(c) % 60 for c in t], dtype=np.int64) for t in texts]


def tiny_model(layers=2, seed=0):
    torch.manual_seed(seed)
    return XLMRForMaskedLM(EncoderDims(vocab_size=64, layers=layers, hidden=16, ffn=32, heads=2, max_positions=64))


def test_accuracy_math():
    eye = torch.eye(5)
    assert retrieval_accuracy(eye, eye) == 1.0
    assert retrieval_accuracy(eye, eye[[1, 2, 3, 4, 0]]) == 0.0  # every gold is elsewhere
    assert retrieval_accuracy(eye, eye[[0, 1, 2, 4, 3]]) == pytest.approx(0.6)
    assert retrieval_accuracy(3 * eye, eye) == 1.0  # cosine: scale does not matter
    assert retrieval_accuracy(eye[:2], eye) == 1.0  # extra candidates are distractors
    assert top1_accuracy(torch.ones(3, 3)) == 0.0  # a tie is a miss, whatever the position
    assert math.isnan(top1_accuracy(torch.zeros(0, 0)))
    with pytest.raises(ValueError):
        top1_accuracy(torch.zeros(3, 2))


def test_trigram_baseline_identical_and_shuffled():
    en = sentences(60)
    assert trigram_baseline(en, en) == 1.0
    shuffled = en[1:] + en[:1]  # every row's gold is now another sentence
    assert trigram_baseline(en, shuffled) <= 0.1
    assert trigram_baseline(["Öffne die Datei", "schließe das Fenster"], ["öffne  die datei", "Schließe das Fenster"]) == 1.0
    assert trigram_baseline(["открыть файл"], ["файл"]) == 1.0  # one candidate
    assert trigram_baseline(["abc", "def"], ["xyz", "uvw"]) == 0.0  # nothing shared: ties, no hit


def test_split_by_english_string():
    en = sentences(300)
    pairs = {"fr": [(e, "fr " + e) for e in en], "ru": [(e, "ру " + e) for e in en[::2]],
             "de": [(e, "de " + e) for e in en] + [(en[0], "de alt")]}  # a second translation of one message
    train, test = split_pairs(pairs, test_fraction=0.3, seed=1)
    train_en = {e for ps in train.values() for e, _ in ps}
    test_en = {e for ps in test.values() for e, _ in ps}
    assert not train_en & test_en and train_en | test_en == set(en)
    assert 0.2 < len(test_en) / len(en) < 0.4
    assert {e for e, _ in test["ru"]} == test_en & {e for e, _ in pairs["ru"]}  # same side in every language
    assert split_pairs(pairs, 0.3, seed=1) == (train, test)  # deterministic
    assert split_pairs(pairs, 0.3, seed=2)[1] != test  # the seed picks another split
    assert split_pairs(pairs, 0.0, 0)[1]["fr"] == [] and split_pairs(pairs, 1.0, 0)[0]["fr"] == []


def test_embed_masks_padding_and_normalises():
    model = tiny_model()
    model.train()
    tok = CharTokenizer()
    texts = ["a", "short one", "a much longer sentence that needs padding in its batch " * 2]
    together = embed(model, tok, texts, layer=1, max_len=64, batch_size=8)
    alone = torch.cat([embed(model, tok, [t], layer=1) for t in texts])
    assert together.shape == (3, 16) and model.training  # the mode is restored
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together.norm(dim=1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(embed(model, tok, texts, layer=1), embed(model, tok, texts, layer=2))
    truncated = embed(model, tok, [texts[2], texts[2][:20]], layer=1, max_len=22)  # <s> + 20 + </s>
    assert torch.allclose(truncated[0], truncated[1], atol=1e-6)
    with pytest.raises(ValueError, match="layer=3"):
        embed(model, tok, texts, layer=3)


def test_non_ascii_and_script_helpers():
    assert has_ascii_alnum("Файл gzip") and has_ascii_alnum("версия 2") and not has_ascii_alnum("Файл «один»!")
    assert is_latin_script(["Ouvrir le fichier", "Schließen"]) and is_latin_script(["123 ..."])
    assert not is_latin_script(["Открыть файл gzip", "打开文件"])
    pairs = [("a", "x"), ("a", "y"), ("b", "x"), ("c", "z")]
    assert unique_pairs(pairs) == [("a", "x"), ("c", "z")]  # English once, then X once
    many = [(str(i), str(i)) for i in range(50)]
    picked = sample_pairs(many, 10, seed=0, lang="ru")
    assert len(picked) == 10 and picked == sorted(picked, key=lambda p: int(p[0]))
    assert picked == sample_pairs(many, 10, 0, "ru") != sample_pairs(many, 10, 0, "uk")


def test_evaluate_retrieval_tiny_model():
    en = sentences(40, seed=3)
    cyr = {c: chr(0x430 + i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
    ru = ["".join(cyr.get(c, c) for c in e) for e in en]
    ru_pairs = [(e, r + (" gzip" if i % 4 == 0 else "")) for i, (e, r) in enumerate(zip(en, ru))]  # 10 with ASCII
    pairs = {"fr": [(e, "le " + e) for e in en] + [(en[0], "doublon")], "ru": ru_pairs}
    cfg = RetrievalConfig(max_pairs=30, seed=0)
    model = tiny_model(layers=2)
    res = evaluate_retrieval(model, CharTokenizer(), pairs, cfg)
    assert set(res) == {"fr", "ru"}
    fr, ru_res = res["fr"], res["ru"]
    assert fr["n_pairs"] == 30 and fr["latin_script"] and fr["layer"] == 1  # middle of 2 layers
    assert "n_pairs_nonascii" not in fr and "retrieval_acc_en2x_nonascii" not in fr
    assert not ru_res["latin_script"] and ru_res["n_pairs_nonascii"] == 30  # 40 - 10 with ASCII, capped at 30
    for r in (fr, ru_res):
        for key, value in r.items():
            if "_acc_" in key:
                assert 0.0 <= value <= 1.0, key
    assert fr["trigram_acc_en2x"] > 0.9  # "le " + the English sentence: the leak the baseline measures
    assert ru_res["trigram_acc_en2x_nonascii"] < 0.2  # transliterated, no ASCII: nothing to match
    assert evaluate_retrieval(model, CharTokenizer(), pairs, cfg) == res  # deterministic
    off = evaluate_retrieval(model, CharTokenizer(), pairs, RetrievalConfig(non_ascii_only_for_non_latin=False, layer=2))
    assert "n_pairs_nonascii" not in off["ru"] and off["fr"]["n_pairs"] == 40 and off["fr"]["layer"] == 2
