"""The embedded synthetic corpus (xlmr/data/synthetic.py): determinism, set-independence, CC-100 sizes,
scripts, layout, the parallel task, knobs, and a learnability sanity check. Small configs: runs in seconds."""

from __future__ import annotations

import collections
import math
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from xlmr.data import synthetic as syn
from xlmr.data.languages import cc100_stats, known_codes, language_set
from xlmr.data.synthetic import (SyntheticCorpusConfig, describe_language, sentence_counts, task_num_labels,
                                 write_language, write_task)
from xlmr.data.text import count_text, iter_documents

SMALL = dict(total_sentences=30_000, min_sentences=150, task_train_examples=300, task_test_examples=120)


def small(**kw) -> SyntheticCorpusConfig:
    return SyntheticCorpusConfig(**{**SMALL, **kw})


def clear_caches() -> None:
    for fn in (syn._global_proto, syn._family_proto, syn._world, syn._language, syn._task_events, syn._code_switch,
               syn._latin_forms):
        fn.cache_clear()


def sentences(path: Path) -> list[str]:
    return [s for doc in iter_documents(path) for s in doc]


def read_tsv(path: Path) -> tuple[list[int], list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "label\ttext"
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 2 for r in rows)
    return [int(r[0]) for r in rows], [r[1] for r in rows]


def in_block(ch: str, lo: int, hi: int) -> bool:
    return lo <= ord(ch) <= hi


def share(text: str, lo: int, hi: int) -> float:
    """Share of the letters of `text` (not digits, punctuation or ASCII anchors) inside [lo, hi]."""
    letters = [c for c in text if unicodedata.category(c)[0] in "LM" and not c.isascii()]
    return sum(in_block(c, lo, hi) for c in letters) / max(1, len(letters))


def latin_only(text: str) -> bool:
    return all(c.isascii() or 0xC0 <= ord(c) <= 0x24F for c in text if unicodedata.category(c)[0] in "LM")


# ------------------------------------------------------------------------------------ determinism
def test_same_config_same_bytes_other_seed_other_bytes(tmp_path):
    cfg = small()
    write_language(cfg, "fr", tmp_path / "a.txt")
    write_task(cfg, "fr", tmp_path / "ta")
    clear_caches()
    write_language(small(), "fr", tmp_path / "b.txt")
    write_task(small(), "fr", tmp_path / "tb")
    write_language(small(seed=1), "fr", tmp_path / "c.txt")
    a = (tmp_path / "a.txt").read_bytes()
    assert a == (tmp_path / "b.txt").read_bytes()
    assert (tmp_path / "ta" / "fr.test.tsv").read_bytes() == (tmp_path / "tb" / "fr.test.tsv").read_bytes()
    assert a != (tmp_path / "c.txt").read_bytes()


def test_language_does_not_depend_on_the_other_languages(tmp_path):
    cfg = small()
    clear_caches()
    write_language(cfg, "en", tmp_path / "alone.txt")
    write_task(cfg, "en", tmp_path / "alone")
    clear_caches()
    for code in ("sw", "zh", "ru", "de"):  # another set, another order, warm caches
        write_language(cfg, code, tmp_path / f"{code}.txt")
        write_task(cfg, code, tmp_path / "set")
    write_language(cfg, "en", tmp_path / "en.txt")
    write_task(cfg, "en", tmp_path / "set")
    assert (tmp_path / "alone.txt").read_bytes() == (tmp_path / "en.txt").read_bytes()
    for split in ("train", "test"):
        assert (tmp_path / "alone" / f"en.{split}.tsv").read_bytes() == (tmp_path / "set" / f"en.{split}.tsv").read_bytes()
    assert sentence_counts(cfg, ["en"])["en"] == sentence_counts(cfg, language_set(30))["en"]


def test_smaller_corpus_is_a_prefix_of_a_larger_one(tmp_path):
    write_language(small(total_sentences=20_000), "de", tmp_path / "small.txt")
    write_language(small(total_sentences=60_000), "de", tmp_path / "large.txt")
    s, l = sentences(tmp_path / "small.txt"), sentences(tmp_path / "large.txt")
    assert len(l) > len(s) > 0 and l[: len(s)] == s


