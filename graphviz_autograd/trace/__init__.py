"""The torch side: walking autograd graphs into `Graph`s, recording backward calls, running
scripts, and what a walk reads along the way (module and source tags, names, gradient stats)."""
