"""The MetaGraphDef's parts beside the GraphDef: collections, signatures, the saver, assets,
variables."""
