"""``fw projhead theory``: train the linear model, compare layer weights with the closed form, plot.

Prints, for every layer, the measured per-feature weight, the closed-form prediction and their
ratio (mean over seeds), the balancedness, the loss against its optimum and the order in which
features were learned; with ``kappas`` also the fixed reweighting head (pre/post, spread).
"""

from __future__ import annotations

import json
import os

import numpy as np

from .metric import LayerFeatureWeights
from .theory import (
    LinearSetting,
    learning_order,
    optimal_loss,
    predicted_order,
    settling_order,
    train_linear,
)


def default_schedule(n_layers: int) -> dict:
    """L = 2: lr 0.03, init 0.05, 40k steps. L >= 3: init 0.1; lr 0.06 and 100k steps per extra
    layer (lr 0.03 x 200k steps gives the same weights within 1e-3, measured, at half the cost)."""
    if n_layers <= 2:
        return {'lr': 0.03, 'init_std': 0.05, 'steps': 40_000}
    return {'lr': 0.06, 'init_std': 0.1, 'steps': 100_000 * (n_layers - 2)}


def _fmt(v):
    return '   -  ' if v is None else f'{v:6.3f}'


def run_theory(
    n_layers: int = 2,
    kappas=(),
    seeds=(0, 1, 2, 3, 4),
    steps: int | None = None,
    out_dir: str | None = None,
    plot: bool = True,
    log=print,
    setting=None,
    batch: int | None = None,
) -> dict:
    """Train ``seeds`` linear networks of ``n_layers`` layers (full-batch GD on the population loss,
    or minibatch SGD with ``batch``), print the per-feature table against the closed form, the errors,
    balancedness, spread and learning order; with ``kappas`` the fixed-head runs; write theory.json
    and the figures to ``out_dir``."""
    s = setting or LinearSetting()
    sched = default_schedule(n_layers)
    if steps:
        sched['steps'] = steps
    runs = [
        train_linear(
            s, n_layers=n_layers, seed=sd, snapshot_every=100 if i == 0 else 0, batch=batch, **sched
        )
        for i, sd in enumerate(seeds)
    ]
    measure = LayerFeatureWeights()
    weights = np.array([r.layer_weights() for r in runs])  # [seeds, layers, d]
    pred = np.array(runs[0].prediction())
    # a feature counts as learned per seed (post >= 0.01): a slow feature may still sit at its saddle
    # in one seed and not in another, and its closed form only applies where it is learned
    mask = np.array([[i in set(r.learned().tolist()) for i in range(s.d)] for r in runs])
    learned = np.flatnonzero(mask.all(0))
    how = (
        f'minibatch SGD, batch {batch} of 4096 sampled inputs'
        if batch
        else 'full-batch GD on the population loss'
    )
    log(
        f'linear model, {n_layers} layers, d = {s.d}, {len(seeds)} seeds, {how}, '
        f'lr {sched["lr"]}, init std {sched["init_std"]}, {sched["steps"]} steps'
    )
    names = [f'layer{l + 1}' for l in range(n_layers)]
    names[-1] += ' (post)'
    if n_layers == 2:
        names[0] += ' (pre)'
    head = ' i  sigma    t  |' + '|'.join(f' {n:^26s}' for n in names)
    log(head)
    log('               |' + '|'.join(' measured predicted  ratio ' for _ in names))
    # mean over the seeds that learned the feature (over all seeds where none did)
    count = mask.sum(0)
    use = np.where(count > 0, mask, True)[:, None, :]
    mean = (weights * use).sum(0) / use.sum(0)
    for i in range(s.d):
        cells = []
        for l in range(n_layers):
            m, p = mean[l, i], pred[l, i]
            cells.append(f'  {m:6.3f}   {p:6.3f}   {m / p:6.3f} ')
        flag = (
            ''
            if count[i] == len(runs)
            else (
                '  (not learned yet: post < 0.01)'
                if count[i] == 0
                else f'  (learned in {count[i]}/{len(runs)} seeds; mean over those)'
            )
        )
        log(f'{i:2d} {s.sigma[i]:5.2f} {s.t[i]:5.3f} |' + '|'.join(cells) + flag)
    res = {
        'n_layers': n_layers,
        'seeds': list(seeds),
        'schedule': sched,
        'batch': batch,
        'sigma': s.sigma.tolist(),
        't': s.t.tolist(),
        'weights_mean': mean.tolist(),
        'weights_std': weights.std(0).tolist(),
        'predicted': pred.tolist(),
        'learned': learned.tolist(),
        'unlearned_per_seed': {int(sd): np.flatnonzero(~m).tolist() for sd, m in zip(seeds, mask)},
    }
    rel = np.abs(weights / pred[None] - 1)  # [seeds, layers, d]
    res['max_rel_error_per_layer'] = np.where(mask[:, None, :], rel, 0).max(axis=(0, 2)).tolist()
    res['max_abs_error_post'] = float(np.where(mask, np.abs(weights[:, -1] - pred[-1]), 0).max())
    res['final_loss'] = [float(r.losses[-1]) for r in runs]
    res['optimal_loss_per_seed'] = [optimal_loss(s, np.flatnonzero(m)) for m in mask]
    res['optimal_loss_learned'] = optimal_loss(s, learned)
    log(
        "max relative error |measured/predicted - 1| over each seed's learned features, per layer: "
        + ', '.join(f'{e:.4f}' for e in res['max_rel_error_per_layer'])
    )
    for sd, m in zip(seeds, mask):
        if not m.all():
            log(
                f'  seed {sd}: feature(s) {np.flatnonzero(~m).tolist()} not learned yet (post < 0.01)'
            )
    gap = max(abs(a - b) for a, b in zip(res['final_loss'], res['optimal_loss_per_seed']))
    log(
        f"final loss {np.mean(res['final_loss']):.5f}; largest gap to each seed's optimum over its "
        f'learned features {gap:.2e}'
    )
    if n_layers == 2:
        res['balancedness'] = (
            [measure(r)['balancedness_init'] for r in runs],
            [measure(r)['balancedness_end'] for r in runs],
        )
        log(
            'balancedness ||W1 W1^T - W2^T W2||_F init -> end: '
            + ', '.join(f'{a:.3f}->{b:.3f}' for a, b in zip(*res['balancedness']))
        )
    spread = np.mean([w[:, m].max(1) / w[:, m].min(1) for w, m in zip(weights, mask)], axis=0)
    res['spread_per_layer'] = spread.tolist()
    log(
        'spread max/min over learned features, per layer: ' + ' / '.join(f'{v:.2f}' for v in spread)
    )
    order, settle = settling_order(runs[0])
    t_order, first = learning_order(runs[0])
    res['settling_order'], res['settle_step'] = order, {int(k): v for k, v in settle.items()}
    res['transient_order'], res['first_step'] = t_order, {int(k): v for k, v in first.items()}
    res['predicted_order'] = predicted_order(s)
    res['predicted_transient_order'] = predicted_order(s, transient=True)
    log(
        f'learning order (seed {seeds[0]}): settled (post_i stays >= 0.9 sqrt t_i) {order} at '
        f'steps {[settle[i] for i in order]}; predicted (decreasing t) {res["predicted_order"]}'
    )
    log(
        f'  transient (first post_i >= 0.15) {t_order} at steps {[first[i] for i in t_order]}; '
        f'predicted (decreasing t*sigma^2) {res["predicted_transient_order"]}'
    )

    if kappas:
        res['fixed_head'] = run_fixed_head(s, kappas, seeds, log=log)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, 'theory.json'), 'w') as f:
            json.dump(res, f, indent=1, default=lambda o: o.tolist() if hasattr(o, 'tolist') else o)
        if plot:
            res['plots'] = plot_theory(res, runs[0], out_dir)
            log('plots: ' + ', '.join(res['plots']))
    return res


