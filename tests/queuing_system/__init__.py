#!/usr/bin/env python3
"""Tests of the queuing_system application."""
