"""Deskew kernel benchmark (numba 1 thread / all threads vs numpy reference vs kiss-icp).

Usage: ``python tools/bench_deskew.py [--repeat 50] [--json out.json]``.
"""

from fusion.bench.deskew import main

if __name__ == "__main__":
    main()
