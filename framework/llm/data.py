"""Text corpora and token windows.

``llm.PydocText``: ``pydoc_data.topics.topics`` in dict order, ``heldout`` = first 40 topics,
``train`` = the rest. ``llm.StdlibSourceText``: source of fixed stdlib modules.
``llm.LocalText``: WikiText-2 parquet / Alpaca json / RedPajama jsonl / txt from local files."""

from __future__ import annotations

import functools
import glob
import inspect
import json
import sys
from pathlib import Path

import torch
from torch.utils.data import Dataset

from framework.errors import FwError

HELDOUT_TOPICS = 40
STDLIB_MODULES = (
    'argparse',
    'collections',
    'json',
    'pathlib',
    'textwrap',
    'typing',
    'dataclasses',
    'functools',
    'enum',
    'csv',
)


def pydoc_text(split: str = 'heldout') -> str:
    from pydoc_data.topics import topics

    values = list(topics.values())
    if split == 'heldout':
        parts = values[:HELDOUT_TOPICS]
    elif split == 'train':
        parts = values[HELDOUT_TOPICS:]
    else:
        raise FwError(f"pydoc split {split!r}: choose 'train' or 'heldout'")
    return '\n'.join(parts)


def stdlib_source_text(modules=STDLIB_MODULES) -> str:
    import importlib

    return '\n'.join(inspect.getsource(importlib.import_module(m)) for m in modules)


def local_text(path: str, fmt: str | None = None, max_records: int | None = None) -> str:
    """Text of local files: ``parquet`` (column ``text``, WikiText-2 raw), ``alpaca`` json
    (instruction/input/output), ``jsonl`` (field ``text``), ``txt``. ``path`` may be a glob."""
    files = sorted(glob.glob(str(Path(path).expanduser()))) or []
    if not files:
        raise FwError(
            f'no local text at {path}: put e.g. wikitext-2-raw-v1/test-*.parquet, alpaca_data.json '
            f"or a *.jsonl with a 'text' field there"
        )
    out = []
    for f in files:
        kind = fmt or {
            '.parquet': 'parquet',
            '.jsonl': 'jsonl',
            '.json': 'alpaca',
            '.txt': 'txt',
        }.get(Path(f).suffix, 'txt')
        if kind == 'parquet':
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise FwError('reading parquet needs pyarrow: pip install pyarrow') from None
            out += [t for t in pq.read_table(f, columns=['text']).column('text').to_pylist()]
        elif kind == 'jsonl':
            with open(f) as fh:
                out += [json.loads(line)['text'] for line in fh if line.strip()]
        elif kind == 'alpaca':
            recs = json.loads(Path(f).read_text())
            out += [
                '\n'.join(
                    x
                    for x in (r.get('instruction', ''), r.get('input', ''), r.get('output', ''))
                    if x
                )
                for r in recs
            ]
        else:
            out.append(Path(f).read_text())
    if max_records is not None:
        out = out[:max_records]
    return '\n'.join(out)


def corpus_text(name: str, split: str = 'heldout', **kw) -> str:
    if name == 'pydoc':
        return pydoc_text(split)
    if name == 'stdlib':
        return stdlib_source_text()
    if name == 'local':
        return local_text(**kw)
    raise FwError(f'corpus {name!r}: choose pydoc, stdlib or local')


@functools.lru_cache(maxsize=16)
def _encode_cached(tok_key: str, text_key: str, text: str, tokenizer_ref) -> torch.Tensor:
    ids = tokenizer_ref[0](text, add_special_tokens=False)['input_ids']
    return torch.tensor(ids, dtype=torch.long)


def encode(tokenizer, text: str) -> torch.Tensor:
    """Tokenize once (no BOS); memoised per tokenizer and text."""
    key = getattr(tokenizer, 'name_or_path', '') + str(id(tokenizer))
    return _encode_cached(key, str(hash(text)), text, (tokenizer,))


def token_windows(ids: torch.Tensor, length: int, max_windows: int | None = None) -> torch.Tensor:
    """Non-overlapping windows of ``length`` tokens, tail dropped: (N, length)."""
    n = ids.numel() // length
    if max_windows is not None:
        n = min(n, max_windows)
    if n == 0:
        raise FwError(f'text has {ids.numel()} tokens, fewer than one window of {length}')
    return ids[: n * length].view(n, length)


def python_version() -> str:
    return '.'.join(map(str, sys.version_info[:3]))


class _WindowDataset(Dataset):
    """Token windows of a text as ``dict(input_ids=LongTensor(L))`` items."""

    def __init__(
        self, text: str, tokenizer='smollm2', window: int = 256, max_windows: int | None = None
    ):
        if isinstance(tokenizer, str):
            from framework.llm.models import load_tokenizer

            tokenizer = load_tokenizer(tokenizer)
        self.windows = token_windows(encode(tokenizer, text), window, max_windows)

    def __len__(self):
        return self.windows.shape[0]

    def __getitem__(self, i):
        return dict(input_ids=self.windows[i])


class PydocText(_WindowDataset):
    """``llm.PydocText``: the pydoc topics text that ships with Python, as token windows.

    Args:
        split: ``"train"`` or ``"heldout"`` (disjoint topics).
        tokenizer: a tokenizer, or the name of a local one (``"smollm2"``: the GGUF's).
        window: tokens per item (non-overlapping windows, tail dropped).
        max_windows: keep at most this many windows (None: all).
    """

    def __init__(self, split='train', tokenizer='smollm2', window=256, max_windows=None):
        self.split = split
        super().__init__(pydoc_text(split), tokenizer, window, max_windows)


class StdlibSourceText(_WindowDataset):
    """``llm.StdlibSourceText``: source code of a fixed list of stdlib modules, as token windows.

    Args:
        tokenizer: a tokenizer, or the name of a local one (``"smollm2"``: the GGUF's).
        window: tokens per item (non-overlapping windows, tail dropped).
        max_windows: keep at most this many windows (None: all).
        modules: names of the standard-library modules whose source is read.
    """

    def __init__(self, tokenizer='smollm2', window=256, max_windows=None, modules=STDLIB_MODULES):
        super().__init__(stdlib_source_text(tuple(modules)), tokenizer, window, max_windows)


class LocalText(_WindowDataset):
    """``llm.LocalText``: parquet/json/jsonl/txt files with a text field, as token windows.

    Args:
        path: a file or glob (e.g. ``wikitext-2-raw-v1/test-*.parquet``).
        tokenizer: a tokenizer, or the name of a local one (``"smollm2"``: the GGUF's).
        window: tokens per item (non-overlapping windows, tail dropped).
        max_windows: keep at most this many windows (None: all).
        fmt: ``parquet``, ``alpaca``, ``jsonl`` or ``txt`` (None: from the file suffix).
        max_records: read at most this many records (None: all).
    """

    def __init__(self, path, tokenizer, fmt=None, window=256, max_windows=None, max_records=None):
        super().__init__(local_text(path, fmt, max_records), tokenizer, window, max_windows)


def collate(batch):
    """``dict(input_ids=(B, L))`` from a list of items (registered as the collate of the configs)."""
    return dict(input_ids=torch.stack([b['input_ids'] for b in batch]))
