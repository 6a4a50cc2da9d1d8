#!/usr/bin/env python3
"""Command-line tools of the project that are not apps (see bin/)."""
