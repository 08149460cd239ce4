"""Evaluation: layer-wise feature weights of the linear theory, the pre/post linear probe on frozen
features (the paper's protocol: the same linear classifier on h and on z), worst-group accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric


class LayerFeatureWeights:
    """Per-feature weights w_i = ||R e_i|| sigma_i of every layer of a synthetic run, the closed form,
    their ratio, and the balancedness ||W1 W1^T - W2^T W2||_F (init and end). No constructor arguments;
    call it on a :class:`fw_projhead.theory.TheoryRun`."""

    def __call__(self, run) -> dict:
        s = run.setting
        measured, predicted = run.layer_weights(), run.prediction()
        names = [f'layer{l + 1}' for l in range(run.n_layers)]
        if run.kappa is not None:
            names.append(f'head(kappa={run.kappa:g})')
        rows = []
        for name, w, p in zip(names, measured, predicted):
            for i in range(s.d):
                pv = None if p is None else float(p[i])
                rows.append(
                    {
                        'layer': name,
                        'feature': i,
                        'sigma': float(s.sigma[i]),
                        't': float(s.t[i]),
                        'measured': float(w[i]),
                        'predicted': pv,
                        'ratio': None if pv is None else float(w[i]) / pv,
                        'learned': bool(run.post[i] >= 0.01),
                    }
                )
        return {
            'rows': rows,
            'balancedness_init': run.balancedness[0],
            'balancedness_end': run.balancedness[-1],
            'final_loss': float(run.losses[-1]),
        }


class WorstGroupAccuracy:
    """Average accuracy and the accuracy of the worst group (groups with no sample are skipped). No
    constructor arguments; call it with (predictions, labels, groups)."""

    def __call__(self, pred, labels, groups) -> dict:
        pred, labels, groups = (torch.as_tensor(v).cpu() for v in (pred, labels, groups))
        correct = (pred == labels).float()
        per_group = {int(g): float(correct[groups == g].mean()) for g in torch.unique(groups)}
        return {
            'acc': float(correct.mean()),
            'worst_group_acc': min(per_group.values()),
            'per_group': per_group,
        }


def standardise(train: torch.Tensor, *others: torch.Tensor):
    """Standardise with the train split's mean and std only."""
    mu, sd = train.mean(0), train.std(0).clamp_min(1e-6)
    return [(train - mu) / sd] + [(o - mu) / sd for o in others]


