import sys

from cosim.studies.joape2024.study import main

sys.exit(main(sys.argv[1:]))
