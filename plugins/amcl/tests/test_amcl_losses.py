"""Exact properties of the AMCL losses and the temperature network (closed forms, bounds, gradients, equivalences)."""

import math

import pytest
import torch
import torch.nn.functional as F

from fw_amcl.head import TemperatureHead, omega, omega_argmin, omega_min
from fw_amcl.loss import (
    AMCLBarlowTwinsLoss,
    AMCLMoCoLoss,
    AMCLNTXentLoss,
    BarlowTwinsLoss,
    MoCoLoss,
    NTXentLoss,
    amcl_contrastive_terms,
)

torch.set_num_threads(1)


def _pair(b=6, c=1, d=8, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(b, c, d, generator=g, dtype=dtype),
        torch.randn(b, c, d, generator=g, dtype=dtype),
    )


def _amcl(d=8, **kw):
    torch.manual_seed(1)
    return AMCLNTXentLoss(dim=d, hidden=16, **kw).double()


# ------------------------------------------------------------------------------------------- A1, A2
@pytest.mark.parametrize('d', [16, 32, 128, 2048])
def test_A1_regulariser_minimum_is_2_over_d(d):
    tau = torch.logspace(-4, 0, 100_000, dtype=torch.float64)
    best = tau[omega(tau, d).argmin()].item()
    assert abs(best - 2 / d) / (2 / d) < 1e-3
    assert omega_argmin(d) == 2 / d
    t = torch.tensor(2 / d, dtype=torch.float64, requires_grad=True)
    omega(t, d).backward()
    assert abs(t.grad.item()) < 1e-6 * d**2
    assert math.isclose(
        omega(torch.tensor(2 / d, dtype=torch.float64), d).item(), omega_min(d), rel_tol=1e-12
    )
    # second derivative d'^3/8 > 0: a minimum
    h = 1e-4 * 2 / d
    second = (omega(t.detach() + h, d) - 2 * omega(t.detach(), d) + omega(t.detach() - h, d)) / h**2
    assert math.isclose(second.item(), d**3 / 8, rel_tol=1e-3)


def test_A2_temperature_range_monotone_symmetric():
    torch.manual_seed(0)
    head = TemperatureHead(16, hidden=32, tau_min=1e-5, tau_max=2.0)
    for scale in (1.0, 1e2, 1e4):
        a, b = torch.randn(50, 16) * scale, torch.randn(40, 16) * scale
        tau = head.pairwise(a, b)
        assert tau.min() >= 1e-5 and tau.max() <= 2.0
        assert torch.allclose(tau, head.pairwise(b, a).t())
        assert torch.allclose(head(a[:40], b), head(b, a[:40]))
        assert torch.allclose(head(a[:40], b), tau[torch.arange(40), torch.arange(40)])
    head.phi[2].weight.data.mul_(1e3)
    tau = head.pairwise(torch.randn(30, 16) * 1e3)
    assert tau.min() >= 1e-5 and tau.max() <= 2.0 and torch.isfinite(tau).all()
    score = torch.linspace(-30, 30, 1001, dtype=torch.float64)
    assert (head.score_to_tau(score).diff() < 0).all()


# ------------------------------------------------------------------------------------------- A3, A4
def test_A3_simclr_negatives_exclude_anchor_and_positive():
    b = 5
    sim = torch.randn(2 * b, 2 * b)
    sim = sim + sim.t()
    top = AMCLNTXentLoss.topk_negatives(sim, b, 2 * b - 2)
    for r in range(2 * b):
        got = set(top[r].tolist())
        assert len(got) == 2 * b - 2
        assert got == set(range(2 * b)) - {r, (r + b) % (2 * b)}
    top3 = AMCLNTXentLoss.topk_negatives(sim, b, 3)
    for r in range(2 * b):
        cand = [j for j in range(2 * b) if j not in (r, (r + b) % (2 * b))]
        assert set(top3[r].tolist()) == set(sorted(cand, key=lambda j: -sim[r, j].item())[:3])


