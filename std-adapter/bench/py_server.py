"""Benchmark peer (a): seed 002's ThreadingTCPServer upper-casing server.

The same program the tests use (tests/py/seed002_server.py); this wrapper
only gives it the name the benchmark script expects.
"""
import os
import runpy
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.argv[0] = os.path.join(here, '..', 'tests', 'py', 'seed002_server.py')
runpy.run_path(sys.argv[0], run_name='__main__')
