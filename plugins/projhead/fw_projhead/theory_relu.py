"""Non-linear extension of the theory: a feature present in the lower layer and absent from the
higher one (the paper's claim for non-linear networks; this construction is ours, not the paper's).

Data: x_i = sigma_i g_i, i = 0..3. Features 0, 1, 3 are augmented as in the linear model (keep with
probability phi_i, else redraw). Feature 2 keeps its magnitude across views but each view flips its
sign with probability 1/2: the sign is not augmentation-invariant (E[x_2 x_2+] = 0), the magnitude
|x_2| is. Net: h = ReLU(W1 a) (pre), z = W2 h (post), trained with the spectral contrastive loss.

The loss rewards z for encoding |x_2| = ReLU(x_2) + ReLU(-x_2), which needs units ReLU(+-w x_2)
in h; those units carry x_2 itself (its sign), which z then cancels. Measured with the same
per-feature weight as the linear model, generalised to a non-linear map f by the least-squares
linear map R = Cov(f(x), x) Sigma^-1 (exact for a linear f): w_i = ||R e_i|| sigma_i. A sign(x_2)
linear probe on h vs z shows the consequence downstream.
"""

from __future__ import annotations

import numpy as np
import torch

from .loss import SpectralContrastiveLoss

SIGMA = (1.0, 1.0, 1.5, 1.0)
PHI = (0.9, 0.6, 1.0, 0.3)
SIGN_FLIP = 2


def sample(n, rng: torch.Generator, sigma=SIGMA, phi=PHI, flip=SIGN_FLIP):
    sg, ph = torch.tensor(sigma), torch.tensor(phi)
    x = torch.randn(n, len(sg), generator=rng) * sg
    views = []
    for _ in range(2):
        keep = torch.rand(n, len(sg), generator=rng) < ph
        a = torch.where(keep, x, torch.randn(n, len(sg), generator=rng) * sg)
        s = torch.where(torch.rand(n, generator=rng) < 0.5, -1.0, 1.0)
        a[:, flip] = x[:, flip] * s
        views.append(a)
    return x, views[0], views[1]


class ReLUNet(torch.nn.Module):
    def __init__(self, d=4, hidden=32, out=8, init_std=0.3):
        super().__init__()
        self.W1 = torch.nn.Linear(d, hidden, bias=False)
        self.W2 = torch.nn.Linear(hidden, out, bias=False)
        for W in (self.W1, self.W2):
            torch.nn.init.normal_(W.weight, std=init_std)

    def forward(self, x):
        h = torch.relu(self.W1(x))
        return h, self.W2(h)


def regression_weights(f: torch.Tensor, x: torch.Tensor, sigma) -> np.ndarray:
    """w_i = ||R e_i|| sigma_i for the least-squares linear map R with f ~ R x (+ constant)."""
    fc, xc = f - f.mean(0), x - x.mean(0)
    R = torch.linalg.lstsq(xc, fc).solution.T  # [out, d]
    return (R.norm(dim=0) * torch.tensor(sigma)).numpy()


def r2(target: torch.Tensor, f: torch.Tensor) -> float:
    """R^2 of the best linear (+ constant) prediction of ``target`` from ``f``."""
    F_ = torch.cat([f, torch.ones(len(f), 1)], 1)
    sol = torch.linalg.lstsq(F_, target[:, None]).solution
    res = target - (F_ @ sol).squeeze(1)
    return float(1 - res.var() / target.var())


def sign_probe(f_tr, y_tr, f_te, y_te, lam=1e-3) -> float:
    mu, sd = f_tr.mean(0), f_tr.std(0).clamp_min(1e-6)
    a, b = (f_tr - mu) / sd, (f_te - mu) / sd
    w = torch.linalg.solve(
        a.T @ a + lam * len(a) * torch.eye(a.shape[1]), a.T @ (y_tr - y_tr.mean())
    )
    return float(((b @ w + y_tr.mean()).sign() == y_te).float().mean())


def run_relu(seed=0, steps=3000, batch=512, lr=3e-3, hidden=32, out=8, log=print) -> dict:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net, loss_fn = ReLUNet(len(SIGMA), hidden, out), SpectralContrastiveLoss()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        _, a, b = sample(batch, g)
        loss = loss_fn(net(a)[1], net(b)[1])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        x, _, _ = sample(20000, g)
        h, z = net(x)
        wh, wz = regression_weights(h, x, SIGMA), regression_weights(z, x, SIGMA)
        y = torch.sign(x[:, SIGN_FLIP])
        acc_h = sign_probe(h[:200], y[:200], h[10000:], y[10000:])
        acc_z = sign_probe(z[:200], y[:200], z[10000:], y[10000:])
        mag = x[:, SIGN_FLIP].abs()
        res = {
            'seed': seed,
            'final_loss': float(loss),
            'pre_weights': wh.tolist(),
            'post_weights': wz.tolist(),
            'sign_probe_pre': acc_h,
            'sign_probe_post': acc_z,
            'abs_r2_pre': r2(mag, h),
            'abs_r2_post': r2(mag, z),
        }
    log(f'ReLU net (seed {seed}): loss {res["final_loss"]:.3f}')
    log(' feature  sigma  phi   pre (h)   post (z)')
    for i in range(len(SIGMA)):
        tag = '  <- sign flipped by augmentation, |x| kept' if i == SIGN_FLIP else ''
        log(f'   {i}     {SIGMA[i]:4.1f}  {PHI[i]:4.2f}  {wh[i]:7.3f}   {wz[i]:7.3f}{tag}')
    log(
        f'feature {SIGN_FLIP}: sign(x) probe (200 labels) pre {acc_h:.3f} vs post {acc_z:.3f}; '
        f'|x| linearly decodable (R^2) pre {res["abs_r2_pre"]:.3f}, post {res["abs_r2_post"]:.3f}'
    )
    return res
