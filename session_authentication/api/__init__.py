#!/usr/bin/env python3
"""The users API package: versioned REST API of the users service."""
