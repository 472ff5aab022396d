"""Vitrine: a TFX pipeline that learns a product catalog, generates and edits product images."""
from setuptools import setup

setup(
    name="vitrine",
    version="0.1.0",
    description="Conditional GAN + editor for product catalogs, as a TFX pipeline served over TF Serving's gRPC API",
    python_requires=">=3.10,<3.11",
    packages=["pipeline", "components", "models", "data", "serving"],
    package_data={"data": ["sample/styles.csv", "sample/SOURCE.md", "sample/images/*.jpg", "schema/*.pbtxt"]},
    install_requires=[
        "tfx[kfp]==1.16.0",
        "dill",
        "grpcio",
        "Pillow",
        "tqdm",
        "croniter",
    ],
    extras_require={"test": ["pytest", "pytest-timeout", "pytest-xdist"]},
    entry_points={"console_scripts": ["vitrine=pipeline.cli:main"]},
)
