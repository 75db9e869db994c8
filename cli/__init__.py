"""The graphsurgeon command line (installed as ``graphsurgeon.cli``)."""
