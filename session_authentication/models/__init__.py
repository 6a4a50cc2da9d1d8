#!/usr/bin/env python3
"""Models of the users API: active-record objects stored in SQL."""
