import sys

from cosim.studies.arabi2025.study import main

sys.exit(main(sys.argv[1:]))
