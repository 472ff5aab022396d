"""What the GAN evaluator measures, independent of TFX: load SavedModels, generate and edit, judge, score.

Everything is measured in the judge's space (features and predictions of the attribute classifier trained on
real images): FID/KID of generated vs real eval images with the real-train-vs-real-eval distance as the floor,
per-attribute control accuracy (with a confusion matrix), edit success/preservation/identity, and diversity.

The FID floor is measured at the generated set's sample size: FID is biased upwards roughly as 1/N, so a floor
from 7,218 train images against a generator scored with 400 would make every generator look ~3x worse than it is
(shared catalog: 0.38 vs 1.08), and a floor from 400 against a generator scored with 2,000 would flatter it. The
train images it uses are a seeded uniform random subset of the split, never its first records: ExampleGen keeps the
catalog's row order, and on a catalog sorted by id the category mix drifts along the file.
"""
import logging
import os
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from models import background as bg
from models import metrics as M
from models.edit_targets import draw_edit_targets
from models.export import read_vocabulary
from models.judge import Judge
from models.training import id_feature

log = logging.getLogger("vitrine.evaluator")
BATCH = 64


def load_split(examples_uri: str, split: str, resolution: int, attributes, limit: int, seed: int = 0):
    """Transformed examples of one split -> (images float [N,R,R,3], {attr: ids [N]}).

    A split longer than `limit` gives a seeded uniform random subset of `limit` records (in file order), so the
    subset has the split's attribute mix whatever order the catalog was written in.
    """
    spec = {"image": tf.io.FixedLenFeature([resolution, resolution, 3], tf.float32)}
    spec.update({id_feature(a): tf.io.FixedLenFeature([], tf.int64) for a in attributes})
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz")))
    if not files:
        raise FileNotFoundError(f"No transformed examples in {examples_uri}/Split-{split}")
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    count = int(dataset.reduce(np.int64(0), lambda n, _: n + 1))
    if count > limit:
        keep = np.zeros(count, dtype=bool)
        keep[np.random.default_rng(seed).choice(count, size=limit, replace=False)] = True
        keep = tf.constant(keep)
        dataset = dataset.enumerate().filter(lambda i, _: tf.gather(keep, i)).map(lambda _, record: record)
        log.info("Split %s has %d records: judging a random %d of them (seed %d)", split, count, limit, seed)
    images, ids = [], {a: [] for a in attributes}
    for batch in dataset.batch(256).map(lambda s: tf.io.parse_example(s, spec)):
        images.append(batch["image"].numpy())
        for a in attributes:
            ids[a].append(batch[id_feature(a)].numpy())
    return np.concatenate(images), {a: np.concatenate(v) for a, v in ids.items()}


def to_float(images_uint8: np.ndarray) -> np.ndarray:
    return images_uint8.astype("float32") / 127.5 - 1.0


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype("uint8")


def generate(model, attributes, vocab, ids: Dict[str, np.ndarray], seeds: np.ndarray) -> np.ndarray:
    fn = model.signatures["generate"]
    out = []
    for start in range(0, len(seeds), BATCH):
        sl = slice(start, start + BATCH)
        inputs = {a: tf.constant([vocab[a][i] for i in ids[a][sl]]) for a in attributes}
        result = fn(seed=tf.constant(seeds[sl], tf.int64),
                    truncation=tf.ones([len(seeds[sl])], tf.float32), **inputs)
        out.append(result["images"].numpy())
    return np.concatenate(out)


def edit(model, attributes, sources_uint8, targets: Dict[str, List[str]], strength: float,
         background: Optional[str] = None):
    """Edits through the `edit` signature, or `edit_background` with `background` ("keep" / "white")."""
    fn = model.signatures["edit" if background is None else "edit_background"]
    images, masks = [], []
    for start in range(0, len(sources_uint8), BATCH):
        sl = slice(start, start + BATCH)
        encoded = [tf.io.encode_png(img).numpy() for img in sources_uint8[sl]]
        inputs = {a: tf.constant(targets[a][sl]) for a in attributes}
        if background is not None:
            inputs["background"] = tf.fill([len(encoded)], background)
        result = fn(image_bytes=tf.constant(encoded), strength=tf.fill([len(encoded)], float(strength)), **inputs)
        images.append(result["images"].numpy())
        masks.append(result["mask"].numpy())
    return np.concatenate(images), np.concatenate(masks)


