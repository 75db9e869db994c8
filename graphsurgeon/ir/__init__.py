"""The IR: the Graph (TensorFlow's protos plus a public index), its Op and Tensor views,
function bodies as graphs, the bulk wiring, and the Changes every edit reports."""