def _hand_loss(loss, z1, z2, k, hardest_only=False):
    """Per-anchor loops with phi applied to each (anchor, candidate) pair: the reference's gathered form."""
    beta, d = loss.beta, loss.dim
    total = 0.0
    for c in range(z1.shape[1]):
        z = F.normalize(torch.cat([z1[:, c], z2[:, c]]), dim=-1)
        n = z.shape[0]
        rows = []
        for r in range(n):
            p = (r + n // 2) % n
            t = lambda j: loss.temperature(z[r : r + 1], z[j : j + 1])[0]  # noqa: E731
            s_pos, tau_pos = z[r] @ z[p], t(p)
            cand = sorted(
                [j for j in range(n) if j not in (r, p)], key=lambda j: -(z[r] @ z[j]).item()
            )[:k]
            s_neg = torch.stack([z[r] @ z[j] for j in cand])
            tau_neg = torch.stack([t(j) for j in cand])
            ell = (
                -s_pos / tau_pos
                + (s_neg / tau_neg).mean()
                + beta * omega(tau_pos, d)
                - beta * (torch.log(tau_neg) + 1 / tau_neg).sum()
            )
            rows.append(ell)
        total = total + torch.stack(rows).mean()
    return total


@pytest.mark.parametrize('k', [1, 3, 100])
def test_A4_A13_efficient_form_equals_gathered_form_fp64(k):
    loss = _amcl(topk=k, beta=0.01)
    z1, z2 = _pair(b=6, c=2)
    got = loss(z1, z2)
    want = _hand_loss(loss, z1, z2, min(k, 10))
    assert got.dtype == torch.float64
    assert abs(got.item() - want.item()) < 1e-12 * max(1.0, abs(want.item()))


def test_A4_k1_is_eq21_with_hardest_negative():
    loss = _amcl(topk=1, beta=0.01)
    z1, z2 = _pair(b=5, c=1, seed=3)
    z = F.normalize(torch.cat([z1[:, 0], z2[:, 0]]), dim=-1)
    tau = loss.temperature.pairwise(z)
    n, rows = 10, []
    for r in range(n):
        p = (r + 5) % n
        sims = [(z[r] @ z[j]).item() if j not in (r, p) else -9 for j in range(n)]
        j = max(range(n), key=lambda i: sims[i])
        rows.append(
            -z[r] @ z[p] / tau[r, p]
            + z[r] @ z[j] / tau[r, j]
            + 0.01 * omega(tau[r, p], 8)
            - 0.01 * (torch.log(tau[r, j]) + 1 / tau[r, j])
        )
    assert abs(loss(z1, z2).item() - torch.stack(rows).mean().item()) < 1e-6


def test_A13_efficient_form_fp32_relative():
    loss64 = _amcl(topk=5)
    loss32 = AMCLNTXentLoss(dim=8, hidden=16, topk=5)
    loss32.load_state_dict({k: v.float() for k, v in loss64.state_dict().items()})
    z1, z2 = _pair(b=12, c=3, seed=5)
    a, b = loss32(z1.float(), z2.float()).item(), _hand_loss(loss64, z1, z2, 5).item()
    assert abs(a - b) <= 1e-5 * abs(b)


# ------------------------------------------------------------------------------------------- A5, A6
def test_A5_copied_heads_give_C_times_single_head():
    z1, z2 = _pair(b=6, c=1, seed=7)
    c = 3
    r1, r2 = z1.repeat(1, c, 1), z2.repeat(1, c, 1)
    for loss in (_amcl(), NTXentLoss(0.5), BarlowTwinsLoss()):
        one, many = loss(z1, z2).item(), loss(r1, r2).item()
        assert abs(many - c * one) <= 1e-6 * abs(c * one)
    torch.manual_seed(0)
    queue = F.normalize(torch.randn(1, 8, 20, dtype=torch.float64), dim=1)
    k1, k2 = _pair(b=6, c=1, seed=8)
    moco = AMCLMoCoLoss(dim=8, hidden=16, topk=5).double()
    for loss in (moco, MoCoLoss(0.1)):
        one = loss(z1, k2, queue, q2=z2, k1=k1).item()
        many = loss(
            r1, k2.repeat(1, c, 1), queue.repeat(c, 1, 1), q2=r2, k1=k1.repeat(1, c, 1)
        ).item()
        assert abs(many - c * one) <= 1e-6 * abs(c * one)


def test_A6_constant_temperature_closed_form():
    """C = 1, phi's last layer zeroed: tau = tau0 everywhere and the loss is hand-computable."""
    beta, d, k, b = 1e-2, 8, 4, 5
    loss = _amcl(topk=k, beta=beta)
    torch.nn.init.zeros_(loss.temperature.phi[2].weight)
    torch.nn.init.zeros_(loss.temperature.phi[2].bias)
    tau0 = 1e-5 + (2.0 - 1e-5) / 2
    z1, z2 = _pair(b=b, c=1, seed=11)
    z = F.normalize(torch.cat([z1[:, 0], z2[:, 0]]), dim=-1).tolist()
    rows = []
    for r in range(2 * b):
        p = (r + b) % (2 * b)
        dot = lambda j: sum(x * y for x, y in zip(z[r], z[j]))  # noqa: E731
        negs = sorted((dot(j) for j in range(2 * b) if j not in (r, p)), reverse=True)[:k]
        rows.append(
            (-dot(p) + sum(negs) / k) / tau0
            + beta * (d / 2 * math.log(tau0) + 1 / tau0)
            - beta * k * (math.log(tau0) + 1 / tau0)
        )
    want = sum(rows) / len(rows)
    assert abs(loss(z1, z2).item() - want) < 1e-12
    assert torch.allclose(
        loss.temperature.pairwise(torch.randn(4, d, dtype=torch.float64)),
        torch.full((4, 4), tau0, dtype=torch.float64),
    )
    # fixed_tau (ablation a) is the same constant-temperature loss
    assert abs(_amcl(topk=k, beta=beta, fixed_tau=tau0)(z1, z2).item() - want) < 1e-12


# ------------------------------------------------------------------------------------------- A7, A8
def test_A7_temperature_gradients_signs():
    beta, k = 1e-3, 4
    g = torch.Generator().manual_seed(0)
    s_pos = torch.rand(64, generator=g, dtype=torch.float64) * 2 - 1
    s_neg = (
        torch.rand(64, k, generator=g, dtype=torch.float64) * 0.02 - 0.005
    )  # around k*beta = 0.004
    tau_pos = (torch.rand(64, generator=g, dtype=torch.float64) * 1.5 + 0.01).requires_grad_()
    tau_neg = (torch.rand(64, k, generator=g, dtype=torch.float64) * 1.5 + 0.01).requires_grad_()
    amcl_contrastive_terms(s_pos, tau_pos, s_neg, tau_neg, beta, 32).sum().backward()
    big = s_pos > beta
    assert big.any() and (tau_pos.grad[big] > 0).all()
    hi, lo = s_neg > k * beta, s_neg < k * beta * (1 - tau_neg.detach())
    assert hi.any() and lo.any()
    assert (tau_neg.grad[hi] < 0).all() and (tau_neg.grad[lo] > 0).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_A8_half_inputs_give_fp32_finite_loss_at_tau_min(dtype):
    loss = AMCLNTXentLoss(dim=8, hidden=16)
    torch.nn.init.zeros_(loss.temperature.phi[2].weight)
    torch.nn.init.constant_(loss.temperature.phi[2].bias, 10.0)  # score 800 -> tau = tau_min
    z1, z2 = (t.to(dtype) for t in _pair(b=6, c=2, dtype=torch.float32))
    out = loss(z1, z2)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert loss.last_stats['tau_pos_at_min'] == 1.0 and loss.last_stats[
        'tau_topk_mean'
    ] == pytest.approx(1e-5)
    assert out.abs() > 1e3  # 1/tau_min = 1e5 did not overflow


# ------------------------------------------------------------------------------------------- A10, A11
def test_A10_barlow_twins_amcl_reduces_to_baseline_and_checks_batch():
    z1, z2 = _pair(b=16, c=1, d=6, seed=2, dtype=torch.float32)
    amcl = AMCLBarlowTwinsLoss(dim=6, batch_size=16, beta=0.0, fixed_tau=1.0)
    base = BarlowTwinsLoss()
    assert abs(amcl(z1, z2).item() - base(z1, z2).item()) <= 1e-6 * base(z1, z2).item()
    with pytest.raises(ValueError, match='batch size 16'):
        amcl(z1[:8], z2[:8])
    adaptive = AMCLBarlowTwinsLoss(dim=6, batch_size=16, beta=1e-6)
    with pytest.raises(ValueError, match='drop_last'):
        adaptive(z1[:12], z2[:12])
    # hand-computed baseline Barlow Twins
    a, b = z1[:, 0].double(), z2[:, 0].double()
    a = (a - a.mean(0)) / (a.std(0) + 1e-9)
    b = (b - b.mean(0)) / (b.std(0) + 1e-9)
    c = a.t() @ b / 16
    want = sum((1 - c[i, i]) ** 2 for i in range(6)) + 5e-3 * sum(
        c[i, j] ** 2 for i in range(6) for j in range(6) if i != j
    )
    assert abs(base(z1, z2).item() - want.item()) < 1e-4


def test_A11_ntxent_equals_naive_loop():
    z1, z2 = _pair(b=7, c=1, seed=4)
    t = 0.5
    z = F.normalize(torch.cat([z1[:, 0], z2[:, 0]]), dim=-1)
    n, rows = 14, []
    for i in range(n):
        p = (i + 7) % n
        den = sum(torch.exp(z[i] @ z[j] / t) for j in range(n) if j != i)
        rows.append(-torch.log(torch.exp(z[i] @ z[p] / t) / den))
    assert abs(NTXentLoss(t)(z1, z2).item() - torch.stack(rows).mean().item()) < 1e-6


def test_moco_baseline_equals_naive_loop():
    z1, z2 = _pair(b=4, c=1, seed=9)
    k1, k2 = _pair(b=4, c=1, seed=10)
    queue = F.normalize(torch.randn(1, 8, 6, dtype=torch.float64), dim=1)
    t, total = 0.1, 0.0
    for q, k in ((z1, k2), (z2, k1)):
        qn, kn = F.normalize(q[:, 0], dim=-1), F.normalize(k[:, 0], dim=-1)
        for i in range(4):
            logits = torch.cat([(qn[i] @ kn[i]).view(1), qn[i] @ queue[0]]) / t
            total += 0.5 * -torch.log_softmax(logits, 0)[0] / 4
    assert abs(MoCoLoss(t)(z1, k2, queue, q2=z2, k1=k1).item() - total.item()) < 1e-10
    one = 0.0  # the default: one query (view 1), one key (view 2)
    qn, kn = F.normalize(z1[:, 0], dim=-1), F.normalize(k2[:, 0], dim=-1)
    for i in range(4):
        logits = torch.cat([(qn[i] @ kn[i]).view(1), qn[i] @ queue[0]]) / t
        one += -torch.log_softmax(logits, 0)[0] / 4
    assert abs(MoCoLoss(t)(z1, k2, queue).item() - one.item()) < 1e-10


@pytest.mark.parametrize('symmetric', [False, True])
def test_amcl_moco_all_negatives_form(symmetric):
    """k >= K: the top-k MoCo form is the all-queue mean form, hand-computed per anchor; by default one
    query (view 1) and one key (view 2), the symmetric option averages both directions."""
    torch.manual_seed(0)
    loss = AMCLMoCoLoss(dim=8, hidden=16, topk=100, beta=0.01).double()
    q1, q2 = _pair(b=4, c=1, seed=12)
    k1, k2 = _pair(b=4, c=1, seed=13)
    queue = F.normalize(torch.randn(1, 8, 6, dtype=torch.float64), dim=1)
    T = loss.temperature
    total = 0.0
    pairs = ((q1, k2), (q2, k1)) if symmetric else ((q1, k2),)
    for q, k in pairs:
        qn, kn = F.normalize(q[:, 0], dim=-1), F.normalize(k[:, 0], dim=-1)
        for i in range(4):
            keys = queue[0].t()
            tau_p = T(qn[i : i + 1], kn[i : i + 1])[0]
            tau_n = T(qn[i : i + 1].expand(6, -1), keys)
            s_n = keys @ qn[i]
            ell = (
                -(qn[i] @ kn[i]) / tau_p
                + (s_n / tau_n).mean()
                + 0.01 * omega(tau_p, 8)
                - 0.01 * (torch.log(tau_n) + 1 / tau_n).sum()
            )
            total += ell / 4 / len(pairs)
    extra = dict(q2=q2, k1=k1) if symmetric else {}
    assert abs(loss(q1, k2, queue, **extra).item() - total.item()) < 1e-12


@pytest.mark.parametrize('cls', [MoCoLoss, AMCLMoCoLoss])
def test_moco_losses_normalise_the_queue(cls):
    """A raw queue (keys of any length) gives the same loss as the L2-normalised one."""
    torch.manual_seed(0)
    loss = (cls(dim=8, hidden=16, topk=3) if cls is AMCLMoCoLoss else cls()).double()
    q1, q2 = _pair(b=4, c=2, seed=14)
    k1, k2 = _pair(b=4, c=2, seed=15)
    raw = torch.randn(2, 8, 6, dtype=torch.float64) * torch.linspace(
        0.2, 7.0, 6, dtype=torch.float64
    )
    unit = F.normalize(raw, dim=1)
    assert abs(loss(q1, k2, raw).item() - loss(q1, k2, unit).item()) < 1e-12


# ------------------------------------------------------------------------------------------- gradients
def test_gradients_reach_phi_and_every_head_through_tau():
    from fw_amcl.neck import MultiHeadProjector

    torch.manual_seed(0)
    neck = MultiHeadProjector(12, 16, 8, num_heads=3)
    loss = AMCLNTXentLoss(dim=8, hidden=16, topk=5)
    x1, x2 = torch.randn(6, 12), torch.randn(6, 12)
    loss(neck(x1), neck(x2)).backward()
    for p in loss.temperature.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    for h in neck.heads:
        for p in h.parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0
    # tau alone carries gradient back to z: phi's inputs are not detached
    z = torch.randn(6, 8, requires_grad=True)
    loss.temperature.pairwise(F.normalize(z, dim=-1)).sum().backward()
    assert z.grad.abs().sum() > 0
    # Barlow Twins variant: phi on channel vectors also gets gradients
    bt = AMCLBarlowTwinsLoss(dim=8, batch_size=6, hidden=16, beta=1e-6)
    neck.zero_grad()
    bt(neck(x1), neck(x2)).backward()
    assert all(p.grad.abs().sum() > 0 for p in bt.temperature.parameters())
    assert all(p.grad.abs().sum() > 0 for h in neck.heads for p in h.parameters())
