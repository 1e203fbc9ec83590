#!/usr/bin/env python3
"""Runs scim2-tester's check_server against a SCIM server and prints every check.

Usage: scim-conformance.py BASE_URL TOKEN [--min N]

Exits 1 when fewer than N checks pass (SUCCESS, COMPLIANT or ACCEPTABLE), printing each
one that did not; SKIPPED checks count as not passed.
"""

import argparse
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("token")
    parser.add_argument("--min", type=int, default=0, help="checks that must pass")
    parser.add_argument("--verbose", action="store_true", help="print the data of failures")
    args = parser.parse_args()

    http = Client(
        base_url=args.base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=10,
    )
    client = SyncSCIMClient(http)
    results = check_server(client)

    passed = [r for r in results if r.status in PASSED]
    failed = [r for r in results if r.status not in PASSED]
    for r in results:
        where = f"[{r.resource_type}] " if r.resource_type else ""
        line = f"{r.status.name:10} {where}{r.title}"
        if r.status not in PASSED and r.reason:
            line += f": {r.reason}"
        print(line)
        if args.verbose and r.status not in PASSED and r.data is not None:
            print(f"           data: {r.data!r}"[:2000])
    print(f"scim2-tester: {len(passed)} of {len(results)} checks pass")
    if len(passed) < args.min:
        print(f"scim2-tester: fewer than {args.min} pass; the failures:", file=sys.stderr)
        for r in failed:
            where = f"[{r.resource_type}] " if r.resource_type else ""
            print(f"  {r.status.name} {where}{r.title}: {r.reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
