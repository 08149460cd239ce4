"""``fw lmhead_decode bench``: batched decoding (chunks of rows, one matmul per chunk, one
logsumexp and top-k) against the direct per-neuron computation (one matrix-vector product and a
full softmax per neuron), measured side by side in one process on the same weights."""

from __future__ import annotations

import time

import torch

from .decode import decode_rows, lm_head_weight, neuron_weights


def _weights(model: str):
    if model == 'random':  # SmolLM2-135M shapes: vocab 49,152, hidden 576, 1,536 neurons/layer
        g = torch.Generator().manual_seed(0)
        return torch.randn(49152, 576, generator=g), torch.randn(1536, 576, generator=g), 30
    from framework.llm.models import load_causal_lm

    lm = load_causal_lm(model)
    return (
        lm_head_weight(lm).detach().float(),
        neuron_weights(lm, 0, 'up').detach().float(),
        len(lm.model.layers),
    )


def per_neuron(rows: torch.Tensor, head: torch.Tensor, k: int = 10):
    """The direct computation, one neuron at a time."""
    out = []
    for w in rows:
        z = head @ w
        p = torch.softmax(z, -1)
        vals, ids = torch.topk(z, k)
        out.append((ids, p[ids]))
    return out


@torch.no_grad()
def run_bench(model: str = 'smollm2', neurons: int = 128, k: int = 10) -> dict:
    head, layer_rows, n_layers = _weights(model)
    n = min(neurons, layer_rows.shape[0])
    t0 = time.perf_counter()
    slow = per_neuron(layer_rows[:n], head, k)
    t_slow = time.perf_counter() - t0
    res = {}
    for chunk in (64, 256, 1024):
        t0 = time.perf_counter()
        fast = decode_rows(layer_rows, head, k, 1.0, chunk)
        res[f'batched_chunk{chunk}_neurons_per_s'] = round(
            layer_rows.shape[0] / (time.perf_counter() - t0), 1
        )
    same = all(torch.equal(fast['ids'][i].long(), slow[i][0]) for i in range(n))
    best = max(v for key, v in res.items() if key.startswith('batched'))
    per_s = n / t_slow
    total = n_layers * layer_rows.shape[0]
    return dict(
        model=model,
        threads=torch.get_num_threads(),
        vocab=int(head.shape[0]),
        hidden=int(head.shape[1]),
        per_neuron_neurons_per_s=round(per_s, 1),
        **res,
        speedup_best_batched_vs_per_neuron=round(best / per_s, 2),
        same_top_ids_on_compared=bool(same),
        compared_neurons=n,
        projected_all_up_neurons_s_batched=round(total / best, 1),
        projected_all_up_neurons_s_per_neuron=round(total / per_s, 1),
    )
