"""TensorFlow's vocabulary: its protos, dtypes, names and patterns over them, op definitions,
attribute and tensor values, the op-type sets every command classifies ops by (optypes), and which
op trains and what it writes (training_op)."""
