"""Shared test fixtures."""
import os
import pathlib

import pytest

from data.subset import TEST_TYPES as TINY_TYPES

REPO = pathlib.Path(__file__).resolve().parents[1]
SAMPLE_CATALOG = REPO / "data" / "sample"
SHARED_PRODUCTS = REPO.parent / "shared" / "data" / "products"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