# ------------------------------------------------------------------------------------ sizes
def test_sizes_follow_the_cc100_profile():
    cfg = SyntheticCorpusConfig()
    n = sentence_counts(cfg, language_set(7))
    total_gib = sum(s.size_gib for s in cc100_stats().values())
    assert n["en"] == round(1_000_000 * 300.8 / total_gib)
    assert n["en"] > n["ru"] > n["de"] > n["fr"] > n["zh"] > n["ur"] > n["sw"] == cfg.min_sentences
    assert 300_000 < sum(n.values()) < 340_000  # the 7-language default
    tiny = sentence_counts(SyntheticCorpusConfig(total_sentences=1000, min_sentences=77), ["en", "xh"])
    assert tiny == {"en": 126, "xh": 77}
    assert set(sentence_counts(cfg, sorted(known_codes()))) == known_codes()


# ------------------------------------------------------------------------------------ layout
def test_cc100_layout_and_stats(tmp_path):
    cfg = small(min_doc_sentences=2, max_doc_sentences=5)
    path = tmp_path / "sw.txt"
    stats = write_language(cfg, "sw", path)
    counted = count_text(path)
    assert stats["sentences"] == sentence_counts(cfg, ["sw"])["sw"] == counted.sentences
    assert (stats["documents"], stats["chars"]) == (counted.documents, counted.chars)
    assert stats["bytes"] == path.stat().st_size
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n") and "\n\n\n" not in text and not text.startswith("\n")
    docs = text[:-1].split("\n\n")
    assert len(docs) == stats["documents"] > 1
    lines = [line for doc in docs for line in doc.split("\n")]
    assert all(line and line == line.strip() and "\t" not in line for line in lines)
    assert max(len(d.split("\n")) for d in docs) <= 5


# ------------------------------------------------------------------------------------ languages and scripts
def test_every_cc100_code_generates_valid_text(tmp_path):
    assert set(syn.TYPOLOGY) == known_codes()
    for cons, signs, indep, virama in syn._INDIC.values():  # script tables: one entry per phoneme
        assert [len("".join(x.split())) for x in (cons, signs, indep, virama)] == [18, 4, 5, 1]
    for cons, vows, _ in syn._ALPHABETS.values():
        assert (len(cons.split()), len(vows.split())) == (18, 5)
    assert all(len(row) == 5 for row in syn._KANA) and len(syn._KANA) == 18
    cfg = SyntheticCorpusConfig(total_sentences=0, min_sentences=12)
    for code in sorted(known_codes()):
        text = (tmp_path / f"{code}.txt")
        stats = write_language(cfg, code, text)
        assert stats["sentences"] == 12
        for ch in set(text.read_text(encoding="utf-8")):
            assert ch == "\n" or unicodedata.category(ch) not in ("Cn", "Cc", "Co", "Cs", "Zl", "Zp"), (code, hex(ord(ch)))


def test_scripts_and_spacing(tmp_path):
    cfg = small(p_code_switch=0.0)  # code-switched English words are tested on their own below
    text = {}
    for code in ("en", "ru", "zh", "zh_Hant", "ja", "ko", "ur", "hi", "hi_rom", "th", "el", "he", "am", "ka", "my"):
        write_language(cfg, code, tmp_path / f"{code}.txt")
        text[code] = (tmp_path / f"{code}.txt").read_text(encoding="utf-8")
    assert share(text["ru"], 0x0400, 0x04FF) > 0.99
    assert share(text["el"], 0x0370, 0x03FF) > 0.99
    assert share(text["he"], 0x0590, 0x05FF) > 0.99
    assert share(text["ur"], 0x0600, 0x06FF) > 0.99
    assert share(text["hi"], 0x0900, 0x097F) > 0.99
    assert share(text["ka"], 0x10A0, 0x10FF) > 0.99
    assert share(text["am"], 0x1200, 0x137F) > 0.99
    assert share(text["ko"], 0xAC00, 0xD7A3) > 0.99
    assert share(text["zh"], 0x4E00, 0x9FFF) > 0.95
    assert share(text["ja"], 0x3040, 0x309F) > 0.1 and share(text["ja"], 0x4E00, 0x9FFF) > 0.3  # kana + kanji
    assert latin_only(text["en"]) and latin_only(text["hi_rom"])
    for code in ("zh", "zh_Hant", "ja", "th", "my"):  # written without spaces
        assert " " not in text[code], code
    for code in ("en", "ru", "ur", "hi", "ko"):
        assert text[code].count(" ") > 5 * text[code].count("\n"), code
    assert text["zh"].rstrip("\n").split("\n")[0].endswith("。") and text["hi"].split("\n")[0].endswith("।")


