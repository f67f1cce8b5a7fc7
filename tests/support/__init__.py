"""Shared builders for the tests (plain functions and constants; fixtures live in conftest.py)."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
