"""`moto_server` with the local stack's S3 patch (GET bodies streamed from moto's spool file, as S3 sends
them), in a process of its own: the benchmarks' S3. `python -m local.moto_serve -H 127.0.0.1 -p PORT`
takes moto_server's own arguments. Its DynamoDB is moto's as it comes (the benchmarks measure it so)."""

from __future__ import annotations

import sys

from moto.server import main

from local.moto_patches import stream_object_bodies

if __name__ == "__main__":
    stream_object_bodies()
    main(sys.argv[1:])
