"""The project's own types and file formats: the frame, EXR I/O, colour, metrics, files."""
