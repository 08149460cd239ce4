"""Linear-network theory (paper Sec. 3): the learned weights must match the closed form.

Every assertion here fails if the training (loss, gradient, GD) or the measurement
(w_i = ||R e_i|| sigma_i) is wrong. Runtime: about 1 minute on one core.
"""

import functools

import numpy as np
import pytest
import torch

from fw_projhead.backbone import LinearNet
from fw_projhead.loss import SpectralContrastiveLoss
from fw_projhead.metric import LayerFeatureWeights
from fw_projhead.theory import (
    LinearSetting,
    learning_order,
    optimal_loss,
    population_grad,
    population_loss,
    predicted_order,
    predicted_weights,
    probe_pre_post,
    settling_order,
    train_linear,
)

S = LinearSetting()
LEARNED = np.arange(9)


@functools.lru_cache(maxsize=None)
def run2(seed=0):
    return train_linear(S, n_layers=2, seed=seed, snapshot_every=100 if seed == 0 else 0)


@functools.lru_cache(maxsize=None)
def fixed(kappa, seed=0):
    return train_linear(S, n_layers=1, kappa=kappa, seed=seed)


def torch_population_loss(W, s):
    Sig = torch.diag(torch.tensor(s.sigma**2))
    M = torch.diag(torch.tensor(s.t * s.sigma**2))
    A = W @ Sig @ W.T
    return -2 * torch.trace(W @ M @ W.T) + torch.trace(A @ A)


def test_p1_gradient_matches_autograd():
    rng = np.random.default_rng(0)
    for shape in [(10, 10), (4, 10)]:
        W = rng.standard_normal(shape) * 0.5
        Wt = torch.tensor(W, requires_grad=True)
        loss = torch_population_loss(Wt, S)
        loss.backward()
        loss = loss.detach()
        assert abs(float(loss) - population_loss(W, S)) < 1e-10 * max(1, abs(float(loss)))
        g = population_grad(W, S)
        assert np.linalg.norm(g - Wt.grad.numpy()) / np.linalg.norm(g) < 1e-10


def test_p1_minibatch_loss_is_unbiased():
    """SpectralContrastiveLoss on LinearNet outputs (torch path) vs the population loss."""
    rng = np.random.default_rng(1)
    net = LinearNet([10, 10, 10], init_std=0.3).double()
    W = (net.layers[1].weight @ net.layers[0].weight).detach().numpy()
    L_pop = population_loss(W, S)
    fn = SpectralContrastiveLoss()
    draws = []
    with torch.no_grad():
        for _ in range(20):
            _, a, b = S.sample_views(20000, rng)
            za = net(torch.from_numpy(a))[-1]
            zb = net(torch.from_numpy(b))[-1]
            draws.append(float(fn(za, zb)))
    se = np.std(draws, ddof=1) / np.sqrt(len(draws))
    assert abs(np.mean(draws) - L_pop) < 3 * se + 1e-12, (np.mean(draws), L_pop, se)


def test_torch_autograd_path_matches_numpy_gd():
    """GD with torch autograd on LinearNet's weights follows the closed-form NumPy trajectory."""
    ref = train_linear(S, n_layers=2, steps=300, seed=3)
    rng = np.random.default_rng(3)
    W1 = torch.tensor(rng.standard_normal((10, 10)) * 0.05, requires_grad=True)
    W2 = torch.tensor(rng.standard_normal((10, 10)) * 0.05, requires_grad=True)
    for _ in range(300):
        loss = torch_population_loss(W2 @ W1, S)
        g1, g2 = torch.autograd.grad(loss, (W1, W2))
        with torch.no_grad():
            W1 -= 0.03 * g1
            W2 -= 0.03 * g2
    assert np.allclose(W1.detach().numpy(), ref.Ws[0], atol=1e-12)
    assert np.allclose(W2.detach().numpy(), ref.Ws[1], atol=1e-12)


def test_p2_optimum_and_unlearned_feature():
    r = run2()
    assert abs(r.losses[-1] - optimal_loss(S, LEARNED)) < 1e-3
    assert abs(optimal_loss(S, LEARNED) - (-2.4086)) < 1e-4
    assert r.post[9] < 0.01  # t = 0.04: still at its saddle
    assert list(r.learned()) == list(LEARNED)


def test_p3_post_weights_are_sqrt_t():
    r = run2()
    assert np.max(np.abs(r.post[LEARNED] - np.sqrt(S.t[LEARNED]))) < 1e-3


def test_p4_pre_weights_closed_form():
    r = run2()
    ratio = r.pre[LEARNED] / (S.t[LEARNED] ** 0.25 * S.sigma[LEARNED] ** 0.5)
    assert ratio.min() >= 0.95 and ratio.max() <= 1.05, ratio
    balanced = r.pre[LEARNED] ** 2 / (r.post[LEARNED] * S.sigma[LEARNED])
    assert balanced.min() >= 0.95 and balanced.max() <= 1.07, balanced
    # the measurement reports the same numbers with the closed form beside them
    rows = LayerFeatureWeights()(r)['rows']
    pre_rows = [row for row in rows if row['layer'] == 'layer1' and row['learned']]
    assert all(0.95 <= row['ratio'] <= 1.05 for row in pre_rows)


def test_p4_pre_differs_from_post_where_sigma_differs():
    """Guards against a measurement that drops sigma: pre must track t^(1/4) sigma^(1/2)."""
    r = run2()
    assert r.pre[5] / r.pre[6] > 1.8  # sigma 2 vs 0.5 at equal t = 0.25: predicted 2
    assert abs(r.post[5] / r.post[6] - 1) < 1e-3


