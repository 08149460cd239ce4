"""Evaluation on frozen backbone features (taken before any projection head).

Functions: :func:`evaluate_features` (the three numbers every table here reports), :func:`weighted_knn`, :func:`fit_linear_probe` / :func:`probe_accuracy` (offline frozen linear
probe: SGD, momentum 0.9, cosine, 100 epochs, batch 512), :func:`few_shot_logreg` (k labels per class,
mean over draws), :func:`linear_probe` (end to end from a backbone: freezes it, eval mode, features under
no_grad). Metrics for mmengine's val loop: :class:`WeightedKNN`, :class:`LinearProbe`,
:class:`TemperatureStats`, and :class:`ReferenceRows` (the trained backbone next to raw pixels, a random-init
encoder and a baseline's expected numbers). The evaluation loader yields the train part (kNN bank, probe training set) and
the test part (scored) together, told apart by ``is_train``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from torch import nn


@torch.no_grad()
def weighted_knn(
    train_f,
    train_y,
    test_f,
    test_y,
    k: int = 200,
    t: float = 0.1,
    num_classes: int | None = None,
    chunk: int = 1024,
) -> float:
    """Weighted kNN on L2-normalised features: score_c = sum_{j in top-k} exp(s_j / t) [y_j = c]."""
    num_classes = num_classes or int(max(train_y.max(), test_y.max())) + 1
    bank, labels = F.normalize(train_f.float(), dim=1), train_y.long()
    k = min(k, len(bank))
    correct = 0
    for i in range(0, len(test_f), chunk):
        q = F.normalize(test_f[i : i + chunk].float(), dim=1)
        sim, idx = (q @ bank.t()).topk(k, dim=1)
        scores = torch.zeros(len(q), num_classes).scatter_add_(1, labels[idx], torch.exp(sim / t))
        correct += (scores.argmax(1) == test_y[i : i + chunk]).sum().item()
    return correct / len(test_f)


def _standardiser(train_f):
    """z-score with the training statistics; near-constant dimensions (std below 1% of the mean std, e.g.
    border pixels that are always 0 in the training part) are only centred, so they cannot explode."""
    mean, std = train_f.mean(0), train_f.std(0)
    std = torch.where(std > 0.01 * std.mean(), std, torch.ones_like(std))
    return lambda f: (f - mean) / std


@torch.no_grad()
def fit_linear_probe(
    train_f,
    train_y,
    num_classes: int,
    epochs: int = 100,
    lr: float = 0.1,
    batch_size: int = 512,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> nn.Linear:
    """nn.Linear on fixed features: SGD momentum 0.9 (torch's update rule), cosine over all steps,
    shuffled mini-batches, cross-entropy. The softmax gradient is written out (no autograd, no optimiser
    objects): the same arithmetic as torch.optim.SGD, at a fraction of the per-step overhead."""
    gen = torch.Generator().manual_seed(seed)
    clf = nn.Linear(train_f.shape[1], num_classes)
    w, b = clf.weight.data, clf.bias.data
    vw, vb = torch.zeros_like(w), torch.zeros_like(b)
    steps, step = epochs * math.ceil(len(train_f) / batch_size), 0
    eye = torch.eye(num_classes)
    for _ in range(epochs):
        perm = torch.randperm(len(train_f), generator=gen)
        for i in range(0, len(perm), batch_size):
            j = perm[i : i + batch_size]
            x = train_f[j]
            g = torch.softmax(x @ w.t() + b, dim=1).sub_(eye[train_y[j]]).div_(len(j))
            gw, gb = g.t() @ x, g.sum(0)
            if weight_decay:
                gw.add_(w, alpha=weight_decay)
                gb.add_(b, alpha=weight_decay)
            vw.mul_(0.9).add_(gw) if step else vw.copy_(gw)
            vb.mul_(0.9).add_(gb) if step else vb.copy_(gb)
            lr_t = 0.5 * lr * (1 + math.cos(math.pi * step / steps))
            w.sub_(vw, alpha=lr_t)
            b.sub_(vb, alpha=lr_t)
            step += 1
    return clf


@torch.no_grad()
def probe_accuracy(
    train_f,
    train_y,
    test_f,
    test_y,
    num_classes: int | None = None,
    standardize: bool = True,
    **kwargs,
) -> float:
    num_classes = num_classes or int(max(train_y.max(), test_y.max())) + 1
    train_f, test_f = train_f.float(), test_f.float()
    if standardize:
        st = _standardiser(train_f)
        train_f, test_f = st(train_f), st(test_f)
    clf = fit_linear_probe(train_f, train_y.long(), num_classes, **kwargs)
    return (clf(test_f).argmax(1) == test_y).float().mean().item()


def _logreg(x, y, num_classes: int, c: float = 1.0, iters: int = 100) -> nn.Linear:
    """Multinomial logistic regression, sklearn's objective: 0.5 ||W||^2 + C * sum of losses, by LBFGS
    with the gradient written out (no autograd: this runs 20 times per evaluation)."""
    clf = nn.Linear(x.shape[1], num_classes)
    w, b = clf.weight, clf.bias
    w.data.zero_()
    b.data.zero_()
    onehot = torch.eye(num_classes)[y]
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=iters, line_search_fn='strong_wolfe')

    def closure():
        logits = x @ w.data.t() + b.data
        logp = torch.log_softmax(logits, dim=1)
        loss = -c * (logp * onehot).sum() + 0.5 * w.data.pow(2).sum()
        g = c * (logp.exp() - onehot)
        w.grad = g.t() @ x + w.data
        b.grad = g.sum(0)
        return loss

    opt.step(closure)
    return clf


@torch.no_grad()
def few_shot_logreg(
    train_f, train_y, test_f, test_y, shots: int = 5, draws: int = 20, seed: int = 0
) -> float:
    """Logistic regression on standardised features with ``shots`` labels per class; mean over draws."""
    gen = torch.Generator().manual_seed(seed)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    train_f, test_f = train_f.float(), test_f.float()
    accs = []
    for _ in range(draws):
        idx = torch.cat(
            [
                torch.nonzero(train_y == c).flatten()[
                    torch.randperm(int((train_y == c).sum()), generator=gen)[:shots]
                ]
                for c in range(num_classes)
            ]
        )
        st = _standardiser(train_f[idx])
        clf = _logreg(st(train_f[idx]), train_y[idx].long(), num_classes)
        accs.append((clf(st(test_f)).argmax(1) == test_y).float().mean().item())
    return sum(accs) / len(accs)


@torch.no_grad()
def extract_features(fn, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    return torch.cat(
        [fn(images[i : i + batch_size]).float() for i in range(0, len(images), batch_size)]
    )


def linear_probe(
    backbone: nn.Module, train_x, train_y, test_x, test_y, normalize=None, **kwargs
) -> float:
    """Offline frozen linear probe on a backbone: requires_grad=False, eval() (BN running stats are read,
    never updated), features under no_grad, then :func:`probe_accuracy`. The backbone's flags and mode are
    restored afterwards; its weights and buffers are unchanged."""
    flags = [p.requires_grad for p in backbone.parameters()]
    was_training = backbone.training
    backbone.requires_grad_(False)
    backbone.eval()
    try:
        norm = normalize or (lambda x: x)
        fn = lambda x: backbone(norm(x))  # noqa: E731
        train_f, test_f = extract_features(fn, train_x), extract_features(fn, test_x)
    finally:
        for p, f in zip(backbone.parameters(), flags):
            p.requires_grad_(f)
        backbone.train(was_training)
    return probe_accuracy(train_f, train_y, test_f, test_y, **kwargs)


@torch.no_grad()
def evaluate_features(
    train_f,
    train_y,
    test_f,
    test_y,
    k: int = 20,
    t: float = 0.1,
    shots: int = 5,
    draws: int = 20,
    probe_epochs: int = 100,
) -> dict:
    """kNN (k, t), ``shots``-shot logistic regression (mean of ``draws``) and the full-label linear probe
    on standardised features (SGD lr 0.1, batch 512, cosine): the three numbers of the README tables."""
    return dict(
        knn=weighted_knn(train_f, train_y, test_f, test_y, k=k, t=t),
        fewshot=few_shot_logreg(train_f, train_y, test_f, test_y, shots=shots, draws=draws),
        probe=probe_accuracy(
            train_f,
            train_y,
            test_f,
            test_y,
            standardize=True,
            epochs=probe_epochs,
            lr=0.1,
            batch_size=512,
        ),
    )


@torch.no_grad()
def reference_rows(train_x, train_y, test_x, test_y, encoder, seed: int = 0, **kwargs) -> dict:
    """The two reference rows: raw pixels, and a random-init ``encoder`` (a backbone config, built with
    ``torch.manual_seed(seed)`` inside a forked RNG so the caller's random stream is untouched) in eval
    mode on the raw images. Returns {'raw_pixels': {...}, 'random_init': {...}} of
    :func:`evaluate_features`."""
    from framework import BACKBONES

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = BACKBONES.build(dict(encoder)).eval()
    feats = lambda x: extract_features(net, x)  # noqa: E731
    return {
        'raw_pixels': evaluate_features(
            train_x.flatten(1), train_y, test_x.flatten(1), test_y, **kwargs
        ),
        'random_init': evaluate_features(feats(train_x), train_y, feats(test_x), test_y, **kwargs),
    }


# ----------------------------------------------------------------------------------------- metrics


class _FeatureMetric(BaseMetric):
    """Collects (feature, label, is_train) from the model's predict mode."""

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            if s.get('label') is not None:
                self.results.append((s['feat'], int(s['label']), bool(s['is_train'])))

    @staticmethod
    def _split(results):
        feats = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        is_train = torch.tensor([r[2] for r in results])
        if is_train.all() or not is_train.any():
            raise ValueError(
                'evaluation needs both the train part (kNN bank / probe training set) and the '
                "test part: use a val dataset with split='all'"
            )
        return feats[is_train], labels[is_train], feats[~is_train], labels[~is_train]


class WeightedKNN(_FeatureMetric):
    """Weighted kNN accuracy on L2-normalised backbone features; bank = train part.

    Args: ``k`` (neighbours, 200), ``t`` (temperature of the vote weights exp(s/t), 0.1), and
    mmengine's ``collect_device`` / ``prefix`` as keywords.
    """

    default_prefix = 'knn'

    def __init__(self, k: int = 200, t: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.k, self.t = k, t

    def compute_metrics(self, results) -> dict:
        trf, try_, tef, tey = self._split(results)
        return {'accuracy': weighted_knn(trf, try_, tef, tey, self.k, self.t)}


class LinearProbe(_FeatureMetric):
    """Offline frozen linear probe on backbone features (features come from predict mode under no_grad in
    eval mode, so the backbone cannot change); optional few-shot logistic regression.

    Args: ``epochs`` (100), ``lr`` (0.1), ``batch_size`` (512), ``standardize`` (z-score the features
    with the train part's statistics), ``few_shot`` (labels per class of the logistic regression; 0 = off),
    ``draws`` (label draws averaged, 20).
    """

    default_prefix = 'probe'

    def __init__(
        self,
        epochs: int = 100,
        lr: float = 0.1,
        batch_size: int = 512,
        standardize: bool = False,
        few_shot: int = 0,
        draws: int = 20,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kw = dict(epochs=epochs, lr=lr, batch_size=batch_size)
        self.standardize, self.few_shot, self.draws = standardize, few_shot, draws

    def compute_metrics(self, results) -> dict:
        trf, try_, tef, tey = self._split(results)
        out = {
            'accuracy': probe_accuracy(trf, try_, tef, tey, standardize=self.standardize, **self.kw)
        }
        if self.few_shot:
            out[f'{self.few_shot}shot'] = few_shot_logreg(
                trf, try_, tef, tey, self.few_shot, self.draws
            )
        return out


class TemperatureStats(BaseMetric):
    """Mean, median and the fraction within 1% of either bound, for tau+ and top-k tau- of an AMCL model
    (measured on augmented evaluation batches through ``model.temperatures``; the loss is not called).

    Args: ``tau_min`` (1e-5), ``tau_max`` (2.0): the bounds the saturation fractions refer to.
    """

    default_prefix = 'tau'

    def __init__(self, tau_min: float = 1e-5, tau_max: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.tau_min, self.tau_max = tau_min, tau_max

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            if 'tau_pos' in s:
                self.results.append((s['tau_pos'], s['tau_neg']))

    def compute_metrics(self, results) -> dict:
        from .head import TemperatureSummary

        if not results:
            return {}
        summ = TemperatureSummary(self.tau_min, self.tau_max)
        pos = torch.cat([r[0] for r in results])
        neg = torch.cat([r[1] for r in results])
        return {k: float(v) for k, v in {**summ(pos, 'pos'), **summ(neg, 'neg')}.items()}


class ReferenceRows(_FeatureMetric):
    """The trained backbone's kNN, few-shot and linear-probe accuracy next to the reference rows (raw
    pixels, a random-init ``encoder``) and the ``expected`` rows of a baseline, as a table in the log and
    as keys ``<row>/<metric>`` of the result (``reference/model/knn``, ``reference/raw_pixels/knn``,
    ``reference/<name>_expected/knn``, ...).

    Args: ``encoder`` (backbone config of the random-init row, e.g. the model's own), ``seed`` (its init
    seed, 0), ``expected`` (dict: row name -> dict(knn=..., fewshot=..., probe=..., note=...), numbers
    measured elsewhere, e.g. by ``fw amcl bench``; optional ``label`` for the table), ``k`` (20), ``t`` (0.1), ``shots`` (5), ``draws``
    (20), ``probe_epochs`` (100), ``title`` (the table's heading).
    The raw images come from the evaluation batches themselves (``data_batch['inputs']``).
    """

    default_prefix = 'reference'

    def __init__(
        self,
        encoder: dict,
        seed: int = 0,
        expected: dict | None = None,
        k: int = 20,
        t: float = 0.1,
        shots: int = 5,
        draws: int = 20,
        probe_epochs: int = 100,
        title: str = 'this run',
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.encoder, self.seed, self.expected, self.title = (
            dict(encoder),
            seed,
            dict(expected or {}),
            title,
        )
        self.kw = dict(k=k, t=t, shots=shots, draws=draws, probe_epochs=probe_epochs)

    def process(self, data_batch, data_samples) -> None:
        images = data_batch['inputs']
        images = torch.stack(images) if isinstance(images, (list, tuple)) else images
        for img, s in zip(images, data_samples):
            if s.get('label') is not None:
                self.results.append(
                    (s['feat'], int(s['label']), bool(s['is_train']), img.float().cpu())
                )

    def compute_metrics(self, results) -> dict:
        from mmengine.logging import print_log

        trf, try_, tef, tey = self._split([r[:3] for r in results])
        is_train = torch.tensor([r[2] for r in results])
        pixels = torch.stack([r[3] for r in results])
        rows = {'model': evaluate_features(trf, try_, tef, tey, **self.kw)}
        rows.update(
            reference_rows(
                pixels[is_train], try_, pixels[~is_train], tey, self.encoder, self.seed, **self.kw
            )
        )
        names = {
            'model': self.title,
            'raw_pixels': 'raw pixels',
            'random_init': 'random-init encoder',
        }
        lines = [
            f'{"":38s} {"kNN":>6s} {str(self.kw["shots"]) + "-shot":>7s} {"linear probe":>13s}'
        ]
        for key, row in rows.items():
            lines.append(
                f'{names[key]:38s} {row["knn"]:6.3f} {row["fewshot"]:7.3f} {row["probe"]:13.3f}'
            )
        for name, row in self.expected.items():
            note = f'  ({row["note"]})' if row.get('note') else ''
            label = row.get('label', name) + ' (expected)'
            lines.append(
                f'{label:38s} {row["knn"]:6.3f} {row["fewshot"]:7.3f} {row["probe"]:13.3f}{note}'
            )
        print_log(
            f'frozen backbone features, {int((~is_train).sum())} test images:\n' + '\n'.join(lines),
            logger='current',
        )
        out = {f'{row}/{m}': float(v) for row, vals in rows.items() for m, v in vals.items()}
        out.update(
            {
                f'{name}_expected/{m}': float(v)
                for name, vals in self.expected.items()
                for m, v in vals.items()
                if m not in ('note', 'label')
            }
        )
        return out
