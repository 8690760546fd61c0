"""Checkers for the exercises of chapter 00."""

from __future__ import annotations

__all__: list[str] = []
