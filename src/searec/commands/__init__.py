"""The ``searec`` sub-commands, one module per kind of stage; ``searec.cli`` parses and dispatches.

Each pipeline stage runs one function here, and its code dependencies (``searec.codedeps``) start
from that function: keep a module's top-level imports light.
"""
