"""TensorFlow's vocabulary: its protos, dtypes, names and patterns over them, op definitions,
attribute and tensor values, and the op-type sets every command classifies ops by (optypes)."""
