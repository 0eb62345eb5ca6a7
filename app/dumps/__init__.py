"""Resource Dumps and Change Dumps: bounded ZIP packages of stored bytes with their manifests.

    plan.py      pure: package budgets, member paths, package names
    manifest.py  pure: the XML of dumps and manifests (on `sitemaps.format`)
    zipping.py   blocking I/O: measuring files, streaming ZIP64, atomic writes
    builder.py   the background builder (CLI, schedule, on request)
    serving.py   reading what the dump documents list
    ondemand.py  ZIPs streamed back for a list of URIs or a time window
    schedule.py  the server's lifespan task: rebuild on a schedule and on request
"""
