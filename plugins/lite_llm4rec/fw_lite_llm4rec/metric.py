"""Full-ranking evaluation: Recall / NDCG / HR @ K over all n items, one target per user.

0-based pessimistic rank r = #{j != y, j >= 1 : s_j >= s_y} (constant scores give no credit);
Recall@K = HR@K = 1[r < K], NDCG@K = 1[r < K] / log2(r + 2). Padding (id 0) is never ranked.
With ``exclude_seen`` the items of the history before the target are masked (the target itself is
never masked, so repeat consumption is not punished).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from framework import FwError

MISSING = 10**9  # the rank of an item a beam search did not return


def pessimistic_rank(scores: torch.Tensor, target: int) -> int:
    """r = #{j != y, j >= 1 : s_j >= s_y} for one score vector over ids 0..n."""
    s = scores.float()
    ge = s >= s[target]
    ge[0] = False
    ge[target] = False
    return int(ge.sum())


def mask_seen(scores: torch.Tensor, seen: torch.Tensor, target: int) -> torch.Tensor:
    ids = seen[(seen > 0) & (seen != target)]
    scores = scores.clone()
    scores[ids] = float('-inf')
    return scores


def ranked_rank(ranked, target: int, seen=None) -> int:
    """The position of ``target`` in a ranked id list (seen ids removed first), else MISSING."""
    if seen is not None:
        drop = set(seen.tolist()) - {0, target}
        ranked = [i for i in ranked if i not in drop]
    ranked = list(ranked)
    return ranked.index(target) if target in ranked else MISSING


def ranking_metrics(ranks, topk=(5, 10, 20)) -> dict:
    r = np.asarray(ranks, dtype=np.float64)
    out = {}
    for k in topk:
        hit = r < k
        out[f'Recall@{k}'] = float(hit.mean()) if len(r) else 0.0
        out[f'NDCG@{k}'] = float(
            np.where(hit, 1.0 / np.log2(np.minimum(r, k) + 2), 0).mean() if len(r) else 0.0
        )
        out[f'HR@{k}'] = out[f'Recall@{k}']
    return out


class RankingMetric(BaseMetric):
    """Recall@K, NDCG@K and HR@K with full ranking (mmengine ``BaseMetric``, prefix ``rec``).

    Args:
        topk (list[int]): cut-offs K (default 5, 10, 20).
        exclude_seen (bool): mask the history before the target (default False: RecBole's
            sequential full-sort evaluation and the generative LLM recommenders do not mask).
        tie_policy (str): only ``pessimistic`` (ties count against the target).
        collect_device (str), prefix (str | None): as in mmengine's BaseMetric.

    Each model output is a dict with ``scores`` [n+1] (score models) or ``ranked`` (an ordered
    list of item ids, GenRec's beams); the batch supplies ``target`` and ``seen``.
    """

    default_prefix = 'rec'

    def __init__(
        self,
        topk=(5, 10, 20),
        exclude_seen=False,
        tie_policy='pessimistic',
        collect_device='cpu',
        prefix=None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if tie_policy != 'pessimistic':
            raise FwError(
                f"eval tie_policy is '{tie_policy}'; only 'pessimistic' is offered "
                f'(optimistic ranking rewards constant scores)'
            )
        self.topk, self.exclude_seen = tuple(topk), exclude_seen

    def process(self, data_batch, data_samples):
        targets, seen = data_batch['target'], data_batch['seen']
        for out, target, history in zip(data_samples, targets.tolist(), seen):
            if 'scores' in out:
                scores = out['scores']
                if self.exclude_seen:
                    scores = mask_seen(scores, history, target)
                self.results.append(pessimistic_rank(scores, target))
            else:
                self.results.append(
                    ranked_rank(out['ranked'], target, history if self.exclude_seen else None)
                )

    def compute_metrics(self, results):
        metrics = ranking_metrics(results, self.topk)
        metrics['users'] = len(results)
        return metrics


def ndcg_single(rank: int, k: int) -> float:
    """NDCG@k of one target at 0-based rank ``rank``."""
    return 1.0 / math.log2(rank + 2) if rank < k else 0.0
