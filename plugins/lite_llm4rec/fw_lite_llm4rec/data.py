"""Interaction loaders, the normalised form and the leave-one-out split (paper Sec. 4.1).

Two input formats are read into one normalised :class:`InteractionTable`:

* RecBole atomic files ``<name>.inter`` / ``<name>.item``: tab-separated UTF-8, header cells
  ``field:type`` (type in token, token_seq, float, float_seq); columns are found by field name.
* MovieLens ``.dat`` (ML-1M, ML-10M): ``ratings.dat`` = ``UserID::MovieID::Rating::Timestamp`` and
  ``movies.dat`` = ``MovieID::Title (Year)::G1|G2``, both ISO-8859-1.

The offline default is MovieLens-100K as shipped inside the ``recbole`` 1.2.1 distribution
(``recbole/dataset_example/ml-100k``); the files are located through ``importlib.metadata`` and
RecBole itself is never imported.
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from framework import FwError

DEFAULT_TEMPLATE = '{title} ({year}). Genres: {genres}.'
_YEAR_SUFFIX = re.compile(r'^(.*?)\s*\((\d{4})\)\s*$')


@dataclass
class InteractionTable:
    """The normalised form every loader emits.

    ``user``/``item`` are raw id strings, ``timestamp`` float seconds, ``row_index`` the line
    number in the interaction file (the tie-breaker of the time sort), ``rating`` NaN if absent.
    ``item_meta`` maps raw item id -> {'title', 'year', 'genres'} in item-file order.
    """

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray
    row_index: np.ndarray
    rating: np.ndarray
    item_meta: dict = field(default_factory=dict)
    source: str = ''


def _open_lines(path: Path, encoding: str):
    if not path.is_file():
        raise FwError(f'{path} does not exist; give data.dataset_path as a folder holding it')
    try:
        return path.read_text(encoding=encoding).splitlines()
    except UnicodeDecodeError as e:
        raise FwError(
            f'{path} is not valid {encoding} ({e}); RecBole atomic files are UTF-8, '
            f'MovieLens .dat files are ISO-8859-1 (format: ml_dat)'
        ) from None


def _atomic_columns(path: Path, header: str, required: tuple[str, ...]) -> dict[str, int]:
    columns = {}
    for i, cell in enumerate(header.split('\t')):
        name, _, kind = cell.strip().partition(':')
        if kind not in ('token', 'token_seq', 'float', 'float_seq'):
            raise FwError(
                f"{path}: header cell '{cell}' is not 'field:type' with type token, "
                f'token_seq, float or float_seq'
            )
        columns[name] = i
    missing = [c for c in required if c not in columns]
    if missing:
        raise FwError(
            f'{path}: header lacks {missing} (has {sorted(columns)}); a RecBole .inter '
            f'needs user_id, item_id and timestamp, a .item needs item_id'
        )
    return columns


def read_atomic(folder: str | Path, name: str | None = None) -> InteractionTable:
    """Read ``<folder>/<name>.inter`` and ``<name>.item`` (``name`` defaults to the folder name)."""
    folder = Path(folder)
    name = name or folder.name
    inter_path, item_path = folder / f'{name}.inter', folder / f'{name}.item'
    lines = _open_lines(inter_path, 'utf-8')
    cols = _atomic_columns(inter_path, lines[0], ('user_id', 'item_id', 'timestamp'))
    rows = [line.split('\t') for line in lines[1:] if line.strip()]
    width = len(cols)
    for n, row in enumerate(rows):
        if len(row) != width:
            raise FwError(
                f'{inter_path}: line {n + 2} has {len(row)} tab-separated cells, the '
                f'header has {width}'
            )
    get = lambda key: [row[cols[key]] for row in rows]  # noqa: E731
    rating = (
        np.asarray(get('rating'), dtype=np.float64)
        if 'rating' in cols
        else np.full(len(rows), np.nan)
    )
    table = InteractionTable(
        user=np.asarray(get('user_id'), dtype=object),
        item=np.asarray(get('item_id'), dtype=object),
        timestamp=np.asarray(get('timestamp'), dtype=np.float64),
        row_index=np.arange(len(rows), dtype=np.int64),
        rating=rating,
        source=str(inter_path),
    )
    if item_path.is_file():
        lines = _open_lines(item_path, 'utf-8')
        cols = _atomic_columns(item_path, lines[0], ('item_id',))
        title_key = next((k for k in ('movie_title', 'title') if k in cols), None)
        genre_key = next((k for k in ('class', 'genre', 'categories') if k in cols), None)
        for line in lines[1:]:
            if not line.strip():
                continue
            row = line.split('\t')
            cell = lambda key: row[cols[key]].strip() if key and cols[key] < len(row) else ''  # noqa
            table.item_meta[cell('item_id')] = dict(
                title=cell(title_key),
                year=cell('release_year' if 'release_year' in cols else None),
                genres=cell(genre_key).split() if genre_key else [],
                brand=cell('brand' if 'brand' in cols else None),
            )
    return table


def split_title_year(text: str) -> tuple[str, str]:
    """``'Misérables, Les (1995)'`` -> (``'Misérables, Les'``, ``'1995'``); no year -> ''."""
    match = _YEAR_SUFFIX.match(text)
    return (match.group(1), match.group(2)) if match else (text.strip(), '')


def read_ml_dat(folder: str | Path) -> InteractionTable:
    """Read MovieLens ``ratings.dat`` + ``movies.dat`` (ISO-8859-1, ``::``-separated)."""
    folder = Path(folder)
    ratings = _open_lines(folder / 'ratings.dat', 'iso-8859-1')
    users, items, stars, stamps = [], [], [], []
    for n, line in enumerate(ratings):
        if not line.strip():
            continue
        parts = line.split('::')
        if len(parts) != 4:
            raise FwError(
                f'{folder / "ratings.dat"}: line {n + 1} is not UserID::MovieID::Rating::Timestamp'
            )
        users.append(parts[0]), items.append(parts[1])
        stars.append(float(parts[2])), stamps.append(float(parts[3]))
    table = InteractionTable(
        user=np.asarray(users, dtype=object),
        item=np.asarray(items, dtype=object),
        timestamp=np.asarray(stamps, dtype=np.float64),
        row_index=np.arange(len(users), dtype=np.int64),
        rating=np.asarray(stars),
        source=str(folder / 'ratings.dat'),
    )
    movies = folder / 'movies.dat'
    if movies.is_file():
        for n, line in enumerate(_open_lines(movies, 'iso-8859-1')):
            if not line.strip():
                continue
            parts = line.split('::')
            if len(parts) != 3:
                raise FwError(f'{movies}: line {n + 1} is not MovieID::Title (Year)::G1|G2')
            title, year = split_title_year(parts[1])
            table.item_meta[parts[0]] = dict(
                title=title, year=year, genres=[g for g in parts[2].split('|') if g]
            )
    return table


def ml100k_folder() -> Path:
    """The MovieLens-100K atomic files inside the installed ``recbole`` 1.2.1 distribution."""
    try:
        dist = metadata.distribution('recbole')
    except metadata.PackageNotFoundError:
        raise FwError(
            'MovieLens-100K is read from the recbole 1.2.1 package files; install them '
            'with `pip install --no-deps recbole==1.2.1` (never imported), or give '
            'data.dataset_path'
        ) from None
    for f in dist.files or ():
        if str(f).replace('\\', '/').endswith('dataset_example/ml-100k/ml-100k.inter'):
            return Path(dist.locate_file(f)).parent
    raise FwError(f'recbole {dist.version} has no dataset_example/ml-100k; install recbole==1.2.1')


def load_table(
    dataset_path: str | None = None, format: str = 'recbole', name: str | None = None
) -> InteractionTable:
    """Read a dataset in ``format`` (recbole | ml_dat); no path = the packaged ML-100K."""
    if dataset_path is None:
        if format != 'recbole':
            raise FwError(
                f"data.format '{format}' needs data.dataset_path (only the packaged "
                f"ML-100K is available without a path, as format 'recbole')"
            )
        return read_atomic(ml100k_folder(), 'ml-100k')
    path = Path(dataset_path).expanduser()
    if not path.is_dir():
        raise FwError(
            f"data.dataset_path '{path}' is not a folder; it must hold "
            f'{"ratings.dat and movies.dat" if format == "ml_dat" else "<name>.inter"}'
        )
    if format == 'recbole':
        return read_atomic(path, name)
    if format == 'ml_dat':
        return read_ml_dat(path)
    raise FwError(f"data.format is '{format}'; expected 'recbole' or 'ml_dat'")


def _k_core(users, items, min_user, min_item):
    keep = np.ones(len(users), dtype=bool)
    while min_user or min_item:
        changed = False
        for ids, minimum in ((users, min_user), (items, min_item)):
            if not minimum:
                continue
            uniq, inv, counts = np.unique(ids[keep], return_inverse=True, return_counts=True)
            drop = counts[inv] < minimum
            if drop.any():
                keep[np.flatnonzero(keep)[drop]] = False
                changed = True
        if not changed:
            break
    return keep


class SequenceData:
    """Per-user chronological item sequences and the leave-one-out split (Sec. 4.1).

    Items with at least one interaction map to 1..n in item-file order (0 = padding); users map
    to 0..U-1 in order of first appearance. Each user's sequence is sorted stably by
    (timestamp, row_index). Split: test target s[-1], valid target s[-2], train s[:-2]; users
    with fewer than 3 interactions are train-only.
    """

    def __init__(
        self,
        table: InteractionTable,
        min_rating=None,
        min_user_inter=0,
        min_item_inter=0,
        item_text_template=DEFAULT_TEMPLATE,
    ):
        keep = np.ones(len(table.user), dtype=bool)
        if min_rating is not None:
            keep &= table.rating >= min_rating
        idx = np.flatnonzero(keep)
        keep_core = _k_core(table.user[idx], table.item[idx], min_user_inter, min_item_inter)
        idx = idx[keep_core]
        users, items = table.user[idx], table.item[idx]
        rated = set(items.tolist())
        ordered = [i for i in table.item_meta if i in rated]
        ordered += sorted(rated.difference(table.item_meta), key=lambda s: (len(s), s))
        self.raw_items = ordered
        self.item_index = {raw: k + 1 for k, raw in enumerate(ordered)}
        self.n_items = len(ordered)
        meta = [dict(title='', year='', genres=[])] + [
            table.item_meta.get(raw, dict(title=f'item {raw}', year='', genres=[]))
            for raw in ordered
        ]
        self.titles = [m['title'] for m in meta]
        self.years = [m['year'] for m in meta]
        self.genres = [list(m['genres']) for m in meta]
        self.brands = [m.get('brand', '') for m in meta]
        self.template = item_text_template
        user_index: dict[str, int] = {}
        for u in users:
            user_index.setdefault(u, len(user_index))
        self.raw_users = list(user_index)
        uid = np.fromiter((user_index[u] for u in users), dtype=np.int64, count=len(users))
        iid = np.fromiter((self.item_index[i] for i in items), dtype=np.int64, count=len(items))
        order = np.lexsort((table.row_index[idx], table.timestamp[idx], uid))  # stable by design
        uid, iid = uid[order], iid[order]
        bounds = np.flatnonzero(np.diff(uid)) + 1
        self.sequences = [s.copy() for s in np.split(iid, bounds)] if len(iid) else []
        self.n_users = len(self.sequences)
        self.n_interactions = int(len(iid))

    # ---- split -------------------------------------------------------------------------------
    def train_sequence(self, user: int) -> np.ndarray:
        s = self.sequences[user]
        return s[:-2] if len(s) >= 3 else s

    def eval_users(self, split: str) -> list[int]:
        if split not in ('valid', 'test'):
            raise FwError(f"split is '{split}'; expected 'valid' or 'test'")
        return [u for u, s in enumerate(self.sequences) if len(s) >= 3]

    def target_and_history(self, user: int, split: str) -> tuple[int, np.ndarray]:
        """(target, full history before it) for ``split`` in valid | test."""
        s = self.sequences[user]
        cut = len(s) - (1 if split == 'test' else 2)
        return int(s[cut]), s[:cut]

    def train_counts(self) -> np.ndarray:
        """Train-split interaction counts per item id (index 0 = padding, always 0)."""
        counts = np.zeros(self.n_items + 1, dtype=np.int64)
        for u in range(self.n_users):
            np.add.at(counts, self.train_sequence(u), 1)
        counts[0] = 0
        return counts

    # ---- text --------------------------------------------------------------------------------
    def item_text(self, item: int) -> str:
        """The ItemLLM input of ``item`` from the template (fields title, year, genres, brand)."""
        try:
            text = self.template.format(
                title=self.titles[item],
                year=self.years[item],
                genres=', '.join(self.genres[item]),
                brand=self.brands[item],
            )
        except (KeyError, IndexError) as e:
            raise FwError(
                f"data.item_text_template '{self.template}' uses an unknown field "
                f'({e}); the fields are title, year, genres and brand'
            ) from None
        return text.replace(' ()', '').replace('Genres: .', '').strip()

    def item_texts(self) -> list[str]:
        return [self.item_text(i) for i in range(1, self.n_items + 1)]

    def item_title(self, item: int) -> str:
        """GenRec's item string ``'{title} ({year})'`` (before disambiguation)."""
        year = self.years[item]
        return f'{self.titles[item]} ({year})' if year else self.titles[item]

    def stats(self) -> dict:
        lengths = [len(s) for s in self.sequences]
        return dict(
            users=self.n_users,
            items=self.n_items,
            interactions=self.n_interactions,
            min_len=min(lengths, default=0),
            median_len=float(np.median(lengths or [0])),
            max_len=max(lengths, default=0),
        )


@functools.lru_cache(maxsize=8)
def _cached(key: str) -> SequenceData:
    cfg = json.loads(key)
    table = load_table(cfg.pop('dataset_path'), cfg.pop('format'), cfg.pop('name'))
    return SequenceData(table, **cfg)


def load_sequence_data(
    dataset_path=None,
    format='recbole',
    name=None,
    min_rating=None,
    min_user_inter=0,
    min_item_inter=0,
    item_text_template=DEFAULT_TEMPLATE,
    **unused,
) -> SequenceData:
    """The :class:`SequenceData` of a ``data`` config dict (memoised within the process).

    Keys: dataset_path (None = packaged ML-100K), format (recbole | ml_dat), name (atomic file
    stem), min_rating (None = implicit feedback, every rating counts), min_user_inter and
    min_item_inter (k-core, 0 = off), item_text_template. Other keys (max_len, ...) are ignored.
    """
    key = json.dumps(
        dict(
            dataset_path=None if dataset_path is None else str(dataset_path),
            format=format,
            name=name,
            min_rating=min_rating,
            min_user_inter=min_user_inter,
            min_item_inter=min_item_inter,
            item_text_template=item_text_template,
        ),
        sort_keys=True,
    )
    return _cached(key)
