"""Sandbox fixtures (a running sandbox over real HTTP). Filled in by the sandbox platform work."""
