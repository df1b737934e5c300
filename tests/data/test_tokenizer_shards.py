import numpy as np
import pytest

from xlmr.data.mlm import FIRST_PIECE
from xlmr.data.shards import Shards, ShardSpec, build_shards, token_dtype
from xlmr.data.text import count_text, iter_documents
from xlmr.data.tokenizer import (BOS, EOS, PAD, UNK, Tokenizer, VocabTooLarge, sample_sentences,
                                 train_sentencepiece)

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()


def write_corpus(path, n_docs, seed, words=WORDS):
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for _ in range(n_docs):
            for _ in range(int(rng.integers(1, 6))):
                f.write(" ".join(rng.choice(words, size=int(rng.integers(3, 12)))) + "\n")
            f.write("\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    return {"en": write_corpus(d / "en.txt", 300, 0), "xx": write_corpus(d / "xx.txt", 40, 1, [w.upper() for w in WORDS])}


@pytest.fixture(scope="module")
def tokenizer(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    counts = {k: count_text(v).sentences for k, v in corpus.items()}
    train_sentencepiece(sample_sentences(corpus, counts, {"en": 0.5, "xx": 0.5}, 2000, seed=0), 60, out)
    return Tokenizer.from_dir(out)


def test_fairseq_id_layout(tokenizer):
    sp = tokenizer.sp
    assert sp.id_to_piece(0) == "<unk>" and sp.id_to_piece(1) == "<s>" and sp.id_to_piece(2) == "</s>"
    assert tokenizer.vocab_size == 62 and tokenizer.mask_id == 61  # V pieces + <pad> + <mask>
    ids = tokenizer.encode(["alpha beta"])[0]
    assert (ids >= FIRST_PIECE).all() and (ids < tokenizer.mask_id).all()
    assert tokenizer.decode(ids) == "alpha beta"
    assert tokenizer.encode(["€"])[0].tolist().count(UNK) >= 1  # unseen character → <unk> = 3
    assert (BOS, PAD, EOS, UNK) == (0, 1, 2, 3)


def test_token_chars(tokenizer):
    chars = tokenizer.token_chars()
    ids = tokenizer.encode(["alpha beta gamma"])[0]
    assert chars[ids].sum() == len(" alpha beta gamma")  # each ▁ stands for one space
    assert chars[[BOS, PAD, EOS, tokenizer.mask_id]].sum() == 0


def test_alpha_sample_follows_q(corpus):
    counts = {k: count_text(v).sentences for k, v in corpus.items()}
    sample = list(sample_sentences(corpus, counts, {"en": 0.25, "xx": 0.75}, 1000, seed=3))
    upper = sum(s.isupper() for s in sample)
    assert len(sample) == 1000 and upper == 750  # xx has fewer sentences than its share: drawn with replacement
    assert sample == list(sample_sentences(corpus, counts, {"en": 0.25, "xx": 0.75}, 1000, seed=3))


def test_vocab_too_large_is_a_clear_error(corpus, tmp_path):
    counts = {k: count_text(v).sentences for k, v in corpus.items()}
    with pytest.raises(VocabTooLarge, match=r"Vocabulary size too high \(50000\)"):
        train_sentencepiece(sample_sentences(corpus, counts, {"en": 1.0, "xx": 0.0}, 200, 0), 50_000, tmp_path)
    assert not any(tmp_path.iterdir())


def test_shards_split_roundtrip(tokenizer, corpus, tmp_path):
    info = build_shards(tokenizer, corpus, tmp_path, ShardSpec(valid_fraction=0.1, max_valid_tokens=10**9))
    shards = Shards(tmp_path, info)
    assert shards.dtype == np.uint16 and token_dtype(70_000) == np.uint32
    docs = list(iter_documents(corpus["en"]))
    valid_docs = docs[::10]
    train = np.asarray(shards.tokens("en", "train"))
    valid = np.asarray(shards.tokens("en", "valid"))
    assert info["languages"]["en"]["documents"] == {"train": 270, "valid": 30}
    n_sent = sum(len(d) for d in valid_docs)
    assert (valid == EOS).sum() == n_sent  # one </s> after every sentence
    # the first valid document decodes back to its text
    first_doc_len = int(np.load(tmp_path / "en.valid.docs.npy")[1])
    pieces = np.split(valid[:first_doc_len], np.where(valid[:first_doc_len] == EOS)[0] + 1)
    assert [tokenizer.decode(p[:-1]) for p in pieces if len(p)] == valid_docs[0]
    assert len(train) + len(valid) == sum(info["languages"]["en"]["tokens"].values())


def test_valid_split_is_capped(tokenizer, corpus, tmp_path):
    info = build_shards(tokenizer, {"en": corpus["en"]}, tmp_path, ShardSpec(valid_fraction=0.5, max_valid_tokens=100))
    assert 100 <= info["languages"]["en"]["tokens"]["valid"] < 100 + 400


def test_single_document_language_is_refused(tokenizer, tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("alpha beta gamma\n")
    with pytest.raises(ValueError, match="1 document"):
        build_shards(tokenizer, {"en": one}, tmp_path, ShardSpec())


def test_encode_flat_is_encode_with_eos(tokenizer, corpus):
    sentences = [s for doc in iter_documents(corpus["xx"]) for s in doc] + ["", "unseen ∑ text"]
    ids, lengths = tokenizer.encode_flat(sentences)
    expected = [np.append(x, EOS) for x in tokenizer.encode(sentences)]
    assert lengths.tolist() == [len(x) for x in expected]
    assert np.array_equal(ids, np.concatenate(expected)) and (ids == UNK).any()  # ∑ is not in the vocabulary


@pytest.mark.parametrize("batch_docs", [1, 7, 1000])
def test_shards_equal_a_document_by_document_reference(tokenizer, corpus, tmp_path, batch_docs):
    """The vectorised builder writes exactly what encoding each sentence, document by document, gives."""
    spec = ShardSpec(valid_fraction=0.1, max_valid_tokens=300, encode_batch_docs=batch_docs)
    info = build_shards(tokenizer, {"en": corpus["en"]}, tmp_path, spec)
    ref = {"train": [], "valid": []}
    for i, doc in enumerate(iter_documents(corpus["en"])):
        tokens = np.concatenate([np.append(x, EOS) for x in tokenizer.encode(doc)])
        held = i % 10 == 0 and sum(map(len, ref["valid"])) < 300
        ref["valid" if held else "train"].append(tokens)
    shards = Shards(tmp_path, info)
    for split in ("train", "valid"):
        assert np.array_equal(np.asarray(shards.tokens("en", split)), np.concatenate(ref[split]))
        starts = np.cumsum([0] + [len(t) for t in ref[split][:-1]])
        assert np.array_equal(np.load(tmp_path / f"en.{split}.docs.npy"), starts)


def test_max_pieces_bounds_what_sentencepiece_can_train(corpus, tmp_path):
    from xlmr.data.text import max_pieces, substrings

    assert substrings(3) == 6 and max_pieces({"ab"}) == 6  # "▁ab": ▁ a b ▁a ab ▁ab
    assert substrings(20) == sum(21 - n for n in range(1, 17))  # pieces are at most 16 characters
    bound = count_text(corpus["en"]).max_pieces
    counts = {"en": count_text(corpus["en"]).sentences}
    with pytest.raises(VocabTooLarge) as err:  # SentencePiece says how many pieces it could have made
        train_sentencepiece(sample_sentences({"en": corpus["en"]}, counts, {"en": 1.0}, 2000, 0), bound + 1, tmp_path)
    found = int(str(err.value).rsplit("<=", 1)[1].strip(" ."))
    assert found <= bound


@pytest.mark.parametrize("batch_docs", [7, 1000])
def test_a_budget_cap_keeps_a_prefix_of_the_train_split_and_the_whole_held_out_split(tokenizer, corpus, tmp_path,
                                                                                     batch_docs):
    spec = ShardSpec(valid_fraction=0.1, max_valid_tokens=150, encode_batch_docs=batch_docs)
    for d in ("full", "cap", "roomy"):
        (tmp_path / d).mkdir()
    full = build_shards(tokenizer, {"en": corpus["en"]}, tmp_path / "full", spec)["languages"]["en"]
    cap = full["tokens"]["train"] // 4
    capped = build_shards(tokenizer, {"en": corpus["en"]}, tmp_path / "cap", spec, {"en": cap})["languages"]["en"]
    assert capped["max_train_tokens"] == cap and capped["capped"] and not full["capped"]
    read = lambda d, split: np.fromfile(tmp_path / d / f"en.{split}.bin", dtype=np.uint16)
    train, full_train = read("cap", "train"), read("full", "train")
    assert cap <= len(train) < cap + 200 and np.array_equal(train, full_train[: len(train)])  # whole documents
    assert np.array_equal(read("cap", "valid"), read("full", "valid"))
    starts = np.load(tmp_path / "cap" / "en.train.docs.npy")
    assert np.array_equal(starts, np.load(tmp_path / "full" / "en.train.docs.npy")[: len(starts)])
    roomy = build_shards(tokenizer, {"en": corpus["en"]}, tmp_path / "roomy", spec, {"en": 10**9})["languages"]["en"]
    assert roomy["tokens"] == full["tokens"] and not roomy["capped"]


def test_document_chunks_partition_the_documents(corpus, tmp_path):
    from xlmr.data.text import document_chunks, iter_documents_between

    text = tmp_path / "ragged.txt"  # blank lines of spaces, runs of blank lines, a document at the very end
    text.write_bytes(corpus["en"].read_bytes().replace(b"\n\n", b"\n \n\n", 7) + b"tail sentence\n")
    whole = list(iter_documents(text))
    for chunk_bytes in (1, 50, 333, 10**9):
        chunks = document_chunks(text, chunk_bytes)
        assert chunks[0][0] == 0 and chunks[-1][1] is None
        assert all(a < b for (a, _), (b, _) in zip(chunks, chunks[1:]))
        assert [doc for a, b in chunks for doc in iter_documents_between(text, a, b)] == whole, chunk_bytes
    assert len(document_chunks(text, 333)) > 10


@pytest.mark.parametrize("cap", [None, 900])
def test_shards_built_as_parallel_chunk_tasks_are_byte_identical(tokenizer, corpus, tmp_path, cap):
    from xlmr.data.fanout import process_pool

    spec = ShardSpec(valid_fraction=0.1, max_valid_tokens=150, encode_batch_docs=16)
    caps = {"en": cap} if cap else None
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    one = build_shards(tokenizer, corpus, tmp_path / "one", spec, caps)
    many = build_shards(tokenizer, corpus, tmp_path / "many", spec, caps, tokenizer_dir=tokenizer.model_file.parent,
                        run_tasks=process_pool(2), chunk_bytes=700)
    assert many == one
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "many").iterdir())  # the parts are gone
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "many" / name).read_bytes(), name


