"""Figure of a searched rank allocation (paper Fig. 4 shows the same kind of map): rank per layer
(rows) and KV head (columns), keys and values side by side."""

from __future__ import annotations

import json
from pathlib import Path


def plot_ranks(ranks_json, out_png) -> Path:
    """Write a PNG heat map of ``R_K`` and ``R_V`` from a ``fw matryoshka_kv search`` JSON."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    data = json.loads(Path(ranks_json).read_text())
    R_K, R_V = np.array(data['R_K']), np.array(data['R_V'])
    vmax = max(int(R_K.max()), int(R_V.max()))
    fig, axes = plt.subplots(
        1,
        4,
        figsize=(10, 0.16 * R_K.shape[0] + 2.4),
        layout='constrained',
        gridspec_kw=dict(width_ratios=[1, 1, 0.08, 1.5]),
    )
    for ax, R, name in ((axes[0], R_K, 'K'), (axes[1], R_V, 'V')):
        im = ax.imshow(R, aspect='auto', cmap='viridis', vmin=0, vmax=vmax)
        ax.set_title(f'{name} rank (mean {R.mean():.1f})', fontsize=10)
        ax.set_xlabel('KV head')
        ax.set_xticks(range(R.shape[1]))
    axes[0].set_ylabel('layer')
    fig.colorbar(im, cax=axes[2], label='rank')
    layers = np.arange(R_K.shape[0])
    axes[3].plot(R_K.sum(1), layers, 'o-', ms=3, label='K, sum over heads')
    axes[3].plot(R_V.sum(1), layers, 's-', ms=3, label='V, sum over heads')
    axes[3].invert_yaxis()
    axes[3].set_xlabel('rank per layer')
    axes[3].set_ylabel('layer')
    axes[3].legend(fontsize=8)
    kept = data.get('kept_fraction')
    fig.suptitle(
        f'searched ranks, budget {data.get("budget")}: kept {kept:.3f}, '
        f'K {data.get("K_fraction", 0):.3f} / V {data.get("V_fraction", 0):.3f}'
        if kept is not None
        else 'ranks'
    )
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
