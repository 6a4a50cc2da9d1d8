#!/usr/bin/env python3
"""Fixtures shared by the queuing system's tests."""
from pathlib import Path

import pytest

from tests.support import ROOT

QUEUING_DIR = ROOT / "queuing_system"


@pytest.fixture
def queuing_dir() -> Path:
    """Return the folder the queuing scripts run from."""
    return QUEUING_DIR
