"""Generate a synthetic drive log and report how long it took (thin wrapper over ``fusion synth``).

Usage:
    python tools/synth.py -o /tmp/synth --duration 10 --format bag --format db3 --format mcap
    python tools/synth.py -o /tmp/six --duration 2 --width 1280 --height 720 --extra-cameras 4   # 6 cameras
    python tools/synth.py --help
"""

from __future__ import annotations

import sys

from fusion.cli.main import main

if __name__ == "__main__":
    main(["synth", *sys.argv[1:]])
