"""Helpers the test tiers share (plain modules: fixtures stay in the conftest files)."""
