#!/usr/bin/env python3
"""The test suite of the three applications, with shared helpers."""
