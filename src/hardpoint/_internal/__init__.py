"""Internals shared by several components. Nothing here is public API."""
