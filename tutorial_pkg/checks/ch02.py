"""Checkers for the exercises of chapter 02."""

from __future__ import annotations

__all__: list[str] = []
