"""Per-value control and edit success of exported models, by a pipeline run's judge on its held-out images.

What a catalog that grew asks of a retrain: does a new value (an article type or colour the base model never saw)
come out as that value, and do the values the base knew still come out as before? For each value given, every
model draws `--per-value` images with the conditions of held-out images of that value (their other attributes as
they are, among the values every model knows) and edits `--per-value` held-out images of other values to it;
the judge reads whether the image shows the value. `known` is the same for a random draw of held-out images
whose values every model knows (the evaluator's control accuracy and edit success, on the values all models
share). A model is never asked for a value outside its vocabulary: that cell reads null. Same seeds for every
model.

    python bench/value_control.py --work-dir RUN/pipeline --model base=BASE/model --model retrain=RUN2/model \\
        --value articleType=Sunglasses,Backpacks --value baseColour=Orange --output bench/results/value_control.json
"""
import argparse
import json
import logging
import os
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", required=True, help="a pipeline run (its Transform output, eval split, judge)")
    parser.add_argument("--model", action="append", required=True, metavar="NAME=DIR", help="an exported model")
    parser.add_argument("--value", action="append", default=[], metavar="ATTR=V1,V2", help="values to score")
    parser.add_argument("--per-value", type=int, default=100, help="images drawn and edits made per value")
    parser.add_argument("--known", type=int, default=400, help="images and edits on the values every model knows")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    args.models = dict(_pair(parser, m, "--model") for m in args.model)
    args.values = {attr: [v for v in values.split(",") if v] for attr, values in
                   (_pair(parser, v, "--value") for v in args.value)}
    return args


def _pair(parser, text, flag):
    if "=" not in text:
        parser.error(f"{flag} takes NAME=VALUE, got {text!r}")
    return tuple(text.split("=", 1))