def test_chunk_tasks_are_idempotent_and_restartable(tokenizer, corpus, tmp_path):
    from xlmr.data.shards import chunk_tasks, encode_chunk

    tasks = chunk_tasks(tokenizer.model_file.parent, corpus, tmp_path, ShardSpec(encode_batch_docs=16), 500)
    assert len({t.lang for t in tasks}) == 2 and len(tasks) > 4
    encode_chunk(tasks[0])  # a first attempt that stopped after one task
    first = tasks[0].part.stat().st_mtime_ns
    for task in tasks:  # the rerun: the finished task's part is kept
        encode_chunk(task)
    assert tasks[0].part.stat().st_mtime_ns == first and all(t.part.exists() for t in tasks)
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_large_plain_file_is_sampled_by_byte_offsets_without_a_full_pass(corpus, monkeypatch):
    import xlmr.data.text as text
    import xlmr.data.tokenizer as tokenizer_module

    lines = {line.strip() for line in corpus["en"].read_text().splitlines() if line.strip()}
    n = count_text(corpus["en"]).sentences
    monkeypatch.setattr(tokenizer_module, "OFFSET_SAMPLING_BYTES", 1)  # every file counts as large
    monkeypatch.setattr(text, "iter_documents", lambda path: pytest.fail("read in full"))
    picked = list(sample_sentences({"en": corpus["en"]}, {"en": n}, {"en": 1.0}, 200, seed=0))
    assert len(picked) == 200 and set(picked) <= lines and len(set(picked)) > 100
    assert picked == list(sample_sentences({"en": corpus["en"]}, {"en": n}, {"en": 1.0}, 200, seed=0))
