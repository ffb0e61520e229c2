"""Perception models (MediaPipe, onnxruntime) behind typed interfaces, and the model files they load."""
