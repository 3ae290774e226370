"""fastsse in other projects' shapes: one module per project it stands in for or accelerates.

Each module imports its project only when used, so importing :mod:`fastsse` imports none
of them.
"""
