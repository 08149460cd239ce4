"""Loaders (RecBole atomic files, MovieLens .dat in ISO-8859-1), the split and the samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from framework import FwError
from fw_lite_llm4rec.data import SequenceData, load_sequence_data, read_atomic, read_ml_dat
from fw_lite_llm4rec.sampling import SeqRecEvalData, SeqRecTrainData, train_windows

DATA = Path(__file__).parent / 'data'
TINY = dict(dataset_path=str(DATA), format='recbole', name='tiny', max_len=4)


def test_atomic_loader_counts_titles_years():
    table = read_atomic(DATA, 'tiny')
    lines = (DATA / 'tiny.inter').read_text().splitlines()[1:]
    assert len(table.user) == len(lines) == 233
    assert len(set(table.user)) == 30
    meta = table.item_meta['107']
    assert (meta['title'], meta['year'], meta['brand']) == ('Café Society', '1996', '')
    assert table.item_meta['101']['title'] == 'Toy Tale'
    assert all(isinstance(g, list) and g for g in (m['genres'] for m in table.item_meta.values()))


def test_atomic_columns_found_by_name(tmp_path):
    """Reordered .inter columns parse to the same sequences."""
    lines = (DATA / 'tiny.inter').read_text().splitlines()
    order = [3, 1, 0, 2]
    rows = [line.split('\t') for line in lines]
    (tmp_path / 'tiny.inter').write_text(
        '\n'.join('\t'.join(r[i] for i in order) for r in rows) + '\n'
    )
    (tmp_path / 'tiny.item').write_text((DATA / 'tiny.item').read_text())
    a = SequenceData(read_atomic(DATA, 'tiny'))
    b = SequenceData(read_atomic(tmp_path, 'tiny'))
    assert a.raw_users == b.raw_users
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))


def test_ml_dat_latin1_titles_and_years():
    table = read_ml_dat(DATA / 'ml1m_sample')
    assert len(table.user) == 10 and len(table.item_meta) == 6
    assert table.item_meta['3']['title'] == 'Misérables, Les'
    assert table.item_meta['3']['year'] == '1995'
    assert table.item_meta['5']['title'] == 'Cité des enfants perdus, La'
    assert table.item_meta['6'] == dict(
        title='Yes, Madam (Huang gu shi jie)', year='1985', genres=['Action']
    )
    assert table.item_meta['1']['genres'] == ['Animation', "Children's", 'Comedy']


def test_utf8_decoding_of_latin1_is_a_clear_error(tmp_path):
    raw = (DATA / 'ml1m_sample' / 'movies.dat').read_bytes()
    (tmp_path / 'tiny.inter').write_text('user_id:token\titem_id:token\ttimestamp:float\n1\t3\t1\n')
    (tmp_path / 'tiny.item').write_bytes(b'item_id:token\tmovie_title:token_seq\n' + raw)
    with pytest.raises(FwError, match='not valid utf-8'):
        read_atomic(tmp_path, 'tiny')


def test_bad_header_and_missing_path_are_clear_errors(tmp_path):
    (tmp_path / 'x.inter').write_text('user item time\n1 2 3\n')
    with pytest.raises(FwError, match='field:type'):
        read_atomic(tmp_path, 'x')
    with pytest.raises(FwError, match='dataset_path'):
        load_sequence_data(dataset_path=str(tmp_path / 'nowhere'))
    with pytest.raises(FwError, match='ml_dat'):
        load_sequence_data(dataset_path=str(tmp_path), format='csv')


def test_ties_resolve_by_row_order_and_items_map_in_file_order():
    table = read_atomic(DATA, 'tiny')
    seqs = SequenceData(table)
    for u, raw in enumerate(seqs.raw_users):
        rows = np.flatnonzero(table.user == raw)
        rows = sorted(rows, key=lambda r: (table.timestamp[r], r))  # reference: python sort
        expected = [seqs.item_index[table.item[r]] for r in rows]
        assert seqs.sequences[u].tolist() == expected
    assert SequenceData(table).sequences[0].tolist() == seqs.sequences[0].tolist()
    rated = [raw for raw in table.item_meta if raw in set(table.item)]
    assert seqs.raw_items == rated and seqs.item_index[rated[0]] == 1


def test_split_invariants_on_tiny():
    seqs = load_sequence_data(**TINY)
    valid, test = SeqRecEvalData(TINY, 'valid'), SeqRecEvalData(TINY, 'test')
    short = [u for u, s in enumerate(seqs.sequences) if len(s) < 3]
    assert short and all(u not in test.users for u in short)
    for k, u in enumerate(test.users):
        s = seqs.sequences[u]
        train = seqs.train_sequence(u)
        assert np.array_equal(np.concatenate([train, [valid.targets[k]], [test.targets[k]]]), s)
        history = test.seen[k][test.seen[k] > 0]
        assert np.array_equal(history.numpy(), s[:-1])  # no target in its own history
        assert test.inputs[k, -1] == s[-2]  # newest item at position N-1
    windows = SeqRecTrainData(TINY)
    assert windows.n_targets == sum(len(seqs.train_sequence(u)) - 1 for u in range(seqs.n_users))


def test_windows_cover_each_train_target_once():
    seq = np.arange(1, 13)
    windows = train_windows(seq, 4)
    assert [w.tolist() for w in windows] == [[8, 9, 10, 11, 12], [4, 5, 6, 7, 8], [1, 2, 3, 4]]
    targets = sorted(t for w in windows for t in w[1:].tolist())
    assert targets == list(range(2, 13))


def test_ml100k_from_the_recbole_package():
    """The packaged ML-100K: published counts and the N = 50 window count."""
    data = dict(max_len=50)
    seqs = load_sequence_data(**data)
    assert (seqs.n_users, seqs.n_items, seqs.n_interactions) == (943, 1682, 100000)
    assert min(len(s) for s in seqs.sequences) == 20
    windows = SeqRecTrainData(data)
    assert len(windows) == 2412 and windows.n_targets == 97171
    assert windows.inputs.shape[1] == 50
    for u in range(0, 943, 37):  # no train window holds s[-2] or s[-1] (no repeats in ML-100K)
        s = seqs.sequences[u]
        rows = windows.users == u
        held = set(windows.inputs[rows].flatten().tolist()) | set(
            windows.targets[rows].flatten().tolist()
        )
        assert held - {0} == set(s[:-2].tolist())
    assert seqs.item_text(1) == "Toy Story (1995). Genres: Animation, Children's, Comedy."


def test_negative_sampling_is_rejected():
    with pytest.raises(FwError, match='full softmax'):
        SeqRecTrainData(dict(TINY, num_negatives=100))
