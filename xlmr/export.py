"""Export a trained run to Hugging Face: `XLMRobertaForMaskedLM` (model.norm=post) or
`XLMRobertaXLForMaskedLM` (model.norm=pre), + `XLMRobertaTokenizer` (docs/export.md).

    python -m xlmr.export RUN_DIR OUT_DIR [--force] [--ckpt PATH] [--tokenizer DIR]

Our modules map one to one onto HF's XLM-R (same fairseq position offset, exact-erf GELU, post-LN,
LayerNorm eps from the model, tied decoder), and a pre-LN model onto HF's XLM-R XL (no embedding
LayerNorm, one LayerNorm before each sublayer and one after the last block): the only reshaping is
splitting the fused q/k/v projection and adding the all-zero token-type embedding HF expects. Our id layout
is XLMRobertaTokenizer's (fairseq_offset = 1, <mask> = pieces + 1), so the SentencePiece model is shipped as it is.

After writing, the export is checked before it is moved into place: the saved model is reloaded and its
logits compared with ours on a padded batch, and the saved tokenizer must reproduce our ids.

transformers is an optional extra (`pip install 'xlmr-scaling[export]'`): it is imported inside functions.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from xlmr.data.tokenizer import BOS, EOS, MODEL_FILE, Tokenizer
from xlmr.model import PAD_ID, EncoderDims, XLMRForMaskedLM

CONFIG_FILE = "config.yaml"
RESULT_FILE = "result.json"
LAST_CKPT = Path("checkpoints") / "last.ckpt"
STATE_PREFIX = "model."  # xlmr.lit.MLMModule holds the nn.Module as `self.model`
# text the tokenizer check encodes with both tokenizers (several scripts, digits, punctuation, spacing)
SAMPLE_TEXT = ("Hello world, this is a test. Bonjour le monde ! Habari ya dunia. Привет, мир. "
               "ہیلو دنیا 你好，世界 12345  double  spaces")


class ExportError(RuntimeError):
    """A run that cannot be exported: str(err) is one line saying why."""


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ExportError("transformers is not installed: pip install -e '.[export]'") from None
    return transformers


def hf_model_class(dims: EncoderDims) -> Any:
    """HF's masked-LM class with our block layout: XLM-R (post-LN) or XLM-R XL (pre-LN)."""
    tf = _transformers()
    return tf.XLMRobertaXLForMaskedLM if dims.norm == "pre" else tf.XLMRobertaForMaskedLM


def hf_config(dims: EncoderDims) -> Any:
    """The config of `hf_model_class(dims)` (XLMRobertaConfig or XLMRobertaXLConfig) for our encoder dimensions."""
    return hf_model_class(dims).config_class(
        vocab_size=dims.vocab_size, hidden_size=dims.hidden, num_hidden_layers=dims.layers,
        num_attention_heads=dims.heads, intermediate_size=dims.ffn, hidden_act="gelu",
        hidden_dropout_prob=float(dims.dropout), attention_probs_dropout_prob=float(dims.attention_dropout),
        max_position_embeddings=dims.max_positions + PAD_ID + 1,  # fairseq offset: positions start at pad + 1
        type_vocab_size=1, layer_norm_eps=float(dims.layer_norm_eps), pad_token_id=PAD_ID, bos_token_id=BOS,
        eos_token_id=EOS, tie_word_embeddings=True,
    )