def test_script_variants_share_lexicon_and_grammar(tmp_path):
    cfg = small()
    for code in ("zh", "zh_Hant", "hi", "hi_rom"):
        write_task(cfg, code, tmp_path)
    zh, hant = read_tsv(tmp_path / "zh.test.tsv")[1], read_tsv(tmp_path / "zh_Hant.test.tsv")[1]
    assert [len(s) for s in zh] == [len(s) for s in hant] and zh != hant  # same syllables, other characters
    hi, rom = read_tsv(tmp_path / "hi.test.tsv")[1], read_tsv(tmp_path / "hi_rom.test.tsv")[1]
    assert [s.count(" ") for s in hi] == [s.count(" ") for s in rom]  # same words, Latin script
    assert {k: v for k, v in describe_language(cfg, "hi_rom").items() if k not in ("code", "script")} == \
        {k: v for k, v in describe_language(cfg, "hi").items() if k not in ("code", "script")}


def test_knobs_scripts_anchors_word_order(tmp_path):
    plain = small(scripts=False)
    write_language(plain, "ru", tmp_path / "ru_latin.txt")
    write_language(plain, "zh", tmp_path / "zh_latin.txt")
    assert (tmp_path / "ru_latin.txt").read_text(encoding="utf-8").isascii()  # one standard Latin spelling
    assert " " in (tmp_path / "zh_latin.txt").read_text(encoding="utf-8")

    write_language(small(anchors=False, p_code_switch=0.0), "ru", tmp_path / "ru_noanchor.txt")
    noanchor = (tmp_path / "ru_noanchor.txt").read_text(encoding="utf-8")
    assert not any(c.isascii() and c.isalnum() for c in noanchor)  # no Latin names, no digits
    write_language(small(), "ru", tmp_path / "ru.txt")
    write_language(small(), "ur", tmp_path / "ur.txt")
    latin = lambda p: {w.strip(".۔") for w in p.read_text(encoding="utf-8").split() if w.isascii() and w[0].isupper()}
    assert len(latin(tmp_path / "ru.txt") & latin(tmp_path / "ur.txt")) >= 5  # shared anchor names

    assert describe_language(small(), "ur")["order"] == "SOV" and describe_language(small(), "ar")["order"] == "VSO"
    shared = small(shared_word_order=True)
    assert {describe_language(shared, c)["order"] for c in ("ur", "ar", "ja", "en")} == {"SVO"}
    assert not any(describe_language(shared, c)["adj_after"] for c in ("fr", "ar", "sw"))


def test_global_share_controls_cross_family_overlap():
    def overlap(cfg):  # share of noun concepts with the same proto-form in two unrelated families
        a = syn._family_proto(syn._key(cfg), "germanic")["noun"]
        b = syn._family_proto(syn._key(cfg), "indoaryan")["noun"]
        return np.mean([x == y for x, y in zip(a, b)])

    hi, lo = overlap(SyntheticCorpusConfig(global_share=0.5)), overlap(SyntheticCorpusConfig(global_share=0.2))
    assert 0.15 < hi < 0.4 and lo < 0.12  # ≈ share²


