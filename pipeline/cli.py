"""`vitrine`: the command line. Every verb has --help; TensorFlow/TFX load only inside verbs that need them."""
import argparse
import logging
import os
import sys

DEFAULT_WORK_DIR = "work_dirs/local"
DEFAULT_CATALOG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "sample")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for noisy in ("apache_beam.typehints", "apache_beam.runners", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _parse_overrides(items):
    """--set model.train_steps=100 --set eval_num_samples=50 -> dict with numbers/bools parsed."""
    overrides = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        if value in ("true", "false"):
            value = value == "true"
        overrides[key] = value
    return overrides


def preset_from_args(args):
    """The preset named by --preset with every --set applied; a bad override exits with its message, no traceback."""
    from pipeline.presets import get_preset

    try:
        return get_preset(args.preset, _parse_overrides(args.set))
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


# -- verbs -----------------------------------------------------------------------------------------
def cmd_ingest(args) -> int:
    from data.ingest import ingest

    result = ingest(args.catalog, condition_attributes=args.attributes, min_side=args.min_side, dest=args.dest)
    return 0 if result.kept else 1


def cmd_run(args) -> int:
    from pipeline.local_runner import run_local
    from pipeline.runs import latest_run

    preset = preset_from_args(args)
    if args.allow_anomalies:
        preset = preset.replace(allow_anomalies=True)
    paths = run_local(args.catalog, args.work_dir, preset, beam_pipeline_args=args.beam_args or None,
                      schema_path=args.schema, enable_cache=args.cache,
                      accept_new_values=args.accept_new_values)
    print_run_summary(latest_run(paths["metadata_path"]))
    return 0


def print_run_summary(run) -> None:
    print(f"\nRun {run.run_id}")
    for component, state in sorted(run.state_by_component.items()):
        print(f"  {component:32s} {state}")
    if run.kept is not None:
        print(f"Catalog: kept {run.kept}, quarantined {run.quarantined}  ({run.quarantine_file})")
    if run.metrics:
        print("Evaluation:")
        for name, value in sorted(run.metrics.items()):
            print(f"  {name:36s} {value:.4f}")
    if run.blessed is not None:
        print("Verdict: " + ("BLESSED" if run.blessed else f"NOT BLESSED — {run.reasons}"))
    if run.report:
        print(f"Evaluation report: {run.report}")
    if run.pushed_version:
        print(f"Pushed version {run.pushed_version} -> {run.pushed_destination}")


def cmd_runs(args) -> int:
    from pipeline.pipeline import default_paths
    from pipeline.runs import list_runs

    for run in list_runs(default_paths(args.work_dir)["metadata_path"], limit=args.limit):
        print_run_summary(run)
    return 0


def cmd_report(args) -> int:
    from pipeline.pipeline import default_paths
    from pipeline.runs import list_runs

    runs = list_runs(default_paths(args.work_dir)["metadata_path"], limit=50)
    if args.run:
        runs = [r for r in runs if r.run_id == args.run]
    with_report = [r for r in runs if r.report]
    if not with_report:
        print("No evaluation report found" + (f" for run {args.run}" if args.run else ""), file=sys.stderr)
        return 1
    print(with_report[0].report)
    return 0


def cmd_compile(args) -> int:
    from pipeline.kubeflow_runner import compile_kubeflow

    preset = preset_from_args(args)
    path = compile_kubeflow(args.output, preset=preset, image=args.image, pipeline_root=args.pipeline_root,
                            catalog_dir=args.catalog, serving_model_dir=args.serving_model_dir,
                            beam_pipeline_args=args.beam_args or None)
    print(f"Wrote KFP v2 pipeline spec to {path}")
    return 0


def cmd_serve(args) -> int:
    from serving.server import main as serve_main

    argv = ["--model-base-path", args.model_base_path, "--port", str(args.port)]
    if args.model_name:
        argv += ["--model-name", args.model_name]
    return serve_main(argv + list(args.extra or [])) or 0


def _attributes_from_args(args) -> dict:
    attributes = {}
    if args.category is not None:
        attributes["articleType"] = args.category
    if args.colour is not None:
        attributes["baseColour"] = args.colour
    for item in args.attr or []:
        key, _, value = item.partition("=")
        attributes[key] = value
    return attributes


def cmd_generate(args) -> int:
    from serving.client import VitrineClient
    from serving.grid import write_generate_grid

    client = VitrineClient(args.server, model_name=args.model_name)
    categories = args.category.split("|") if args.category else [None]
    colours = args.colour.split("|") if args.colour else [None]
    rows = []
    for category in categories:
        for colour in colours:
            row = {}
            if category is not None:
                row["articleType"] = category
            if colour is not None:
                row["baseColour"] = colour
            for item in args.attr or []:
                key, _, value = item.partition("=")
                row[key] = value
            rows.append(row)
    path = write_generate_grid(client, rows, args.n, args.seed, args.output, truncation=args.truncation)
    print(f"Wrote {len(rows)} x {args.n} generated images to {path}")
    return 0


def cmd_edit(args) -> int:
    from serving.client import VitrineClient
    from serving.grid import write_edit_pair

    client = VitrineClient(args.server, model_name=args.model_name)
    with open(args.image, "rb") as f:
        image_bytes = f.read()
    strengths = sorted({0.5 * args.strength, args.strength}) if args.ramp else [args.strength]
    path = write_edit_pair(client, image_bytes, _attributes_from_args(args), args.output, strengths=strengths,
                           background=args.background)
    print(f"Wrote before/after to {path}")
    return 0


def cmd_schedule(args) -> int:
    from pipeline import schedule

    run_args = ["--catalog", args.catalog, "--preset", args.preset, "--work-dir", args.work_dir]
    for item in args.set or []:
        run_args += ["--set", item]
    if args.kubeflow_host:
        if not args.cron:
            raise SystemExit("--kubeflow-host needs --cron")
        result = schedule.create_kubeflow_recurring_run(args.kubeflow_host, args.package, args.cron,
                                                        pipeline_root=args.pipeline_root)
        print(f"Created recurring run: {getattr(result, 'recurring_run_id', result)}")
        return 0
    outcomes = schedule.schedule_local(args.work_dir, run_args, cron=args.cron, every_s=args.every,
                                       on_new_span=args.catalog if args.on_new_span else None,
                                       max_runs=args.max_runs)
    return 0 if all(o["exit_code"] == 0 for o in outcomes) else 1


def cmd_demo(args) -> int:
    from pipeline.demo import run_demo

    return run_demo(args)


# -- parser ----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vitrine", description="Learn a product catalog; generate and edit "
                                     "product images; serve them over TF Serving's gRPC API.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="verb", required=True)

    p = sub.add_parser("ingest", help="validate a catalog drop and quarantine bad rows (with reasons)")
    p.add_argument("catalog", help="catalog folder: styles.csv + images/<id>.jpg, or <root>/<value>/*.jpg")
    p.add_argument("--attributes", nargs="+", default=["articleType", "baseColour"])
    p.add_argument("--min-side", type=int, default=32)
    p.add_argument("--dest", help="span root: accept the drop as its next span-<N>")
    p.set_defaults(fn=cmd_ingest)

    def add_pipeline_args(p):
        p.add_argument("--catalog", default=DEFAULT_CATALOG, help="catalog folder (default: the embedded sample)")
        p.add_argument("--preset", default="cpu-quick", help="tiny | cpu-quick | gpu | gpu-large")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a preset field, e.g. --set model.train_steps=100, "
                       "or a release bar: --set thresholds.fid_ratio.max=4 (or =off)")
        p.add_argument("--beam-args", nargs="*", help="Beam pipeline args for the data steps, e.g. "
                       "--runner=DataflowRunner --project=... (default: DirectRunner in memory)")

    p = sub.add_parser("run", help="run the whole TFX pipeline locally (LocalDagRunner, SQLite MLMD)")
    add_pipeline_args(p)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="artifacts, metadata and pushed models")
    p.add_argument("--schema", help="curated schema.pbtxt (ImportSchemaGen) instead of inferring one")
    p.add_argument("--allow-anomalies", action="store_true", help="continue despite TFDV anomalies")
    p.add_argument("--cache", action="store_true", help="enable TFX caching")
    p.add_argument("--accept-new-values", action="store_true",
                   help="re-infer the schema from this catalog and make it the curated one (new categories)")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("runs", help="list recent runs from ML Metadata: states, metrics, pushed versions")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR)
    p.add_argument("--limit", type=int, default=5)
    p.set_defaults(fn=cmd_runs)

    p = sub.add_parser("report", help="print the path of a run's evaluation report (default: the latest)")
    p.add_argument("run", nargs="?")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR)
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("compile", help="compile the pipeline for Kubeflow Pipelines v2")
    add_pipeline_args(p)
    p.add_argument("--kubeflow", action="store_true", help="(the only target; kept for clarity)")
    p.add_argument("-o", "--output", default="pipeline.yaml")
    p.add_argument("--image", default="vitrine:latest", help="container image with the project installed")
    p.add_argument("--pipeline-root", default="gs://YOUR_BUCKET/vitrine/pipeline_root")
    p.add_argument("--serving-model-dir", default="gs://YOUR_BUCKET/vitrine/serving_model/vitrine")
    p.set_defaults(fn=cmd_compile)

    p = sub.add_parser("serve", help="serve pushed models over TF Serving's gRPC API")
    p.add_argument("--model-base-path", required=True, help="e.g. work_dirs/local/serving_model/vitrine")
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--model-name", help="default: the base path's folder name")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="further server options (see python -m serving.server -h)")
    p.set_defaults(fn=cmd_serve)

    def add_client_args(p):
        p.add_argument("--server", default="localhost:8500")
        p.add_argument("--model-name", default="vitrine")
        p.add_argument("--category", help="articleType; for generate, several separated by '|' make grid rows")
        p.add_argument("--colour", help="baseColour; a weighted mix is 'Red:0.7,White:0.3'")
        p.add_argument("--attr", action="append", metavar="NAME=VALUE", help="any other condition attribute")
        p.add_argument("-o", "--output", required=True, help="PNG to write")

    p = sub.add_parser("generate", help="generate product images from attributes (a PNG grid)")
    add_client_args(p)
    p.add_argument("-n", type=int, default=8, help="images per row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=1.0)
    p.set_defaults(fn=cmd_generate)

    p = sub.add_parser("edit", help="edit a product image towards target attributes (before/after PNG)")
    p.add_argument("image")
    add_client_args(p)
    p.add_argument("--strength", type=float, default=1.0, help="edit strength lambda in [0, 1]")
    p.add_argument("--ramp", action="store_true", help="also show the edit at half the strength")
    p.add_argument("--background", choices=("keep", "white"), default=None,
                   help="white: clean the background to white (the edit_background signature); default: keep it")
    p.set_defaults(fn=cmd_edit)

    p = sub.add_parser("schedule", help="retrain on a schedule, locally (no overlapping runs) or on Kubeflow")
    p.add_argument("--catalog", default=DEFAULT_CATALOG, help="catalog or span root")
    p.add_argument("--preset", default="cpu-quick")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR)
    p.add_argument("--cron", help="cron expression, e.g. '0 3 * * *'")
    p.add_argument("--every", type=float, help="run every N seconds instead of cron")
    p.add_argument("--on-new-span", action="store_true", help="run when a new span-<N> appears in --catalog")
    p.add_argument("--max-runs", type=int, help="stop after this many runs (default: forever)")
    p.add_argument("--kubeflow-host", help="KFP endpoint: create a recurring run there instead of looping here")
    p.add_argument("--package", default="pipeline.yaml", help="compiled spec for --kubeflow-host")
    p.add_argument("--pipeline-root", help="pipeline root for the recurring run (--kubeflow-host)")
    p.set_defaults(fn=cmd_schedule)

    p = sub.add_parser("demo", help="the README's main job: pipeline on the sample catalog, serve, generate, edit")
    p.add_argument("--catalog", default=DEFAULT_CATALOG)
    p.add_argument("--preset", default="cpu-quick")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--output", default="outputs/demo")
    p.set_defaults(fn=cmd_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    from models.onednn import prefer_onednn

    prefer_onednn()  # before any verb imports TensorFlow (models/onednn.py)
    try:
        return args.fn(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
