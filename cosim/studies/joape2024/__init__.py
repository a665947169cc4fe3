"""joape2024 study package: see study.py (`cosim study joape2024`)."""
