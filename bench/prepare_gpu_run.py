"""Rebuild, in a fresh checkout, everything the lent GPU's training run carries, and print its commands.

    python bench/prepare_gpu_run.py        # the shared catalog at the `gpu` preset: ~45 minutes on 2 cores
    python bench/prepare_gpu_run.py --catalog data/sample --preset tiny --work-dir SCRATCH/prep   # a quick check

The GPU machines run JAX but not TensorFlow, so the `gpu` preset trains there through the JAX port
(bench/train_gan_jax.py) on arrays exported here, and its weights are scored here by the pipeline's evaluator.
What the call carries lives in ignored folders (`work_dirs/`, `.jaxdata/`, `.whl/`), and a new checkout holds
none of them. Each step is skipped when its output is already there, so a rerun after a stop resumes at the
step that did not finish (a stopped first step leaves a work dir to remove):

1. the preset's data steps and judge on the catalog, through `bench/train_quality.py --catalog ... --steps 1`
   (ExampleGen -> Transform, the JudgeTrainer, and a 1-step model whose figures mean nothing), into
   `WORK/pipeline`; at the `gpu` preset the judge is most of the time (40 minutes at ~80 img/s, session 46);
2. the training arrays with that judge inside (`bench/export_train_arrays.py --judge latest`);
3. the wheels the GPU machine lacks (`WHEELS`, for its Python 3.12), with `pip download`;
4. a check that the tracked files and the carry fit one call (64 MiB), and `WORK/gpu_run.md`: the device
   command (at most 2,000 characters) and the commands that score its weights here.
"""
import argparse
import pathlib
import shlex
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]

# What bench/train_gan_jax.py needs on the GPU machine beyond its image (jax, numpy, h5py, rich, ml-dtypes, absl
# are there; ../.library/device/KINDS.md lists them): Keras 3 and the two packages Keras 3 adds.
WHEELS = ("keras==3.15.1", "namex==0.1.0", "optree==0.20.0")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
CALL_LIMIT_MIB = 64.0  # what one call carries: the working tree (tracked files) plus the carried paths
COMMAND_LIMIT = 2000   # characters in one device command


def device_command(arrays: str, preset: str, seconds: int, wheels: str = ".whl") -> str:
    """The one device call: install the carried wheels, train through the JAX port with the judge picking."""
    train = (f"python3 bench/train_gan_jax.py --arrays {shlex.quote(arrays)} --preset {shlex.quote(preset)} --judge"
             f" --max-seconds {seconds} --save-every-seconds 60 --log-every 250 --out $OUT/run")
    return (f"python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site"
            f" {wheels}/*.whl && export PYTHONPATH=/tmp/site KERAS_BACKEND=jax || exit; set -o pipefail; mkdir -p $OUT/run;"
            f" {train} 2>&1 | tee $OUT/train_gan_jax.log")


def scoring_commands(work_dir: str, preset: str, fetched: str = "FILES_AT/run") -> list:
    """Here, after the call: the picked and the last EMA weights back as Trainer checkpoints, each scored."""
    return [
        f"python bench/import_jax_weights.py --weights {fetched} --checkpoints SCRATCH/ck_pick",
        f"python bench/import_jax_weights.py --weights {fetched} --generator last --checkpoints SCRATCH/ck_last",
        f"python bench/train_quality.py --work-dir {work_dir} --preset {preset} --checkpoint SCRATCH/ck_pick/step-NNNNNNNN"
        f" --scratch SCRATCH/score_pick --output bench/results/train_quality_{preset}_sNN_jax_pick.json",
        f"python bench/train_quality.py --work-dir {work_dir} --preset {preset} --checkpoint SCRATCH/ck_last/step-NNNNNNNN"
        f" --scratch SCRATCH/score_last --output bench/results/train_quality_{preset}_sNN_jax_last.json",
    ]


def mib(paths) -> float:
    total = 0
    for path in paths:
        path = pathlib.Path(path)
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
    return total / 2 ** 20


def tracked_mib() -> float:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return mib(REPO / name for name in listed.decode().split("\0") if name and (REPO / name).is_file())


