// CBridgeError is a header (include/bridge_error.h) shared by the bridges; SwiftPM builds a C target only from a source file.
