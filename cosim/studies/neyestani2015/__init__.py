"""neyestani2015 study package: see study.py (`cosim study neyestani2015`)."""
