"""`python -m bench OUTDIR [--quick]`."""

from bench.run import main

raise SystemExit(main())
