"""Greedy rank search under a budget (tiny random model)."""

import pytest
import torch

from framework.llm.models import tiny
from fw_matryoshka_kv.attention import install_projections
from fw_matryoshka_kv.pca import calibrate, init_from_pca
from fw_matryoshka_kv.search import GreedyRankSearch, target_units, uniform_ranks

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def engine():
    m = tiny('llama', num_hidden_layers=3)
    for p in install_projections(m):
        p.double()
    windows = torch.randint(0, 512, (4, 24), generator=torch.Generator().manual_seed(0))
    init_from_pca(m, calibrate(m, windows))
    return GreedyRankSearch(m, windows[:2], delta=2)


@pytest.mark.parametrize('budget', [0.5, 0.375])
@pytest.mark.parametrize('rounds', ['exact', 3])
def test_budget_is_met_exactly_on_the_grid(engine, budget, rounds):
    res = engine.run(budget, rounds=rounds)
    R = torch.tensor([res['R_K'], res['R_V']])
    assert int(R.sum()) == target_units(budget, 3, 2, 16, 2) == res['units']
    assert int(R.min()) >= 2 and bool((R % 2 == 0).all())
    assert res['kept_fraction'] == pytest.approx(budget)
    again = engine.run(budget, rounds=rounds)
    assert again['R_K'] == res['R_K'] and again['R_V'] == res['R_V']  # deterministic


def test_greedy_beats_uniform_on_its_objective(engine):
    res = engine.run(0.5, rounds='exact')
    assert res['J'] <= engine.kl(uniform_ranks(0.5, 3, 2, 16, 2))


def test_uniform_baseline_hits_target_with_two_adjacent_values():
    R = uniform_ranks(0.4, 30, 3, 64, 8)
    assert int(R.sum()) == target_units(0.4, 30, 3, 64, 8)
    assert set(R.unique().tolist()) <= {24, 32}


def test_continuing_search_nests_budgets(engine):
    first = engine.run(0.75, rounds='exact')
    R = torch.stack((torch.tensor(first['R_K']), torch.tensor(first['R_V'])), -1)
    second = engine.run(0.5, R, rounds='exact')
    R2 = torch.stack((torch.tensor(second['R_K']), torch.tensor(second['R_V'])), -1)
    assert bool((R2 <= R).all()) and int(R2.sum()) == target_units(0.5, 3, 2, 16, 2)


def test_bad_budget_is_one_clear_error():
    from framework import FwError

    with pytest.raises(FwError, match='kept fraction'):
        target_units(1.5, 2, 2, 16, 2)
