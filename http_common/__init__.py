#!/usr/bin/env python3
"""Modules shared by the project's HTTP apps (each run from its folder).

``bin/setup`` puts the repository root on the virtual environment's
``sys.path`` (a ``.pth`` file), so ``import http_common`` works from
every app folder, and the tests see the root through pytest's
``pythonpath``.
"""
