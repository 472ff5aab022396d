"""bench/d_classifier_gap.py scores a discriminator's classifier on real transformed examples."""
import collections

import numpy as np
import pytest

from bench.d_classifier_gap import score
from test_training import ATTRS, CFG, transformed  # noqa: F401  (the fixture of real 16x16 photos)


def test_a_classifier_that_always_answers_the_commonest_value_scores_its_frequency(transformed, sample_catalog):  # noqa: F811,E501
    import csv

    from models.export import read_vocabulary
    from models.networks import build_discriminator

    path, files = transformed
    vocab = {a: read_vocabulary(files[a]) for a in ATTRS}
    sizes = {a: len(v) for a, v in vocab.items()}
    discriminator = build_discriminator(CFG, sizes)
    rows = list(csv.DictReader(open(sample_catalog / "styles.csv")))[:48]  # the fixture's 48 photos
    expected = {}
    for a in ATTRS:
        value, count = collections.Counter(r[a] for r in rows).most_common(1)[0]
        layer = discriminator.get_layer(f"d_classify_{a}")
        kernel, bias = layer.get_weights()
        bias = np.full_like(bias, -10.0)
        bias[vocab[a].index(value)] = 10.0
        layer.set_weights([np.zeros_like(kernel), bias])
        expected[a] = count / 48
    result = score(discriminator, [path], CFG, sizes, limit=1000)
    assert result["n"] == 48
    for a in ATTRS:
        assert result[a]["accuracy"] == pytest.approx(expected[a])
        assert result[a]["cross_entropy"] == pytest.approx(20.0 * (1 - expected[a]), rel=1e-3)
    assert np.isfinite(result["adv_mean"])
    assert score(discriminator, [path], CFG, sizes, limit=20)["n"] == 20  # the limit is exact, not a batch multiple
