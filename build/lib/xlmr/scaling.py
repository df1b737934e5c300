"""Pure arithmetic of model size and compute (no torch): parameter counts and training FLOPs."""

from __future__ import annotations


def approx_params(layers: int, hidden: int, ffn: int, vocab_size: int) -> int:
    """The paper's count: 4LH² + 2LH·H_ff + VH (attention and FFN matrices, token embedding; no biases,
    norms or positions). XLM-R base with V = 250,002: 277M (the paper rounds to 270M)."""
    return 4 * layers * hidden**2 + 2 * layers * hidden * ffn + vocab_size * hidden


def non_embedding_params(layers: int, hidden: int, ffn: int) -> int:
    return 4 * layers * hidden**2 + 2 * layers * hidden * ffn


def flops_per_token(layers: int, hidden: int, ffn: int, vocab_size: int, seq_len: int,
                    masked_fraction: float = 0.15) -> float:
    """Training FLOPs per token, forward + backward = 3 × forward (Kaplan et al. 2020, §2.1; PaLM app. B):
      6 · N_enc                        dense matmuls of the encoder, N_enc = L(4H² + 2H·H_ff)
      + 12 · L · H · T                 attention scores QKᵀ and the weighted sum AV (2 matmuls × 2 × 3)
      + 6 · (H² + V·H) · masked_frac   the LM head, which runs on the masked positions only."""
    encoder = 6 * non_embedding_params(layers, hidden, ffn)
    attention = 12 * layers * hidden * seq_len
    head = 6 * (hidden**2 + vocab_size * hidden) * masked_fraction
    return encoder + attention + head


def mfu(tokens_per_s: float, flops_per_tok: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the hardware's peak."""
    return tokens_per_s * flops_per_tok / peak_flops
