import sys
from pathlib import Path

# tests/user_controller.py is loaded by dotted path ("user_controller:FlatChargeController") from scenarios
sys.path.insert(0, str(Path(__file__).parent))