def run_fixed_head(s, kappas, seeds, log=print) -> dict:
    """One trained layer + the fixed head diag(kappa^-k): pre/post weights per kappa."""
    out = {}
    log('fixed reweighting head (1 trained layer + diag(kappa^-k)), mean over seeds:')
    log(' kappa | max|post - sqrt t| | pre_8/pre_0 | spread pre (max/min) | pre weights 0..9')
    for k in kappas:
        runs = [train_linear(s, n_layers=1, kappa=k, seed=sd) for sd in seeds]
        pre = np.array([r.pre for r in runs])
        post = np.array([r.post for r in runs])
        lf = np.arange(9)
        row = {
            'pre': pre.mean(0).tolist(),
            'post': post.mean(0).tolist(),
            'post_err': float(np.abs(post[:, lf] - np.sqrt(s.t[lf])).max()),
            'pre8_over_pre0': float((pre[:, 8] / pre[:, 0]).mean()),
            'spread_pre': float((pre[:, lf].max(1) / pre[:, lf].min(1)).mean()),
        }
        out[str(k)] = row
        log(
            f' {k:5.2f} | {row["post_err"]:18.2e} | {row["pre8_over_pre0"]:11.3f} | '
            f'{row["spread_pre"]:20.3f} | ' + ' '.join(f'{v:.2f}' for v in row['pre'])
        )
    return out


