"""Metrics: agreement of decoded labels between two checkpoints (Davies 2025, Sec. 4: over 75% of
Llama 3.1 8B's up-projection neurons keep their top token in the Instruct model) and the effect of
a clamp on the probability of a neuron's concept (Sec. 3)."""

from __future__ import annotations

import math
from collections import defaultdict

import torch
from mmengine.evaluator import BaseMetric

from framework import FwError


def agree_at_1(top1_a: torch.Tensor, top1_b: torch.Tensor) -> float:
    return float((top1_a == top1_b).double().mean())


def jaccard_topk(ids_a: torch.Tensor, ids_b: torch.Tensor) -> float:
    """Mean over neurons of |A_k & B_k| / |A_k | B_k| for the top-k id sets (rows)."""
    inter = (ids_a[..., :, None] == ids_b[..., None, :]).any(-1).sum(-1).double()
    k = ids_a.shape[-1]
    return float((inter / (2 * k - inter)).mean())


class TopTokenAgreement(BaseMetric):
    """``lmhead_decode.TopTokenAgreement``: agree@1 between checkpoints A and B.

    agree@1 = mean over all (layer, neuron) of [top1_A == top1_B], each checkpoint decoded with its
    own LM head; also agree@1 per layer, the Jaccard index of the top-k sets, and the chance level:
    the same statistic with B's neurons permuted within each layer (mean over ``permutations``).
    Top-1 tokens concentrate on a few tokens, so chance is well above 1/V.

    Args:
        permutations: random permutations for the chance level.
        seed: seed of the permutations.
        collect_device: mmengine's device for gathering results.
        prefix: metric name prefix (default ``lmhead_decode``).

    ``process`` takes samples ``dict(layer=l, ids_a=(I, k), ids_b=(I, k))``, one per layer.
    """

    default_prefix = 'lmhead_decode'

    def __init__(
        self,
        permutations: int = 5,
        seed: int = 0,
        collect_device: str = 'cpu',
        prefix: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.permutations = permutations
        self.seed = seed

    def process(self, data_batch, data_samples):
        for s in data_samples:
            a, b = torch.as_tensor(s['ids_a']).long(), torch.as_tensor(s['ids_b']).long()
            if a.shape[0] != b.shape[0]:
                raise FwError(
                    f'layer {s["layer"]}: A has {a.shape[0]} neurons, B has '
                    f'{b.shape[0]}: compare decodes of the same architecture and matrix'
                )
            k = min(a.shape[-1], b.shape[-1])
            self.results.append(dict(layer=int(s['layer']), a=a[:, :k], b=b[:, :k]))

    def compute_metrics(self, results):
        if not results:
            raise FwError('TopTokenAgreement: no layers to compare')
        results = sorted(results, key=lambda r: r['layer'])
        a1 = torch.cat([r['a'][:, 0] for r in results])
        b1 = torch.cat([r['b'][:, 0] for r in results])
        agree = agree_at_1(a1, b1)
        g = torch.Generator().manual_seed(self.seed)
        chance = []
        for _ in range(self.permutations):
            same = sum(
                int((r['a'][:, 0] == r['b'][torch.randperm(r['b'].shape[0], generator=g), 0]).sum())
                for r in results
            )
            chance.append(same / a1.numel())
        n = a1.numel()
        mean_chance = sum(chance) / max(len(chance), 1)
        return dict(
            agree1=agree,
            agree1_se=math.sqrt(agree * (1 - agree) / n),
            chance=mean_chance,
            chance_se=math.sqrt(max(mean_chance * (1 - mean_chance), 1e-30) / n),
            jaccard=sum(jaccard_topk(r['a'], r['b']) * r['a'].shape[0] for r in results) / n,
            k=int(results[0]['a'].shape[-1]),
            neurons=n,
            distinct_top1_a=int(a1.unique().numel()),
            distinct_top1_b=int(b1.unique().numel()),
            per_layer={r['layer']: agree_at_1(r['a'][:, 0], r['b'][:, 0]) for r in results},
        )


class ClampEffect(BaseMetric):
    """``lmhead_decode.ClampEffect``: does clamping a neuron raise p(concept) in generation?

    Groups the measured rows by (neuron, kappa) and reports, per neuron, mean p(t) over the
    generated positions (teacher-forced on the clamped generation) at each kappa, the ratio of the
    best kappa to the unclamped run (kappa 0), the count of t in the generations, and whether the
    ratio reaches ``threshold``.

    Args:
        threshold: ratio best / unclamped that counts as "raised" (2.0: at least doubled).
        collect_device: mmengine's device for gathering results.
        prefix: metric name prefix (default ``lmhead_decode``).

    ``process`` takes samples ``dict(neuron='l:i', role, token, kappa, p_mean, p_first, count)``,
    one per (neuron, kappa, prompt); role is ``target`` or ``control``.
    """

    default_prefix = 'lmhead_decode'

    def __init__(
        self, threshold: float = 2.0, collect_device: str = 'cpu', prefix: str | None = None
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.threshold = threshold

    def process(self, data_batch, data_samples):
        self.results.extend(dict(s) for s in data_samples)

    def compute_metrics(self, results):
        groups = defaultdict(list)
        for r in results:
            groups[(r['neuron'], r.get('role', 'target'), r['token'], float(r['kappa']))].append(r)
        per = defaultdict(dict)
        for (neuron, role, token, kappa), rows in groups.items():
            per[(neuron, role, token)][kappa] = dict(
                p_mean=sum(x['p_mean'] for x in rows) / len(rows),
                p_first=sum(x['p_first'] for x in rows) / len(rows),
                count=sum(int(x['count']) for x in rows),
            )
        neurons = []
        for (neuron, role, token), by_kappa in per.items():
            if 0.0 not in by_kappa:
                raise FwError(f'ClampEffect: neuron {neuron} has no unclamped (kappa 0) rows')
            base = by_kappa[0.0]['p_mean']
            best = max(
                (k for k in by_kappa if k != 0.0), key=lambda k: by_kappa[k]['p_mean'], default=0.0
            )
            ratio = by_kappa[best]['p_mean'] / max(base, 1e-30)
            neurons.append(
                dict(
                    neuron=neuron,
                    role=role,
                    token=token,
                    p_off=base,
                    best_kappa=best,
                    p_best=by_kappa[best]['p_mean'],
                    ratio=ratio,
                    raised=ratio >= self.threshold,
                    count_off=by_kappa[0.0]['count'],
                    count_best=by_kappa[best]['count'],
                    by_kappa={k: v['p_mean'] for k, v in sorted(by_kappa.items())},
                )
            )
        targets = [n for n in neurons if n['role'] == 'target']
        controls = [n for n in neurons if n['role'] == 'control']
        frac = lambda xs: sum(n['raised'] for n in xs) / len(xs) if xs else float('nan')
        return dict(
            raised_fraction=frac(targets), control_raised_fraction=frac(controls), neurons=neurons
        )


def agreement(
    a,
    b,
    matrix: str = 'up',
    variant: str = 'A',
    permutations: int = 5,
    seed: int = 0,
    save=None,
    log=print,
) -> dict:
    """``TopTokenAgreement`` (built through the registry) between A and B: atlas directories, or
    models decoded here (kept under ``save/A`` and ``save/B`` when ``save`` is given)."""
    import tempfile
    from pathlib import Path

    from framework import METRICS

    from .atlas import available, build_atlas, load_atlas

    tmp = None
    atlases = []
    for tag, src in (('A', a), ('B', b)):
        if Path(src).is_dir() and available(src):
            atlases.append(load_atlas(src, matrix, variant))
            continue
        if save is None and tmp is None:
            tmp = tempfile.TemporaryDirectory()
        out = Path(save or tmp.name) / tag
        log(f'decoding {src} ({matrix}, variant {variant}) into {out} ...')
        build_atlas(dict(model=src, matrix=matrix, variant=variant), out)
        atlases.append(load_atlas(out, matrix, variant))
    at_a, at_b = atlases
    if at_a.layers != at_b.layers or at_a.meta['vocab'] != at_b.meta['vocab']:
        raise FwError(
            f'A and B differ in layers ({len(at_a.layers)} vs {len(at_b.layers)}) or '
            f'vocabulary ({at_a.meta["vocab"]} vs {at_b.meta["vocab"]}): agree@1 needs '
            f'the same architecture and tokenizer'
        )
    if at_a.meta['variant'] != at_b.meta['variant']:
        raise FwError(
            f'A is variant {at_a.meta["variant"]}, B is {at_b.meta["variant"]}: never '
            f'compare across variants'
        )
    metric = METRICS.build(
        dict(type='lmhead_decode.TopTokenAgreement', permutations=permutations, seed=seed)
    )
    metric.process(
        None,
        [
            dict(layer=layer, ids_a=at_a.tensors['ids'][li], ids_b=at_b.tensors['ids'][li])
            for li, layer in enumerate(at_a.layers)
        ],
    )
    res = metric.compute_metrics(metric.results)
    if tmp is not None:
        tmp.cleanup()
    return dict(
        a=str(a),
        b=str(b),
        matrix=matrix,
        variant=at_a.meta['variant'],
        scale=at_a.meta['scale'],
        **res,
    )
