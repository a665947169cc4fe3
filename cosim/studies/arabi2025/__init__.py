"""arabi2025 study package: see study.py (`cosim study arabi2025`)."""
