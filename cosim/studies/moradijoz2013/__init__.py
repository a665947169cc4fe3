"""moradijoz2013 study package: see study.py (`cosim study moradijoz2013`)."""
