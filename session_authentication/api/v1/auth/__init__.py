#!/usr/bin/env python3
"""Authentication mechanisms of the API, chosen by AUTH_TYPE."""
