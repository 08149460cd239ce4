"""The evaluation metric."""
from mmengine.evaluator import BaseMetric


class Accuracy(BaseMetric):
    """Top-1 accuracy of the model's ``predict`` outputs, reported as ``demo/accuracy``.

    Takes mmengine's ``BaseMetric`` arguments (``collect_device``, ``prefix``).
    """

    default_prefix = 'demo'

    def process(self, data_batch, data_samples):
        for s in data_samples:
            self.results.append(int(s['pred'] == s['label']))

    def compute_metrics(self, results):
        return {'accuracy': sum(results) / max(len(results), 1)}
