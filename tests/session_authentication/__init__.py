#!/usr/bin/env python3
"""Tests of the session_authentication application."""
