"""Shared test fixtures."""
import os
import pathlib

import pytest

from data.subset import TEST_TYPES as TINY_TYPES
from models.onednn import prefer_onednn

REPO = pathlib.Path(__file__).resolve().parents[1]
SAMPLE_CATALOG = REPO / "data" / "sample"
SHARED_PRODUCTS = REPO.parent / "shared" / "data" / "products"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
prefer_onednn()  # the tests run the CPU kernels that `vitrine` runs (models/onednn.py); before TensorFlow's import

# `make test` runs the suite on two pytest-xdist workers (`-n 2 --dist loadgroup --no-loadscope-reorder`): a TF test
# process keeps about one of two cores busy (serial run on a 2-core machine: 31.6 min wall, 30.9 min CPU). Tests
# that share an expensive fixture stay on one worker, and the longest groups are handed out first so that neither
# worker is left with a long one at the end. The grouping is done by the scheduler below, from the module name:
# xdist 3.8's own `xdist_group` marks do nothing under pytest 9.2 (it renames `item._nodeid`, which pytest 9.2
# no longer reads), and two workers that each built their own module-scoped server broke a test that relies on the
# module's order (v2 pushed by the test before it).
TINY_RUN_GROUP = "tiny_run"
TINY_RUN_MODULES = (  # the only users of the `tiny_run` fixture
    "test_e2e_pipeline.py", "test_evaluator_gate.py", "test_jax_training.py", "test_score_kept.py",
)
ONE_WORKER_MODULES = (  # module-scoped pipeline runs or servers: set up once, not once per worker
    "test_retraining.py", "test_serving_batching.py", "test_serving_grpc.py", "test_serving_tls_rest.py",
    "test_serving_versions.py",
)
LONGEST_FIRST = (  # measured with --durations on a 2-core machine: seconds of the whole group
    "test_retraining.py",  # ~330: three pipeline runs
    "test_schedule.py",  # ~310: two pipeline runs in child processes
    TINY_RUN_GROUP,  # ~300: the shared tiny run, the evaluator gate, a serving round trip
    "test_training.py",  # ~390 in seven independent tests
    "test_gan.py",  # ~180
    "test_step_flops.py",  # ~110
)


def group_of(nodeid: str) -> str:
    """The scheduling unit of a test: its group name, or the test itself when it can run on any worker."""
    module = nodeid.split("::")[0].rsplit("/", 1)[-1]
    if module in TINY_RUN_MODULES:
        return TINY_RUN_GROUP
    if module in ONE_WORKER_MODULES:
        return module
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid):
            group = group_of(nodeid)
            return super()._split_scope(nodeid) if group == nodeid else group

    return ModuleGroupScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    strays = [item.nodeid for item in items
              if "tiny_run" in item.fixturenames and item.path.name not in TINY_RUN_MODULES]
    if strays:  # it would build a second tiny run on the other worker
        raise pytest.UsageError(f"tests using tiny_run outside TINY_RUN_MODULES (add their module): {strays}")

    def rank(item):
        key = TINY_RUN_GROUP if item.path.name in TINY_RUN_MODULES else item.path.name
        return LONGEST_FIRST.index(key) if key in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: file order within a rank


@pytest.fixture(scope="session")
def sample_catalog() -> pathlib.Path:
    return SAMPLE_CATALOG


@pytest.fixture(scope="session")
def shared_products() -> pathlib.Path:
    if not (SHARED_PRODUCTS / "styles.csv").exists():
        pytest.skip(f"shared product catalog not present at {SHARED_PRODUCTS}")
    return SHARED_PRODUCTS


TINY_PER_TYPE = 40


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, sample_catalog):
    """One real pipeline run on the `tiny` preset, shared by the tests that inspect its artifacts.

    The catalog is 4 article types x 40 real photos plus one corrupt image (quarantined, the run goes on).
    Returns (paths, RunSummary, catalog_dir)."""
    from data.subset import cut_catalog
    from pipeline.local_runner import run_local
    from pipeline.presets import get_preset
    from pipeline.runs import latest_run

    root = tmp_path_factory.mktemp("tiny_run")
    catalog = cut_catalog(sample_catalog, root / "catalog", types=TINY_TYPES, per_type=TINY_PER_TYPE)
    with open(os.path.join(catalog, "images", "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8 not really a jpeg")
    with open(os.path.join(catalog, "styles.csv"), "a") as f:
        f.write("broken,Men,Apparel,Topwear,Tshirts,Black,Summer,2012,Casual,Broken Tee\n")
    paths = run_local(catalog, str(root / "work"), get_preset("tiny"))
    return paths, latest_run(paths["metadata_path"]), catalog
