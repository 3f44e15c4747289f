"""Shared fixtures: a seeded generator for every test; the hypothesis profiles.

The property tests (``tests/properties/``) run under hypothesis's ``ci`` profile by
default: derandomized (the same examples on every run and machine, so a failure in CI
is a failure on a laptop), no example database, no deadline (Numba compiles on first
use), and few enough examples that the whole property suite stays under two minutes in
``make test``. ``HYPOTHESIS_PROFILE=dev`` draws random examples, ten times as many,
for hunting bugs locally.
"""

import os

import numpy as np
import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is in the dev extra; the property tests skip without it
    settings = None

if settings is not None:
    _slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=20,
                              print_blob=True, suppress_health_check=_slow_ok)
    settings.register_profile("dev", deadline=None, max_examples=200, suppress_health_check=_slow_ok)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
