"""GQA -> MLA conversion (stages A-D of the paper), the FreqFold search, save/load of converted
models.

``convert_exact(model)``: stage A (lossless, cache unchanged). ``convert_mla(model, stats, ...)``:
stage B (RoRoPE + FreqFold, or a baseline rotation), stage C (BKV + joint PCA, ``kv_rank``; None
keeps the stage-B model with an identity latent) and stage D (absorbed ``MLAAttention`` + cache)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch

from framework import FwError
from framework.llm.attention import replace_attention

from .attention import MLAAttention, StageAAttention, head_dims
from .pca import latent_basis
from .rorope import (
    collapse_of,
    freqfold_candidates,
    kept_per_group,
    no_rotation,
    norm_selection,
    rorope,
)

METHOD_FILE = 'transmla.json'
WEIGHTS_FILE = 'transmla.safetensors'
ATTENTION_PARAMS = ('q_proj', 'kv_a', 'k_rope', 'w_uk', 'w_uv', 'o_proj')


def convert_exact(model):
    """Stage A in place: every attention becomes ``StageAAttention`` (same weights, same cache)."""
    replace_attention(model, lambda old, i: StageAAttention(old))
    model.config.transmla = dict(stage='a')
    return model


def _bias(lin, n):
    return (
        lin.bias.detach().double().cpu()
        if lin.bias is not None
        else torch.zeros(n, dtype=torch.float64)
    )


@torch.no_grad()
def mla_from_gqa(
    base,
    Q: torch.Tensor,
    freqs,
    P_r: torch.Tensor,
    alpha: float,
    rope_dim: int,
    absorb: bool = True,
) -> MLAAttention:
    """Fold Q (stage B), P_r and alpha (stage C) into the MLA weights of one layer (stage C of the
    paper)."""
    cfg = base.config
    h, g, d = head_dims(cfg)
    gd, dr, D = g * d, rope_dim, cfg.hidden_size
    bias = any(p.bias is not None for p in (base.q_proj, base.k_proj, base.v_proj))
    dt, dev = base.q_proj.weight.dtype, base.q_proj.weight.device
    Wq = base.q_proj.weight.double().cpu().view(h, d, D)  # folding in float64 on the CPU
    bq = _bias(base.q_proj, h * d).view(h, d)
    Wk, bk = Q @ base.k_proj.weight.double().cpu(), Q @ _bias(base.k_proj, gd)
    Wv, bv = base.v_proj.weight.double().cpu(), _bias(base.v_proj, gd)
    jj = torch.arange(h) // (h // g)
    QS = torch.stack([Q[:, j * d : (j + 1) * d] for j in jj.tolist()])  # (h, gd, d) = Q S_i
    WqR = torch.einsum('hcd,hdD->hcD', QS[:, :dr], Wq)
    bqR = torch.einsum('hcd,hd->hc', QS[:, :dr], bq)
    n_nope = gd - dr
    P_K, P_V = P_r[:n_nope], P_r[n_nope:]
    W_lat = torch.cat((Wk[dr:] / alpha, Wv))
    b_lat = torch.cat((bk[dr:] / alpha, bv))
    m = MLAAttention(
        cfg, base.layer_idx, P_r.shape[1], dr, freqs, bias, base.o_proj, absorb, torch.float64
    )
    m.q_proj.weight.copy_(torch.cat((Wq, WqR), 1).reshape(-1, D))
    m.kv_a.weight.copy_(P_r.T @ W_lat)
    m.k_rope.weight.copy_(Wk[:dr])
    if bias:
        m.q_proj.bias.copy_(torch.cat((bq, bqR), 1).reshape(-1))
        m.kv_a.bias.copy_(P_r.T @ b_lat)
        m.k_rope.bias.copy_(bk[:dr])
    m.w_uk.copy_(alpha * torch.einsum('cr,hcd->hrd', P_K, QS[:, dr:]))
    m.w_uv.copy_(torch.stack([P_V[j * d : (j + 1) * d] for j in jj.tolist()]))
    m.o_proj = None  # keep the original o_proj (and its dtype) out of the cast
    m = m.to(device=dev, dtype=dt)
    m.o_proj = base.o_proj
    return m.train(base.training)


def layer_rotation(stats, cfg, rope_dim: int, freqfold: int, rotation: str = 'rorope'):
    h, g, d = head_dims(cfg)
    gd = g * d
    if rotation == 'rorope':
        collapse = collapse_of(d, rope_dim, g)
        n_keep = kept_per_group(d, rope_dim, freqfold)
        return rorope(stats.kv_cov[:gd, :gd], g, d, freqfold, n_keep=n_keep, collapse=collapse)
    if rotation == 'none':
        return no_rotation(g, d, rope_dim)
    if rotation == 'norm':
        return norm_selection(stats.qk_norm, rope_dim)
    raise FwError(f'rotation {rotation!r}: choose rorope, none or norm')


def convert_mla(
    model,
    stats,
    kv_rank: int | None,
    rope_dim: int,
    freqfold: int = 1,
    rotation: str = 'rorope',
    balance_kv: bool = True,
    balance_kv_ratio: float = 1.0,
    absorb: bool = True,
    rotations: list | None = None,
    latent_covs: list | None = None,
):
    """Stages B-D in place. ``kv_rank=None``: stage B only (identity latent, r = 2gd - d_R).
    ``rotations``: per-layer (Q, freqs) overriding the computed ones. ``latent_covs``: per-layer
    second moments of [k_nope ; v] measured on the partial-RoPE model (see
    :func:`partial_rope_calibration`, the paper's order); None derives them from the original
    model's statistics ``stats``."""
    h, g, d = head_dims(model.config)
    collapse_of(d, rope_dim, g)  # one clear error for an unusable d_R
    freqs_all, alphas = [], []

    def factory(old, i):
        Q, freqs = (
            rotations[i]
            if rotations is not None
            else layer_rotation(stats[i], model.config, rope_dim, freqfold, rotation)
        )
        P_r, alpha = latent_basis(
            stats[i].kv_cov if stats is not None else None,
            Q,
            rope_dim,
            kv_rank,
            balance_kv,
            balance_kv_ratio,
            latent_cov=latent_covs[i] if latent_covs is not None else None,
        )
        freqs_all.append(list(map(int, freqs)))
        alphas.append(alpha)
        return mla_from_gqa(old, Q, freqs, P_r, alpha, rope_dim, absorb)

    replace_attention(model, factory)
    r = kv_rank if kv_rank is not None else 2 * g * d - rope_dim
    model.config.transmla = dict(
        stage='mla',
        kv_rank=r,
        rope_dim=rope_dim,
        freqfold=freqfold,
        rotation=rotation,
        balance_kv=balance_kv,
        balance_kv_ratio=balance_kv_ratio,
        pca_calibration='original' if latent_covs is None else 'partial_rope',
        freqs=freqs_all,
        alphas=alphas,
    )
    return model


def partial_rope_calibration(
    model, stats, windows, rope_dim: int, freqfold: int = 1, rotation: str = 'rorope'
):
    """The paper's order: compute the stage-B rotations (RoRoPE from the original model's
    statistics), build the partial-RoPE model, and calibrate the joint K/V PCA on ITS
    activations. Returns (rotations, latent_covs) for :func:`convert_mla`."""
    from .calibrate import calibrate_latent

    rotations = [
        layer_rotation(stats[i], model.config, rope_dim, freqfold, rotation)
        for i in range(len(model.model.layers))
    ]
    stage_b = convert_mla(
        copy.deepcopy(model), stats, kv_rank=None, rope_dim=rope_dim, rotations=rotations
    )
    covs = calibrate_latent(stage_b, windows)
    del stage_b
    return rotations, covs


def freqfold_search(model, stats, windows, rope_dim: int, rotation: str = 'rorope', log=print):
    """Start at M = collapse, double while the stage-B calibration perplexity improves, stop at d/2.
    Returns (best M, curve {M: ppl})."""
    from framework.llm.evaluate import perplexity

    curve = {}
    best = None
    for M in freqfold_candidates(head_dims(model.config)[2], rope_dim):
        m = convert_mla(
            copy.deepcopy(model),
            stats,
            kv_rank=None,
            rope_dim=rope_dim,
            freqfold=M,
            rotation=rotation,
        )
        curve[M] = perplexity(m, windows)['ppl']
        log(f'freqfold M={M}: stage-B calibration ppl {curve[M]:.4f}')
        del m
        if best is not None and curve[M] >= curve[best]:
            break
        best = M
    return best, curve


def convert_with_search(
    model,
    calib,
    kv_rank,
    rope_dim=None,
    freqfold='auto',
    rotation='rorope',
    balance_kv=True,
    balance_kv_ratio=1.0,
    search_windows: int = 8,
    stats=None,
    log=print,
):
    """Calibrate the original model (RoRoPE statistics), pick M (``auto``), build the
    partial-RoPE model and calibrate the joint K/V PCA on it (the paper's order; computing the
    PCA from the original model's activations instead measured worse on SmolLM2), convert in
    place. Returns (model, info)."""
    t0 = time.time()
    h, g, d = head_dims(model.config)
    rope_dim = rope_dim or d // 2
    if stats is None:
        from .calibrate import calibrate

        stats = calibrate(model, calib)
    curve = None
    if freqfold == 'auto':
        freqfold, curve = freqfold_search(
            model, stats, calib[:search_windows], rope_dim, rotation, log
        )
    rotations = latent_covs = None
    if kv_rank is not None:
        rotations, latent_covs = partial_rope_calibration(
            model, stats, calib, rope_dim, int(freqfold), rotation
        )
    model = convert_mla(
        model,
        stats,
        kv_rank=kv_rank,
        rope_dim=rope_dim,
        freqfold=int(freqfold),
        rotation=rotation,
        balance_kv=balance_kv,
        balance_kv_ratio=balance_kv_ratio,
        rotations=rotations,
        latent_covs=latent_covs,
    )
    info = dict(
        stage='mla',
        kv_rank=kv_rank,
        rope_dim=rope_dim,
        freqfold=int(freqfold),
        rotation=rotation,
        balance_kv=balance_kv,
        balance_kv_ratio=balance_kv_ratio,
        pca_calibration='partial_rope',
        calib_windows=int(calib.shape[0]),
        calib_len=int(calib.shape[1]),
        freqfold_curve=curve,
        convert_seconds=round(time.time() - t0, 1),
    )
    model.config.transmla['freqfold_curve'] = curve
    return model, info


def converted_copy(model, **kw):
    """Deep copy of an unconverted model, then ``convert_mla`` (or ``convert_exact`` with
    exact=True)."""
    m = copy.deepcopy(model)
    if kw.pop('exact', False):
        return convert_exact(m)
    return convert_mla(m, **kw)


# ---- save / load -------------------------------------------------------------------------------


def is_converted(path) -> bool:
    return (Path(path) / METHOD_FILE).is_file()


def save_converted(model, out, tokenizer=None, extra: dict | None = None) -> Path:
    """config.json (original architecture) + transmla.json (method) + transmla.safetensors."""
    from safetensors.torch import save_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    method = dict(model.config.transmla)
    cfg = copy.deepcopy(model.config)
    del cfg.transmla
    cfg.save_pretrained(str(out))
    (out / METHOD_FILE).write_text(json.dumps({**method, **(extra or {})}, indent=1))
    save_model(model, str(out / WEIGHTS_FILE))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))
    return out