EVALUATOR_SEED = 1234  # the first draw: what every single-draw report since session 1 shows


def evaluator_seeds(draws: int) -> List[int]:
    """The evaluator's seeds for `draws` draws: its own seed first (draw 0 is the single-draw figure), then 1, 2..."""
    if draws < 1:
        raise ValueError(f"the evaluator needs at least one draw, got {draws}")
    return [EVALUATOR_SEED] + [s for s in range(1, draws + 1) if s != EVALUATOR_SEED][:draws - 1]


def evaluate_model_draws(model_path: str, judge: Judge, real: dict, vocab: Dict[str, List[str]], attributes,
                         num_samples: int, num_edits: int, draws: int = 1,
                         allowed: Optional[Dict[str, np.ndarray]] = None) -> dict:
    """`evaluate_model` on `draws` seeded draws (conditions, z, edit targets), each metric the mean over them.

    One draw of N = 400 carries its own noise: on the shared catalog an hour's generator reads FID 2.2-2.8 x its
    floor and edit success 78-85 % over eight draws (bench/results/evaluator_draws_s57_cpu-quick.json), so a
    single draw can put a model on either side of a bar it sits at. The FID floor is itself a mean over draws of
    train images (`with_floor_at`), so the generator's mean over draws compares like for like. Grids and confusion
    matrices come from the first draw (the evaluator's seed). Candidate and baseline get the same seeds."""
    seeds = evaluator_seeds(draws)
    model = tf.saved_model.load(model_path)  # once, for every draw
    first = evaluate_model(model_path, judge, real, vocab, attributes, num_samples, num_edits, seed=seeds[0],
                           model=model, allowed=allowed)
    if len(seeds) == 1:
        return first
    runs = [first["metrics"]]
    for seed in seeds[1:]:
        log.info("Evaluator draw %d of %d (seed %d)", len(runs) + 1, len(seeds), seed)
        runs.append(evaluate_model(model_path, judge, real, vocab, attributes, num_samples, num_edits,
                                   seed=seed, model=model, allowed=allowed)["metrics"])
    return {"metrics": combine_draws(runs, seeds), "extras": first["extras"]}


def combine_draws(runs: List[dict], seeds: List[int]) -> dict:
    """Per metric: the mean over the draws, the draws' values, and a 95 % t interval of that mean (the evaluator's
    own draw noise; the eval images are the same in every draw). Metrics equal in every draw stay as they are."""
    from scipy import stats

    combined = {}
    for name, entry in runs[0].items():
        values = [float(run[name]["value"]) for run in runs if name in run]
        if len(values) != len(runs) or all(v == values[0] for v in values):
            combined[name] = entry
            continue
        mean, std = float(np.mean(values)), float(np.std(values, ddof=1))
        half = float(stats.t.ppf(0.975, len(values) - 1)) * std / np.sqrt(len(values))
        note = (f"mean of {len(values)} evaluator draws (seeds {', '.join(map(str, seeds))}; std {std:.3g}, "
                "interval: the draws' 95 % t interval)")
        combined[name] = dict(entry, value=mean, ci=[mean - half, mean + half], draws=values,
                              note=f"{entry['note']}; {note}" if entry.get("note") else note)
    return combined


