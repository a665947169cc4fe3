"""The papers' studies as code."""
