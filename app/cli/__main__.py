"""`python -m app.cli`: the `headwater` command without its console script."""

from app.cli import main

main()
