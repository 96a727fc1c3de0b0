"""`python -m viz` runs the same command line as the `viz` console script."""

from viz.cli import main

raise SystemExit(main())
