"""Test infrastructure shared by several test packages (not product code)."""
