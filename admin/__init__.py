"""Cartable's admin command line, for school IT scripts: `python -m admin <command>`.

It speaks the public HTTP API only (never the catalog), with an admin's token, and needs nothing but a
bare Python 3.12+: the standard library (urllib, argparse, json, csv). It is a top-level package, not in
chalicelib/, because chalicelib/ is the Lambda's (packaged and deployed); this runs on a school's machine.
"""