# ------------------------------------------------------------------------------------ task
def test_task_is_parallel_balanced_and_in_range(tmp_path):
    cfg = small()
    codes = ("en", "ru", "zh", "ur", "sw")
    for code in codes:
        counts = write_task(cfg, code, tmp_path)
        assert counts == {"train": 300, "test": 120, "num_labels": 6} and task_num_labels(cfg) == 6
    for split, n in (("train", 300), ("test", 120)):
        tables = {c: read_tsv(tmp_path / f"{c}.{split}.tsv") for c in codes}
        labels = tables["en"][0]
        assert len(labels) == n and all(tables[c][0] == labels for c in codes)  # row i = the same event
        assert set(labels) <= set(range(task_num_labels(cfg)))
        freq = collections.Counter(labels)
        assert max(freq.values()) - min(freq.values()) <= 1 and len(freq) == 6
        assert tables["en"][1] != tables["ru"][1] and all(tables[c][1][0] for c in codes)


# ------------------------------------------------------------------------------------ errors and config
def test_unknown_code_is_refused(tmp_path):
    cfg = small()
    for call in (lambda: write_language(cfg, "xx", tmp_path / "xx.txt"), lambda: write_task(cfg, "zz", tmp_path),
                 lambda: sentence_counts(cfg, ["en", "english"])):
        with pytest.raises(ValueError, match=r"unknown language code '\w+'.*cc100_stats.tsv"):
            call()


def test_config_validation_and_omegaconf():
    with pytest.raises(ValueError, match="p_on_topic"):
        SyntheticCorpusConfig(p_on_topic=1.5)
    with pytest.raises(ValueError, match="n_places"):
        SyntheticCorpusConfig(n_topics=30)
    with pytest.raises(ValueError, match="max_doc_sentences"):
        SyntheticCorpusConfig(min_doc_sentences=5, max_doc_sentences=4)
    omegaconf = pytest.importorskip("omegaconf")
    conf = omegaconf.OmegaConf.merge(omegaconf.OmegaConf.structured(SyntheticCorpusConfig), {"total_sentences": 5})
    assert conf.total_sentences == 5 and conf.global_share == 0.5
    assert sentence_counts(conf, ["sw"]) == {"sw": 2000}  # any object with the fields is accepted


# ------------------------------------------------------------------------------------ learnability
def test_english_task_is_learnable_and_text_is_structured(tmp_path):
    cfg = small()
    write_task(cfg, "en", tmp_path)
    (ytr, xtr), (yte, xte) = read_tsv(tmp_path / "en.train.tsv"), read_tsv(tmp_path / "en.test.tsv")
    # multinomial naive Bayes on bags of words
    vocab = {w: i for i, w in enumerate(sorted({w for s in xtr + xte for w in s.split()}))}
    T = task_num_labels(cfg)
    counts = np.ones((T, len(vocab)))
    for y, s in zip(ytr, xtr):
        for w in s.split():
            counts[y, vocab[w]] += 1
    logp = np.log(counts / counts.sum(1, keepdims=True))
    pred = [int(np.argmax(sum(logp[:, vocab[w]] for w in s.split()))) for s in xte]
    assert np.mean(np.array(pred) == np.array(yte)) > 0.8  # chance: 1/6

    write_language(cfg, "en", tmp_path / "en.txt")
    tokens = " ".join(sentences(tmp_path / "en.txt")).split()
    uni = collections.Counter(tokens)
    bi = collections.Counter(zip(tokens, tokens[1:]))
    h_uni = -sum(c / len(tokens) * math.log2(c / len(tokens)) for c in uni.values())
    h_cond = -sum(c / (len(tokens) - 1) * math.log2(c / uni[a]) for (a, _), c in bi.items())
    assert h_cond < 0.75 * h_uni  # the next word is far more predictable than a random word


# ------------------------------------------------------------------------------------ cross-language word forms
def test_false_friends_are_rare_against_true_cognates():
    # Real language pairs share far more true cognates than false friends (same form, other meaning).
    # Bound: at most 3 % of the content-word forms that English shares with the 30 languages of langs=30,
    # pooled, and at most 2 in any one pair; XLM-7's pairs share some true cognates (de, sw, fr).
    cfg = SyntheticCorpusConfig()
    counts = {code: syn.shared_word_forms(cfg, "en", code) for code in language_set(30) if code != "en"}
    true = sum(c["true_cognates"] for c in counts.values())
    false = sum(c["false_friends"] for c in counts.values())
    assert true > 100 and false / (true + false) <= 0.03, (true, false)
    assert max(c["false_friends"] for c in counts.values()) <= 2, counts
    assert counts["de"]["true_cognates"] > 20 and counts["sw"]["true_cognates"] > 5


