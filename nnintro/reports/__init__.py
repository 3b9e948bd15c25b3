"""Reports fed by training results: console output, TensorBoard, plots."""
