"""Decoding MLP neurons through the LM head (Davies 2025, arXiv 2501.02688, Sec. 2).

A SwiGLU MLP of layer l computes m(x) = W_down (act(W_gate xh) * (W_up xh)), xh = RMSNorm(x).
Neuron i is a row of W_up (the paper's object) or of W_gate, or a column of W_down. Its weight
vector w (D,) is read as if it were a residual-stream vector and projected by the LM head
W_U (V x D): z = W_U w', p = softmax(z / tau), labels = top-k of z, where w' is

- variant ``A`` (plain): w' = w;
- variant ``B`` (final norm): w' = gamma_f * w, as the final RMSNorm would weight the stream;
- variant ``C`` (read direction): w' = gamma_f * gamma_post[l] * w, the residual direction the
  neuron reads (w . (gamma_post * x) = (gamma_post * w) . x), then the head. Rows only.

Top-k is invariant to positive scaling of w, probabilities are not: ``scale`` is ``raw``,
``unit`` (w / ||w||) or ``rms:<s>`` (w scaled to root-mean-square s).

Batched: per layer, chunks of C rows, Z = W'_chunk W_U^T (C x V, float32), one logsumexp, one
top-k; the (neurons x V) matrix is never materialised (SmolLM2: 302 MB per layer; Llama 3.1 8B:
14,336 x 128,256 per layer). Cost 2 L I D V FLOPs.
"""

from __future__ import annotations

import hashlib
import os
import time

import torch

from framework import FwError

MATRICES = ('up', 'gate', 'down')
VARIANTS = ('A', 'B', 'C')
DTYPES = {
    'float32': torch.float32,
    'float64': torch.float64,
    'bfloat16': torch.bfloat16,
    'float16': torch.float16,
}
LAYOUT = (
    'model.model.layers[l].mlp.{up,gate,down}_proj, model.model.layers[l].'
    'post_attention_layernorm, model.model.norm and model.lm_head (Llama, Qwen2, Mistral)'
)


def check_layout(model) -> None:
    """Raise one clear error when ``model`` is not a Llama-style causal LM."""
    try:
        layers = model.model.layers
        mlp = layers[0].mlp
        for part in (
            mlp.up_proj,
            mlp.gate_proj,
            mlp.down_proj,
            layers[0].post_attention_layernorm,
            model.model.norm,
        ):
            part.weight
        head = model.get_output_embeddings()
        head.weight
    except (AttributeError, IndexError, TypeError) as e:
        raise FwError(
            f'{type(model).__name__} does not have the layout this decoder reads ({e}); '
            f'expected {LAYOUT}'
        ) from None


def lm_head_weight(model) -> torch.Tensor:
    """W_U (V x D): the output embedding, which follows a tie to the input embedding."""
    return model.get_output_embeddings().weight


def neuron_weights(model, layer: int, matrix: str = 'up') -> torch.Tensor:
    """(I, D) weight vectors of the neurons of ``layer``: rows of W_up / W_gate, columns of W_down."""
    if matrix not in MATRICES:
        raise FwError(f"matrix '{matrix}': choose one of {', '.join(MATRICES)}")
    mlp = model.model.layers[layer].mlp
    if matrix == 'down':
        return mlp.down_proj.weight.t()
    return (mlp.up_proj if matrix == 'up' else mlp.gate_proj).weight


def variant_gain(model, layer: int, matrix: str, variant: str) -> torch.Tensor | None:
    """Elementwise gain (D,) that the variant applies to every neuron vector (None for ``A``)."""
    if variant not in VARIANTS:
        raise FwError(
            f"variant '{variant}': choose A (plain), B (final norm) or C (read direction)"
        )
    if variant == 'A':
        return None
    gain = model.model.norm.weight.detach()
    if variant == 'C':
        if matrix == 'down':
            raise FwError('variant C applies to --matrix up or gate (the direction a neuron reads)')
        gain = gain * model.model.layers[layer].post_attention_layernorm.weight.detach()
    return gain


def apply_scale(rows: torch.Tensor, scale: str) -> torch.Tensor:
    """``raw`` | ``unit`` (rows / ||row||) | ``rms:<s>`` (rows scaled to root-mean-square s)."""
    if scale == 'raw':
        return rows
    norm = rows.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(rows.dtype).tiny)
    if scale == 'unit':
        return rows / norm
    if scale.startswith('rms:'):
        try:
            target = float(scale[4:])
        except ValueError:
            target = -1.0
        if target > 0:
            return rows * (target * rows.shape[-1] ** 0.5) / norm
    raise FwError(f"scale '{scale}': choose raw, unit or rms:<s> with s > 0 (e.g. rms:1)")