def test_perso_arabic_alphabets_write_one_sound_with_one_letter():
    # Urdu's alphabet is Persian's with letters of its own for /h/ (heh goal) and /e/ (bari ye); Persian and
    # Arabic differ in the code points of kaf and yeh (and Arabic has no g or e). The same sound is the same
    # letter, so the three write their inherited (global) words alike: ur shares true cognates with fa and ar
    # as fa does with ar, and no false friends. (Before: ur spelled o, u and j with letters that are other
    # sounds in fa and ar, so it shared their letter strings but not one word with either.)
    cons = {s: syn._split(syn._ALPHABETS[s][0]) for s in ("arabic", "persian", "urdu")}
    vows = {s: syn._split(syn._ALPHABETS[s][1]) for s in ("arabic", "persian", "urdu")}
    differ = [syn._CONS[i] for i in range(len(syn._CONS)) if cons["urdu"][i] != cons["persian"][i]]
    differ += [syn._VOWS[i] for i in range(len(syn._VOWS)) if vows["urdu"][i] != vows["persian"][i]]
    assert differ == ["h", "e"], differ
    assert [v for i, v in enumerate(syn._VOWS) if vows["arabic"][i] != vows["persian"][i]] == ["e"]
    cfg = SyntheticCorpusConfig()
    fa_ar = syn.shared_word_forms(cfg, "fa", "ar")
    for other in ("fa", "ar"):
        pair = syn.shared_word_forms(cfg, "ur", other)
        assert pair["true_cognates"] >= 0.5 * fa_ar["true_cognates"] > 0 and pair["false_friends"] <= 2, (other, pair)


def test_subgroup_members_share_most_words_grammar_and_spelling():
    # With subgroups, mutually intelligible languages (syn.SUBGROUPS) descend from one proto-language below the
    # family: they share most content words, one grammar and one Latin spelling; without (the default) they are
    # ordinary family relatives (cognate_p 0.7, sound_change_p 0.1 each).
    on, off = SyntheticCorpusConfig(subgroups=True), SyntheticCorpusConfig()
    n_content = on.n_nouns + on.n_verbs + on.n_adjectives + on.n_places
    for a, b in (("gl", "pt"), ("hi_rom", "ur_rom"), ("da", "sv"), ("hr", "bs")):
        close, far = syn.shared_word_forms(on, a, b), syn.shared_word_forms(off, a, b)
        assert close["true_cognates"] >= 0.5 * n_content and close["false_friends"] <= 2, (a, b, close)
        assert close["true_cognates"] > far["true_cognates"] + 0.2 * n_content, (a, b, close, far)
    grammar = lambda cfg, code: {k: v for k, v in describe_language(cfg, code).items()
                                 if k not in ("code", "script", "base")}
    assert grammar(on, "hi") == grammar(on, "ur") and describe_language(on, "ur")["subgroup"] == "hindustani"
    assert describe_language(on, "sw")["subgroup"] is None and describe_language(off, "ur")["subgroup"] is None
    # A subgroup's members sit in one family, and each language is in at most one subgroup.
    for group, members in syn.SUBGROUPS.items():
        assert len({syn.TYPOLOGY[c].family for c in members}) == 1, group
    assert sum(map(len, syn.SUBGROUPS.values())) == len(syn._SUBGROUP_OF)


def test_languages_outside_subgroups_do_not_change_with_them():
    # The subgroup level touches its members only: en, sw, ko have the same word forms with it on or off.
    on, off = syn._key(SyntheticCorpusConfig(subgroups=True)), syn._key(SyntheticCorpusConfig())
    for code in ("en", "sw", "ko", "fr"):
        assert list(syn._language(on, code).forms) == list(syn._language(off, code).forms), code
    assert list(syn._language(on, "ur").forms) != list(syn._language(off, "ur").forms)


