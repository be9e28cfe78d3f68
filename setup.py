"""Package layout that pyproject.toml cannot express: the repository's top-level ``models/``
folder (saved reference fits) ships inside the wheel as ``snrstat.reference_models``, so an
installed snrstat finds the same fits as a checkout (see snrstat/reference.py)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["snrstat", "snrstat.*"]) + ["snrstat.reference_models"],
    package_dir={"snrstat.reference_models": "models"},
    package_data={
        "snrstat": ["data/*.parquet", "data/*.json", "data/LICENSE*", "data/*.md"],
        "snrstat.reference_models": ["*/*.nc", "*/*/*.nc", "*/*/index.json"],
    },
)