def evaluate_model(model_path: str, judge: Judge, real: dict, vocab: Dict[str, List[str]], attributes,
                   num_samples: int, num_edits: int, seed: int = EVALUATOR_SEED, model=None,
                   allowed: Optional[Dict[str, np.ndarray]] = None) -> dict:
    """Scores one exported model. `real` holds judged real images (see `prepare_real`); `model`, when given, is
    `model_path` already loaded. `allowed` (ids per attribute, with `real` cut to them by `restrict_real`) keeps
    every request to those values: a model is compared with one that knows fewer values on the ones both know."""
    model = tf.saved_model.load(model_path) if model is None else model
    rng = np.random.default_rng(seed)
    eval_ids = real["eval_ids"]
    n_eval = len(eval_ids[attributes[0]])
    # Conditions follow the eval split's joint distribution, so FID compares like with like.
    pick = rng.integers(0, n_eval, num_samples)
    requested = {a: eval_ids[a][pick] for a in attributes}
    seeds = np.arange(num_samples, dtype=np.int64) + seed
    generated = generate(model, attributes, vocab, requested, seeds)
    judged = judge(to_float(generated))

    results, extras = {}, {"generated": generated, "requested": requested, "confusion": {}}
    fid = M.fid(judged["features"], real["eval"]["features"])
    results["fid_judge"] = {"value": fid, "higher_is_better": False}
    floor_n = real.get("fid_floor_sample_size", num_samples)
    if floor_n != num_samples:
        log.warning("FID floor measured with %d train images but the generator with %d: FID falls as N grows, "
                    "so the ratio is not like for like (pass floor_sample_size=num_samples to prepare_real)",
                    floor_n, num_samples)
    results["fid_floor"] = {"value": real["fid_floor"], "higher_is_better": False,
                            "note": (f"real train vs real eval at N={floor_n} train images (the generated set's "
                                     f"size; std {real.get('fid_floor_std', 0.0):.3f} over random draws): the "
                                     "best a generator can hope for")}
    results["fid_ratio"] = {"value": fid / max(real["fid_floor"], 1e-6), "higher_is_better": False}
    results.update(fid_part_metrics(judged["features"], real["eval"]["features"]))
    results.update(fid_infinity_metrics(judged["features"], real))
    kid, kid_low, kid_high = M.kid(judged["features"], real["eval"]["features"], seed=seed)
    results["kid_judge"] = {"value": kid, "ci": [kid_low, kid_high], "higher_is_better": False}
    for a in attributes:
        predicted = np.argmax(judged[f"{a}_logits"], axis=1)
        hits = (predicted == requested[a]).astype("float64")
        value, low, high = M.bootstrap_mean(hits, seed=seed)
        results[f"{a}_control_accuracy"] = {"value": value, "ci": [low, high], "higher_is_better": True}
        real_accuracy = real["eval_accuracy"][a]
        results[f"{a}_control_ratio"] = {"value": value / max(real_accuracy, 1e-6), "higher_is_better": True,
                                         "note": f"vs judge accuracy on real eval images ({real_accuracy:.3f})"}
        extras["confusion"][a] = (M.confusion_matrix(requested[a], predicted, len(vocab[a])), vocab[a])
    groups = np.stack([requested[a] for a in attributes], axis=1)
    results["diversity"] = {"value": M.diversity(judged["features"], groups), "higher_is_better": True,
                            "note": f"real eval images: {real['diversity']:.3f}"}

    # Edits: change one attribute of a real eval image to another value (models/edit_targets.py), keep the others.
    n_edits = min(num_edits, n_eval)
    src = rng.choice(n_eval, n_edits, replace=False)
    sources = to_uint8(real["eval_images"][src])
    changed = rng.integers(0, len(attributes), n_edits)

    def targets_from(pools):
        """Target ids drawn per changed attribute from pools[attr] -> (ids, {attr: strings, "" = keep})."""
        ids = np.zeros(n_edits, dtype=np.int64)
        names = {a: [""] * n_edits for a in attributes}
        for index, a in enumerate(attributes):
            rows = np.flatnonzero(changed == index)
            ids[rows] = draw_edit_targets(rng, eval_ids[a][src[rows]], pools[a], len(vocab[a]))
            if allowed is not None:  # a one-value pool falls back to any other id: keep to the allowed ones
                outside = rows[~np.isin(ids[rows], allowed[a])]
                ids[outside] = rng.choice(allowed[a], len(outside))
            for i in rows:
                names[a][i] = vocab[a][ids[i]]
        return ids, names

    def edit_hits(target_ids, targets):
        edited, masks = edit(model, attributes, sources, targets, strength=1.0)
        judged_edits = judge(to_float(edited))
        hits = np.array([np.argmax(judged_edits[f"{attributes[changed[i]]}_logits"][i]) == target_ids[i]
                         for i in range(n_edits)], dtype="float64")
        return hits, edited, masks

    # another value, drawn with the eval split's frequencies
    target_ids, targets = targets_from({a: eval_ids[a] for a in attributes})
    hits, edited, masks = edit_hits(target_ids, targets)
    value, low, high = M.bootstrap_mean(hits, seed=seed)
    results["edit_success"] = {"value": value, "ci": [low, high], "higher_is_better": True,
                               "note": "one attribute changed to another value drawn with the eval split's frequencies"}
    for index, a in enumerate(attributes):  # which kind of edit fails: category changes are the hard ones
        rows = changed == index
        if rows.any():
            value, low, high = M.bootstrap_mean(hits[rows], seed=seed)
            results[f"edit_success_{a}"] = {"value": value, "ci": [low, high], "higher_is_better": True,
                                            "gated": False, "note": f"the {int(rows.sum())} edits that change {a}"}
            real_accuracy = real["eval_accuracy"][a]
            results[f"edit_success_{a}_ratio"] = {
                "value": value / max(real_accuracy, 1e-6), "higher_is_better": True, "gated": False,
                "note": f"vs judge accuracy on real eval images ({real_accuracy:.3f}): the judge's own ceiling"}
    per_image_l1 = M.masked_l1(to_float(sources), to_float(edited), masks)
    value, low, high = M.bootstrap_mean(per_image_l1, seed=seed)
    results["edit_preservation_l1"] = {"value": value, "ci": [low, high], "higher_is_better": False, "gated": False,
                                       "note": "mean |edit - source| where the editor's mask keeps the source"}
    # Baseline: a naive whole-image colour jitter measured with the editor's own masks. The editor should keep
    # the masked-out region far better than a global recolour does (issue 3: "lower than a colour-jitter baseline").
    jitter_l1 = M.masked_l1(to_float(sources), M.colour_jitter(to_float(sources), seed=seed), masks)
    jitter_value, jitter_low, jitter_high = M.bootstrap_mean(jitter_l1, seed=seed)
    results["edit_preservation_l1_jitter"] = {
        "value": jitter_value, "ci": [jitter_low, jitter_high], "higher_is_better": False, "gated": False,
        "note": "the same masked L1 for a colour-jitter baseline (brightness/contrast/saturation 0.4, hue 0.5)"}
    results["edit_preservation_vs_jitter"] = {
        "value": value / max(jitter_value, 1e-6), "higher_is_better": False, "gated": False,
        "note": "editor's masked L1 / the colour-jitter baseline's; below 1 = the editor preserves better"}
    # Diagnostic: the same edits toward uniformly drawn other values, so a value seen a handful of times weighs
    # as much as a common one. On a long-tail catalog this reads far below edit_success (models/edit_targets.py).
    uniform_ids, uniform_targets = targets_from({a: np.arange(len(vocab[a])) if allowed is None else allowed[a]
                                                 for a in attributes})
    value, low, high = M.bootstrap_mean(edit_hits(uniform_ids, uniform_targets)[0], seed=seed)
    results["edit_success_uniform_targets"] = {
        "value": value, "ci": [low, high], "higher_is_better": True, "gated": False,
        "note": "targets drawn uniformly over the vocabulary (rare values weigh as much as common ones)"}
    identity, _ = edit(model, attributes, sources[:16], {a: targets[a][:16] for a in attributes}, strength=0.0)
    value, low, high = M.bootstrap_mean(M.ssim(to_float(sources), to_float(edited)), seed=seed)
    results["edit_ssim"] = {"value": value, "ci": [low, high], "higher_is_better": True, "gated": False,
                            "note": "SSIM of edit vs source (whole image; an edit should change some of it)"}
    # Reconstruction: every attribute 'keep' at full strength must give the source back.
    keep_all = {a: [""] * n_edits for a in attributes}
    reconstructed, _ = edit(model, attributes, sources, keep_all, strength=1.0)
    psnr = M.psnr(to_float(sources), to_float(reconstructed))
    value, low, high = M.bootstrap_mean(np.minimum(psnr, 100.0), seed=seed)
    results["reconstruction_psnr"] = {"value": value, "ci": [low, high], "higher_is_better": True,
                                      "note": "dB, editor with every attribute kept (capped at 100)"}
    value, low, high = M.bootstrap_mean(M.ssim(to_float(sources), to_float(reconstructed)), seed=seed)
    results["reconstruction_ssim"] = {"value": value, "ci": [low, high], "higher_is_better": True}
    # near-zero by construction: a relative regression rule would flag float noise, so gate it with absolute bars
    results["identity_l1_at_zero_strength"] = {
        "value": float(np.mean(np.abs(to_float(identity) - to_float(sources[:16])))), "higher_is_better": False,
        "gated": False}
    extras.update(edit_sources=sources, edited=edited, edit_targets=targets)
    if "edit_background" in model.signatures:
        clean_up = background_clean_up(model, judge, attributes, sources, seed)
        results.update(clean_up.pop("metrics"))
        extras.update(clean_up)
    else:
        log.info("%s has no edit_background signature (exported before background clean-up): not scored",
                 model_path)
    return {"metrics": results, "extras": extras}