def run(step: str, argv: list) -> None:
    print(f"[prepare] {step}: {' '.join(argv)}", flush=True)
    done = subprocess.run(argv, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"error: {step} failed (exit {done.returncode}); its output is above. Rerun this command"
                         " to resume: finished steps are skipped.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", default=str(REPO.parent / "shared" / "data" / "products"))
    parser.add_argument("--preset", default="gpu")
    parser.add_argument("--work-dir", help="the data steps and judge go to WORK/pipeline (default work_dirs/PRESET_run)")
    parser.add_argument("--arrays", help="relative to the checkout (default .jaxdata/PRESET_judged.npz)")
    parser.add_argument("--wheels", default=".whl", help="relative to the checkout")
    parser.add_argument("--seconds", type=int, default=300, help="the device run's training budget")
    args = parser.parse_args(argv)
    args.work_dir = args.work_dir or f"work_dirs/{args.preset}_run"
    args.arrays = args.arrays or f".jaxdata/{args.preset}_judged.npz"

    work = (REPO / args.work_dir).resolve()
    pipeline_dir = work / "pipeline"
    arrays, wheels = REPO / args.arrays, REPO / args.wheels
    for relative in (args.arrays, args.wheels):
        if pathlib.Path(relative).is_absolute() or ".." in pathlib.Path(relative).parts:
            raise SystemExit(f"error: {relative}: the carry must lie inside the checkout (a relative path)")

    made_for = f"{args.preset} {pathlib.Path(args.catalog).resolve()}"  # a finished step is reused only for the same run
    if (work / "data_steps.done").exists():
        if (work / "data_steps.done").read_text() != made_for:
            raise SystemExit(f"error: {pipeline_dir} was made for {(work / 'data_steps.done').read_text()!r}, not"
                             f" {made_for!r}; pass another --work-dir")
        print(f"[prepare] data steps and judge: already in {pipeline_dir}")
    else:
        if not pathlib.Path(args.catalog).is_dir():
            raise SystemExit(f"error: no catalog at {args.catalog}; pass --catalog (the shared catalog is"
                             " ../shared/data/products beside the checkout)")
        if pipeline_dir.exists():
            raise SystemExit(f"error: {pipeline_dir} holds an unfinished run; remove it or pass another --work-dir")
        run("data steps and judge", [sys.executable, "bench/train_quality.py", "--catalog", args.catalog,
                                     "--preset", args.preset, "--steps", "1", "--scratch", str(work),
                                     "--output", str(work / "train_quality_1step.json")])
        (work / "data_steps.done").write_text(made_for)

    if arrays.exists():
        print(f"[prepare] training arrays: already at {args.arrays}")
    else:
        partial = arrays.with_name(arrays.stem + ".partial.npz")  # renamed when whole: a stop leaves no arrays
        run("training arrays", [sys.executable, "bench/export_train_arrays.py", "--work-dir", str(pipeline_dir),
                                "--preset", args.preset, "--judge", "latest", "--out", str(partial)])
        partial.replace(arrays)

    missing = [w for w in WHEELS if not list(wheels.glob(w.replace("==", "-") + "-*.whl"))]
    if missing:
        platforms = [flag for p in PLATFORMS for flag in ("--platform", p)]
        run("wheels", [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                       "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(wheels),
                       *missing])
    else:
        print(f"[prepare] wheels: already in {args.wheels}")

    carry_mib, tree_mib = mib([arrays, wheels]), tracked_mib()
    command = device_command(args.arrays, args.preset, args.seconds, args.wheels)
    if carry_mib + tree_mib > CALL_LIMIT_MIB:
        raise SystemExit(f"error: the tracked files ({tree_mib:.1f} MiB) and the carry ({carry_mib:.1f} MiB) exceed"
                         f" one call's {CALL_LIMIT_MIB:.0f} MiB")
    if len(command) > COMMAND_LIMIT:
        raise SystemExit(f"error: the device command is {len(command)} characters, over {COMMAND_LIMIT}")
    relative_work = work.relative_to(REPO) if work.is_relative_to(REPO) else work
    lines = [
        f"# The lent GPU's run: `{args.preset}` preset on {pathlib.Path(args.catalog).name}",
        "",
        f"Carry `{args.wheels}` and `{args.arrays}` ({carry_mib:.1f} MiB; with the tracked files"
        f" {carry_mib + tree_mib:.1f} of {CALL_LIMIT_MIB:.0f} MiB), with a timeout of {args.seconds + 240} s:",
        "", "```", command, "```", "",
        "Then here, with FILES_AT the call's files and NNNNNNNN the step in each checkpoint folder's name:",
        "", "```", *scoring_commands(str(relative_work / "pipeline"), args.preset), "```", "",
    ]
    (work / "gpu_run.md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"[prepare] written to {work / 'gpu_run.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