def test_p5_balancedness_conserved():
    r = run2()
    b0, b1 = r.balancedness
    assert abs(b1 - b0) <= 0.1 * b0


def test_p6_ranking_flip():
    r = run2()
    assert abs((r.post[2] - r.post[5]) - 0.30) < 1e-3
    assert r.pre[5] - r.pre[2] >= 0.05


def test_features_learned_in_predicted_order():
    """Incremental learning: the slow features settle in decreasing t, each waiting long at its
    saddle. Transiently the slow group rises in decreasing t*sigma^2 (8, 7, 6: the reverse of
    its t order): a measurement that ignored sigma or the dynamics would get one order wrong."""
    r = run2()
    order, settle = settling_order(r)
    assert sorted(order) == list(LEARNED)
    # fast group (t >= 0.25 with sigma >= 1) settles within ~1000 steps, in an init-dependent order;
    # the slow group settles in decreasing t, thousands of steps apart
    assert set(order[:6]) == {0, 1, 2, 3, 4, 5} and max(settle[i] for i in order[:6]) <= 1500
    assert order[-3:] == [6, 7, 8]
    assert settle[8] > 2 * settle[6] and settle[6] > 3 * settle[0]
    t_order, first = learning_order(r)
    assert t_order[6:] == [i for i in predicted_order(S, transient=True) if i in (6, 7, 8)]
    assert t_order[6:] == [8, 7, 6]


def test_p7_depth_three_layers():
    r = train_linear(S, n_layers=3, init_std=0.1, lr=0.06, steps=100_000, seed=0)
    ws = r.layer_weights()
    for l, w in enumerate(ws, start=1):
        pred = predicted_weights(S, l, 3)[LEARNED]
        if l == 3:
            assert np.max(np.abs(w[LEARNED] - pred)) < 1e-3
        else:
            assert np.max(np.abs(w[LEARNED] / pred - 1)) < 0.10


def test_p7_spread_grows_with_depth():
    s1 = LinearSetting(sigma=(1.0,) * 10)
    r = train_linear(s1, n_layers=3, init_std=0.1, lr=0.06, steps=100_000, seed=0)
    spread = [w[LEARNED].max() / w[LEARNED].min() for w in r.layer_weights()]
    assert spread[0] < spread[1] < spread[2]
    assert np.allclose(spread, [1.47, 2.15, 3.17], rtol=0.05)


@pytest.mark.parametrize('kappa', [1.0, 1.05, 1.1])
def test_p8_fixed_head_post_is_sqrt_t(kappa):
    r = fixed(kappa)
    assert np.max(np.abs(r.post[LEARNED] - np.sqrt(S.t[LEARNED]))) < 1e-3


def test_p8_kappa_one_is_no_head_and_kappa_narrows_spread():
    r1 = fixed(1.0)
    assert np.array_equal(r1.pre, r1.post)  # kappa = 1: pre = post exactly
    spread = {
        k: fixed(k).pre[LEARNED].max() / fixed(k).pre[LEARNED].min() for k in (1.0, 1.05, 1.1, 1.3)
    }
    ratio = {k: fixed(k).pre[8] / fixed(k).pre[0] for k in (1.0, 1.05, 1.1, 1.3)}
    assert abs(spread[1.0] - 3.17) < 0.02
    assert spread[1.05] < 2.8 and spread[1.1] < 2.2 and spread[1.1] < spread[1.05] < spread[1.0]
    assert ratio[1.0] < ratio[1.05] < ratio[1.1] < ratio[1.3]  # weak feature lifted in h


def test_p9_probe_without_shift():
    r = run2()
    j8 = probe_pre_post(r, j=8, n_train=20, lam=1.0, repeats=30, seed=0)
    j6 = probe_pre_post(r, j=6, n_train=20, lam=1.0, repeats=30, seed=0)
    assert j8['pre'] > j8['post'] + 0.03  # small t, large sigma: pre wins
    assert j6['post'] > j6['pre'] + 0.01  # small sigma: post wins


def test_p10_probe_under_shift_and_control():
    gaps = []
    for seed in (0, 1):
        r = run2(seed)
        acc = probe_pre_post(
            r,
            j=8,
            n_train=200,
            lam=1.0,
            repeats=20,
            seed=seed,
            spurious=0,
            rho_train=0.95,
            rho_test=0.5,
            normalise=True,
        )
        gaps.append(acc['pre'] - acc['post'])
    assert min(gaps) > 0 and np.mean(gaps) >= 0.03, gaps
    ctrl = probe_pre_post(
        run2(),
        j=8,
        n_train=2000,
        lam=1e-6,
        repeats=5,
        seed=0,
        spurious=0,
        rho_train=0.95,
        rho_test=0.5,
        normalise=True,
    )
    assert abs(ctrl['pre'] - ctrl['post']) <= 0.01  # same span: equal with ample labels
    # fixed head, pre features: larger kappa probes better under the shift
    acc = {
        k: probe_pre_post(
            fixed(k),
            j=8,
            n_train=200,
            lam=1.0,
            repeats=20,
            seed=0,
            spurious=0,
            rho_train=0.95,
            rho_test=0.5,
            normalise=True,
        )['pre']
        for k in (1.05, 1.1, 1.3)
    }
    post = probe_pre_post(
        run2(),
        j=8,
        n_train=200,
        lam=1.0,
        repeats=20,
        seed=0,
        spurious=0,
        rho_train=0.95,
        rho_test=0.5,
        normalise=True,
    )['post']
    assert acc[1.3] > acc[1.1] > acc[1.05] > post, (acc, post)
