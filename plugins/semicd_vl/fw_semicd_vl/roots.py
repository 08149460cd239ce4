"""Data-root placeholders of the configs: one key re-points a config at another copy of the data.

Dataset configs write their folders as ``'{data_root}'``, ``'{vl_label_root}/gen_seg_label/...'``
and so on; the loops of this plugin (train, val, test) fill each ``{name}`` with the config's
top-level key ``name`` before building the dataloaders. So ``--cfg-options data_root=/my/LEVIR``
moves every split (train, val, test) at once, and ``vl_label_root=...`` moves the VLM labels.
"""

from __future__ import annotations

import re

from framework import FwError

PLACEHOLDER = re.compile(r'\{([A-Za-z_][A-Za-z0-9_]*)\}')


def _fill(text, cfg):
    def sub(m):
        key = m.group(1)
        value = None if cfg is None else cfg.get(key)
        if not isinstance(value, str):
            raise FwError(
                f'dataset path {text!r} names {{{key}}}, but the config has no top-level string '
                f'key {key!r}; add `{key} = "..."` to the config or pass '
                f'--cfg-options {key}=PATH'
            )
        return value

    return PLACEHOLDER.sub(sub, text)


def resolve_roots(node, cfg):
    """``node`` (a dataloader config: dicts, lists, strings) with every ``{name}`` in its strings
    replaced by ``cfg[name]`` (a top-level string key of the config); other values unchanged."""
    if isinstance(node, dict):
        return {k: resolve_roots(v, cfg) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(resolve_roots(v, cfg) for v in node)
    if isinstance(node, str) and '{' in node:
        return _fill(node, cfg)
    return node


def check_resolved(path, what):
    """A clear error for a dataset path whose placeholder was never filled (a dataset built
    outside the plugin's loops)."""
    if path is not None and PLACEHOLDER.search(str(path)):
        raise FwError(
            f'{what} {path!r} still holds a placeholder: the semicd_vl loops fill it from the '
            f"config's top-level key; outside them call fw_semicd_vl.roots.resolve_roots(cfg_dict, "
            f'cfg) first'
        )
    return path
