"""Config dataclasses of the evaluation stages, kept free of torch so that composing a config stays fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class RetrievalConfig:
    enabled: bool = False  # read by the caller: evaluate_retrieval itself always runs
    max_pairs: int = 1000  # candidates per language (XTREME's Tatoeba: up to 1,000)
    layer: Optional[int] = None  # hidden states after this layer (1..L); None = middle layer, max(1, L // 2)
    max_len: int = 64  # tokens per sentence, <s> and </s> included
    non_ascii_only_for_non_latin: bool = True  # also score non-Latin-script languages on pairs without ASCII
    seed: int = 0  # which max_pairs pairs are sampled



@dataclass
class EvalConfig:
    """Downstream evaluations run after pretraining, on rank 0 (design §2 ⑧)."""

    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    # retrieval pairs: gettext English↔X pairs for corpus=gettext; the synthetic corpus's parallel task
    # test sets otherwise; split by English string, this share is the test side
    retrieval_test_fraction: float = 0.5