def test_arabic_loans_take_ars_word_for_a_share_of_each_borrowers_concepts():
    # p_arabic_loan: each borrower (syn.ARABIC_BORROWERS) takes ar's word for about that share of its nouns, verbs
    # and adjectives; ur (Perso-Arabic script) keeps the Arabic spelling with its own kaf, yeh and heh, sw writes
    # the sounds in Latin. Every other language is untouched, and at p = 0 nobody borrows.
    on, off = syn._key(SyntheticCorpusConfig(p_arabic_loan=0.3)), syn._key(SyntheticCorpusConfig())
    ar = syn._language(on, "ar")
    assert not syn._language(off, "ur").loans and not syn._language(off, "sw").loans
    for code in ("ur", "sw", "tr"):
        lang, plain = syn._language(on, code), syn._language(off, code)
        loans = np.concatenate([lang.loans[k] for k in ("noun", "verb", "adj")])
        assert 0.22 < loans.mean() < 0.38, (code, loans.mean())
        for kind in ("noun", "verb", "adj"):
            for i, loan in enumerate(lang.loans[kind]):
                expected = ar.lexicon[kind][i] if loan else plain.lexicon[kind][i]
                assert lang.lexicon[kind][i] == expected, (code, kind, i)
    for code in ("en", "fr", "ar", "hi", "zh"):
        assert not syn._language(on, code).loans
        assert list(syn._language(on, code).forms) == list(syn._language(off, code).forms), code
    # In Perso-Arabic script a loan is ar's written word with ur's code points for kaf, /j/ and heh.
    ur, spelling = syn._language(on, "ur"), str.maketrans({"ك": "ک", "ى": "ی", "ه": "ہ"})
    loaned = np.flatnonzero(ur.loans["noun"])
    assert all(ur.forms[ur.o_noun + 2 * i] == ar.forms[ar.o_noun + 2 * i].translate(spelling) for i in loaned)
    # So ur shares written words with ar, and sw more with tr (shared loans in Latin script), all true cognates.
    cfg, plain_cfg = SyntheticCorpusConfig(p_arabic_loan=0.3), SyntheticCorpusConfig()
    for a, b, gain in (("ur", "ar", 15), ("fa", "ar", 10), ("sw", "tr", 10)):
        with_loans, without = syn.shared_word_forms(cfg, a, b), syn.shared_word_forms(plain_cfg, a, b)
        assert with_loans["true_cognates"] >= without["true_cognates"] + gain, (a, b, with_loans, without)
        assert with_loans["false_friends"] <= 2, (a, b, with_loans)
    assert syn.shared_word_forms(cfg, "sw", "ar")["true_cognates"] == 0  # Latin against Arabic script
    assert 0.22 < describe_language(cfg, "ur")["arabic_loans"] < 0.38
    assert describe_language(cfg, "en")["arabic_loans"] == describe_language(plain_cfg, "ur")["arabic_loans"] == 0


def test_coined_words_are_new_words():
    # A language's coinages reuse no proto-word and no other word of the same language (no homonyms from
    # coinage); what remains are rare sound-change mergers.
    cfg = SyntheticCorpusConfig()
    for code in ("fr", "zh", "ur", "sw"):
        lex = syn._language(syn._key(cfg), code).lexicon
        words = [w for kind in ("noun", "verb", "adj", "place") for w in lex[kind]]
        assert len(set(words)) >= len(words) - 2, code


def _english_words(cfg: SyntheticCorpusConfig) -> set[str]:
    en = syn._language(syn._key(cfg), "en")
    return {f.strip() for f in en.forms[en.content_slots()]}