def fit_linear_probe(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    weight_decay: float,
    method: str = 'lbfgs',
    epochs: int = 50,
    lr: float = 0.1,
    batch_size: int = 512,
    seed: int = 0,
) -> torch.nn.Linear:
    """Multinomial logistic regression with an L2 penalty on the weights (not the bias).

    ``lbfgs``: full batch, to convergence (small data). ``sgd``: the paper's probe (SGD, momentum 0.9,
    weight decay, cosine), for large feature sets.
    """
    g = torch.Generator().manual_seed(seed)
    probe = torch.nn.Linear(x.shape[1], num_classes).to(x.device, torch.float32)
    torch.nn.init.zeros_(probe.weight)
    torch.nn.init.zeros_(probe.bias)
    x, y = x.float(), y.to(x.device)
    with torch.enable_grad():
        if method == 'lbfgs':
            opt = torch.optim.LBFGS(
                probe.parameters(),
                lr=1.0,
                max_iter=500,
                tolerance_grad=1e-7,
                line_search_fn='strong_wolfe',
            )

            def closure():
                opt.zero_grad()
                loss = F.cross_entropy(probe(x), y) + 0.5 * weight_decay * probe.weight.pow(2).sum()
                loss.backward()
                return loss

            opt.step(closure)
        elif method == 'sgd':
            opt = torch.optim.SGD(
                probe.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
            )
            steps = epochs * max(1, -(-len(y) // batch_size))
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
            for _ in range(epochs):
                perm = torch.randperm(len(y), generator=g).to(x.device)
                for b in perm.split(batch_size):
                    opt.zero_grad()
                    F.cross_entropy(probe(x[b]), y[b]).backward()
                    opt.step()
                    sched.step()
        else:
            raise ValueError(f"probe method must be 'lbfgs' or 'sgd', got '{method}'")
    return probe


def label_subset(y: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Indices of a class-stratified ``fraction`` of the labels (at least one per class)."""
    if fraction >= 1.0:
        return torch.arange(len(y))
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        k = max(1, int(round(fraction * len(idx))))
        keep.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    return torch.cat(keep).sort().values


class PrePostLinearProbe(BaseMetric):
    """The same linear probe on every frozen representation (``pre`` = h, ``post`` = z, ``headK`` = the
    K-th head layer), swept over label fractions and weight decays, fitted on the samples tagged
    ``fit`` and scored (accuracy and worst-group accuracy) on the others; plus the accuracy of the
    model's own classifier when it has one. The features come from the model's predict mode (eval mode,
    no_grad), so probing cannot change the encoder. Keys: ``<rep>/frac<f>/wd<wd>/acc`` and
    ``.../worst_group_acc``, ``classifier/acc``, ``classifier/worst_group_acc``.

    Args: ``label_fractions`` ((1.0,)), ``weight_decays`` ((1e-4,)), ``standardise`` (z-score with the fit
    part's statistics, True), ``method`` ('lbfgs' to convergence, or 'sgd': the paper's probe),
    ``epochs`` (50, SGD), ``lr`` (0.1, SGD), ``batch_size`` (512, SGD), ``num_classes`` (None: from the
    labels), ``seed`` (0: label subsets and SGD order), ``representations`` (names to probe, e.g.
    ('pre', 'post'); None = all), and mmengine's ``collect_device`` / ``prefix``.
    """

    def __init__(
        self,
        label_fractions=(1.0,),
        weight_decays=(1e-4,),
        standardise: bool = True,
        method: str = 'lbfgs',
        epochs: int = 50,
        lr: float = 0.1,
        batch_size: int = 512,
        num_classes: int | None = None,
        seed: int = 0,
        representations=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.label_fractions, self.weight_decays = tuple(label_fractions), tuple(weight_decays)
        self.standardise, self.method = standardise, method
        self.epochs, self.lr, self.batch_size, self.num_classes = (
            epochs,
            lr,
            batch_size,
            num_classes,
        )
        self.seed = seed
        self.representations = None if representations is None else tuple(representations)

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results) -> dict:
        if not results or 'fit' not in results[0]:
            raise ValueError(
                'PrePostLinearProbe needs samples tagged `fit` (use projhead.ProbeSplits '
                'as the evaluation data set)'
            )
        fit = torch.stack([r['fit'] for r in results]).bool()
        y = torch.stack([r['probe_label'] for r in results]).long()
        groups = torch.stack([r['group'] for r in results]).long()
        names = [k for k in results[0] if k in ('pre', 'post') or k.startswith('head')]
        names = [k for k in names if self.representations is None or k in self.representations]
        feats = {k: torch.stack([r[k] for r in results]) for k in names}
        out = self.probe(
            {k: v[fit] for k, v in feats.items()},
            y[fit],
            {k: v[~fit] for k, v in feats.items()},
            y[~fit],
            groups[~fit],
            self.seed,
        )
        if 'pred' in results[0]:
            pred = torch.stack([r['pred'] for r in results])[~fit]
            labels = torch.stack([r['label'] for r in results])[~fit]
            res = WorstGroupAccuracy()(pred, labels, groups[~fit])
            out['classifier/acc'], out['classifier/worst_group_acc'] = (
                res['acc'],
                res['worst_group_acc'],
            )
        return out

    def probe(
        self, train_feats: dict, y_train, test_feats: dict, y_test, groups_test=None, seed: int = 0
    ) -> dict:
        """Fit and score the probe on every representation: {key: accuracy} (flat keys)."""
        nc = self.num_classes or int(max(y_train.max(), y_test.max())) + 1
        wga = WorstGroupAccuracy()
        groups = groups_test if groups_test is not None else y_test
        out = {}
        for name in train_feats:
            for frac in self.label_fractions:
                sub = label_subset(y_train.cpu(), frac, seed)
                xtr, xte = train_feats[name][sub].float(), test_feats[name].float()
                if self.standardise:
                    xtr, xte = standardise(xtr, xte)
                for wd in self.weight_decays:
                    probe = fit_linear_probe(
                        xtr,
                        y_train[sub],
                        nc,
                        wd,
                        self.method,
                        self.epochs,
                        self.lr,
                        self.batch_size,
                        seed,
                    )
                    with torch.no_grad():
                        pred = probe(xte).argmax(1).cpu()
                    res = wga(pred, y_test.cpu(), groups.cpu())
                    key = f'{name}/frac{frac:g}/wd{wd:g}'
                    out[f'{key}/acc'], out[f'{key}/worst_group_acc'] = (
                        res['acc'],
                        res['worst_group_acc'],
                    )
        return out
