"""Shard building (xlmr/data/shards.py) against SentencePiece's own batched encode of the same text.

    python benchmarks/prepare.py [--sentences 300000] [--scales 1,10] [--vocab 8000]

Writes a text of the embedded synthetic corpus's XLM-7 languages (about `--sentences` sentences),
trains a SentencePiece unigram tokenizer on it, then for each scale (the text repeated that many times)
measures, each in a fresh process:

  spm     SentencePieceProcessor.encode(all sentences, add_eos=True): the whole text in memory, one call
  shards  build_shards: streaming the file, writing the train/valid token files and document offsets

and prints tokens/s of both, their ratio (target ≥ 0.8), and the peak RSS of each process (shard building
must stay flat from 1× to 10×, within ±20 %). Numbers are measured, never assumed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGS = ["en", "fr", "de", "ru", "zh", "sw", "ur"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(mode: str, text: Path, tokenizer_dir: Path) -> dict:
    """One measurement, in this process (the parent runs each in a fresh child)."""
    from xlmr.data.shards import ShardSpec, build_shards
    from xlmr.data.text import iter_documents
    from xlmr.data.tokenizer import Tokenizer

    tok = Tokenizer.from_dir(tokenizer_dir)
    if mode == "spm":
        sentences = [s for doc in iter_documents(text) for s in doc]
        start = time.perf_counter()
        n_tokens = sum(map(len, tok.sp.encode(sentences, add_eos=True)))
        seconds = time.perf_counter() - start
    else:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            info = build_shards(tok, {"en": text}, Path(out), ShardSpec())
            seconds = time.perf_counter() - start
        n_tokens = sum(info["languages"]["en"]["tokens"].values())
    return {"mode": mode, "tokens": n_tokens, "seconds": seconds, "tokens_per_s": n_tokens / seconds,
            "peak_rss_mb": _peak_rss_mb()}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=300_000, help="sentences of the 1× text (7 languages)")
    ap.add_argument("--scales", default="1,10", help="text sizes, as multiples of the 1× text")
    ap.add_argument("--vocab", type=int, default=4000, help="pieces (the default run's vocab_size)")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "TEXT", "TOKENIZER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child[0], Path(args.child[1]), Path(args.child[2]))))
        return []

    from xlmr.data.synthetic import SyntheticCorpusConfig, sentence_counts, write_language
    from xlmr.data.text import iter_documents
    from xlmr.data.tokenizer import train_sentencepiece

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # the XLM-7 languages of the embedded corpus, in their CC-100 proportions, as one text
        share = sum(sentence_counts(SyntheticCorpusConfig(), LANGS).values()) / SyntheticCorpusConfig().total_sentences
        cfg = SyntheticCorpusConfig(total_sentences=round(args.sentences / share))
        base = tmp / "xlm7.1x.txt"
        with open(base, "wb") as out:
            for lang in LANGS:
                write_language(cfg, lang, tmp / f"{lang}.txt")
                out.write((tmp / f"{lang}.txt").read_bytes() + b"\n")
        (tmp / "tok").mkdir()
        train_sentencepiece((s for doc in iter_documents(base) for s in doc), args.vocab, tmp / "tok")
        for scale in [int(s) for s in args.scales.split(",")]:
            text = tmp / f"xlm7.{scale}x.txt"
            if scale != 1:
                with open(text, "wb") as out:
                    for _ in range(scale):
                        out.write(base.read_bytes())
                        out.write(b"\n")
            else:
                text = base
            for mode in ("spm", "shards"):
                out = subprocess.run([sys.executable, __file__, "--child", mode, str(text), str(tmp / "tok")],
                                     capture_output=True, text=True, cwd=ROOT, check=True)
                row = {"scale": scale, "mb": text.stat().st_size / 1e6, **json.loads(out.stdout.splitlines()[-1])}
                rows.append(row)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, torch-free; {args.vocab} pieces; threads: SentencePiece default")
    print("| scale | text MB | mode | tokens | seconds | tokens/s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scale']}× | {r['mb']:.0f} | {r['mode']} | {r['tokens']:,} | {r['seconds']:.2f} | "
              f"{r['tokens_per_s']:,.0f} | {r['peak_rss_mb']:.0f} |")
    by = {(r["scale"], r["mode"]): r for r in rows}
    for scale in sorted({r["scale"] for r in rows}):
        ratio = by[scale, "shards"]["tokens_per_s"] / by[scale, "spm"]["tokens_per_s"]
        print(f"{scale}×: shards / SentencePiece batched encode = {ratio:.2f}")
    scales = sorted({r["scale"] for r in rows})
    if len(scales) > 1:
        lo, hi = by[scales[0], "shards"]["peak_rss_mb"], by[scales[-1], "shards"]["peak_rss_mb"]
        print(f"shard building peak RSS {scales[0]}× → {scales[-1]}×: {lo:.0f} → {hi:.0f} MB "
              f"({100 * (hi / lo - 1):+.0f} %)")
    return rows


if __name__ == "__main__":
    main()
