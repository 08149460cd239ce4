"""Calibration statistics (float64, PRE-RoPE): per layer the joint second moment of [k; v]
(2gd x 2gd, uncentred, biases included) and, for the MHA2MLA-style baseline, the mean of
(sum over the group's query heads of ||q_l||) * ||k_l|| per (KV head, frequency)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from framework.llm.data import encode, local_text, pydoc_text, token_windows

from .attention import head_dims


@dataclass
class LayerStats:
    kv_cov: torch.Tensor  # (2gd, 2gd) sum of [k;v][k;v]^T
    qk_norm: torch.Tensor  # (g, d/2) summed ||q_l||*||k_l||
    tokens: int = 0


@torch.no_grad()
def calibrate(model, windows: torch.Tensor, batch_size: int = 4) -> list[LayerStats]:
    """Run the ORIGINAL model on calibration windows (N, L) and collect ``LayerStats`` per layer."""
    h, g, d = head_dims(model.config)
    half = d // 2
    dev = next(model.parameters()).device  # accumulate where the activations are, return on the CPU
    stats = [
        LayerStats(
            torch.zeros(2 * g * d, 2 * g * d, dtype=torch.float64, device=dev),
            torch.zeros(g, half, dtype=torch.float64, device=dev),
        )
        for _ in model.model.layers
    ]
    cur: dict = {}
    hooks = []

    def grab(i, name):
        def hook(mod, inp, out):
            cur[(i, name)] = out.detach().double().reshape(-1, out.shape[-1])
            if name == 'v':
                q, k, v = cur.pop((i, 'q')), cur.pop((i, 'k')), cur.pop((i, 'v'))
                kv = torch.cat((k, v), -1)
                s = stats[i]
                s.kv_cov += kv.T @ kv
                s.tokens += kv.shape[0]
                qn = q.view(-1, h, d)
                qn = (
                    (qn[..., :half] ** 2 + qn[..., half:] ** 2)
                    .sqrt()
                    .view(-1, g, h // g, half)
                    .sum(2)
                )
                kk = k.view(-1, g, d)
                kn = (kk[..., :half] ** 2 + kk[..., half:] ** 2).sqrt()
                s.qk_norm += (qn * kn).sum(0)

        return hook

    for i, layer in enumerate(model.model.layers):
        a = layer.self_attn
        hooks += [
            a.q_proj.register_forward_hook(grab(i, 'q')),
            a.k_proj.register_forward_hook(grab(i, 'k')),
            a.v_proj.register_forward_hook(grab(i, 'v')),
        ]
    _forward_windows(model, windows, batch_size, dev, hooks)
    for s in stats:
        s.qk_norm = (s.qk_norm / max(s.tokens, 1)).cpu()
        s.kv_cov = s.kv_cov.cpu()
    return stats


@torch.no_grad()
def calibrate_latent(model, windows: torch.Tensor, batch_size: int = 4) -> list[torch.Tensor]:
    """Second moment (float64, uncentred, bias included) of each layer's ``kv_a`` output on a
    partial-RoPE model (stage B: identity latent, so ``kv_a(x) = [k_nope ; v]``), i.e. with every
    layer's input coming from the partial-RoPE model, as the paper and the official converter
    calibrate the joint K/V PCA after RoRoPE. Returns one (2gd-d_R, 2gd-d_R) matrix per layer."""
    dev = next(model.parameters()).device
    covs: list = [None] * len(model.model.layers)

    def grab(i):
        def hook(mod, inp, out):
            x = out.detach().double().reshape(-1, out.shape[-1])
            covs[i] = x.T @ x if covs[i] is None else covs[i] + x.T @ x

        return hook

    hooks = [
        layer.self_attn.kv_a.register_forward_hook(grab(i))
        for i, layer in enumerate(model.model.layers)
    ]
    _forward_windows(model, windows, batch_size, dev, hooks)
    return [c.cpu() for c in covs]


def _forward_windows(model, windows, batch_size, dev, hooks) -> None:
    """Run ``model`` in eval mode over ``windows`` in batches, then remove the forward ``hooks``."""
    try:
        was = model.training
        model.eval()
        for b in range(0, windows.shape[0], batch_size):
            model(input_ids=windows[b : b + batch_size].to(dev), use_cache=False)
        model.train(was)
    finally:
        for hk in hooks:
            hk.remove()


def calibration_windows(tokenizer, n: int = 32, length: int = 256, text_path: str | None = None):
    """CPU default: n x length tokens of the pydoc ``train`` split; ``text_path``: local text
    (e.g. WikiText-2 train parquet) for real-scale runs."""
    text = local_text(text_path) if text_path else pydoc_text('train')
    return token_windows(encode(tokenizer, text), length, n)
