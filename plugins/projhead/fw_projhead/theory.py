"""The linear-network theory of the projection head (paper Sec. 3), in float64 NumPy.

Data model: independent features x_i = sigma_i * g_i. Each view keeps x_i with probability phi_i and
otherwise redraws it, so Sigma = E[a a^T] = diag(sigma^2) and M+ = E[a a+^T] = diag(t sigma^2), t = phi^2.
A stack of linear layers W_L ... W_1 is trained by full-batch gradient descent on the population
spectral contrastive loss L(W) = -2 tr(W M+ W^T) + tr((W Sigma W^T)^2), W the product of the layers.

The per-feature weight of a map R acting on x is w_i(R) = ||R e_i|| * sigma_i. The closed form
(balanced layers from a small init) predicts, after layer l of L, w_i = t_i^(l/2L) * sigma_i^(1 - l/L):
post-projection sqrt(t_i), pre-projection (L = 2) t_i^(1/4) sigma_i^(1/2).

Only NumPy here; the torch path (``loss.SpectralContrastiveLoss`` + ``backbone.LinearNet``) is checked
against these formulas in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The synthetic setting of every experiment here: d = 10 features with input strengths SIGMA and
# augmentation keep-probabilities PHI (t = PHI^2).
SIGMA = (1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 0.5, 1.0, 1.5, 0.7)
PHI = (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.4, 0.3, 0.2)
UNLEARNED = 0.01  # a feature whose post-projection weight is below this is reported as not learned


@dataclass
class LinearSetting:
    """Feature strengths ``sigma`` and augmentation keep-probabilities ``phi`` (t = phi^2)."""

    sigma: tuple = SIGMA
    phi: tuple = PHI

    def __post_init__(self):
        self.sigma = np.asarray(self.sigma, dtype=np.float64)
        self.phi = np.asarray(self.phi, dtype=np.float64)
        if self.sigma.shape != self.phi.shape:
            raise ValueError('sigma and phi must have the same length')

    @property
    def d(self) -> int:
        return len(self.sigma)

    @property
    def t(self) -> np.ndarray:
        return self.phi**2

    @property
    def Sigma(self) -> np.ndarray:
        return np.diag(self.sigma**2)

    @property
    def Mplus(self) -> np.ndarray:
        return np.diag(self.t * self.sigma**2)

    def sample_views(self, n: int, rng: np.random.Generator):
        """Two augmented views (a, a+) of n samples x, shape [n, d] each: per view and coordinate, keep
        x_i with probability phi_i, else redraw it as sigma_i * g (the data model of the module)."""
        x = rng.standard_normal((n, self.d)) * self.sigma
        views = []
        for _ in range(2):
            keep = rng.random((n, self.d)) < self.phi
            redraw = rng.standard_normal((n, self.d)) * self.sigma
            views.append(np.where(keep, x, redraw))
        return x, views[0], views[1]


def population_loss(W: np.ndarray, s: LinearSetting) -> float:
    """L(W) = -2 tr(W M+ W^T) + tr((W Sigma W^T)^2)."""
    A = (W * s.sigma**2) @ W.T
    return float(-2.0 * np.sum(W * W * (s.t * s.sigma**2)) + np.sum(A * A))


def population_grad(W: np.ndarray, s: LinearSetting) -> np.ndarray:
    """dL/dW = -4 W M+ + 4 (W Sigma W^T) W Sigma (closed form of the population gradient)."""
    s2 = s.sigma**2
    A = (W * s2) @ W.T
    return -4.0 * W * (s.t * s2) + 4.0 * (A @ W) * s2


def optimal_loss(s: LinearSetting, learned) -> float:
    """-sum t_i^2 over the given learned features."""
    return float(-np.sum(s.t[np.asarray(learned)] ** 2))


def feature_weights(R: np.ndarray, s: LinearSetting) -> np.ndarray:
    """w_i(R) = ||R e_i|| * sigma_i: the response of R to one input std of feature i."""
    return np.linalg.norm(R, axis=0) * s.sigma


def predicted_weights(s: LinearSetting, layer: int, n_layers: int) -> np.ndarray:
    """Closed form after ``layer`` (1-based) of ``n_layers`` balanced layers: t^(l/2L) sigma^(1-l/L)."""
    f = layer / n_layers
    return s.t ** (f / 2.0) * s.sigma ** (1.0 - f)


def _chain(Ws, lo, hi, dim):
    """Product W_hi ... W_lo (0-based, inclusive); identity of size ``dim`` when empty."""
    P = np.eye(dim)
    for W in Ws[lo : hi + 1]:
        P = W @ P
    return P


@dataclass
class TheoryRun:
    """Result of :func:`train_linear`: the trained layers and what was measured on them."""

    setting: LinearSetting
    Ws: list
    kappa: float | None
    losses: np.ndarray
    balancedness: list = field(default_factory=list)  # ||W1 W1^T - W2^T W2||_F at init / end (L=2)
    snapshots: list = field(default_factory=list)  # (step, [w per layer]) during training

    @property
    def n_layers(self) -> int:
        return len(self.Ws)

    def layer_maps(self):
        """The map from x to the output of each layer (the fixed head appended last if any)."""
        maps, P = [], np.eye(self.setting.d)
        for W in self.Ws:
            P = W @ P
            maps.append(P)
        if self.kappa is not None:
            maps.append(reweight_diag(self.Ws[-1].shape[0], self.kappa)[:, None] * P)
        return maps

    def layer_weights(self):
        """Per-feature weights after every layer: list of arrays of shape [d]."""
        return [feature_weights(R, self.setting) for R in self.layer_maps()]

    @property
    def pre(self) -> np.ndarray:
        return self.layer_weights()[-2]

    @property
    def post(self) -> np.ndarray:
        return self.layer_weights()[-1]

    def learned(self) -> np.ndarray:
        return np.flatnonzero(self.post >= UNLEARNED)

    def prediction(self):
        """Closed-form weights for every entry of :meth:`layer_weights` (None where there is none)."""
        L = self.n_layers
        if self.kappa is None:
            return [predicted_weights(self.setting, l, L) for l in range(1, L + 1)]
        # fixed head: only the post weights have a closed form (sqrt t); kappa = 1 gives pre = post
        return [None] * L + [np.sqrt(self.setting.t)]


def minibatch_loss_grad(W: np.ndarray, s: LinearSetting, x: np.ndarray, rng):
    """Unbiased minibatch spectral loss of two fresh views of the inputs ``x`` [n, d] and its gradient
    in W: L = -(2/n) sum_i <z1_i, z2_i> + 1/(n(n-1)) sum_{i != j} <z1_i, z2_j>^2, z = W a."""
    n = len(x)
    keep = rng.random((2, n, s.d)) < s.phi
    a1, a2 = (np.where(keep[v], x, rng.standard_normal(x.shape) * s.sigma) for v in range(2))
    z1, z2 = a1 @ W.T, a2 @ W.T
    P = z1 @ z2.T
    np.fill_diagonal(P, 0.0)
    loss = -2.0 * np.einsum('ij,ij->', z1, z2) / n + np.sum(P * P) / (n * (n - 1))
    g1 = -2.0 / n * z2 + 2.0 / (n * (n - 1)) * P @ z2
    g2 = -2.0 / n * z1 + 2.0 / (n * (n - 1)) * P.T @ z1
    return float(loss), g1.T @ a1 + g2.T @ a2


def reweight_diag(dim: int, kappa: float) -> np.ndarray:
    """diag(kappa^0, kappa^-1, ..., kappa^-(dim-1)) of the fixed reweighting head, as a vector."""
    return float(kappa) ** -np.arange(dim, dtype=np.float64)


def train_linear(
    setting: LinearSetting | None = None,
    n_layers: int = 2,
    width: int | None = None,
    out_dim: int | None = None,
    steps: int = 40_000,
    lr: float = 0.03,
    init_std: float = 0.05,
    seed: int = 0,
    kappa: float | None = None,
    snapshot_every: int = 0,
    batch: int | None = None,
    n_samples: int = 4096,
) -> TheoryRun:
    """Full-batch GD on the population spectral loss (the assumptions of the closed form), or, with
    ``batch``, minibatch SGD on the unbiased minibatch loss of ``n_samples`` fixed sampled inputs x
    with fresh augmented views every step (the practical case, where the closed form is only
    approximate).

    ``n_layers`` trainable linear layers d -> width -> ... -> out_dim. With ``kappa`` set, a fixed
    re-weighting head diag(kappa^-k) follows the last layer (one trained layer + the head).
    """
    s = setting or LinearSetting()
    d = s.d
    width = width or d
    out_dim = out_dim or width
    dims = [d] + [width] * (n_layers - 1) + [out_dim]
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((dims[i + 1], dims[i])) * init_std for i in range(n_layers)]
    D = None if kappa is None else reweight_diag(out_dim, kappa)
    if batch:
        data_rng = np.random.default_rng([seed, 1])
        X = data_rng.standard_normal((n_samples, d)) * s.sigma

    def product():
        P = _chain(Ws, 0, n_layers - 1, d)
        return P if D is None else D[:, None] * P

    def balance():
        if n_layers < 2:
            return float('nan')
        return float(np.linalg.norm(Ws[0] @ Ws[0].T - Ws[1].T @ Ws[1]))

    run = TheoryRun(s, Ws, kappa, np.empty(0))
    run.balancedness.append(balance())
    losses = np.empty(steps)
    for step in range(steps):
        # prefix[l] = W_l ... W_1 (map below layer l+1), suffix[l] = W_L ... W_l+1 (map above layer l)
        prefix = [None] * (n_layers + 1)
        prefix[0] = None
        P = None
        for l in range(n_layers):
            P = Ws[l] if P is None else Ws[l] @ P
            prefix[l + 1] = P
        W = P if D is None else D[:, None] * P
        if batch:
            losses[step], G = minibatch_loss_grad(
                W, s, X[data_rng.integers(0, n_samples, batch)], data_rng
            )
        else:
            G = population_grad(W, s)
            losses[step] = population_loss(W, s)
        if D is not None:
            G = D[:, None] * G
        grads, S = [None] * n_layers, None
        for l in range(n_layers - 1, -1, -1):
            g = G if S is None else S.T @ G
            grads[l] = g if prefix[l] is None else g @ prefix[l].T
            S = Ws[l] if S is None else S @ Ws[l]
        for W_l, g in zip(Ws, grads):
            W_l -= lr * g
        if snapshot_every and (step + 1) % snapshot_every == 0:
            run.snapshots.append((step + 1, run.layer_weights()))
    run.losses = losses
    run.balancedness.append(balance())
    return run


def learning_order(run: TheoryRun, threshold: float = 0.15):
    """Transient acquisition: features sorted by the first snapshot step at which post_i >=
    ``threshold`` (absolute; below the smallest learned sqrt(t_i) = 0.3, far above the init scale).
    Returns (order, first step). Follows decreasing t_i sigma_i^2 (see :func:`predicted_order`)."""
    first = {}
    for step, ws in run.snapshots:
        for i in np.flatnonzero(ws[-1] >= threshold):
            first.setdefault(int(i), step)
    return sorted(first, key=lambda i: (first[i], i)), first


def settling_order(run: TheoryRun, frac: float = 0.9):
    """Permanent learning: the step after which post_i stays >= frac * sqrt(t_i) until the end.
    Returns (order, settle step) over the features that settle. Follows decreasing t."""
    target = frac * np.sqrt(run.setting.t)
    settle = {}
    for i in range(run.setting.d):
        ok = [ws[-1][i] >= target[i] for _, ws in run.snapshots]
        if ok and ok[-1]:
            k = len(ok) - 1
            while k > 0 and ok[k - 1]:
                k -= 1
            settle[i] = run.snapshots[k][0]
    return sorted(settle, key=lambda i: (settle[i], i)), settle


def predicted_order(setting: LinearSetting, transient: bool = False) -> list:
    """Incremental learning. Features *settle* in decreasing t (the rank-k optimum keeps the top-k
    t). While W is small its mode i grows like exp(4 lambda_i s), lambda_i = t_i sigma_i^2 (the
    eigenvalue of M+), so with mixed sigma a feature can be picked up *transiently* in decreasing
    t sigma^2 and then displaced by a larger-t one until a further direction grows (measured:
    8, 7, 6 rise in that order; they settle as 6, 7, 8). ``transient`` selects the t sigma^2 order."""
    key = setting.t * setting.sigma**2 if transient else setting.t
    return [int(i) for i in np.argsort(-key, kind='stable')]


# ---------------------------------------------------------------------------------------------
# Probes on the synthetic representation: no shift, and under a spurious-feature shift


def ridge_probe_accuracy(R: np.ndarray, Xtr, ytr, Xte, yte, lam: float = 1.0) -> float:
    """Ridge regression on features R x (with intercept, unpenalised), accuracy of sign(prediction)."""
    Ftr, Fte = Xtr @ R.T, Xte @ R.T
    mu = Ftr.mean(0)
    Ftr, Fte = Ftr - mu, Fte - mu
    w = np.linalg.solve(Ftr.T @ Ftr + lam * np.eye(Ftr.shape[1]), Ftr.T @ (ytr - ytr.mean()))
    pred = np.sign(Fte @ w + ytr.mean())
    return float(np.mean(pred == yte))


def sign_task(
    setting: LinearSetting, n: int, j: int, rng, spurious: int | None = None, rho: float = 0.5
):
    """Clean inputs x with label y = sign(x_j); with ``spurious`` = k, sign(x_k) = y w.p. rho
    (|x_k| keeps its marginal): the P10 shift construction (``SpuriousFeatureSynth``)."""
    x = rng.standard_normal((n, setting.d)) * setting.sigma
    y = np.sign(x[:, j])
    if spurious is not None:
        agree = rng.random(n) < rho
        x[:, spurious] = np.abs(x[:, spurious]) * np.where(agree, y, -y)
    return x, y


def normalise_total_variance(R: np.ndarray, setting: LinearSetting) -> np.ndarray:
    """R / sqrt(tr(R Sigma R^T)): equal total variance so that ridge treats representations alike."""
    return R / np.sqrt(np.trace((R * setting.sigma**2) @ R.T))


def probe_pre_post(
    run: TheoryRun,
    j: int,
    n_train: int,
    lam: float,
    repeats: int,
    seed: int,
    spurious: int | None = None,
    rho_train: float = 0.95,
    rho_test: float = 0.5,
    n_test: int = 5000,
    normalise: bool = False,
) -> dict:
    """Mean ridge-probe accuracy of every layer map (name -> accuracy) over ``repeats`` draws."""
    s = run.setting
    rng = np.random.default_rng(seed)
    maps = run.layer_maps()
    names = ['pre', 'post'] if len(maps) == 2 else [f'layer{i + 1}' for i in range(len(maps))]
    if normalise:
        maps = [normalise_total_variance(R, s) for R in maps]
    acc = {n: [] for n in names}
    for _ in range(repeats):
        if spurious is None:
            Xtr, ytr = sign_task(s, n_train, j, rng)
            Xte, yte = sign_task(s, n_test, j, rng)
        else:
            Xtr, ytr = sign_task(s, n_train, j, rng, spurious, rho_train)
            Xte, yte = sign_task(s, n_test, j, rng, spurious, rho_test)
        for name, R in zip(names, maps):
            acc[name].append(ridge_probe_accuracy(R, Xtr, ytr, Xte, yte, lam))
    return {n: float(np.mean(v)) for n, v in acc.items()}
