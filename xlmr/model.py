"""⑥ The XLM-R (RoBERTa) encoder and masked-LM head, in plain PyTorch (no Hydra, no Lightning).

Architecture, as fairseq's `TransformerSentenceEncoder` for XLM-R / HF `XLMRobertaForMaskedLM`:
  token embedding (V, H) + learned positions (P + 2, H) with fairseq's padding offset
  (position of a real token = its index among non-pad tokens + pad_id + 1), LayerNorm, dropout;
  L post-LayerNorm blocks: x = LN(x + drop(attn(x))); x = LN(x + drop(W2 gelu(W1 x)));
  or, with model.norm=pre (XLM-R XL/XXL, HF `XLMRobertaXLForMaskedLM`): no LayerNorm on the embeddings,
  pre-LayerNorm blocks x = x + drop(attn(LN(x))); x = x + drop(W2 gelu(W1 LN(x))), and one LayerNorm after the last;
  LM head: dense H→H, GELU, LayerNorm, decoder tied to the token embedding, plus a bias.
Attention runs through `F.scaled_dot_product_attention` (flash / memory-efficient kernels) on GPUs and in
fp32; on a CPU in bf16 at up to 256 tokens it is written out (`attention`), up to 2.4× faster there.
During training the LM head runs only on masked positions (fairseq's `masked_tokens`): with V = 250k the
full output layer costs more than the whole encoder.

Parameter count (paper's Table 7 approximation): 4LH² + 2LH·H_ff + VH (xlmr.scaling.approx_params).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from xlmr import scaling
from xlmr.config import ModelConfig

PAD_ID = 1  # fairseq/XLM-R <pad>


@dataclass(kw_only=True)
class EncoderDims(ModelConfig):
    """The model's config (`model.*`: layers, hidden, ffn, heads, max_positions, dropouts; one definition, in
    xlmr.config.ModelConfig) plus what the data decides: the embedding rows."""

    vocab_size: int  # embedding rows (SentencePiece pieces + <pad> + <mask>)
    layer_norm_eps: float = 1e-5

    @classmethod
    def of(cls, model: ModelConfig, vocab_size: int) -> "EncoderDims":
        return cls(vocab_size=vocab_size, **dataclasses.asdict(model))

    def __post_init__(self):
        if self.hidden % self.heads:
            raise ValueError(f"hidden={self.hidden} is not divisible by heads={self.heads}")


def written_out_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None,
                          dropout_p: float = 0.0) -> torch.Tensor:
    """softmax(q kᵀ / √d + mask) v in three ops. q, k, v: (B, nh, T, hs); attn_mask: (B, 1, 1, T) bool,
    True = may attend. The scores are (B, nh, T, T): small at the sequence lengths a CPU trains."""
    scores = torch.matmul(q, k.transpose(-1, -2)) * q.shape[-1] ** -0.5  # (B, nh, T, T)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(v.dtype)  # softmax in fp32, as the kernels do
    if dropout_p > 0:
        probs = F.dropout(probs, p=dropout_p)
    return torch.matmul(probs, v)  # (B, nh, T, hs)


WRITTEN_OUT_MAX_SEQ = 256  # longest sequence at which the written-out attention beats the CPU kernel in bf16


# cuDNN's attention backward on Hopper (the kernel PyTorch picks there: the H200 profile in benchmarks/RESULTS.md)
# computes NaN gradients when the keys fill only part of its last 128-wide tile and a query row's logsumexp is
# below ln(FLT_MIN) ≈ −88.7: the tile's empty half is scored 0, exp(0 − lse) overflows, inf · 0 = NaN
# (pytorch/pytorch#196678, NVIDIA/cudnn-frontend#628 and #1072). Our training sequences are 64 tokens, half a
# tile, and trained heads approach such rows (mini's CPU checkpoints: rows at lse −28, logits up to 97).
# model=small langs=30 on an H200 turned NaN suddenly, with no loss or gradient-norm spike before, in all three
# seeds: this bug would explain it; not yet confirmed on the hardware (tests/test_gpu.py checks the kernels we
# pick). So on a GPU, at lengths that are not a multiple of the tile, SDPA chooses among the other kernels.
CUDNN_TILE = 128
WITHOUT_CUDNN = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def avoids_cudnn_attention(device_type: str, seq_len: int) -> bool:
    """Keep SDPA off cuDNN's kernel for this device and length? (See above.)"""
    return device_type == "cuda" and seq_len % CUDNN_TILE != 0


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None,
              dropout_p: float = 0.0) -> torch.Tensor:
    """Self-attention, (B, nh, T, hs) → (B, nh, T, hs): the fused kernel, except on a CPU in bf16 at T ≤ 256,
    and on a GPU not cuDNN's where T is not a multiple of its tile (CUDNN_TILE, above).

    There PyTorch's fused CPU kernel (flash attention for CPU) is slower than the three ops written out:
    forward + backward at hs = 64 and 2,048 tokens measured 2.0–2.4× faster written out at T = 64, 1.8–1.9× at
    128, 1.15× at 256, but 0.8–0.9× at 512; in fp32 the two are within ±15 % (`benchmarks/attention.py` on 2
    AVX-512-BF16 cores, torch 2.13; benchmarks/RESULTS.md)."""
    if q.is_cpu and q.dtype == torch.bfloat16 and q.shape[-2] <= WRITTEN_OUT_MAX_SEQ:
        return written_out_attention(q, k, v, attn_mask, dropout_p)
    if avoids_cudnn_attention(q.device.type, q.shape[-2]):
        with sdpa_kernel(WITHOUT_CUDNN):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)


