"""Metrics against values computed by hand in the test."""
import numpy as np
import pytest

from models import metrics as M


def test_fid_identical_sets_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 16))
    scale = np.trace(np.cov(features, rowvar=False))
    assert M.fid(features, features) <= 1e-6 * scale


def test_frechet_distance_one_dimensional_closed_form():
    # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2
    assert M.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)


def test_frechet_distance_two_dimensional_diagonal_closed_form():
    mu_a, mu_b = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    var_a, var_b = np.array([1.0, 4.0]), np.array([9.0, 0.25])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert M.frechet_distance(mu_a, np.diag(var_a), mu_b, np.diag(var_b)) == pytest.approx(expected)


def test_frechet_distance_rotated_covariance_matches_diagonal():
    # Rotating both Gaussians by the same rotation leaves the distance unchanged.
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    var_a, var_b = np.diag([1.0, 4.0]), np.diag([9.0, 0.25])
    expected = (np.sqrt(1) - 3) ** 2 + (2 - 0.5) ** 2
    got = M.frechet_distance([0, 0], rotation @ var_a @ rotation.T, [0, 0], rotation @ var_b @ rotation.T)
    assert got == pytest.approx(expected)


def test_fid_uses_sample_mean_and_unbiased_variance():
    a = np.array([0.0, 2.0])  # mean 1, variance (1 + 1) / 1 = 2
    b = np.array([4.0, 10.0])  # mean 7, variance (9 + 9) / 1 = 18
    expected = (1 - 7) ** 2 + (np.sqrt(2) - np.sqrt(18)) ** 2
    assert M.fid(a, b) == pytest.approx(expected)


def test_fid_parts_split_fid_into_its_mean_and_covariance_terms():
    a = np.array([0.0, 2.0])  # mean 1, variance 2
    b = np.array([4.0, 10.0])  # mean 7, variance 18
    parts = M.fid_parts(a, b)
    assert parts["mean"] == pytest.approx(36.0)
    assert parts["covariance"] == pytest.approx((np.sqrt(2) - np.sqrt(18)) ** 2)
    assert parts["spread_ratio"] == pytest.approx(2 / 18)
    assert parts["mean"] + parts["covariance"] == pytest.approx(M.fid(a, b))
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 3))
    collapsed = np.repeat(real[:4], 100, axis=0) * 0.1  # few distinct images, close to the real mean
    parts = M.fid_parts(collapsed, real)
    assert parts["spread_ratio"] < 0.05 and parts["covariance"] > 10 * parts["mean"]


def test_fid_at_sample_size_matches_sample_counts():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    # n at or above the row count: the plain FID, no spread.
    assert M.fid_at_sample_size(a, b, 5000) == (pytest.approx(M.fid(a, b)), 0.0)
    # Each draw is the FID of some n-row subset, so the mean matches a hand loop over the same seeded draws.
    draws = np.random.default_rng(7)
    expected = [M.fid(a[draws.choice(2000, size=50, replace=False)], b) for _ in range(4)]
    mean, std = M.fid_at_sample_size(a, b, 50, draws=4, seed=7)
    assert mean == pytest.approx(np.mean(expected)) and std == pytest.approx(np.std(expected))
    # Same distribution: FID shrinks as N grows (bias ~ 1/N), the reason the floor is measured at equal N.
    small, _ = M.fid_at_sample_size(a, b, 50, draws=8)
    large, _ = M.fid_at_sample_size(a, b, 1000, draws=8)
    assert small > 2 * large
    with pytest.raises(ValueError, match="at least 2"):
        M.fid_at_sample_size(a, b, 1)


def test_fid_infinity_recovers_the_intercept_of_a_1_over_n_line():
    sizes = np.array([200, 400, 800, 2000])
    intercept, slope = M.fid_infinity(sizes, 0.3 + 300.0 / sizes)
    assert intercept == pytest.approx(0.3) and slope == pytest.approx(300.0)
    # real draws with a true FID of 0.25 (mean shift 0.5 in one of 8 dimensions): every finite-N value is biased
    # upwards, the extrapolation lands far closer to the truth than even the largest N
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(20000, 8)), rng.normal(size=(20000, 8))
    a[:, 0] += 0.5
    finite = [M.fid_at_sample_size(a, b, n, draws=20)[0] for n in sizes]
    assert finite[0] > finite[-1] > 0.25
    assert abs(M.fid_infinity(sizes, finite)[0] - 0.25) < 0.5 * (finite[-1] - 0.25)
    with pytest.raises(ValueError, match="two distinct"):
        M.fid_infinity([400, 400], [1.0, 1.1])


def test_mmd2_unbiased_hand_computed():
    # d = 1, k(x, y) = (x*y + 1)^3
    x, y = np.array([[1.0], [2.0]]), np.array([[0.0], [1.0]])
    k_xx = 27.0  # k(1, 2), off-diagonal only (i != j), averaged over 2 ordered pairs
    k_yy = 1.0  # k(0, 1)
    k_xy = (1 + 8 + 1 + 27) / 4  # k(1,0), k(1,1), k(2,0), k(2,1)
    expected = k_xx + k_yy - 2 * k_xy
    assert M.mmd2_unbiased(x, y) == pytest.approx(expected)
    value, low, high = M.kid(x, y, num_subsets=3, subset_size=10)
    assert value == pytest.approx(expected) and low == pytest.approx(expected) and high == pytest.approx(expected)


def test_kid_near_zero_for_same_distribution_and_positive_for_shift():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, low, high = M.kid(a, b, num_subsets=20, subset_size=200)
    assert abs(same) < 0.05 and low <= same <= high
    shifted, _, _ = M.kid(a, b + 1.0, num_subsets=20, subset_size=200)
    assert shifted > 10 * max(abs(same), 1e-3)


