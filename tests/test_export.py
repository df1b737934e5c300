"""xlmr.export: a run → HF XLMRobertaForMaskedLM + XLMRobertaTokenizer, with equal logits and ids."""

from __future__ import annotations

import importlib.util
import json
import random
import sys

import pytest
import torch
from omegaconf import OmegaConf

from xlmr.data.tokenizer import BOS, EOS, MODEL_FILE, PAD, UNK, Tokenizer, train_sentencepiece
from xlmr.export import ExportError, export_model, export_run, main
from xlmr.model import EncoderDims, XLMRForMaskedLM

HAS_HF = importlib.util.find_spec("transformers") is not None
needs_hf = pytest.mark.skipif(not HAS_HF, reason="transformers is not installed (pip install 'xlmr-scaling[hf]')")

LAYERS, HIDDEN, FFN, HEADS, MAX_POS = 2, 32, 64, 2, 64
SYLLABLES = ["ka", "ri", "mo", "tsu", "ne", "lé", "ça", "über", "ño", "ßa", "при", "вет", "мир", "日", "本", "語",
             "世", "界", "ab", "cd", "ef", "zo"]
SAMPLES = ["kari mone tsulé", "  über   ñoßa  ", "привет мир", "日本語 世界", "Qx ☃ kari! 12",
           "kari\tmo\nne", ""]


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = lambda: "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))  # noqa: E731
    return [" ".join(words() for _ in range(rng.randint(2, 8))) for _ in range(n)]