def background_clean_up(model, judge: Judge, attributes, sources_uint8: np.ndarray, seed: int) -> dict:
    """Background clean-up, scored on eval images on white (models/background.py): each is put onto a seeded
    random colour/gradient/texture outside its background, then edited with every attribute kept and background
    "white" (and, as a check, "keep"). -> {"metrics": {...}, "background_inputs", "background_cleaned"}."""
    originals = to_float(sources_uint8)
    pairs = bg.clean_up_pairs(tf.constant(originals), seed=(seed, 7))
    usable = pairs["eligible"].numpy() > 0
    metrics = {"background_pairs": {"value": float(usable.sum()), "higher_is_better": True, "gated": False,
                                    "note": f"eval edit sources whose border is white, of {len(usable)}"}}
    if not usable.any():
        log.warning("No eval image has a white border: background clean-up not scored")
        return {"metrics": metrics}
    originals = originals[usable]
    masks = pairs["masks"].numpy()[usable]
    inputs = to_uint8(pairs["inputs"].numpy()[usable])
    keep_all = {a: [""] * len(inputs) for a in attributes}
    cleaned, _ = edit(model, attributes, inputs, keep_all, strength=1.0, background="white")
    kept, _ = edit(model, attributes, inputs, keep_all, strength=1.0, background="keep")
    scores = {k: v.numpy() for k, v in bg.clean_up_scores(to_float(cleaned), originals, masks).items()}
    untouched = {k: v.numpy() for k, v in bg.clean_up_scores(to_float(inputs), originals, masks).items()}
    kept_l1 = np.sum(np.abs(to_float(kept) - to_float(inputs)).mean(-1, keepdims=True) * masks, axis=(1, 2, 3)) \
        / np.maximum(masks.sum(axis=(1, 2, 3)), 1.0)

    def entry(values, higher_is_better, note):
        value, low, high = M.bootstrap_mean(np.asarray(values, dtype="float64"), seed=seed)
        return {"value": value, "ci": [low, high], "higher_is_better": higher_is_better, "gated": False, "note": note}

    metrics["background_clean_rate"] = entry(
        scores["clean"], True, f"share of clean-ups with >= {bg.CLEAN_MIN:.0%} of the background near-white")
    metrics["background_l1"] = entry(scores["background_l1"], False, "mean |cleaned - white| over the background")
    metrics["background_l1_vs_untouched"] = {
        "value": float(scores["background_l1"].mean() / max(untouched["background_l1"].mean(), 1e-6)),
        "higher_is_better": False, "gated": False,
        "note": f"background_l1 / the cluttered input's ({untouched['background_l1'].mean():.3f}); 0 = white"}
    metrics["background_product_l1"] = entry(
        scores["product_l1"], False, "mean |cleaned - original| over the product (the input's is 0)")
    metrics["background_keep_l1"] = entry(
        kept_l1, False, "background 'keep': mean |edit - cluttered input| over the background (0 = kept)")
    # The judge should see the same product after clean-up as on the original white photo.
    before, after = judge(originals), judge(to_float(cleaned))
    same = np.mean([np.argmax(before[f"{a}_logits"], 1) == np.argmax(after[f"{a}_logits"], 1) for a in attributes],
                   axis=0)
    metrics["background_attributes_kept"] = entry(
        same, True, "share of attributes the judge reads the same on the cleaned image as on the original")
    return {"metrics": metrics, "background_inputs": inputs, "background_cleaned": cleaned}


