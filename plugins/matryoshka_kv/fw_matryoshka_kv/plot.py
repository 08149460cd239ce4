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
    fig, axes = plt.subplots(1, 3, figsize=(9, 0.18 * R_K.shape[0] + 2.2),
                             gridspec_kw=dict(width_ratios=[1, 1, 1.4]))
    for ax, R, name in ((axes[0], R_K, 'keys'), (axes[1], R_V, 'values')):
        im = ax.imshow(R, aspect='auto', cmap='viridis', vmin=0, vmax=vmax)
        ax.set_title(f'{name}: mean rank {R.mean():.1f}')
        ax.set_xlabel('KV head')
        ax.set_xticks(range(R.shape[1]))
        ax.set_ylabel('layer')
    fig.colorbar(im, ax=axes[:2], label='rank')
    layers = np.arange(R_K.shape[0])
    axes[2].plot(R_K.sum(1), layers, 'o-', label='K (sum over heads)')
    axes[2].plot(R_V.sum(1), layers, 's-', label='V (sum over heads)')
    axes[2].invert_yaxis()
    axes[2].set_xlabel('rank per layer')
    axes[2].legend(fontsize=8)
    kept = data.get('kept_fraction')
    fig.suptitle(f"searched ranks, budget {data.get('budget')}: kept {kept:.3f}, "
                 f"K {data.get('K_fraction', 0):.3f} / V {data.get('V_fraction', 0):.3f}"
                 if kept is not None else 'ranks')
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches='tight')
    plt.close(fig)
    return out
