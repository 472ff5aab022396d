"""Control accuracy of a conditional generator: does the judge see the attribute value that was requested?"""
from typing import Dict, Sequence

import numpy as np


def _predicted_ids(predicted) -> np.ndarray:
    """Accepts class ids `[N]` or logits/probabilities `[N, V]` (argmax taken)."""
    predicted = np.asarray(predicted)
    return np.argmax(predicted, axis=1) if predicted.ndim == 2 else predicted.astype(np.int64)


def confusion_matrix(true_ids, predicted, num_classes: int) -> np.ndarray:
    """`[V, V]` int64 counts; row = requested (true) value, column = judged (predicted) value."""
    true_ids, predicted_ids = np.asarray(true_ids, np.int64), _predicted_ids(predicted)
    if true_ids.shape != predicted_ids.shape:
        raise ValueError(f"true ids {true_ids.shape} and predictions {predicted_ids.shape} differ in length")
    for name, ids in (("true", true_ids), ("predicted", predicted_ids)):
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            raise ValueError(f"{name} ids must lie in [0, {num_classes}); got range [{ids.min()}, {ids.max()}]")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true_ids, predicted_ids), 1)
    return matrix


def accuracy(true_ids, predicted) -> float:
    """Fraction of predictions equal to the true ids (ids or logits accepted)."""
    true_ids, predicted_ids = np.asarray(true_ids, np.int64), _predicted_ids(predicted)
    if true_ids.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float(np.mean(true_ids == predicted_ids))


def per_value_accuracy(true_ids, predicted, vocab: Sequence[str]) -> Dict[str, float]:
    """Accuracy for each vocabulary value that occurs among the true ids (recall per requested value)."""
    matrix = confusion_matrix(true_ids, predicted, len(vocab))
    totals = matrix.sum(axis=1)
    return {vocab[i]: float(matrix[i, i] / totals[i]) for i in range(len(vocab)) if totals[i] > 0}


def control_accuracy(true_ids: Dict[str, np.ndarray], predicted: Dict[str, np.ndarray],
                     vocab: Dict[str, Sequence[str]]) -> Dict[str, dict]:
    """Per attribute: {"accuracy", "per_value", "confusion", "labels"}; both dicts keyed by attribute name."""
    result = {}
    for attribute, labels in vocab.items():
        result[attribute] = {
            "accuracy": accuracy(true_ids[attribute], predicted[attribute]),
            "per_value": per_value_accuracy(true_ids[attribute], predicted[attribute], labels),
            "confusion": confusion_matrix(true_ids[attribute], predicted[attribute], len(labels)),
            "labels": list(labels),
        }
    return result
