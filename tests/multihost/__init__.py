#!/usr/bin/env python3
"""Tests of several hosts on one machine (network namespaces)."""