@torch.no_grad()
def decode_rows(
    rows: torch.Tensor, head: torch.Tensor, k: int = 10, tau: float = 1.0, chunk: int = 256
) -> dict[str, torch.Tensor]:
    """Top-k tokens of softmax(rows @ head^T / tau), chunk by chunk.

    ``rows`` (N, D) and ``head`` (V, D) in the compute dtype. Returns ``ids`` (N, k) int32, ``logits``
    (N, k) (z, before the temperature), ``probs`` (N, k) and ``entropy`` (N,) in nats."""
    n = rows.shape[0]
    k = min(k, head.shape[0])
    out = dict(
        ids=torch.empty(n, k, dtype=torch.int32),
        logits=torch.empty(n, k, dtype=rows.dtype),
        probs=torch.empty(n, k, dtype=rows.dtype),
        entropy=torch.empty(n, dtype=rows.dtype),
    )
    for s in range(0, n, chunk):
        z = rows[s : s + chunk] @ head.t()  # (C, V): the only C x V buffer
        vals, ids = torch.topk(z, k, dim=-1)
        if tau != 1.0:
            z.div_(tau)
        lse = torch.logsumexp(z, dim=-1)
        mean_z = torch.exp(z.sub_(lse[:, None])).mul_(z).sum(-1)  # sum_j p_j log p_j
        out['ids'][s : s + chunk] = ids.to(torch.int32).cpu()
        out['logits'][s : s + chunk] = vals.cpu()
        out['probs'][s : s + chunk] = torch.exp(vals / tau - lse[:, None]).cpu()
        out['entropy'][s : s + chunk] = (-mean_z).cpu()
    return out


def sha256_tensor(t: torch.Tensor) -> str:
    """sha256 of a tensor's float32 bytes (identity of W_U / the decoded matrix in the atlas meta)."""
    return hashlib.sha256(t.detach().float().contiguous().cpu().numpy().tobytes()).hexdigest()