def _randomise(model: XLMRForMaskedLM, seed: int = 0) -> XLMRForMaskedLM:
    """Every tensor random (LayerNorm gains around 1, biases, the LM bias, the padding rows): a swapped or
    missing tensor in the mapping changes the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
            if "norm" in name and name.endswith("weight"):
                p.add_(1.0)
    return model.eval()


@pytest.fixture(scope="module")
def spm_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("spm")
    train_sentencepiece(iter(_sentences(400)), 80, out)
    return out


@pytest.fixture(scope="module")
def tiny_model(spm_dir):
    tok = Tokenizer.from_dir(spm_dir)
    torch.manual_seed(0)
    dims = EncoderDims(vocab_size=tok.vocab_size, layers=LAYERS, hidden=HIDDEN, ffn=FFN, heads=HEADS, max_positions=MAX_POS, dropout=0.1,
                       attention_dropout=0.05)
    return _randomise(XLMRForMaskedLM(dims))


@pytest.fixture(scope="module")
def exported(tiny_model, spm_dir, tmp_path_factory):
    return export_model(tiny_model, spm_dir / MODEL_FILE, tmp_path_factory.mktemp("hf") / "xlmr-tiny")


def _hf(path):
    from transformers import XLMRobertaForMaskedLM, XLMRobertaTokenizer

    return XLMRobertaForMaskedLM.from_pretrained(path).eval(), XLMRobertaTokenizer.from_pretrained(path)


def _assert_same_logits(ours: XLMRForMaskedLM, hf, ids: torch.Tensor) -> None:
    with torch.no_grad():
        mine = ours.eval()(ids)
        theirs = hf(input_ids=ids, attention_mask=ids.ne(PAD).long()).logits
    assert mine.abs().max() > 1.0  # the comparison is not between near-zero tensors
    torch.testing.assert_close(theirs, mine, atol=1e-5, rtol=1e-5)


@needs_hf
def test_exported_model_gives_our_logits(tiny_model, exported):
    hf, hf_tok = _hf(exported)
    assert not hf.training
    # random ids, one row padded at the end
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(4, tiny_model.dims.vocab_size, (3, 24), generator=g)
    ids[:, 0], ids[:, -1] = BOS, EOS
    ids[1, 10], ids[1, 11:] = EOS, PAD
    _assert_same_logits(tiny_model, hf, ids)
    # a padded batch of real sentences, as the HF tokenizer makes it
    batch = hf_tok(SAMPLES[:5], padding=True, return_tensors="pt")
    assert batch["input_ids"].eq(PAD).any()
    torch.testing.assert_close(batch["attention_mask"], batch["input_ids"].ne(PAD).long())
    _assert_same_logits(tiny_model, hf, batch["input_ids"])
    # the decoder is tied to the token embedding, as in ours
    assert hf.lm_head.decoder.weight.data_ptr() == hf.roberta.embeddings.word_embeddings.weight.data_ptr()


@needs_hf
def test_exported_config(tiny_model, exported):
    cfg = json.loads((exported / "config.json").read_text())
    d = tiny_model.dims
    assert cfg["model_type"] == "xlm-roberta" and cfg["architectures"] == ["XLMRobertaForMaskedLM"]
    assert (cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
            cfg["intermediate_size"]) == (d.vocab_size, HIDDEN, LAYERS, HEADS, FFN)
    assert cfg["max_position_embeddings"] == MAX_POS + 2 and cfg["type_vocab_size"] == 1
    assert cfg["hidden_act"] == "gelu" and cfg["layer_norm_eps"] == 1e-5
    assert (cfg["pad_token_id"], cfg["bos_token_id"], cfg["eos_token_id"]) == (1, 0, 2)
    assert (cfg["hidden_dropout_prob"], cfg["attention_probs_dropout_prob"]) == (0.1, 0.05)
    assert (exported / MODEL_FILE).is_file() and (exported / "model.safetensors").is_file()
    assert not list(exported.parent.glob(f".{exported.name}.*"))  # no temp dir left behind


@needs_hf
def test_exported_tokenizer_gives_our_ids(spm_dir, exported):
    ours = Tokenizer.from_dir(spm_dir)
    _, hf_tok = _hf(exported)
    assert hf_tok.mask_token_id == ours.mask_id == ours.spm_size + 1
    assert len(hf_tok) == ours.vocab_size
    assert (hf_tok.bos_token_id, hf_tok.pad_token_id, hf_tok.eos_token_id, hf_tok.unk_token_id) == (BOS, PAD, EOS, UNK)
    assert hf_tok.model_max_length == MAX_POS
    for text, ids in zip(SAMPLES, ours.encode(SAMPLES)):
        assert hf_tok(text)["input_ids"] == [BOS, *ids.tolist(), EOS], text
    assert UNK in ours.encode(["Qx ☃"])[0]  # the samples exercise unknown characters too
    # a <mask> written in the text becomes our mask id
    assert ours.mask_id in hf_tok("kari <mask> mone")["input_ids"]


@needs_hf
def test_pre_layernorm_model_exports_as_xlm_roberta_xl(spm_dir, tmp_path):
    from transformers import XLMRobertaXLForMaskedLM

    tok = Tokenizer.from_dir(spm_dir)
    dims = EncoderDims(vocab_size=tok.vocab_size, layers=LAYERS, hidden=HIDDEN, ffn=FFN, heads=HEADS,
                       max_positions=MAX_POS, dropout=0.0, attention_dropout=0.0, norm="pre")
    ours = _randomise(XLMRForMaskedLM(dims), seed=1)
    out = export_model(ours, spm_dir / MODEL_FILE, tmp_path / "xl")
    assert json.loads((out / "config.json").read_text())["architectures"] == ["XLMRobertaXLForMaskedLM"]
    ids = torch.tensor([[BOS, 5, 9, 17, 4, EOS], [BOS, 7, 7, EOS, PAD, PAD]])
    _assert_same_logits(ours, XLMRobertaXLForMaskedLM.from_pretrained(out).eval(), ids)


@needs_hf
def test_export_model_refuses_mismatched_tokenizer(tiny_model, tmp_path):
    other = tmp_path / "spm"
    other.mkdir()
    train_sentencepiece(iter(_sentences(300, seed=1)), 60, other)
    with pytest.raises(ExportError, match="embedding rows"):
        export_model(tiny_model, other / MODEL_FILE, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _fake_run(tmp_path, model: XLMRForMaskedLM, spm_dir, *, result: bool = True):
    """A run directory as xlmr.run leaves it: config.yaml, checkpoints/last.ckpt, result.json."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    d = model.dims
    OmegaConf.save(OmegaConf.create({"seed": 1, "model": {
        "name": "tiny", "layers": d.layers, "hidden": d.hidden, "ffn": d.ffn, "heads": d.heads,
        "max_positions": d.max_positions, "dropout": d.dropout, "attention_dropout": d.attention_dropout}}),
        run / "config.yaml")
    torch.save({"state_dict": {"model." + k: v for k, v in model.state_dict().items()}, "global_step": 3,
                "epoch": 0}, run / "checkpoints" / "last.ckpt")
    if result:
        (run / "result.json").write_text(json.dumps({"status": "done", "artifacts": {
            "tokenizer": {"key": "abc", "path": str(spm_dir), "built_now": False}}}))
    return run


