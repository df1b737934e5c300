"""⑧ The downstream evaluations of a finished run, on rank 0, merged into its per-language metrics."""

from __future__ import annotations

import csv
import time
from typing import Any

from xlmr.config import Config
from xlmr.console import say, stage
from xlmr.data.pipeline import PreparedData
from xlmr.model import XLMRForMaskedLM

RETRIEVAL_KEYS = ("retrieval_acc", "trigram_acc", "n_pairs")


def _read_task_texts(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t")]


def retrieval_pairs(cfg: Config, data: PreparedData) -> dict[str, list[tuple[str, str]]]:
    """English↔X pairs: gettext's translation pairs, or the synthetic task's parallel test sets."""
    from xlmr.eval.retrieval import pairs_from_gettext

    langs = [lang for lang in data.langs if lang != "en"]
    if cfg.corpus.name == "gettext":
        pairs = {}
        for lang in langs:  # each language's artifact holds <artifact>/gettext/pairs/<lang>.tsv
            pairs.update(pairs_from_gettext(data.texts[lang].path.parent, [lang]))
        return pairs
    en = data.texts.get("en")
    if en is None or en.task_dir is None:
        raise ValueError("retrieval needs English parallel data: corpus=gettext, or a synthetic corpus with en in langs")
    english = _read_task_texts(en.task_dir / "en.test.tsv")
    return {lang: list(zip(english, _read_task_texts(data.texts[lang].task_dir / f"{lang}.test.tsv")))
            for lang in langs}


def downstream_metrics(cfg: Config, data: PreparedData, model: XLMRForMaskedLM, precision: str = "32-true"
                       ) -> tuple[dict[str, dict[str, float]], dict]:
    """Per-language metrics of the enabled evaluations, and facts about them (budgets, timings).
    `precision`: the run's resolved Lightning precision; the transfer fine-tunes follow it (autocast_for)."""
    per_lang: dict[str, dict[str, float]] = {}
    meta: dict[str, Any] = {}
    transfer = cfg.eval.transfer
    if cfg.monolingual is not None:  # one language, no English to fine-tune on or to retrieve against
        meta["skipped"] = f"monolingual={cfg.monolingual}: transfer and retrieval need the multilingual run"
        return per_lang, meta
    if transfer.enabled and transfer.task == "synthetic" and cfg.corpus.name != "synthetic":
        meta["transfer"] = {"skipped": f"eval.transfer.task=synthetic needs corpus=synthetic (corpus={cfg.corpus.name}); "
                                       "use eval.transfer.task=xnli eval.transfer.xnli_path=DIR"}
        say(f"[eval] transfer {meta['transfer']['skipped']}")
    elif transfer.enabled:
        from xlmr.eval.tasks import load_task
        from xlmr.eval.transfer import autocast_for, zero_shot_transfer

        with stage("eval", f"zero-shot transfer ({transfer.task})") as notes:
            task = load_task(transfer, data.langs, {lang: data.texts[lang].task_dir for lang in data.langs})
            results, meta["transfer"] = zero_shot_transfer(model, data.tokenizer(), task, transfer, data.langs,
                                                           autocast_for(precision))
            for lang, metrics in results.items():
                per_lang.setdefault(lang, {}).update({k: float(v) for k, v in metrics.items()})
                # the two reference lines a transfer accuracy is read against (figures draw them)
                per_lang[lang]["transfer_bow_acc"] = float(meta["transfer"]["bow_baseline_acc"][lang])
                per_lang[lang]["transfer_chance"] = float(meta["transfer"]["chance"])
            notes.append(", ".join(f"{lang} {m['transfer_acc']:.2f}" for lang, m in per_lang.items()
                                   if "transfer_acc" in m) + f" (chance {float(meta['transfer']['chance']):.2f})")
        if transfer.translate_train:
            from xlmr.eval.transfer import translate_train

            with stage("eval", f"translate-train control ({transfer.task})") as notes:
                results, meta["translate_train"] = translate_train(model, data.tokenizer(), task, transfer, data.langs,
                                                                   autocast_for(precision))
                for lang, metrics in results.items():
                    per_lang.setdefault(lang, {}).update({k: float(v) for k, v in metrics.items()})
                notes.append(", ".join(f"{lang} {m['translate_train_acc']:.2f}" for lang, m in results.items()))
    if cfg.eval.retrieval.enabled:
        from xlmr.eval.retrieval import evaluate_retrieval, split_pairs

        t0 = time.time()
        with stage("eval", "English→X retrieval") as notes:
            _, test = split_pairs(retrieval_pairs(cfg, data), cfg.eval.retrieval_test_fraction, cfg.eval.retrieval.seed)
            results = evaluate_retrieval(model, data.tokenizer(), test, cfg.eval.retrieval)
            for lang, metrics in results.items():
                per_lang.setdefault(lang, {}).update(
                    {k: float(v) for k, v in metrics.items() if k.startswith(RETRIEVAL_KEYS)})
            notes.append(", ".join(f"{lang} {float(m['retrieval_acc_en2x']):.2f}" for lang, m in results.items()
                                   if "retrieval_acc_en2x" in m))
        meta["retrieval"] = {"seconds": round(time.time() - t0, 2), "layer": next(iter(results.values()))["layer"]
                             if results else None, "test_fraction": cfg.eval.retrieval_test_fraction}
    return per_lang, meta