class NeuronDecoder:
    """``lmhead_decode.NeuronDecoder``: decode every neuron of one MLP matrix of every layer.

    Args:
        model: an HF directory, a ``.gguf`` file, ``smollm2``, or a loaded causal LM (nn.Module).
        matrix: ``up`` (rows of W_up, the paper's choice), ``gate`` (rows) or ``down`` (columns).
        variant: ``A`` plain, ``B`` final-norm, ``C`` read-direction (module docstring).
        scale: ``raw``, ``unit`` or ``rms:<s>``.
        k: labels kept per neuron (top-k of z).
        chunk: rows per matmul; bounds memory at chunk x V floats.
        tau: softmax temperature.
        layers: layer indices to decode (None = all).
        dtype: compute dtype, ``float32`` (default: bf16 flips near-ties) or ``float64``.
        device: ``cpu`` or ``cuda``; weights stay where they are and chunks move.
        load_dtype: dtype the model is loaded in when ``model`` is a path (e.g. ``bfloat16``).
    """

    def __init__(
        self,
        model='smollm2',
        matrix: str = 'up',
        variant: str = 'A',
        scale: str = 'raw',
        k: int = 10,
        chunk: int = 256,
        tau: float = 1.0,
        layers=None,
        dtype: str = 'float32',
        device: str = 'cpu',
        load_dtype: str = 'float32',
    ):
        if matrix not in MATRICES:
            raise FwError(f"matrix '{matrix}': choose one of {', '.join(MATRICES)}")
        if variant not in VARIANTS:
            raise FwError(f"variant '{variant}': choose A, B or C")
        if variant == 'C' and matrix == 'down':
            raise FwError(
                'variant C is the direction a neuron reads: it applies to --matrix up '
                'or gate; use A or B for down (the output direction)'
            )
        apply_scale(torch.ones(1, 4), scale)  # validate early
        if dtype not in ('float32', 'float64'):
            raise FwError(f"dtype '{dtype}': decode in float32 or float64 (bf16 flips near-ties)")
        if k < 1 or chunk < 1 or tau <= 0:
            raise FwError(f'k={k}, chunk={chunk}, tau={tau}: need k >= 1, chunk >= 1, tau > 0')
        self.source, self.matrix, self.variant, self.scale = model, matrix, variant, scale
        self.k, self.chunk, self.tau, self.layers = k, chunk, tau, layers
        self.dtype, self.device, self.load_dtype = DTYPES[dtype], torch.device(device), load_dtype
        self._model = None
        self.tokenizer = None

    @property
    def model(self):
        """The causal LM (loaded on first use when ``model`` was a path)."""
        if self._model is None:
            if isinstance(self.source, torch.nn.Module):
                self._model = self.source
            else:
                from framework.llm.models import load_causal_lm, load_tokenizer

                self._model = load_causal_lm(self.source, dtype=DTYPES[self.load_dtype])
                try:
                    self.tokenizer = load_tokenizer(self.source)
                except (OSError, ValueError):  # no tokenizer files: the atlas shows '<id>'
                    self.tokenizer = None
            check_layout(self._model)
        return self._model

    def head(self) -> torch.Tensor:
        """W_U in the compute dtype on the compute device."""
        return lm_head_weight(self.model).detach().to(self.device, self.dtype)

    def layer_rows(self, layer: int) -> torch.Tensor:
        """W' of ``layer``: the variant's gain and the scale applied, compute dtype (I, D)."""
        rows = neuron_weights(self.model, layer, self.matrix).detach().to(self.device, self.dtype)
        gain = variant_gain(self.model, layer, self.matrix, self.variant)
        if gain is not None:
            rows = rows * gain.to(self.device, self.dtype)
        return apply_scale(rows, self.scale)

    def layer_indices(self) -> list[int]:
        n = len(self.model.model.layers)
        layers = list(range(n)) if self.layers is None else [int(x) for x in self.layers]
        bad = [x for x in layers if not 0 <= x < n]
        if bad:
            raise FwError(f'layers {bad} out of range: the model has {n} layers (0..{n - 1})')
        return layers

    @torch.no_grad()
    def decode(self) -> dict:
        """Decode all requested layers: tensors ``ids``/``logits``/``probs`` (L, I, k), ``entropy``
        and ``norm`` (L, I) (norm of the raw weight vector), plus ``meta``. Deterministic."""
        import transformers

        layers = self.layer_indices()
        if self.device.type == 'cuda':  # deterministic cuBLAS needs a fixed workspace
            os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        was = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        t0 = time.perf_counter()
        try:
            head = self.head()
            parts = []
            for layer in layers:
                out = decode_rows(self.layer_rows(layer), head, self.k, self.tau, self.chunk)
                raw = neuron_weights(self.model, layer, self.matrix).detach()
                out['norm'] = raw.to(self.dtype).norm(dim=-1).cpu()
                parts.append(out)
        finally:
            torch.use_deterministic_algorithms(was)
        seconds = time.perf_counter() - t0
        tensors = {key: torch.stack([p[key] for p in parts]) for key in parts[0]}
        cfg = self.model.config
        name = self.source if isinstance(self.source, str) else getattr(cfg, '_name_or_path', '')
        meta = dict(
            model=str(name),
            model_type=getattr(cfg, 'model_type', ''),
            matrix=self.matrix,
            variant=self.variant,
            scale=self.scale,
            tau=self.tau,
            k=self.k,
            chunk=self.chunk,
            dtype=str(self.dtype).replace('torch.', ''),
            layers=layers,
            neurons_per_layer=int(tensors['ids'].shape[1]),
            vocab=int(head.shape[0]),
            hidden=int(head.shape[1]),
            tied=bool(getattr(cfg, 'tie_word_embeddings', False)),
            sha256_lm_head=sha256_tensor(lm_head_weight(self.model)),
            sha256_matrix=hashlib.sha256(
                ''.join(
                    sha256_tensor(neuron_weights(self.model, x, self.matrix)) for x in layers
                ).encode()
            ).hexdigest(),
            transformers=transformers.__version__,
            torch=torch.__version__,
            device=str(self.device),
            seconds=round(seconds, 2),
        )
        return dict(tensors=tensors, meta=meta)


def naive_decode(
    model,
    layer: int,
    index: int,
    matrix: str = 'up',
    variant: str = 'A',
    scale: str = 'raw',
    k: int = 10,
    tau: float = 1.0,
    dtype=torch.float32,
) -> dict:
    """Reference for one neuron: the full softmax over the vocabulary, no chunking, no shortcuts."""
    w = neuron_weights(model, layer, matrix)[index].detach().to(dtype)
    gain = variant_gain(model, layer, matrix, variant)
    if gain is not None:
        w = w * gain.to(dtype)
    w = apply_scale(w[None], scale)[0]
    z = lm_head_weight(model).detach().to(dtype) @ w
    p = torch.softmax(z / tau, dim=-1)
    order = torch.argsort(z, descending=True)[:k]
    return dict(
        ids=order,
        logits=z[order],
        probs=p[order],
        entropy=-(p * torch.log(p.clamp_min(1e-300))).sum(),
    )
