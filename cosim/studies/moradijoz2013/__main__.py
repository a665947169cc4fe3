import sys

from cosim.studies.moradijoz2013.study import main

sys.exit(main(sys.argv[1:]))