def prepare_real(judge: Judge, examples_uri: str, resolution: int, attributes, judge_summary: dict,
                 limit: int = 2000, floor_sample_size: Optional[int] = None) -> dict:
    """Judged real images: the eval split (scored against) and a random train subset (for the FID floor).

    `floor_sample_size` is the number of generated images the model will be scored with; the floor is the mean
    FID of that many random train images vs the eval images (`models.metrics.fid_at_sample_size`). None uses
    every loaded train image.
    """
    eval_images, eval_ids = load_split(examples_uri, "eval", resolution, attributes, limit)
    train_images, train_ids = load_split(examples_uri, "train", resolution, attributes, limit)
    judged_eval, judged_train = judge(eval_images), judge(train_images)
    groups = np.stack([eval_ids[a] for a in attributes], axis=1)
    real = {
        "eval_images": eval_images,
        "eval_ids": eval_ids,
        "eval": judged_eval,
        "train": judged_train,
        "train_ids": train_ids,
        "eval_accuracy": judge_summary["real_eval_accuracy"],
        "diversity": M.diversity(judged_eval["features"], groups),
    }
    return with_floor_at(real, floor_sample_size or len(train_images))


def known_values(vocab: Dict[str, List[str]], model_vocab: Dict[str, List[str]]) -> Optional[Dict[str, np.ndarray]]:
    """The ids of `vocab` (the run's) whose values `model_vocab` (an older model's) also has, per attribute; None
    when it has every one. A model cannot be asked for a value it never learnt (its serving signature refuses it)."""
    known = {a: set(values) for a, values in model_vocab.items()}
    allowed = {a: np.array([i for i, value in enumerate(values) if value in known[a]], dtype=np.int64)
               for a, values in vocab.items()}
    return None if all(len(allowed[a]) == len(vocab[a]) for a in vocab) else allowed