FONT = 11  # every text in the figures, in points (ticks one point smaller)


def _legend_outside(ax, **kwargs):
    """A legend to the right of the axes, so that it never hides a curve or a bar."""
    return ax.legend(
        loc='upper left', bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=FONT - 1, **kwargs
    )


def theory_figures(res: dict, run) -> dict:
    """The figures of :func:`plot_theory` as {file name: matplotlib figure}."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            'font.size': FONT,
            'axes.titlesize': FONT + 1,
            'axes.labelsize': FONT,
            'xtick.labelsize': FONT - 1,
            'ytick.labelsize': FONT - 1,
        }
    )
    figs = {}
    w, p = np.array(res['weights_mean']), np.array(res['predicted'])
    L, d = w.shape
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / L
    x = np.arange(d)
    for l in range(L):
        label = f'layer {l + 1}' + (' = post (z)' if l == L - 1 else ' = pre (h)' if L == 2 else '')
        ax.bar(x + (l - (L - 1) / 2) * width, w[l], width, label=f'{label}, measured')
        ax.scatter(
            x + (l - (L - 1) / 2) * width,
            p[l],
            marker='_',
            s=300,
            linewidths=2.5,
            color='k',
            zorder=3,
            label=r'closed form $t^{l/2L}\,\sigma^{1-l/L}$' if l == 0 else None,
        )
    ax.set_xticks(
        x, [f'{i}\nσ={sg:g}\nt={t:.2f}' for i, (sg, t) in enumerate(zip(res['sigma'], res['t']))]
    )
    ax.set_xlabel('feature i (input strength σ_i, augmentation t_i)')
    ax.set_ylabel('feature weight ‖R e_i‖ σ_i')
    ax.set_title(f'Layer-wise feature weights, {L}-layer linear net, spectral contrastive loss')
    _legend_outside(ax)
    fig.tight_layout()
    figs[f'theory_weights_L{L}.png'] = fig

    if run.snapshots:
        steps = [st for st, _ in run.snapshots]
        post = np.array([ws[-1] for _, ws in run.snapshots])
        fig, ax = plt.subplots(figsize=(11, 5))
        for i in range(d):
            ax.plot(
                steps, post[:, i], lw=2, label=f'{i}: t={res["t"][i]:.2f}, σ={res["sigma"][i]:g}'
            )
        ax.set_xlabel('gradient-descent step')
        ax.set_ylabel('post-projection weight')
        ax.set_title(
            'Incremental learning: features settle in decreasing t\n(transient bumps follow t·σ²)'
        )
        _legend_outside(ax, title='feature')
        fig.tight_layout()
        figs[f'theory_learning_L{L}.png'] = fig

    if res.get('fixed_head'):
        fig, ax = plt.subplots(figsize=(11, 5))
        for k, row in res['fixed_head'].items():
            ax.plot(range(d), row['pre'], marker='o', lw=2, label=f'pre, κ={k}')
        ax.plot(range(d), np.sqrt(res['t']), 'k--', lw=2, label='post = √t')
        ax.set_xticks(range(d))
        ax.set_xlabel('feature i')
        ax.set_ylabel('feature weight')
        ax.set_title('Fixed re-weighting head: pre-projection weights flatten as κ grows')
        _legend_outside(ax)
        fig.tight_layout()
        figs['theory_fixed_head.png'] = fig
    return figs


def plot_theory(res: dict, run, out_dir: str) -> list:
    """PNG plots: per-feature weight of each layer vs the closed form; learning curves; fixed head.
    Fonts of 10-12 pt, σ and κ written as such, legends outside the axes."""
    import matplotlib.pyplot as plt

    paths = []
    for name, fig in theory_figures(res, run).items():
        paths.append(os.path.join(out_dir, name))
        fig.savefig(paths[-1], dpi=120, bbox_inches='tight')
        plt.close(fig)
    return paths
