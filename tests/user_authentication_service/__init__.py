#!/usr/bin/env python3
"""Tests of the user_authentication_service application."""
