#!/usr/bin/env python3
"""Security test suites, one named test per item of the audit's list."""