def restrict_real(real: dict, allowed: Dict[str, np.ndarray]) -> dict:
    """`real` cut to the eval and train images whose every attribute value is in `allowed` (ids per attribute),
    with its diversity and FID floor measured again on them: what two models with different vocabularies are
    compared on."""
    def keep(ids):
        return np.all([np.isin(ids[a], allowed[a]) for a in allowed], axis=0)

    def cut(judged, rows):
        return {k: (v[rows] if len(v) == len(rows) else v) for k, v in judged.items()}

    eval_rows, train_rows = keep(real["eval_ids"]), keep(real["train_ids"])
    if not eval_rows.any() or not train_rows.any():
        raise ValueError("no eval or train image has only values both models know: they cannot be compared")
    eval_ids = {a: ids[eval_rows] for a, ids in real["eval_ids"].items()}
    judged_eval = cut(real["eval"], eval_rows)
    groups = np.stack([eval_ids[a] for a in allowed], axis=1)
    restricted = dict(real, eval_images=real["eval_images"][eval_rows], eval_ids=eval_ids, eval=judged_eval,
                      train=cut(real["train"], train_rows), train_ids={a: ids[train_rows] for a, ids in
                                                                       real["train_ids"].items()},
                      diversity=M.diversity(judged_eval["features"], groups))
    return with_floor_at(restricted, real.get("fid_floor_sample_size", len(train_rows)))


