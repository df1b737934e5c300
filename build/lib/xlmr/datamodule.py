"""⑤ The Lightning data module: training micro-batches and per-language held-out batches.

Training: a map-style dataset whose item i *is* micro-batch i of this rank, drawn by `sample_train_batch`
from (seed, rank, i) alone. The sampler starts at `global_step × accumulation` when the loader is built,
which Lightning does after restoring a checkpoint, so a resumed run continues the exact batch sequence.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from xlmr.data.mlm import MaskingConfig, eval_batches, sample_train_batch
from xlmr.data.pipeline import PreparedData


def _to_torch(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in batch.items()}


class TrainBatches(Dataset):
    def __init__(self, data: PreparedData, micro_batch_size: int, seq_len: int, masking: MaskingConfig,
                 seed: int, rank: int, length: int):
        self.shards, self.langs, self.q = data.shards, data.langs, data.q
        self.mask_id = data.tokenizer().mask_id
        self.micro_batch_size, self.seq_len, self.masking = micro_batch_size, seq_len, masking
        self.seed, self.rank, self.length = seed, rank, length
        self._streams: list[np.ndarray] | None = None  # memmaps, opened lazily in each worker

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self._streams is None:
            self._streams = [self.shards.tokens(lang, "train") for lang in self.langs]
        batch = sample_train_batch(self._streams, self.q, self.micro_batch_size, self.seq_len, self.masking,
                                   self.mask_id, self.seed, self.rank, index)
        # seeds dropout in the training step: a Python int stays on the host (no device-to-host sync per step)
        return {**_to_torch(batch), "index": int(index)}

    def __getstate__(self):  # memmaps are reopened in the worker, not pickled
        return {**self.__dict__, "_streams": None}


class StartAt(Sampler[int]):
    """Yields start, start + 1, …, start + length − 1."""

    def __init__(self, start: int, length: int):
        self.start, self.length = start, length

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.start + self.length))

    def __len__(self) -> int:
        return self.length


class EvalBatches(Dataset):
    def __init__(self, batches: list[dict[str, np.ndarray]]):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return _to_torch(self.batches[i])


class MLMDataModule(pl.LightningDataModule):
    def __init__(self, data: PreparedData, *, micro_batch_size: int, eval_batch_size: int, seq_len: int,
                 accumulation: int, max_steps: int, eval_sequences: int, masking: MaskingConfig, seed: int,
                 num_workers: int = 0):
        super().__init__()
        self.data = data
        self.micro_batch_size, self.eval_batch_size, self.seq_len = micro_batch_size, eval_batch_size, seq_len
        self.accumulation, self.max_steps, self.eval_sequences = accumulation, max_steps, eval_sequences
        self.masking, self.seed, self.num_workers = masking, seed, num_workers

    def train_dataloader(self) -> DataLoader:
        # The loader's length is the whole run's micro-batch count, whatever the start, so that Lightning's
        # own progress counters (restored from the checkpoint) end exactly at max_steps.
        total = self.max_steps * self.accumulation
        start = self.trainer.global_step * self.accumulation
        ds = TrainBatches(self.data, self.micro_batch_size, self.seq_len, self.masking, self.seed,
                          self.trainer.global_rank, start + total)
        return DataLoader(ds, batch_size=None, sampler=StartAt(start, total), num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        mask_id = self.data.tokenizer().mask_id
        batches = []
        for i, lang in enumerate(self.data.eval_langs):  # pretraining languages, then unseen ones
            stream = np.asarray(self.data.eval_shards(lang).tokens(lang, "valid"))
            batches += eval_batches(stream, i, self.eval_batch_size, self.seq_len, self.eval_sequences,
                                    self.masking, mask_id)
        # Each rank scores its own slice of the batches; the module sums the per-language totals.
        rank, world = self.trainer.global_rank, self.trainer.world_size
        return DataLoader(EvalBatches(batches[rank::world]), batch_size=None)
