import sys

from cosim.sweep.runner import main

sys.exit(main(sys.argv[1:]))