def test_accuracy_and_confusion_on_fixed_case():
    true = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(M.confusion_matrix(true, predicted, 3), [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    assert M.accuracy(true, predicted) == pytest.approx(4 / 6)
    logits = np.eye(3)[predicted] * 5.0
    assert M.accuracy(true, logits) == pytest.approx(4 / 6)
    assert M.per_value_accuracy(true, predicted, ["Red", "Blue", "Green"]) == pytest.approx(
        {"Red": 2 / 3, "Blue": 1 / 2, "Green": 1.0})
    report = M.control_accuracy({"baseColour": true}, {"baseColour": logits}, {"baseColour": ["Red", "Blue", "Green"]})
    assert report["baseColour"]["accuracy"] == pytest.approx(4 / 6)
    assert report["baseColour"]["labels"] == ["Red", "Blue", "Green"]


def test_confusion_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="predicted ids"):
        M.confusion_matrix([0, 1], [0, 3], 3)


def test_ssim_of_identical_images_is_one_and_drops_with_noise():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(2, 32, 32, 3))
    np.testing.assert_allclose(M.ssim(x, x), 1.0, atol=1e-9)
    noisy = np.clip(x + rng.normal(scale=0.3, size=x.shape), -1, 1)
    assert np.all(M.ssim(x, noisy) < 0.9)
    # Scaling pixels and data_range together leaves SSIM unchanged (SSIM is not shift-invariant, only scale).
    np.testing.assert_allclose(M.ssim(x * 127.5, noisy * 127.5, data_range=255.0), M.ssim(x, noisy), rtol=1e-9)


def test_psnr_known_value():
    reference = np.zeros((1, 4, 4, 3))
    test = np.full((1, 4, 4, 3), 0.1)  # MSE = 0.01 on a [0, 1] scale -> 10 log10(1 / 0.01) = 20 dB
    assert M.psnr(reference, test, data_range=1.0)[0] == pytest.approx(20.0)
    assert np.isinf(M.psnr(reference, reference, data_range=1.0)[0])


def test_masked_l1_ignores_edited_region():
    source = np.zeros((2, 4, 4, 3))
    edited = source.copy()
    keep = np.ones((2, 4, 4, 1))
    keep[:, :2] = 0  # top half is the edited region
    edited[:, :2] = 5.0  # large change inside it is ignored
    edited[1, 2:] += 0.5  # image 1 also changes where it must be kept
    np.testing.assert_allclose(M.masked_l1(source, edited, keep), [0.0, 0.5])


def test_colour_jitter_baseline_keeps_range_is_seeded_and_changes_colour():
    rng = np.random.default_rng(5)
    images = rng.uniform(-1, 1, size=(4, 8, 8, 3))
    jittered = M.colour_jitter(images, seed=1)
    assert jittered.shape == images.shape and jittered.min() >= -1 and jittered.max() <= 1
    np.testing.assert_array_equal(jittered, M.colour_jitter(images, seed=1))
    assert np.all(M.masked_l1(images, jittered, np.ones((4, 8, 8, 1))) > 0.01)
    # all factors at their neutral value: the image comes back (YIQ round trip is exact to float precision)
    neutral = M.colour_jitter(images, seed=1, brightness=0, contrast=0, saturation=0, hue=0)
    np.testing.assert_allclose(neutral, images, atol=1e-9)
    # a pure hue rotation keeps grey (and white) pixels: luma-only images are unchanged
    grey = np.repeat(rng.uniform(-1, 1, size=(2, 4, 4, 1)), 3, axis=-1)
    np.testing.assert_allclose(M.colour_jitter(grey, seed=2, brightness=0, contrast=0, saturation=0), grey,
                               atol=1e-9)


def test_identity_error():
    x = np.random.default_rng(3).uniform(-1, 1, size=(2, 4, 4, 3))
    np.testing.assert_array_equal(M.identity_error(x, x), [0.0, 0.0])


def test_diversity_detects_mode_collapse():
    rng = np.random.default_rng(4)
    groups = np.repeat([[0, 0], [0, 1], [1, 0]], 20, axis=0)
    collapsed = np.repeat(rng.normal(size=(3, 8)), 20, axis=0)  # one sample per condition
    assert M.diversity(collapsed, groups) == pytest.approx(0.0, abs=1e-6)
    assert M.diversity(rng.normal(size=(60, 8)), groups) > 1.0
    # Hand case: one group of points 0, 3, 4 on a line: pairwise distances 3, 4, 1 -> mean 8/3.
    assert M.diversity(np.array([[0.0], [3.0], [4.0]]), np.array([7, 7, 7])) == pytest.approx(8 / 3)


def test_bootstrap_ci_contains_mean_and_narrows_with_n():
    rng = np.random.default_rng(5)
    small, large = rng.normal(size=50), rng.normal(size=5000)
    value, low, high = M.bootstrap_mean(small, seed=0)
    assert low <= value <= high and value == pytest.approx(small.mean())
    _, low_large, high_large = M.bootstrap_mean(large, seed=0)
    assert (high_large - low_large) < (high - low) / 5
    assert M.bootstrap_mean(small, seed=0) == M.bootstrap_mean(small, seed=0)
    median, low_m, high_m = M.bootstrap(small, statistic=np.median, num_resamples=300, seed=1)
    assert low_m <= median <= high_m and median == pytest.approx(np.median(small))


def test_registry_lists_metrics_and_rejects_unknown():
    assert {"fid", "kid", "ssim", "psnr", "masked_l1", "diversity", "confusion_matrix"} <= set(M.METRICS)
    assert M.compute("accuracy", [0, 1], [0, 0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="available"):
        M.compute("nope")