def hf_state_dict(model: XLMRForMaskedLM) -> dict[str, torch.Tensor]:
    """Our weights under HF `XLMRobertaForMaskedLM` names, or `XLMRobertaXLForMaskedLM`'s for a pre-LN model
    (tied entries included)."""
    H = model.dims.hidden
    enc, head = model.encoder, model.lm_head
    emb = enc.tokens.weight.detach()
    sd = {
        "roberta.embeddings.word_embeddings.weight": emb,
        "roberta.embeddings.position_embeddings.weight": enc.positions.weight.detach(),
        "roberta.embeddings.token_type_embeddings.weight": emb.new_zeros(1, H),  # we have no segments
        "lm_head.dense.weight": head.dense.weight.detach(),
        "lm_head.dense.bias": head.dense.bias.detach(),
        "lm_head.layer_norm.weight": head.norm.weight.detach(),
        "lm_head.layer_norm.bias": head.norm.bias.detach(),
        "lm_head.decoder.weight": head.embedding.weight.detach(),  # tied to the token embedding
        "lm_head.decoder.bias": head.bias.detach(),  # HF ties decoder.bias to lm_head.bias
        "lm_head.bias": head.bias.detach(),
    }
    pre = model.dims.norm == "pre"
    if pre:  # XL: the last block's output is normalized once, the embeddings are not
        sd["roberta.encoder.LayerNorm.weight"] = enc.final_norm.weight.detach()
        sd["roberta.encoder.LayerNorm.bias"] = enc.final_norm.bias.detach()
    else:
        sd["roberta.embeddings.LayerNorm.weight"] = enc.emb_norm.weight.detach()
        sd["roberta.embeddings.LayerNorm.bias"] = enc.emb_norm.bias.detach()
    # where each block's two LayerNorms sit in HF's names: XL's normalize the sublayers' inputs
    attn_norm, ffn_norm = ("attention.self_attn_layer_norm", "LayerNorm") if pre else \
        ("attention.output.LayerNorm", "output.LayerNorm")
    for i, layer in enumerate(enc.layers):
        p = f"roberta.encoder.layer.{i}."
        att = layer.attention
        # fused projection: output rows are [q (H) | k (H) | v (H)], each head-major like HF's
        for name, w, b in zip(("query", "key", "value"), att.qkv.weight.detach().split(H, 0),
                              att.qkv.bias.detach().split(H, 0)):
            sd[f"{p}attention.self.{name}.weight"], sd[f"{p}attention.self.{name}.bias"] = w, b
        sd.update({
            f"{p}attention.output.dense.weight": att.out.weight.detach(),
            f"{p}attention.output.dense.bias": att.out.bias.detach(),
            f"{p}{attn_norm}.weight": layer.attn_norm.weight.detach(),
            f"{p}{attn_norm}.bias": layer.attn_norm.bias.detach(),
            f"{p}intermediate.dense.weight": layer.fc1.weight.detach(),
            f"{p}intermediate.dense.bias": layer.fc1.bias.detach(),
            f"{p}output.dense.weight": layer.fc2.weight.detach(),
            f"{p}output.dense.bias": layer.fc2.bias.detach(),
            f"{p}{ffn_norm}.weight": layer.ffn_norm.weight.detach(),
            f"{p}{ffn_norm}.bias": layer.ffn_norm.bias.detach(),
        })
    return sd


def to_hf_model(model: XLMRForMaskedLM) -> Any:
    """A `transformers.XLMRobertaForMaskedLM` (or `XLMRobertaXLForMaskedLM`, pre-LN) holding a copy of our
    weights (float32, eval mode)."""
    hf = hf_model_class(model.dims)(hf_config(model.dims))
    sd = {k: v.float() for k, v in hf_state_dict(model).items()}
    expected = set(hf.state_dict())
    if set(sd) != expected:  # every HF tensor comes from us, nothing of ours is dropped
        raise ExportError(f"weight mapping does not match this transformers version: missing "
                          f"{sorted(expected - set(sd))[:5]}, unexpected {sorted(set(sd) - expected)[:5]}")
    hf.load_state_dict(sd, strict=True)
    if hf.lm_head.decoder.weight.data_ptr() != hf.roberta.embeddings.word_embeddings.weight.data_ptr():
        hf.tie_weights()
    return hf.eval()


