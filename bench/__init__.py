#!/usr/bin/env python3
"""Benchmarks of the three applications; run them with bin/bench."""
