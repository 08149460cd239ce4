"""Data: T2I-CompBench prompt files, training pairs, the noun-phrase splitter, BLIP-VQA arithmetic,
the shapes prompts and renders."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from framework import FwError
from fw_wiclp.data import CompBenchPrompts, ImageTextPairs, compbench_prompts, read_prompt_file
from fw_wiclp.metric import BlipVqaScore, noun_phrases, vqa_score


@pytest.fixture
def compbench(tmp_path):
    folder = tmp_path / 'T2I-CompBench' / 'examples' / 'dataset'
    folder.mkdir(parents=True)
    (folder / 'color_train.txt').write_text(
        'a green bench and a red car.\na blue backpack and a red bench\n'
        'a green bench and a red car.\n  a brown boat and a blue cat.  \n\n'
    )
    (folder / 'color_val.txt').write_text('a white dog and a black sheep.\na yellow lamp\n')
    (folder / 'color.txt').write_text(
        'a green bench and a red car.\na white dog and a black sheep.\n'
    )
    return tmp_path / 'T2I-CompBench'


def test_prompt_files_strip_and_deduplicate(compbench):
    assert compbench_prompts(compbench, 'color', 'train') == [
        'a green bench and a red car',
        'a blue backpack and a red bench',
        'a brown boat and a blue cat',
    ]
    assert compbench_prompts(compbench, 'color', 'val') == [
        'a white dog and a black sheep',
        'a yellow lamp',
    ]
    data = CompBenchPrompts(str(compbench), 'color', 'val', images_per_prompt=3)
    assert len(data) == 6 and data[4]['data_samples']['noise_seed'] == 1001


def test_overlap_and_the_mixed_file_are_refused(compbench):
    with pytest.raises(FwError, match='leak'):
        compbench_prompts(compbench, 'color', 'all')
    folder = compbench / 'examples' / 'dataset'
    (folder / 'color_val.txt').write_text('a green bench and a red car\n')
    with pytest.raises(FwError, match='in both'):
        compbench_prompts(compbench, 'color', 'train')
    with pytest.raises(FwError, match='does not exist'):
        read_prompt_file(folder / 'shape_train.txt')


def write_images(folder, n):
    for i in range(n):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f'{i}.png')


def test_pairs_json_and_jsonl(tmp_path):
    (tmp_path / 'img').mkdir()
    write_images(tmp_path / 'img', 2)
    rows = [
        dict(image='img/0.png', prompt='a red car'),
        dict(image=str(tmp_path / 'img' / '1.png'), prompt='a blue cat '),
    ]
    (tmp_path / 'pairs.json').write_text(json.dumps(rows))
    (tmp_path / 'pairs.jsonl').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    for name in ('pairs.json', 'pairs.jsonl'):
        data = ImageTextPairs(str(tmp_path / name), resolution=16, hflip=False)
        item = data[1]
        assert item['inputs'].shape == (3, 16, 16)
        assert item['data_samples']['prompt'] == 'a blue cat'
        assert torch.allclose(item['inputs'], torch.full((3, 16, 16), 40 / 127.5 - 1), atol=1e-6)


def test_missing_images_raise_once_with_the_count(tmp_path):
    rows = [dict(image=f'missing{i}.png', prompt='x') for i in range(3)]
    (tmp_path / 'pairs.json').write_text(json.dumps(rows))
    with pytest.raises(FwError, match=r'3 of 3 images are missing, the first is .*missing0.png'):
        ImageTextPairs(str(tmp_path / 'pairs.json'))


def test_noun_phrase_splitter():
    assert noun_phrases('a green bench and a red car.') == ['a green bench', 'a red car']
    assert noun_phrases('a red apple, a blue cup and a wooden table') == [
        'a red apple',
        'a blue cup',
        'a wooden table',
    ]


def test_blip_vqa_arithmetic_with_a_stub():
    """Per image: product of P(yes) over phrases; then the mean over images."""
    answers = {'a green bench?': 0.9, 'a red car?': 0.5, 'a yellow lamp?': 0.2}
    metric = BlipVqaScore(answerer=lambda images, qs: [answers[q] for q in qs])
    metric.process(
        None,
        [
            dict(prompt='a green bench and a red car.', image=torch.zeros(3, 4, 4)),
            dict(prompt='a yellow lamp', image=torch.zeros(3, 4, 4)),
        ],
    )
    assert metric.compute_metrics(metric.results)['score'] == pytest.approx((0.45 + 0.2) / 2)
    assert vqa_score([[0.5, 0.5], [1.0]]) == pytest.approx(0.625)


def test_shapes_prompts_and_splits():
    from fw_wiclp.shapes import ShapePrompts, pair_combinations, split_pairs

    assert len(pair_combinations()) == 36
    train, val = split_pairs('comp_train'), split_pairs('comp_val')
    assert len(train) == 48 and len(val) == 24  # both orders of 24 and 12 combinations
    assert not {frozenset(p) for p in train} & {frozenset(p) for p in val}
    assert len(ShapePrompts('single', 4)) == 48


def test_shapes_render_puts_each_phrase_in_its_half():
    import random

    from fw_wiclp.shapes import render

    image = render([('red', 'square'), ('blue', 'circle')], 16, random.Random(0)).astype(int)
    left, right = image[:, :8], image[:, 8:]
    assert left[..., 0].sum() > 0 and left[..., 2].sum() == 0
    assert right[..., 2].sum() > 0 and right[..., 0].sum() == 0


def test_binding_records_score_each_attribute_per_half(monkeypatch):
    """Colour and shape binding are per attribute; binding needs both; presence ignores halves."""
    from fw_wiclp import judge as judge_module
    from fw_wiclp.metric import binding_records

    def one_hot(index, n):
        return torch.nn.functional.one_hot(torch.tensor(index), n).float()

    # judged: image 0 = (red square | blue circle); image 1 = (red circle | blue square)
    left = (one_hot([0, 0], 4), one_hot([1, 0], 3))
    right = (one_hot([2, 2], 4), one_hot([0, 1], 3))
    monkeypatch.setattr(judge_module, 'judge_probabilities', lambda judge, x, n: [left, right])
    wanted = dict(prompt='a red square and a blue circle', prompt_index=0)
    samples = [dict(wanted, colours=[0, 2], shapes=[1, 0]) for _ in range(2)]
    first, second = binding_records(None, torch.zeros(2, 3, 16, 16), samples)
    assert (first['binding'], first['colour_binding'], first['shape_binding']) == (1, 1, 1)
    # the shapes swapped between the halves: colours bound, shapes not, both present
    assert (second['binding'], second['colour_binding'], second['shape_binding']) == (0, 1, 0)
    assert second['presence'] == 1 and second['vqa'] == 0