def with_floor_at(real: dict, sample_size: int) -> dict:
    """`real` with its FID floor measured at `sample_size` train images (capped at the number loaded)."""
    train = real["train"]["features"]
    n = min(int(sample_size), len(train))
    floor, floor_std = M.fid_at_sample_size(train, real["eval"]["features"], n)
    return dict(real, fid_floor=floor, fid_floor_std=floor_std, fid_floor_sample_size=n)


def fid_part_metrics(generated_features: np.ndarray, real_features: np.ndarray) -> dict:
    """Where fid_judge comes from (models/metrics/frechet.py `fid_parts`): its mean term, its covariance term and
    the generated set's spread against the real eval images'. Reported, never gated (no direction to compare)."""
    parts = M.fid_parts(generated_features, real_features)
    total = max(parts["mean"] + parts["covariance"], 1e-12)
    return {
        "fid_mean_part": {"value": parts["mean"],
                          "note": f"|mean(generated) - mean(real eval)|^2 in judge space, {parts['mean'] / total:.0%} "
                                  "of fid_judge: how far the average look is off"},
        "fid_covariance_part": {"value": parts["covariance"],
                                "note": f"FID's covariance term, {parts['covariance'] / total:.0%} of fid_judge: the "
                                        "generated images vary less, more or otherwise than the real ones"},
        "feature_spread_ratio": {"value": parts["spread_ratio"],
                                 "note": "total feature variance of the generated images / the real eval images' (1: "
                                         "as varied as the catalog; far below: too few distinct looks)"},
    }


def fid_infinity_metrics(generated_features: np.ndarray, real: dict, draws: int = 5) -> dict:
    """Informational FID∞ (no bar, no baseline gate) for the generator and for the real-train floor.

    Both FIDs fall as the sample size N grows, the floor much faster (it is mostly finite-sample bias), so a
    ratio at one N depends on N. The intercept of FID = FID∞ + k/N, fitted at N/4, N/2 and N with the same N for
    both (`models.metrics.fid_infinity`), compares presets and runs scored with different N.
    """
    train, eval_features = real["train"]["features"], real["eval"]["features"]
    top = min(len(generated_features), len(train))
    sizes = sorted({max(top // 4, 2), max(top // 2, 2), top})
    if len(sizes) < 2:
        return {}
    gen = [M.fid_at_sample_size(generated_features, eval_features, n, draws=draws)[0] for n in sizes]
    floor = [M.fid_at_sample_size(train, eval_features, n, draws=draws)[0] for n in sizes]
    gen_inf, floor_inf = M.fid_infinity(sizes, gen)[0], M.fid_infinity(sizes, floor)[0]
    where = f"fitted FID = FID∞ + k/N at N = {', '.join(map(str, sizes))}"
    return {
        "fid_infinity": {"value": gen_inf, "note": f"generated vs real eval, {where}"},
        "fid_infinity_floor": {"value": floor_inf, "note": f"real train vs real eval, {where}"},
        "fid_infinity_ratio": {"value": gen_inf / max(floor_inf, 1e-6),
                               "note": "grows with N where fid_ratio is measured: the floor is mostly 1/N bias"},
    }


def vocabulary_files(transform_graph_uri: str, attributes) -> Dict[str, str]:
    """Transform's vocabulary file per attribute (tft writes them as assets named after the attribute)."""
    return {a: os.path.join(transform_graph_uri, "transform_fn", "assets", a) for a in attributes}


def vocabularies(transform_graph_uri: str, attributes) -> Dict[str, List[str]]:
    return {a: read_vocabulary(path) for a, path in vocabulary_files(transform_graph_uri, attributes).items()}
