"""The evaluator's real-image side: which real images it judges and the N its FID floor is measured at.

Real TFRecords in the Transform output layout and a real (untrained) judge SavedModel; no TFX run needed.
"""
import os

import numpy as np
import pytest

RESOLUTION = 8
ATTRIBUTES = ["articleType"]


def _write_split(root, split, values):
    """One gzipped TFRecord file of transformed examples; record i has articleType id values[i]."""
    import tensorflow as tf

    from models.training import id_feature

    os.makedirs(os.path.join(root, f"Split-{split}"))
    path = os.path.join(root, f"Split-{split}", "data_tfrecord-00000-of-00001.gz")
    rng = np.random.default_rng(len(values))
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for value in values:
            # images differ by class, so a judge's features separate them
            image = np.clip(rng.normal(0.2 * value - 0.5, 0.3, (RESOLUTION, RESOLUTION, 3)), -1, 1)
            feature = {
                "image": tf.train.Feature(float_list=tf.train.FloatList(value=image.ravel().tolist())),
                id_feature("articleType"): tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("examples"))
    # Sorted like a catalog written in id order: the first records are all class 0, the last all class 4.
    _write_split(root, "train", np.repeat(np.arange(5), 120))
    _write_split(root, "eval", np.tile(np.arange(5), 30))
    return root


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    import tensorflow as tf

    from models.config import ModelConfig
    from models.judge import Judge, JudgeModule, build_judge

    cfg = ModelConfig(resolution=RESOLUTION, judge_channels=8)
    module = JudgeModule(build_judge(cfg, {"articleType": 5}), RESOLUTION)
    path = str(tmp_path_factory.mktemp("judge"))
    spec = tf.TensorSpec([None, RESOLUTION, RESOLUTION, 3], tf.float32, name="images")
    tf.saved_model.save(module, path, signatures={"classify": module.classify.get_concrete_function(spec)})
    return Judge(path)


def test_load_split_limit_takes_a_random_subset_not_the_first_records(examples):
    from components.gan_evaluation import load_split

    images, ids = load_split(examples, "train", RESOLUTION, ATTRIBUTES, limit=100)
    assert images.shape == (100, RESOLUTION, RESOLUTION, 3)
    counts = np.bincount(ids["articleType"], minlength=5)
    # the first 100 records would be class 0 only; a uniform subset has every class near 20
    assert counts.min() >= 8, counts
    again, ids_again = load_split(examples, "train", RESOLUTION, ATTRIBUTES, limit=100)
    np.testing.assert_array_equal(ids["articleType"], ids_again["articleType"])  # seeded
    other = load_split(examples, "train", RESOLUTION, ATTRIBUTES, limit=100, seed=1)[1]["articleType"]
    assert not np.array_equal(other, ids["articleType"])
    # under the limit: every record, in order
    _, everything = load_split(examples, "train", RESOLUTION, ATTRIBUTES, limit=10_000)
    np.testing.assert_array_equal(everything["articleType"], np.repeat(np.arange(5), 120))


def test_fid_floor_is_measured_at_the_generated_sample_count(examples, judge):
    from components.gan_evaluation import prepare_real
    from models import metrics as M

    summary = {"real_eval_accuracy": {"articleType": 0.5}}
    all_train = prepare_real(judge, examples, RESOLUTION, ATTRIBUTES, summary, limit=600)
    assert all_train["fid_floor_sample_size"] == 600 and all_train["fid_floor_std"] == 0.0
    assert all_train["fid_floor"] == pytest.approx(M.fid(all_train["train"]["features"],
                                                         all_train["eval"]["features"]))
    at_50 = prepare_real(judge, examples, RESOLUTION, ATTRIBUTES, summary, limit=600, floor_sample_size=50)
    assert at_50["fid_floor_sample_size"] == 50 and at_50["fid_floor_std"] > 0
    expected, _ = M.fid_at_sample_size(at_50["train"]["features"], at_50["eval"]["features"], 50)
    assert at_50["fid_floor"] == pytest.approx(expected)
    # fewer images, larger finite-sample bias: the floor a 50-image generator must be compared with is higher
    assert at_50["fid_floor"] > all_train["fid_floor"]


def test_real_images_cut_to_the_values_an_older_model_knows(examples, judge):
    from components.gan_evaluation import known_values, prepare_real, restrict_real

    vocab = {"articleType": ["a", "b", "c", "d", "e"]}
    assert known_values(vocab, {"articleType": ["e", "d", "c", "b", "a", "z"]}) is None  # knows them all
    allowed = known_values(vocab, {"articleType": ["d", "a", "b"]})
    np.testing.assert_array_equal(allowed["articleType"], [0, 1, 3])
    summary = {"real_eval_accuracy": {"articleType": 0.5}}
    real = prepare_real(judge, examples, RESOLUTION, ATTRIBUTES, summary, limit=600, floor_sample_size=50)
    shared = restrict_real(real, allowed)
    assert set(np.unique(shared["eval_ids"]["articleType"])) == {0, 1, 3}
    assert set(np.unique(shared["train_ids"]["articleType"])) == {0, 1, 3}
    assert len(shared["eval_images"]) == len(shared["eval"]["features"]) == 90  # 3 of 5 classes x 30
    assert len(shared["train"]["features"]) == 360 and shared["fid_floor_sample_size"] == 50
    assert shared["eval"]["articleType_logits"].shape[0] == 90
    assert shared["fid_floor"] != real["fid_floor"] and shared["diversity"] != real["diversity"]
    with pytest.raises(ValueError, match="cannot be compared"):
        restrict_real(real, {"articleType": np.array([], dtype=np.int64)})


