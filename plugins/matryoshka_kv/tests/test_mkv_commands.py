"""``fw matryoshka_kv`` commands on a tiny model (real config loading, registry build, pydoc
held-out windows), and one clear error per bad input."""

import json
import textwrap

import pytest
from click.testing import CliRunner

from framework import FwError
from fw_matryoshka_kv import commands
from fw_matryoshka_kv.model import parse_ranks


@pytest.fixture(scope='module')
def config(tiny_dir, tmp_path_factory):
    from framework.plugins import activate

    activate('matryoshka_kv')
    path = tmp_path_factory.mktemp('cfg') / 'tiny_mkv.py'
    path.write_text(
        textwrap.dedent(f"""
        model = dict(type='matryoshka_kv.MatryoshkaKVModel', model='{tiny_dir}', init='pca',
                     calib=dict(windows=4, length=32), num_threads=1)
    """)
    )
    return str(path)


def lines(result):
    assert result.exit_code == 0, result.output
    return [json.loads(x) for x in result.stdout.splitlines() if x.startswith('{')]


def test_eval_json_keys_bytes_and_full_rank(config):
    r = CliRunner().invoke(
        commands.evaluate,
        [config, '--ranks', 'full,uniform:8', '--json', '--windows', '2', '--window-len', '32'],
    )
    full, half = lines(r)
    for res in (full, half):
        assert {'perplexity', 'kl', 'cache_bytes_per_token'} <= set(res)
    assert full['cache_bytes_per_token'] == 2 * 2 * (16 + 16) * 4  # L g (d + d) float32
    assert half['cache_bytes_per_token'] == 2 * 2 * (8 + 8) * 4
    assert half['kept_fraction'] == 0.5
    assert abs(full['kl']) < 1e-6 and full['perplexity'] == pytest.approx(
        full['base_perplexity'], rel=1e-5
    )
    assert half['kl'] > 1e-4


def test_search_writes_ranks_on_budget_and_plot(config, tmp_path):
    r = CliRunner().invoke(
        commands.search,
        [
            config,
            '--budget',
            '0.5',
            '--rounds',
            '2',
            '--windows',
            '1',
            '--window-len',
            '16',
            '--out-dir',
            str(tmp_path),
        ],
    )
    (res,) = lines(r)
    assert res['kept_fraction'] == 0.5 and res['units'] == res['target_units']
    data = json.loads((tmp_path / 'ranks_0.5.json').read_text())
    assert sum(map(sum, data['R_K'])) + sum(map(sum, data['R_V'])) == 2 * 2 * 2 * 16 // 2
    assert (tmp_path / 'ranks_0.5.png').stat().st_size > 1000
    r = CliRunner().invoke(
        commands.evaluate,
        [
            config,
            '--ranks',
            str(tmp_path / 'ranks_0.5.json'),
            '--json',
            '--windows',
            '1',
            '--window-len',
            '32',
        ],
    )
    (ev,) = lines(r)
    assert ev['cache_bytes_per_token'] == 2 * 2 * 16 * 4  # half of 2 L g d float32


@pytest.mark.parametrize(
    'spec, match',
    [
        ('uniform:x', 'uniform:R with an integer'),
        ('uniform:99', r'R must lie in \[1, 16\]'),
        ('missing.json', 'not a file'),
    ],
)
def test_bad_ranks_are_one_clear_error(spec, match):
    with pytest.raises(FwError, match=match):
        parse_ranks(spec, 2, 2, 16)


def test_ranks_file_with_wrong_shape(tmp_path):
    bad = tmp_path / 'r.json'
    bad.write_text(json.dumps(dict(R_K=[[8, 8]], R_V=[[8, 8]])))
    with pytest.raises(FwError, match='R_K must be 2 x 2'):
        parse_ranks(str(bad), 2, 2, 16)


def test_generate_runs_through_the_low_rank_cache(config):
    r = CliRunner().invoke(
        commands.generate, [config, '--ranks', 'uniform:4', '--max-new-tokens', '3']
    )
    (res,) = lines(r)
    assert isinstance(res['answer'], str)
    assert res['cache_bytes_per_token'] == 2 * 2 * (4 + 4) * 4
