"""Shared test fixtures."""
import os
import pathlib

import pytest

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