def test_fid_infinity_removes_the_1_over_n_bias_that_flatters_the_ratio_at_small_n():
    from components.gan_evaluation import fid_infinity_metrics
    from models import metrics as M

    rng = np.random.default_rng(0)
    dim = 16
    real = {"train": {"features": rng.normal(0, 1, (800, dim))}, "eval": {"features": rng.normal(0, 1, (400, dim))}}
    generated = rng.normal(0.4, 1, (200, dim))  # a real gap (mean shift); the floor's true FID is 0
    metrics = fid_infinity_metrics(generated, real)
    assert set(metrics) == {"fid_infinity", "fid_infinity_floor", "fid_infinity_ratio"}
    assert all("higher_is_better" not in entry for entry in metrics.values())  # reported, never gated
    gen_at_n = M.fid_at_sample_size(generated, real["eval"]["features"], 200, draws=5)[0]
    floor_at_n = M.fid_at_sample_size(real["train"]["features"], real["eval"]["features"], 200, draws=5)[0]
    # both lose their finite-sample bias; the floor, nearly all bias, loses most of its value
    assert metrics["fid_infinity"]["value"] < gen_at_n
    assert metrics["fid_infinity_floor"]["value"] < 0.5 * floor_at_n
    assert metrics["fid_infinity_ratio"]["value"] > gen_at_n / floor_at_n
    assert "N = 50, 100, 200" in metrics["fid_infinity"]["note"]
    assert fid_infinity_metrics(generated, real) == metrics  # seeded draws


def test_fid_parts_tell_too_little_variety_from_a_shifted_average():
    from components.gan_evaluation import fid_part_metrics
    from models import metrics as M

    rng = np.random.default_rng(1)
    real = rng.normal(0, 1, (400, 16))
    shifted = rng.normal(0.8, 1, (400, 16))  # as varied as the real set, another average
    collapsed = np.repeat(rng.normal(0, 1, (5, 16)), 80, axis=0) * 0.3  # five looks, near the real average
    for generated, dominant in ((shifted, "fid_mean_part"), (collapsed, "fid_covariance_part")):
        metrics = fid_part_metrics(generated, real)
        assert set(metrics) == {"fid_mean_part", "fid_covariance_part", "feature_spread_ratio"}
        assert all("higher_is_better" not in entry for entry in metrics.values())  # reported, never gated
        total = metrics["fid_mean_part"]["value"] + metrics["fid_covariance_part"]["value"]
        assert total == pytest.approx(M.fid(generated, real))
        other = ({"fid_mean_part", "fid_covariance_part"} - {dominant}).pop()
        assert metrics[dominant]["value"] > 3 * metrics[other]["value"], (dominant, metrics)
    assert fid_part_metrics(collapsed, real)["feature_spread_ratio"]["value"] < 0.2
    assert 0.8 < fid_part_metrics(shifted, real)["feature_spread_ratio"]["value"] < 1.25


def test_draws_average_each_metric_and_keep_the_evaluators_seed_first():
    from scipy import stats

    from components.gan_evaluation import EVALUATOR_SEED, combine_draws, evaluator_seeds

    assert evaluator_seeds(1) == [EVALUATOR_SEED] and evaluator_seeds(3) == [EVALUATOR_SEED, 1, 2]
    with pytest.raises(ValueError, match="at least one draw"):
        evaluator_seeds(0)
    runs = [{"fid_judge": {"value": v, "higher_is_better": False},
             "edit_success": {"value": e, "ci": [e - 0.1, e + 0.1], "note": "one attribute changed"},
             "fid_floor": {"value": 1.9, "note": "the same train draws every time"}}
            for v, e in ((4.0, 0.80), (4.6, 0.84), (4.2, 0.82))]
    combined = combine_draws(runs, [1234, 1, 2])
    fid = combined["fid_judge"]
    assert fid["value"] == pytest.approx(np.mean([4.0, 4.6, 4.2])) and fid["draws"] == [4.0, 4.6, 4.2]
    half = stats.t.ppf(0.975, 2) * np.std([4.0, 4.6, 4.2], ddof=1) / np.sqrt(3)
    assert fid["ci"] == pytest.approx([fid["value"] - half, fid["value"] + half])
    assert fid["higher_is_better"] is False and "mean of 3 evaluator draws (seeds 1234, 1, 2" in fid["note"]
    assert combined["edit_success"]["value"] == pytest.approx(0.82)
    assert combined["edit_success"]["note"].startswith("one attribute changed; mean of 3")
    assert combined["fid_floor"] is runs[0]["fid_floor"]  # equal in every draw: left as it was
