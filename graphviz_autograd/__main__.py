"""`python -m graphviz_autograd` runs the gradviz command line."""

from .cli import main

main()
