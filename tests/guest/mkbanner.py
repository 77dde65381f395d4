#!/usr/bin/python3
"""Write the guest's banner (see pattern.py) as raw XRGB8888 to a file."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pattern  # noqa: E402

open(sys.argv[1], "wb").write(pattern.render_xrgb())