def apply_structure(model, method: dict):
    """Replace attention with empty modules of the saved shapes (weights loaded afterwards)."""
    if method['stage'] == 'a':
        return convert_exact(model)

    def factory(old, i):
        bias = any(p.bias is not None for p in (old.q_proj, old.k_proj, old.v_proj))
        return MLAAttention(
            old.config,
            old.layer_idx,
            method['kv_rank'],
            method['rope_dim'],
            method['freqs'][i],
            bias,
            old.o_proj,
            dtype=old.q_proj.weight.dtype,
        )

    replace_attention(model, factory)
    model.config.transmla = {
        k: method[k]
        for k in (
            'stage',
            'kv_rank',
            'rope_dim',
            'freqfold',
            'rotation',
            'balance_kv',
            'balance_kv_ratio',
            'pca_calibration',
            'freqs',
            'alphas',
        )
        if k in method
    }
    return model


def load_converted(path, dtype=torch.float32, attn_implementation: str = 'sdpa'):
    from safetensors.torch import load_model
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    if not is_converted(path):
        raise FwError(
            f'{path} is not a converted model directory (no {METHOD_FILE}); '
            f'make one with `fw transmla convert MODEL {path} --kv-rank R`'
        )
    cfg = AutoConfig.from_pretrained(str(path), local_files_only=True)
    model = AutoModelForCausalLM.from_config(
        cfg, dtype=dtype, attn_implementation=attn_implementation
    )
    apply_structure(model, json.loads((path / METHOD_FILE).read_text()))
    load_model(model, str(path / WEIGHTS_FILE), strict=True)
    return model.eval()


def load_any(path, dtype=torch.float32, attn_implementation: str = 'sdpa'):
    """(model, tokenizer) for a converted directory, an HF directory, a GGUF file or ``smollm2``."""
    from framework.llm.models import load_causal_lm, load_tokenizer

    def tokenizer():
        try:
            return load_tokenizer(path)
        except (OSError, ValueError, TypeError):  # tiny test models have no tokenizer files
            return None

    if is_converted(path):
        return load_converted(path, dtype, attn_implementation), tokenizer()
    return load_causal_lm(path, dtype, attn_implementation), tokenizer()