class SelfAttention(nn.Module):
    def __init__(self, d: EncoderDims):
        super().__init__()
        self.heads = d.heads
        self.qkv = nn.Linear(d.hidden, 3 * d.hidden)  # fused q, k, v projections
        self.out = nn.Linear(d.hidden, d.hidden)
        self.dropout = d.attention_dropout

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        B, T, H = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, H // self.heads).permute(2, 0, 3, 1, 4)  # 3×(B, nh, T, hs)
        y = attention(q, k, v, attn_mask, dropout_p=self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        return self.out(y.transpose(1, 2).reshape(B, T, H))


class EncoderLayer(nn.Module):
    def __init__(self, d: EncoderDims):
        super().__init__()
        self.attention = SelfAttention(d)
        self.attn_norm = nn.LayerNorm(d.hidden, eps=d.layer_norm_eps)
        self.fc1 = nn.Linear(d.hidden, d.ffn)
        self.fc2 = nn.Linear(d.ffn, d.hidden)
        self.ffn_norm = nn.LayerNorm(d.hidden, eps=d.layer_norm_eps)
        self.dropout = nn.Dropout(d.dropout)
        self.pre_norm = d.norm == "pre"

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        if self.pre_norm:  # the residual stream is never normalized; each sublayer reads a normalized copy
            x = x + self.dropout(self.attention(self.attn_norm(x), attn_mask))
            return x + self.dropout(self.fc2(F.gelu(self.fc1(self.ffn_norm(x)))))
        x = self.attn_norm(x + self.dropout(self.attention(x, attn_mask)))  # post-LN, as BERT/RoBERTa
        return self.ffn_norm(x + self.dropout(self.fc2(F.gelu(self.fc1(x)))))


class Encoder(nn.Module):
    def __init__(self, d: EncoderDims):
        super().__init__()
        self.dims = d
        self.tokens = nn.Embedding(d.vocab_size, d.hidden, padding_idx=PAD_ID)
        self.positions = nn.Embedding(d.max_positions + PAD_ID + 1, d.hidden, padding_idx=PAD_ID)
        # post-LN normalizes the embeddings; pre-LN (XLM-R XL) leaves them to each block's own LayerNorm
        self.emb_norm = nn.LayerNorm(d.hidden, eps=d.layer_norm_eps) if d.norm == "post" else None
        self.dropout = nn.Dropout(d.dropout)
        self.layers = nn.ModuleList(EncoderLayer(d) for _ in range(d.layers))
        # pre-LN: the residual stream's scale grows with depth; one LayerNorm after the blocks (fairseq's
        # encoder_normalize_before) gives the head and the probes normalized states, as post-LN does
        self.final_norm = nn.LayerNorm(d.hidden, eps=d.layer_norm_eps) if d.norm == "pre" else None

    def forward(self, input_ids: torch.Tensor, output_layer: int | None = None) -> torch.Tensor:
        """input_ids (B, T) → hidden states (B, T, H) after the last layer (or after `output_layer`); a pre-LN
        encoder's final LayerNorm applies to either."""
        not_pad = input_ids.ne(PAD_ID)
        positions = torch.cumsum(not_pad, dim=1) * not_pad + PAD_ID  # fairseq's make_positions: (B, T)
        x = self.tokens(input_ids) + self.positions(positions)  # (B, T, H)
        x = self.dropout(x if self.emb_norm is None else self.emb_norm(x))
        # SDPA boolean mask: True = may attend. Omitted when nothing is padded (training windows), so the
        # fused kernels run without a mask.
        attn_mask = None if bool(not_pad.all()) else not_pad[:, None, None, :]  # (B, 1, 1, T)
        for i, layer in enumerate(self.layers):
            x = layer(x, attn_mask)
            if output_layer is not None and i + 1 == output_layer:
                break
        return x if self.final_norm is None else self.final_norm(x)


class LMHead(nn.Module):
    def __init__(self, d: EncoderDims, embedding: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(d.hidden, d.hidden)
        self.norm = nn.LayerNorm(d.hidden, eps=d.layer_norm_eps)
        self.embedding = embedding  # tied decoder weight (V, H)
        self.bias = nn.Parameter(torch.zeros(d.vocab_size))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h (..., H) → logits (..., V)."""
        return F.linear(self.norm(F.gelu(self.dense(h))), self.embedding.weight, self.bias)


class XLMRForMaskedLM(nn.Module):
    def __init__(self, d: EncoderDims):
        super().__init__()
        self.dims = d
        self.encoder = Encoder(d)
        self.lm_head = LMHead(d, self.encoder.tokens)
        self.apply(self._init_weights)

    def _init_weights(self, m: nn.Module) -> None:
        # BERT/fairseq init: N(0, σ²) weights (σ = model.init_std, 0.02 in BERT and XLM-R), zero biases,
        # padding row zero.
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=self.dims.init_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=self.dims.init_std)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()

    def forward(self, input_ids: torch.Tensor, masked: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, V), or (n_masked, V) for the positions where `masked` (B, T) is True."""
        h = self.encoder(input_ids)  # (B, T, H)
        if masked is not None:
            h = h[masked]  # (n_masked, H): the LM head only where there is something to predict
        return self.lm_head(h)

    def num_params(self) -> dict[str, int]:
        """total; embedding = token + position tables (the decoder is tied); non_embedding = the rest,
        the x-axis of scaling plots."""
        total = sum(p.numel() for p in self.parameters())
        embedding = self.encoder.tokens.weight.numel() + self.encoder.positions.weight.numel()
        return {"total": total, "embedding": embedding, "non_embedding": total - embedding}


def mlm_loss(model: XLMRForMaskedLM, input_ids: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean cross-entropy over masked positions (targets ≠ -100). Returns (loss, per-token nll (n,), masked (B, T))."""
    masked = targets.ne(-100)
    logits = model(input_ids, masked)  # (n_masked, V)
    nll = F.cross_entropy(logits.float(), targets[masked], reduction="none")  # (n_masked,)
    return nll.mean() if nll.numel() else nll.sum(), nll, masked


def flops_per_token(d: EncoderDims, seq_len: int, masked_fraction: float = 0.15) -> float:
    """Training FLOPs per token of this model (see xlmr.scaling.flops_per_token)."""
    return scaling.flops_per_token(d.layers, d.hidden, d.ffn, d.vocab_size, seq_len, masked_fraction)
