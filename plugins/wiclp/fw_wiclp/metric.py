"""Compositional scores: BLIP-VQA (T2I-CompBench, real scale) and its shapes analogue.

T2I-CompBench's attribute-binding score (used by the paper, Sec. 6) splits the prompt into noun
phrases, asks a BLIP VQA model "{phrase}?" for each, multiplies the P("yes") of the phrases of an
image, and averages over images. The shapes experiment replaces BLIP with an attribute classifier
applied to each half of the image (:mod:`fw_wiclp.judge`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from framework import FwError


def noun_phrases(prompt: str, limit: int = 8) -> list[str]:
    """Split an attribute-binding prompt on ' and ' and ','; strip a trailing '.'.

    T2I-CompBench uses spaCy noun chunks (at most 8); its English model is not installable
    offline, so this rule-based splitter covers the colour/shape/texture prompts
    ("a green bench and a red car." -> ["a green bench", "a red car"]).
    """
    text = prompt.strip().rstrip('.').strip()
    parts = [p.strip() for p in re.split(r'\s*,\s*|\s+and\s+', text) if p.strip()]
    return parts[:limit]


def vqa_score(p_yes_per_phrase: list[list[float]]) -> float:
    """Per image: the product of P(yes) over its phrases; then the mean over images."""
    return float(np.mean([np.prod(p) for p in p_yes_per_phrase])) if p_yes_per_phrase else 0.0


class BlipVqaScore(BaseMetric):
    """BLIP-VQA attribute-binding score of generated images (T2I-CompBench protocol).

    Args:
        blip_vqa_dir (str): local folder of a BLIP VQA model (transformers ``BlipForQuestionAnswering``
            layout, e.g. Salesforce/blip-vqa-base); nothing is downloaded.
        answerer (callable | None): ``answerer(images, questions) -> P(yes)`` list, replacing
            the BLIP model (tests use a stub).
        prefix (str): metric name prefix.
        collect_device (str): device for collecting results across ranks (mmengine).
    """

    default_prefix = 'blip_vqa'

    def __init__(
        self,
        blip_vqa_dir: str | None = None,
        answerer=None,
        prefix: str | None = None,
        collect_device: str = 'cpu',
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.blip_vqa_dir = blip_vqa_dir
        self._answerer = answerer

    def answerer(self):
        if self._answerer is None:
            self._answerer = BlipYesProbability(self.blip_vqa_dir)
        return self._answerer

    def process(self, data_batch, data_samples):
        for sample in data_samples:
            phrases = noun_phrases(sample['prompt'])
            images = [sample['image']] * len(phrases)
            p_yes = self.answerer()(images, [f'{p}?' for p in phrases])
            self.results.append(dict(prompt=sample['prompt'], p_yes=[float(p) for p in p_yes]))

    def compute_metrics(self, results):
        return {'score': vqa_score([r['p_yes'] for r in results])}


class BlipYesProbability:
    """P("yes") of a local BLIP VQA model for (image, question) pairs."""

    def __init__(self, model_dir: str | None):
        if not model_dir or not Path(model_dir).expanduser().is_dir():
            raise FwError(
                f"blip_vqa_dir '{model_dir}' is not a folder; put a local BLIP VQA "
                f'model (transformers layout, e.g. Salesforce/blip-vqa-base) there '
                f'and set blip_vqa_dir in the config'
            )
        from transformers import BlipForQuestionAnswering, BlipProcessor

        self.processor = BlipProcessor.from_pretrained(model_dir, local_files_only=True)
        self.model = BlipForQuestionAnswering.from_pretrained(model_dir, local_files_only=True)
        self.model.eval()
        tok = self.processor.tokenizer
        self.yes_id = tok.convert_tokens_to_ids('yes')

    @torch.no_grad()
    def __call__(self, images, questions):
        device = next(self.model.parameters()).device
        inputs = self.processor(
            images=[img.clamp(0, 1) for img in images],
            text=questions,
            return_tensors='pt',
            do_rescale=False,
        ).to(device)
        start = torch.full(
            (len(questions), 1), self.model.config.text_config.bos_token_id, device=device
        )
        out = self.model(**inputs, decoder_input_ids=start)
        logits = out.logits if hasattr(out, 'logits') else out.decoder_logits
        return logits[:, 0].softmax(-1)[:, self.yes_id].tolist()


RECORD_METRICS = ('binding', 'colour_binding', 'shape_binding', 'vqa', 'presence')


def binding_records(judge, images: torch.Tensor, samples) -> list[dict]:
    """Per image: binding / presence / VQA-analogue scores from the attribute judge.

    ``samples`` carry the right colours and shapes, left to right. Binding: every crop has the
    right colour *and* shape. Colour / shape binding: every crop has the right colour (shape), the
    analogues of T2I-CompBench's colour and shape categories. VQA analogue: product over crops of
    p(colour) p(shape). Presence: the right colours and shapes appear somewhere, ignoring which
    object has which.
    """
    from .judge import judge_probabilities

    n_objects = len(samples[0]['colours'])
    probs = judge_probabilities(judge, images, n_objects)
    records = []
    for i, s in enumerate(samples):
        colours = [int(p[0][i].argmax()) for p in probs]
        shapes = [int(p[1][i].argmax()) for p in probs]
        vqa = float(
            np.prod(
                [
                    float(p[0][i, c]) * float(p[1][i, k])
                    for p, c, k in zip(probs, s['colours'], s['shapes'])
                ]
            )
        )
        records.append(
            dict(
                prompt=s['prompt'],
                prompt_index=int(s['prompt_index']),
                n_objects=n_objects,
                binding=float(colours == list(s['colours']) and shapes == list(s['shapes'])),
                colour_binding=float(colours == list(s['colours'])),
                shape_binding=float(shapes == list(s['shapes'])),
                presence=float(
                    sorted(colours) == sorted(s['colours'])
                    and sorted(shapes) == sorted(s['shapes'])
                ),
                vqa=vqa,
            )
        )
    return records


class BindingScore(BaseMetric):
    """Attribute-binding scores of generated shape scenes, judged by the attribute classifier.

    Args:
        res (int): image side (selects the cached judge).
        judge_seed (int): seed of the judge (trained once on fresh renders and cached; it must
            pass the 0.98 accuracy gate).
        prefix (str | None): metric name prefix (default ``binding``).
        collect_device (str): device for collecting results across ranks (mmengine).
    """

    default_prefix = 'binding'

    def __init__(
        self,
        res: int = 16,
        judge_seed: int = 0,
        prefix: str | None = None,
        collect_device: str = 'cpu',
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.res, self.judge_seed = res, judge_seed
        self._judge = None

    def process(self, data_batch, data_samples):
        if self._judge is None:
            from .cache import cached_judge

            self._judge = cached_judge(self.res, self.judge_seed)
        images = torch.stack([s['image'] for s in data_samples]) * 2 - 1
        self.results.extend(binding_records(self._judge, images, data_samples))

    def compute_metrics(self, results):
        return {key: float(np.mean([r[key] for r in results])) for key in RECORD_METRICS}
