// The `curate` command line: parses arguments and prints; every decision lives in the library targets.
import ArgumentParser
import Curate

// Before anything else runs: where OpenBLAS fell back to old kernels on this CPU, restart on better ones.
BLASCore.prepare()
// OpenBLAS's own threads stopped: each worker runs its network on one (they would spin beside the workers).
BLAS.useOneThread()
// The allocator keeps freed image buffers for the next image instead of giving them back each time.
HeapPolicy.prepare()
CurateCommand.main(GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst())))
