"""Full-ranking metrics (pessimistic ties, exclude_seen) and the non-learned baselines."""

from __future__ import annotations

import math

import pytest
import torch

from framework import METRICS, MODELS, FwError, activate
from fw_lite_llm4rec.metric import MISSING, ranking_metrics


@pytest.fixture(scope='module', autouse=True)
def registered():
    torch.set_num_threads(1)
    activate('lite_llm4rec')


def run_metric(outputs, targets, seen=None, **kw):
    metric = METRICS.build(dict(type='lite_llm4rec.RankingMetric', **kw))
    seen = seen if seen is not None else torch.zeros(len(targets), 1, dtype=torch.long)
    metric.process(dict(target=torch.as_tensor(targets), seen=seen), outputs)
    return metric.compute_metrics(metric.results), metric.results


def scores_with_rank(rank, n=30, target=7):
    """Distinct scores with exactly ``rank`` real items above ``target``; padding scores +inf."""
    others = [j for j in range(1, n + 1) if j != target]
    s = torch.zeros(n + 1)
    for pos, j in enumerate(others):
        s[j] = n - pos
    s[target] = n - rank + 0.5
    s[0] = float('inf')  # padding must never count, even with the highest score
    return s


def test_closed_forms():
    target = 7
    for rank, want in [(0, (1, 1)), (3, (1, 1 / math.log2(5))), (10, (0, 0))]:
        m, ranks = run_metric([dict(scores=scores_with_rank(rank, target=target))], [target])
        assert ranks == [rank]
        k = 5 if rank == 3 else 10
        assert m[f'Recall@{k}'] == want[0] and m[f'HR@{k}'] == want[0]
        assert m[f'NDCG@{k}'] == pytest.approx(want[1])
    m, ranks = run_metric([dict(scores=torch.zeros(31))], [target])  # constant scores: no credit
    assert ranks == [29] and m['Recall@20'] == 0 and m['NDCG@20'] == 0


def test_exclude_seen_masks_exactly_the_history():
    s = torch.arange(31, 0, -1).float()  # item 1 best ... item 30 worst
    seen = torch.tensor([[1, 2, 3, 7, 0, 0]])
    _, plain = run_metric([dict(scores=s)], [5], seen)
    _, masked = run_metric([dict(scores=s)], [5], seen, exclude_seen=True)
    assert plain == [4] and masked == [1]  # items 1, 2, 3 removed; 4 still ahead; 7 was behind
    _, beams = run_metric([dict(ranked=[1, 2, 9, 5])], [5], seen, exclude_seen=True)
    assert beams == [1]
    _, missing = run_metric([dict(ranked=[1, 2])], [5], seen)
    assert missing == [MISSING]
    with pytest.raises(FwError, match='pessimistic'):
        METRICS.build(dict(type='lite_llm4rec.RankingMetric', tie_policy='optimistic'))


def test_ranking_metrics_mean_over_users():
    m = ranking_metrics([0, 1, 4, 30], topk=(5,))
    assert m['Recall@5'] == 0.75
    assert m['NDCG@5'] == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(6)) / 4)


def test_poprec_and_randomrec_on_ml100k():
    """PopRec on the packaged ML-100K test split (full ranking, no masking): R@10 0.0498."""
    from fw_lite_llm4rec.sampling import SeqRecEvalData

    data = dict(max_len=50)
    test = SeqRecEvalData(data, split='test')
    results = {}
    for cfg in (dict(type='lite_llm4rec.PopRec'), dict(type='lite_llm4rec.RandomRec', seed=0)):
        model = MODELS.build(dict(cfg, data=data)).eval()
        outputs = model(test.inputs, mode='predict')
        results[cfg['type']], _ = run_metric(outputs, test.targets, test.seen)
    pop, rand = results['lite_llm4rec.PopRec'], results['lite_llm4rec.RandomRec']
    assert abs(pop['Recall@10'] - 0.0498) <= 0.002 and abs(pop['NDCG@10'] - 0.0220) <= 0.002
    assert rand['Recall@10'] <= 0.012  # chance: 10 / 1682 = 0.006
    counts = model.seqs.train_counts()
    assert counts[0] == 0 and counts.sum() == 100000 - 2 * 943  # train split only