@needs_hf
def test_export_run_from_a_run_directory(tiny_model, spm_dir, tmp_path, capsys):
    run = _fake_run(tmp_path, tiny_model, spm_dir)
    out = export_run(run, tmp_path / "hf")
    assert out == tmp_path / "hf"
    hf, _ = _hf(out)
    ids = torch.tensor([[BOS, 5, 9, 17, 30, EOS], [BOS, 7, EOS, PAD, PAD, PAD]])
    _assert_same_logits(tiny_model, hf, ids)

    # a non-empty output directory is refused, then replaced with force (through the CLI)
    (out / "stale.txt").write_text("old")
    with pytest.raises(ExportError, match="exists and is not empty.*--force"):
        export_run(run, out)
    capsys.readouterr()  # drop what the exports so far printed (progress bars)
    assert main([str(run), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--force" in err and "\n" not in err
    assert main([str(run), str(out), "--force"]) == 0
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "run"]  # no temp or old dirs left behind


def _error(run_dir, out_dir, **kw) -> str:
    with pytest.raises(ExportError) as info:
        export_run(run_dir, out_dir, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@needs_hf
def test_export_run_errors(tiny_model, spm_dir, tmp_path):
    out = tmp_path / "out"
    assert "checkpoint not found" in _error(tmp_path / "nowhere", out)
    assert "checkpoint not found" in _error(spm_dir, out)

    run = _fake_run(tmp_path, tiny_model, spm_dir, result=False)
    msg = _error(run, out)
    assert "result.json" in msg and "no tokenizer" in msg and "--tokenizer" in msg
    (run / "result.json").write_text(json.dumps({"status": "running"}))
    assert "artifacts.tokenizer.path" in _error(run, out)
    (run / "result.json").write_text(json.dumps({"status": "done", "artifacts": {"tokenizer": {
        "path": str(tmp_path / "cleaned-cache")}}}))
    assert "tokenizer not found" in _error(run, out)
    export_run(run, out, tokenizer_dir=spm_dir)  # the --tokenizer override
    assert (out / "config.json").is_file()

    (run / "checkpoints" / "last.ckpt").unlink()
    assert "checkpoint not found" in _error(run, tmp_path / "out2", tokenizer_dir=spm_dir)
    (run / "checkpoints" / "last.ckpt").write_text("not a checkpoint")
    assert "not a readable Lightning checkpoint" in _error(run, tmp_path / "out2", tokenizer_dir=spm_dir)

    # weights that do not fit the config's model (a checkpoint from before checkpoints described themselves)
    run2 = _fake_run(tmp_path / "b", tiny_model, spm_dir)
    cfg = OmegaConf.load(run2 / "config.yaml")
    cfg.model.layers = 3
    OmegaConf.save(cfg, run2 / "config.yaml")
    assert "do not fit" in _error(run2, tmp_path / "out3")
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()


def test_missing_transformers_names_the_extra(tiny_model, spm_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers → ImportError
    with pytest.raises(ExportError, match=r"pip install -e '\.\[export\]'"):
        export_model(tiny_model, spm_dir / MODEL_FILE, tmp_path / "out")
    run = _fake_run(tmp_path, tiny_model, spm_dir)
    with pytest.raises(ExportError, match=r"transformers is not installed"):
        export_run(run, tmp_path / "out")
