"""Build-time conversion of the Keras ResNet50 into the model the function serves (needs TensorFlow)."""