def test_code_switching_inserts_english_content_words_in_corpus_text_only(tmp_path):
    cfg = small(p_code_switch=0.3)
    english = _english_words(cfg)
    for code in ("ru", "zh", "ur"):  # scripts without ASCII letters: every ASCII word is a name, digit or switch
        write_language(cfg, code, tmp_path / f"{code}.txt")
        words = [w.strip(".。۔") for w in (tmp_path / f"{code}.txt").read_text(encoding="utf-8").split()]
        switched = [w for w in words if w in english]
        assert switched, code
        write_task(cfg, code, tmp_path)
        task_words = {w.strip(".。۔") for text in read_tsv(tmp_path / f"{code}.test.tsv")[1] for w in text.split()}
        assert not task_words & english, code  # the task is clean translation, as XNLI's test sets are
    zh = (tmp_path / "zh.txt").read_text(encoding="utf-8")
    assert all(w[0].isascii() for line in zh.splitlines() for w in line.split()[1:]), \
        "in unspaced zh a space comes only before an inserted Latin word"


def test_code_switching_rate_and_off_switch(tmp_path):
    # P(a content word is written in English) = p_code_switch: measured on ru, whose own words are Cyrillic.
    for p in (0.0, 0.3):
        cfg = small(p_code_switch=p)
        english = _english_words(cfg)
        write_language(cfg, "ru", tmp_path / "ru.txt")
        words = [w.strip(".") for w in (tmp_path / "ru.txt").read_text(encoding="utf-8").split()]
        ru = syn._language(syn._key(cfg), "ru")
        own = {f.strip() for f in ru.forms[ru.content_slots()]}
        n_switch, n_own = sum(w in english for w in words), sum(w in own for w in words)
        assert abs(n_switch / (n_switch + n_own) - p) < 0.02, (p, n_switch, n_own)
    write_language(small(p_code_switch=0.3), "en", tmp_path / "en3.txt")
    write_language(small(p_code_switch=0.0), "en", tmp_path / "en0.txt")
    assert (tmp_path / "en3.txt").read_bytes() == (tmp_path / "en0.txt").read_bytes()  # English has no one to borrow from


def test_topic_rank_blocks_give_each_topic_its_own_frequency_band():
    blocks = syn._World(SyntheticCorpusConfig(topic_rank_blocks=True)).topic_of["noun"]
    assert (np.diff(blocks) >= 0).all() and np.bincount(blocks).tolist() == [20] * 6
    random = syn._World(SyntheticCorpusConfig()).topic_of["noun"]
    assert (np.diff(random) < 0).any() and np.bincount(random).tolist() == [20] * 6


def test_romanized_documents_are_the_same_text_in_the_latin_variant(tmp_path):
    """p_romanized: whole documents of hi/ur/… in Latin script (Roman Urdu, Hinglish); the rest of the
    corpus, and every language without a Latin variant, is exactly what p_romanized = 0 writes."""
    plain, roman = small(), small(p_romanized=0.3)
    for code in ("ur", "hi", "sw"):
        syn.write_language(plain, code, tmp_path / f"{code}.0.txt")
        syn.write_language(roman, code, tmp_path / f"{code}.3.txt")
    assert (tmp_path / "sw.0.txt").read_bytes() == (tmp_path / "sw.3.txt").read_bytes()  # no sw_rom in CC-100
    before, after = list(iter_documents(tmp_path / "ur.0.txt")), list(iter_documents(tmp_path / "ur.3.txt"))
    assert len(before) == len(after) and [len(d) for d in before] == [len(d) for d in after]
    changed = [b != a for b, a in zip(before, after)]
    assert 0.2 < sum(changed) / len(changed) < 0.4
    for b, a in zip(before, after):
        if b != a:  # a romanized document: Latin letters only; its sentences' word counts are the original's
            assert latin_only(" ".join(a)) and not latin_only(" ".join(b))
            assert [len(x.split()) for x in a] == [len(x.split()) for x in b]
    # hi and ur share their proto-lexicon: romanized, they share written words of their own (not English
    # code-switches or names); in their own scripts, none
    syn.write_language(plain, "en", tmp_path / "en.txt")
    words = lambda path: {w.strip(".") for d in iter_documents(path) for s in d for w in s.split()}
    english = words(tmp_path / "en.txt")
    assert not (words(tmp_path / "ur.0.txt") & words(tmp_path / "hi.0.txt")) - english
    assert len((words(tmp_path / "ur.3.txt") & words(tmp_path / "hi.3.txt")) - english) >= 5
