// The torch bridge's C declarations, for Swift to compile against without linking libtorch: the functions live in
// libCurateTorch.so (Sources/CTorchBridge), which curate loads only when it trains or predicts.