def _check_tokenizer(hf_tok: Any, tok: Tokenizer) -> None:
    if hf_tok.mask_token_id != tok.mask_id or len(hf_tok) != tok.vocab_size:
        raise ExportError(f"HF tokenizer disagrees with ours: <mask> id {hf_tok.mask_token_id} vs {tok.mask_id}, "
                          f"{len(hf_tok)} vs {tok.vocab_size} ids")
    specials = {t: hf_tok.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>")}
    if list(specials.values()) != [0, 1, 2, 3]:
        raise ExportError(f"HF tokenizer special ids {specials} are not fairseq's <s>=0 <pad>=1 </s>=2 <unk>=3")
    ours = [BOS, *tok.encode([SAMPLE_TEXT])[0].tolist(), EOS]
    theirs = list(hf_tok(SAMPLE_TEXT, verbose=False)["input_ids"])  # no "longer than model_max_length" warning
    if theirs != ours:
        raise ExportError(f"HF tokenizer encodes the sample text differently: {theirs[:12]}… vs ours {ours[:12]}…")


def _check_logits(model: XLMRForMaskedLM, hf_dir: Path, vocab_size: int) -> float:
    """Reload the saved HF model and compare its logits with ours on a padded batch; returns max |diff|."""
    hf = hf_model_class(model.dims).from_pretrained(hf_dir).eval()
    T = min(16, model.dims.max_positions)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, vocab_size, (2, T), generator=g)
    ids[:, 0], ids[0, -1], ids[1, T // 2 - 1] = BOS, EOS, EOS
    ids[1, T // 2:] = PAD_ID  # second row padded
    p = next(model.parameters())
    if p.dtype != torch.float32 or p.device.type != "cpu":  # compare in float32 on the CPU, as HF loads it
        model = copy.deepcopy(model).float().cpu()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ours = model(ids).float()
            theirs = hf(input_ids=ids, attention_mask=ids.ne(PAD_ID).long()).logits.float()
    finally:
        model.train(was_training)
    diff = (ours - theirs).abs().max().item()
    if not diff <= 1e-3 * max(1.0, ours.abs().max().item()):
        raise ExportError(f"exported model's logits differ from ours by {diff:.3g} (max |logit| "
                          f"{ours.abs().max().item():.3g})")
    return diff


def export_model(model: XLMRForMaskedLM, spm_model_file: Path | str, out_dir: Path | str, *,
                 force: bool = False, check: bool = True) -> Path:
    """Write `model` and the SentencePiece model `spm_model_file` as an HF XLM-R directory `out_dir`
    (model weights in safetensors, config, tokenizer files). Written to a temp dir, checked (when
    `check`), then renamed into place; an existing non-empty out_dir is refused unless `force`."""
    tf = _transformers()
    spm_model_file, out_dir = Path(spm_model_file), Path(out_dir)
    if not spm_model_file.is_file():
        raise ExportError(f"{spm_model_file}: SentencePiece model not found")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not force:
        raise ExportError(f"{out_dir} exists and is not empty: pass --force (force=True) to overwrite it")
    tok = Tokenizer(spm_model_file)
    if tok.vocab_size != model.dims.vocab_size:
        raise ExportError(f"tokenizer {spm_model_file} gives {tok.vocab_size} ids but the model has "
                          f"{model.dims.vocab_size} embedding rows")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        to_hf_model(model).save_pretrained(tmp)
        shutil.copyfile(spm_model_file, tmp / MODEL_FILE)
        # from_pretrained on a directory holding only the .model file converts it (transformers ≥ 5: the
        # constructor's vocab_file= is not read, which would give a 5-token vocabulary; < 5: slow tokenizer).
        hf_tok = tf.XLMRobertaTokenizer.from_pretrained(tmp, model_max_length=model.dims.max_positions)
        _check_tokenizer(hf_tok, tok)
        hf_tok.save_pretrained(tmp)
        if check:
            _check_tokenizer(tf.XLMRobertaTokenizer.from_pretrained(tmp), tok)
            _check_logits(model, tmp, tok.vocab_size)
        if out_dir.exists() or out_dir.is_symlink():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
        else:
            os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _tokenizer_dir(run_dir: Path) -> Path:
    try:
        result = json.loads((run_dir / RESULT_FILE).read_text())
    except OSError:
        raise ExportError(f"{run_dir / RESULT_FILE}: missing, so no tokenizer is recorded (pass --tokenizer DIR)") \
            from None
    except ValueError as err:
        raise ExportError(f"{run_dir / RESULT_FILE}: not valid JSON ({err})") from None
    path = ((result.get("artifacts") or {}).get("tokenizer") or {}).get("path")
    if not path:
        raise ExportError(f"{run_dir / RESULT_FILE} records no artifacts.tokenizer.path (status "
                          f"{result.get('status')!r}; pass --tokenizer DIR)")
    return Path(path)


def _read_checkpoint(ckpt: Path) -> dict[str, Any]:
    try:  # the Lightning checkpoint also holds loop and callback state: not a plain tensors file
        return torch.load(ckpt, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 — any unreadable file gets the same one-line answer
        raise ExportError(f"{ckpt}: not a readable Lightning checkpoint ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''})") from None


def _checkpoint_path(run_dir: Path | None, ckpt: Path | str | None) -> Path:
    path = Path(ckpt) if ckpt else Path(run_dir) / LAST_CKPT
    if not path.is_file():
        raise ExportError(f"{path}: checkpoint not found (has the run trained a step?)")
    return path


def _dims_from_config(run_dir: Path | None, vocab_size: int) -> EncoderDims:
    """Checkpoints from before they described themselves: the dimensions from the run's config.yaml."""
    from omegaconf import OmegaConf

    if run_dir is None or not (run_dir / CONFIG_FILE).is_file():
        raise ExportError(f"the checkpoint does not describe its model and {run_dir}/{CONFIG_FILE} is missing")
    m = OmegaConf.load(run_dir / CONFIG_FILE).get("model")
    try:
        return EncoderDims(vocab_size=vocab_size, layers=int(m.layers), hidden=int(m.hidden), ffn=int(m.ffn),
                           heads=int(m.heads), max_positions=int(m.max_positions), dropout=float(m.dropout),
                           attention_dropout=float(m.attention_dropout))
    except Exception as err:  # noqa: BLE001
        raise ExportError(f"{run_dir / CONFIG_FILE}: bad or missing model section ({err})") from None


def model_from_checkpoint(checkpoint: dict[str, Any], ckpt: Path, run_dir: Path | None = None) -> XLMRForMaskedLM:
    """Our model with a checkpoint's weights, in eval mode. Its dimensions come from the checkpoint itself
    (xlmr.lit.checkpoint_description), or, for older checkpoints, from the run's config.yaml."""
    from xlmr.lit import read_checkpoint_description

    state = {k[len(STATE_PREFIX):]: v for k, v in checkpoint.get("state_dict", {}).items() if k.startswith(STATE_PREFIX)}
    if "encoder.tokens.weight" not in state:
        raise ExportError(f"{ckpt}: no '{STATE_PREFIX}encoder.tokens.weight' in its state_dict")
    described = read_checkpoint_description(checkpoint)
    dims = described["dims"] if described else _dims_from_config(run_dir, int(state["encoder.tokens.weight"].shape[0]))
    with torch.device("meta"):
        model = XLMRForMaskedLM(dims)
    state.setdefault("lm_head.embedding.weight", state["encoder.tokens.weight"])  # the tied decoder
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split(":", 1)[-1].split())[:300]  # one line, after "Error(s) in loading …:"
        raise ExportError(f"{ckpt}: weights do not fit the model it describes ({detail})") from None
    model.lm_head.embedding = model.encoder.tokens  # assign=True replaced the tied Parameter: re-tie
    return model.float().eval()


def load_run_model(run_dir: Path | str, ckpt: Path | str | None = None) -> XLMRForMaskedLM:
    """Our model with the weights of a run's checkpoint (default RUN_DIR/checkpoints/last.ckpt), in eval mode."""
    run_dir = Path(run_dir)
    path = _checkpoint_path(run_dir, ckpt)
    return model_from_checkpoint(_read_checkpoint(path), path, run_dir)


def export_run(run_dir: Path | str | None, out_dir: Path | str, force: bool = False, *,
               ckpt: Path | str | None = None, tokenizer_dir: Path | str | None = None) -> Path:
    """Export a checkpoint (default RUN_DIR's last.ckpt) to an HF XLM-R directory; returns out_dir.

    A checkpoint that describes itself carries its model dimensions and its SentencePiece model: it needs
    nothing else (run_dir may be None). Older ones read the run's config.yaml and the tokenizer recorded in
    its result.json (or `tokenizer_dir`)."""
    _transformers()  # fail before reading a large checkpoint
    run_dir = Path(run_dir) if run_dir is not None else None
    path = _checkpoint_path(run_dir, ckpt)
    checkpoint = _read_checkpoint(path)
    model = model_from_checkpoint(checkpoint, path, run_dir)
    carried = ((checkpoint.get("xlmr") or {}).get("tokenizer") or {}).get("spm_model")
    if tokenizer_dir is None and carried:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / MODEL_FILE).write_bytes(carried)
            return export_model(model, Path(tmp) / MODEL_FILE, out_dir, force=force)
    spm_file = Path(tokenizer_dir or _tokenizer_dir(run_dir)) / MODEL_FILE
    if not spm_file.is_file():
        raise ExportError(f"{spm_file}: tokenizer not found (was the data cache moved or cleaned?)")
    return export_model(model, spm_file, out_dir, force=force)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xlmr.export",
                                 description="Export a run to Hugging Face XLMRobertaForMaskedLM (XLMRobertaXLForMaskedLM "
                                             "for model.norm=pre) + XLMRobertaTokenizer.")
    ap.add_argument("run_dir", type=Path, help="run directory (its checkpoints/last.ckpt), or a checkpoint file: "
                                               "checkpoints describe their model and carry their tokenizer")
    ap.add_argument("out_dir", type=Path, help="output directory for save_pretrained")
    ap.add_argument("--force", action="store_true", help="replace an existing non-empty out_dir")
    ap.add_argument("--ckpt", type=Path, help="checkpoint to export (default RUN_DIR/checkpoints/last.ckpt)")
    ap.add_argument("--tokenizer", type=Path, help="directory holding sentencepiece.bpe.model "
                                                   "(default: result.json's artifacts.tokenizer.path)")
    args = ap.parse_args(argv)
    bars = None
    try:
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # one line of output, not per-shard progress bars
    except ImportError:
        pass
    try:
        if args.run_dir.is_file():  # a checkpoint on its own
            out = export_run(None, args.out_dir, args.force, ckpt=args.run_dir, tokenizer_dir=args.tokenizer)
        else:
            out = export_run(args.run_dir, args.out_dir, args.force, ckpt=args.ckpt, tokenizer_dir=args.tokenizer)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    architecture = json.loads((out / "config.json").read_text())["architectures"][0]
    print(f"[export] {args.run_dir} → {out} ({architecture} + XLMRobertaTokenizer; logits and ids checked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