def score(model, judge, attributes, vocab, allowed_ids, requested, sources, targets, changed, seeds):
    """(generation hits, edit hits) on `requested` ids and edits of `sources` to `targets` (ids), or None."""
    from components.gan_evaluation import edit, generate, to_float

    def knows(ids, a):
        return np.isin(ids[ids >= 0], allowed_ids[a]).all()

    if not all(knows(requested[a], a) and knows(targets[a], a) for a in attributes):
        return None
    judged = judge(to_float(generate(model, attributes, vocab, requested, seeds)))
    generated = {a: np.argmax(judged[f"{a}_logits"], 1) == requested[a] for a in attributes}
    names = {a: [vocab[a][i] if i >= 0 else "" for i in targets[a]] for a in attributes}
    edited, _ = edit(model, attributes, sources, names, strength=1.0)
    judged_edits = judge(to_float(edited))
    hits = np.array([np.argmax(judged_edits[f"{changed[i]}_logits"][i]) == targets[changed[i]][i]
                     for i in range(len(sources))], dtype=float)
    return generated, hits


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import tensorflow as tf

    from bench.eval_cost import find_artifacts
    from bench.portable import portable, portable_command
    from components.gan_evaluation import Judge, load_split, to_uint8, vocabularies
    from models.edit_targets import draw_edit_targets
    from models.warm_start_vocab import base_vocabularies
    from pipeline.local_runner import default_paths

    found = find_artifacts(default_paths(args.work_dir)["pipeline_root"], need_model=False)
    first = next(iter(args.models.values()))
    attributes = sorted(p.name for p in pathlib.Path(first, "assets").iterdir())
    vocab = vocabularies(found["transform_graph"], attributes)
    resolution = int(json.loads(pathlib.Path(first, "assets.extra", "vitrine.json").read_text())["config"]
                     ["resolution"])
    images, ids = load_split(found["examples"], "eval", resolution, attributes, limit=100000)
    judge = Judge(found["judge"])
    model_vocab = {name: base_vocabularies(path, attributes) for name, path in args.models.items()}
    allowed = {name: {a: np.array([i for i, v in enumerate(vocab[a]) if v in set(mv[a])]) for a in attributes}
               for name, mv in model_vocab.items()}
    shared = {a: np.array(sorted(set.intersection(*[set(al[a].tolist()) for al in allowed.values()])))
              for a in attributes}

    rng_root = np.random.default_rng(args.seed)
    plan = []  # (label, requested, sources, targets, changed attribute per edit, eval images of the value)
    for attr, values in args.values.items():
        for value in values:
            if value not in vocab[attr]:
                raise SystemExit(f"error: {attr} {value!r} is not in the run's vocabulary")
            index = vocab[attr].index(value)
            rng = np.random.default_rng([args.seed, attributes.index(attr), index])
            # its held-out images whose other values every model knows (only this value may be new)
            mine = np.flatnonzero((ids[attr] == index) & np.all([np.isin(ids[a], shared[a]) for a in attributes
                                                                 if a != attr], axis=0))
            if not len(mine):
                raise SystemExit(f"error: no held-out image has {attr} {value!r}: it cannot be scored")
            others = np.flatnonzero((ids[attr] != index)
                                    & np.all([np.isin(ids[a], shared[a]) for a in attributes], axis=0))
            rows = rng.choice(mine, args.per_value, replace=True)
            src = rng.choice(others, args.per_value, replace=False)
            targets = {a: np.full(args.per_value, -1) for a in attributes}
            targets[attr][:] = index
            plan.append((f"{attr}={value}", {a: ids[a][rows] for a in attributes}, src, targets,
                         [attr] * args.per_value, len(mine)))
    known_rows = np.flatnonzero(np.all([np.isin(ids[a], shared[a]) for a in attributes], axis=0))
    rows = rng_root.choice(known_rows, args.known, replace=True)
    src = rng_root.choice(known_rows, args.known, replace=False)
    changed = [attributes[i] for i in rng_root.integers(0, len(attributes), args.known)]
    targets = {a: np.full(args.known, -1) for a in attributes}
    for a in attributes:
        where = np.flatnonzero(np.array(changed) == a)
        targets[a][where] = draw_edit_targets(rng_root, ids[a][src[where]], ids[a][known_rows], len(vocab[a]))
        outside = where[~np.isin(targets[a][where], shared[a])]
        targets[a][outside] = rng_root.choice(shared[a], len(outside))
    plan.append(("known", {a: ids[a][rows] for a in attributes}, src, targets, changed, len(known_rows)))

    results = {}
    started = time.time()
    for name, path in args.models.items():
        model = tf.saved_model.load(path)
        results[name] = {}
        for label, requested, src, targets, changed, pool in plan:
            n = len(src)
            seeds = np.arange(n, dtype=np.int64) + args.seed
            got = score(model, judge, attributes, vocab, allowed[name], requested, to_uint8(images[src]), targets,
                        changed, seeds)
            if got is None:
                results[name][label] = None
                print(f"[value_control] {name:>10} {label:<28} not in its vocabulary", flush=True)
                continue
            generated, hits = got
            entry = {"edit_success": float(hits.mean()), "eval_images_of_value": int(pool)}
            for a in attributes:
                entry[f"{a}_control_accuracy"] = float(generated[a].mean())
            results[name][label] = entry
            print(f"[value_control] {name:>10} {label:<28} " + "  ".join(f"{k} {v:.3f}" for k, v in entry.items()
                                                                         if isinstance(v, float)), flush=True)
    report = {
        "benchmark": "value_control",
        "command": portable_command("bench/value_control.py", sys.argv[1:] if argv is None else argv),
        "models": {name: portable(path) for name, path in args.models.items()},
        "values": args.values,
        "per_value": args.per_value,
        "known": args.known,
        "seed": args.seed,
        "seconds": round(time.time() - started, 1),
        "note": ("per value: images drawn with the conditions of held-out images of that value, and held-out images "
                 "of other values edited to it; 'known': the evaluator's mix on the values every model knows"),
        "results": results,
    }
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"[value_control] wrote {out}")


if __name__ == "__main__":
    main()
