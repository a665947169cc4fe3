import sys

from cosim.studies.neyestani2015.study import main

sys.exit(main(sys.argv[1:]))
