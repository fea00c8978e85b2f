"""Benchmarks: the same as ``fusion bench`` (see ``fusion bench --help``)."""

from fusion.cli.bench import bench

if __name__ == "__main__":
    bench()
