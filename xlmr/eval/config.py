"""Config dataclasses of the evaluation stages, kept free of torch so that composing a config stays fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from xlmr.fields import bounded


@dataclass
class RetrievalConfig:
    enabled: bool = False  # read by the caller: evaluate_retrieval itself always runs
    max_pairs: int = bounded(1000, ge=1)  # candidates per language (XTREME's Tatoeba: up to 1,000)
    layer: Optional[int] = bounded(None, ge=1)  # hidden states after this layer (1..L); None = middle layer, max(1, L // 2)
    max_len: int = bounded(64, ge=8)  # tokens per sentence, <s> and </s> included
    non_ascii_only_for_non_latin: bool = True  # also score non-Latin-script languages on pairs without ASCII
    seed: int = 0  # which max_pairs pairs are sampled



@dataclass
class TransferConfig:
    enabled: bool = True  # read by the caller: zero_shot_transfer itself always runs
    task: str = "synthetic"  # synthetic (the corpus' topic task) | xnli (XNLI 1.0 files) | xnli_hf (datasets)
    xnli_path: Optional[str] = None  # xnli: folder with xnli.{dev,test}.tsv; xnli_hf: dataset name or folder
    train_lang: str = "en"  # the only language fine-tuned on
    steps: int = bounded(300, ge=1)  # optimizer updates
    batch_size: int = bounded(32, ge=1)  # examples per update
    lr: float = bounded(5e-4, gt=0)  # peak learning rate (encoder and head)
    max_len: int = bounded(64, ge=8)  # tokens per example, specials included (capped at the model's max_positions)
    max_train_examples: int = 2000  # seeded sample of train_lang's training set; <= 0: all
    max_test_examples: int = 500  # first rows of each language's test set; <= 0: all
    seed: int = 0  # head init, dropout, training sample and batch order
    # also fine-tune each language on its own training examples (XLM-R's translate-train; the task sets are
    # parallel): translate_train_acc, what zero-shot transfer is read against. One fine-tune per language.
    translate_train: bool = False


@dataclass
class EvalConfig:
    """Downstream evaluations run after pretraining, on rank 0 (design §2 ⑧)."""

    # zero-shot cross-lingual transfer, the paper's protocol: fine-tune on English, test on every language
    transfer: TransferConfig = field(default_factory=TransferConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    # retrieval pairs: gettext English↔X pairs for corpus=gettext; the synthetic corpus's parallel task
    # test sets otherwise; split by English string, this share is the test side
    retrieval_test_fraction: float = bounded(0.5, gt=0, lt=1)
