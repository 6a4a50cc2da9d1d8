#!/usr/bin/env python3
"""Version 1 of the users REST API: app, authentication and views."""
